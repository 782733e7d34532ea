"""A test daemon: an in-memory hypervisor behind libvirt's RPC protocol.

``python -m libvirt_rpc.testd --unix PATH [--tcp HOST:PORT]`` serves
libvirt's remote program the way ``libvirtd`` serves its ``test:///default``
driver, so that the real ``virsh -c 'test+unix:///default?socket=PATH'``
(or libvirt-python) can connect with auth "none" and list, inspect, define,
undefine, start, stop, suspend and resume domains, and watch lifecycle
events.  At start there is one running domain, "test", with the values of
libvirt's test driver (UUID 6695eb01-f6a4-8304-79aa-97f2502e193f, 8 GiB
maximum, 2 GiB current memory, 2 vCPUs, ...).  Unlike libvirtd, whose
``test:///default`` state ends with the last connection, domains here live
as long as the daemon.

Procedures that are not implemented answer like libvirtd answers a
procedure it has no dispatcher for; ``-v`` logs each of them.

The modules:

- ``model``: the state (:class:`Domain`, :class:`Hypervisor`, libvirt's
  default test objects, event registrations);
- ``xml``: domain XML, parsed and formatted as libvirt does;
- ``base``: ``ProceduresBase``, what every procedure mixin builds on (the
  shared hypervisor, per-client connection state, the open/read-only
  checks);
- ``connect``, ``node``, ``domains``: the procedures, one mixin per kind
  (connection-level, host, domains);
- ``handler``: :class:`TestDaemon`, the mixins joined;
- ``cli`` and ``__main__``: the command line.

Adding an object kind (networks, storage pools, ...):

1. its objects and their lookups in ``model`` (a dataclass, a dict on
   :class:`Hypervisor`, maybe a default object as libvirt's test driver
   has one), its XML in ``xml`` (``format_element``/``escape`` are there
   to share);
2. a new module, e.g. ``networks.py``, with ``class
   NetworkProcedures(ProceduresBase)`` holding the kind's procedures: the
   methods of the generated ``RemoteHandler`` it implements, each checking
   ``self._open(call)`` (or ``self._writable(call, api)`` for changes)
   first, as libvirtd does;
3. that mixin in :class:`TestDaemon`'s bases in ``handler``.

Nothing else changes: the server dispatches by method name, and a
procedure no mixin defines keeps the generated "unknown procedure" answer.
"""

from .cli import main
from .handler import TestDaemon
from .model import Domain, Hypervisor, default_domain
from .xml.domain import parse_domain_xml

__all__ = ["Domain", "Hypervisor", "TestDaemon", "default_domain", "main", "parse_domain_xml"]
