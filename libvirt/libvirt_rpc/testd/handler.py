"""The daemon's handler of libvirt's remote program: one mixin of
procedures per object kind, joined over one :class:`~.model.Hypervisor`."""

from __future__ import annotations

from .connect import ConnectProcedures, hostname
from .domains import DomainProcedures
from .model import Hypervisor
from .node import NodeProcedures


class TestDaemon(ConnectProcedures, NodeProcedures, DomainProcedures):
    """The remote program over a :class:`Hypervisor`, like libvirtd's test
    driver behind its remote dispatcher.  Procedures no mixin implements
    keep the generated ``RemoteHandler`` default: libvirtd's answer for a
    procedure it has no dispatcher for."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, hypervisor: Hypervisor | None = None) -> None:
        self.hv = hypervisor or Hypervisor()
        self.hv.handler = self  # the hypervisor sends its events through us
        self.hostname = hostname()
