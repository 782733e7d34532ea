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

- ``model``: the state: :class:`Hypervisor` (the domains, each kind's
  state, the event registrations), :class:`Domain` and its
  :class:`DomainDef`, libvirt's default test domain;
- ``registry``: :class:`ObjectKind` (a kind's name, procedures and state)
  and :func:`register`; ``Hypervisor`` makes the state of every registered
  kind, ``TestDaemon`` joins their procedures;
- ``xml``: all XML, read and written as libvirt does, one module per kind;
- ``base``: ``ProceduresBase``, what every procedure mixin builds on (the
  shared hypervisor, per-client connection state, the open/read-only
  checks, the test driver's errors), and the "not supported" answers;
- ``api``: the public API behind each procedure; ``params``: typed
  parameters; ``cpumap``: CPU sets; ``listing``: list filters;
  ``graphics``: the far end of a graphics socket, as a VNC server;
- ``kinds``: one module per kind, each registering itself: ``connect``
  (the connection), ``node`` (the host), ``domains`` (lookup, lifecycle,
  definitions), ``vcpus`` (vCPUs, emulator and I/O threads), ``tuning``
  (memory, scheduler, block I/O, NUMA, perf, per-device limits), ``guest``
  (stats and guest-agent answers), ``saves`` (save images, core dumps),
  ``snapshots``, ``checkpoints``, ``networks``, ``storage`` (pools and
  volumes), ``interfaces``, ``nodedevs``, ``fds`` (associating descriptors
  with a domain, opening its graphics socket);
- ``handler``: :class:`TestDaemon`, the registered kinds joined;
- ``cli`` and ``__main__``: the command line.

Adding an object kind (secrets, network filters, ...) is one module,
``kinds/secrets.py``, which holds:

1. its objects (a dataclass) and the defaults libvirt's test driver has,
   if any;
2. ``class SecretProcedures(ProceduresBase)``: the methods of the generated
   ``RemoteHandler`` it implements, each checking ``self._open(call)`` (or
   ``self._writable(call, api)`` for changes) first, as libvirtd does, and
   reaching its objects as ``self.hv[SECRETS]``; helper names carry the
   kind's name (all kinds end up in one class: :func:`register` refuses a
   name two kinds define);
3. ``SECRETS = register(ObjectKind("secrets", SecretProcedures,
   by_name(default_secrets)))``: the kind, its state in every new
   :class:`Hypervisor` (here a table by name), and its procedures in every
   new :class:`TestDaemon`.

Its XML may go to ``xml/secret.py`` once it outgrows the module (``Writer``
and ``parse_document`` are in ``xml/__init__``); only the kind imports it.
Nothing else changes: every module in ``kinds`` is imported, the server
dispatches by method name, and a procedure no kind defines keeps the "not
supported" answer.  A kind outside this package (a test's, say) registers
the same way before the daemon is made: ``TestDaemon()`` joins what is
registered then.
"""

from .cli import main
from .handler import TestDaemon
from .model import Domain, Hypervisor, default_domain
from .registry import ObjectKind, by_name, register, unregister
from .xml.domain import parse_domain_xml

__all__ = [
    "Domain",
    "Hypervisor",
    "ObjectKind",
    "TestDaemon",
    "by_name",
    "default_domain",
    "main",
    "parse_domain_xml",
    "register",
    "unregister",
]
