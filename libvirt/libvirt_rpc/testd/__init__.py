"""A test daemon: an in-memory hypervisor behind libvirt's RPC protocol.

``python -m libvirt_rpc.testd --unix PATH [--tcp HOST:PORT]`` serves
libvirt's remote program the way ``libvirtd`` serves its ``test:///default``
driver, so that the real ``virsh -c 'test+unix:///default?socket=PATH'``
(or libvirt-python) can connect with auth "none" and work with the test
driver's default objects as with libvirtd's: the running domain "test"
(UUID 6695eb01-f6a4-8304-79aa-97f2502e193f, 8 GiB maximum, 2 GiB current
memory, 2 vCPUs, a virtio disk, a NIC on "default", a balloon), the NAT
network "default", the directory pool "default-pool", the host interface
"eth1", the node devices "computer" and its FC SCSI hosts, and the host
itself (16 CPUs in 2 NUMA cells, its capabilities and sysinfo).  For
commands whose output does not change from run to run, virsh prints what it
prints against libvirtd (tests/server/test_virsh_commands.py compares 148
commands).  Unlike libvirtd, whose ``test:///default`` state ends with the
last connection, objects here live as long as the daemon.

File descriptors pass over the unix socket as with libvirtd: ``virsh
create FILE --pass-fds N`` and ``dom-fd-associate``, libvirt-python's
``dom.openGraphicsFD(0)`` on a running domain with VNC graphics (its
socket greets with ``RFB 003.008``).

Procedures the test driver does not implement answer as libvirtd does then:
``VIR_ERR_NO_SUPPORT`` naming the public API (:mod:`.api`); ``-v`` logs
each of them.

The modules:

- ``model``: the state: :class:`Hypervisor` (every kind's objects and the
  event registrations), :class:`Domain` and its :class:`DomainDef`, libvirt's
  default test domain;
- ``xml``: all XML, read and written as libvirt does, one module per kind;
- ``base``: ``ProceduresBase``, what every procedure mixin builds on (the
  shared hypervisor, per-client connection state, the open/read-only
  checks, the test driver's errors), and the "not supported" answers;
- ``api``: the public API behind each procedure; ``params``: typed
  parameters; ``cpumap``: CPU sets; ``listing``: list filters;
- the procedures, one mixin per kind: ``connect`` (the connection),
  ``node`` (the host), ``domains`` (lookup, lifecycle, definitions),
  ``vcpus`` (vCPUs, emulator and I/O threads), ``tuning`` (memory,
  scheduler, block I/O, NUMA, perf, per-device limits), ``guest`` (stats
  and guest-agent answers), ``saves`` (save images, core dumps),
  ``snapshots``, ``networks``, ``storage`` (pools and volumes),
  ``interfaces``, ``nodedevs``, ``fds`` (associating descriptors with a
  domain, opening its graphics socket, whose far end ``graphics`` serves
  as a VNC server would);
- ``handler``: :class:`TestDaemon`, the mixins joined;
- ``cli`` and ``__main__``: the command line.

Adding an object kind (secrets, network filters, ...):

1. a new module, e.g. ``secrets.py``, with its objects (a dataclass, the
   defaults libvirt's test driver has, if any) and ``class
   SecretProcedures(ProceduresBase)`` holding the kind's procedures: the
   methods of the generated ``RemoteHandler`` it implements, each checking
   ``self._open(call)`` (or ``self._writable(call, api)`` for changes)
   first, as libvirtd does; helper names carry the kind's name, as all
   mixins end up in one class;
2. its XML in ``xml/secret.py`` (``Writer`` and ``parse_document`` are in
   ``xml/__init__``);
3. its table on :class:`Hypervisor` and the mixin in
   :class:`TestDaemon`'s bases in ``handler``.

Nothing else changes: the server dispatches by method name, and a
procedure no mixin defines keeps the "not supported" answer.
"""

from .cli import main
from .handler import TestDaemon
from .model import Domain, Hypervisor, default_domain
from .xml.domain import parse_domain_xml

__all__ = ["Domain", "Hypervisor", "TestDaemon", "default_domain", "main", "parse_domain_xml"]
