"""The daemon's handler of libvirt's remote program: one mixin of
procedures per object kind, joined over one :class:`~.model.Hypervisor`."""

from __future__ import annotations

from .checkpoints import CheckpointProcedures
from .connect import ConnectProcedures, hostname
from .domains import DomainProcedures
from .fds import FdProcedures
from .graphics import Displays
from .guest import GuestProcedures
from .interfaces import InterfaceProcedures
from .model import Hypervisor
from .networks import NetworkProcedures
from .node import NodeProcedures
from .nodedevs import NodeDeviceProcedures
from .saves import SaveProcedures
from .snapshots import SnapshotProcedures
from .storage import StorageProcedures
from .tuning import TuningProcedures
from .vcpus import VcpuProcedures


class TestDaemon(
    ConnectProcedures,
    NodeProcedures,
    DomainProcedures,
    VcpuProcedures,
    TuningProcedures,
    GuestProcedures,
    SaveProcedures,
    SnapshotProcedures,
    CheckpointProcedures,
    NetworkProcedures,
    StorageProcedures,
    InterfaceProcedures,
    NodeDeviceProcedures,
    FdProcedures,
):
    """The remote program over a :class:`Hypervisor`, like libvirtd's test
    driver behind its remote dispatcher.  Procedures no mixin implements
    answer as libvirtd does for an API the test driver lacks
    (:mod:`.api`)."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, hypervisor: Hypervisor | None = None) -> None:
        self.hv = hypervisor or Hypervisor()
        self.hv.handler = self  # the hypervisor sends its events through us
        self.hostname = hostname()
        self.displays = Displays()
