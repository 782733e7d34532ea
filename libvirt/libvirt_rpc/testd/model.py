"""The in-memory hypervisor: domains, the state of the other object kinds
(:mod:`.registry`), libvirt's default test domain, and the clients
registered for events.

Every connection of one daemon shares one :class:`Hypervisor`; the RPC
procedures (the kinds' mixins, joined in :mod:`.handler`) read and change
it.  A domain is a :class:`Domain` (its run state) around one or two
:class:`DomainDef` (the definition in use and, while a persistent domain
runs, the one it will boot next), as libvirt keeps ``def`` and
``newDef``."""

from __future__ import annotations

import copy
import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.remote_protocol_server import RemoteHandler

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import Client, rpc_error
from .base import invalid_argument
from .cpumap import CpuSet
from .listing import Defined
from .registry import ObjectKind, registered

FROM_TEST = ErrorDomain.VIR_FROM_TEST

# virDomainState and the reasons used here
NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN, SHUTOFF, CRASHED, PMSUSPENDED = range(8)
RUNNING_UNKNOWN, RUNNING_BOOTED, RUNNING_UNPAUSED = 0, 1, 5
PAUSED_USER = 1
SHUTOFF_UNKNOWN, SHUTOFF_SHUTDOWN, SHUTOFF_DESTROYED = 0, 1, 2
SHUTOFF_SAVED = 5

# virDomainEventType / details
EVENT_DEFINED, EVENT_UNDEFINED, EVENT_STARTED, EVENT_SUSPENDED, EVENT_RESUMED, EVENT_STOPPED = range(6)
DEFINED_ADDED, DEFINED_UPDATED, DEFINED_RENAMED = 0, 1, 2
UNDEFINED_REMOVED, UNDEFINED_RENAMED = 0, 1
STARTED_BOOTED = 0
SUSPENDED_PAUSED = 0
RESUMED_UNPAUSED = 0
STOPPED_SHUTDOWN, STOPPED_DESTROYED, STOPPED_SAVED = 0, 1, 4

VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0

# virDomainModificationImpact
AFFECT_CURRENT, AFFECT_LIVE, AFFECT_CONFIG = 0, 1, 2

#: What libvirt stores for a memory limit nobody set.
MEMORY_UNLIMITED = 9007199254740991

#: virPerfEventType, in libvirt's order.
PERF_EVENTS = (
    "cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses",
    "branch_instructions", "branch_misses", "bus_cycles", "stalled_cycles_frontend",
    "stalled_cycles_backend", "ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
    "context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj",
    "alignment_faults", "emulation_faults",
)  # fmt: skip

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

# The devices of libvirt's default test domain, as `virsh dumpxml` shows them.
_TEST_DEVICES = """\
<devices>
  <disk type='file' device='disk'>
    <source file='/guest/diskimage1'/>
    <target dev='vda' bus='virtio'/>
    <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
  </disk>
  <interface type='network'>
    <mac address='aa:bb:cc:dd:ee:ff'/>
    <source network='default'/>
    <target dev='testnet0'/>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
  </interface>
  <memballoon model='virtio'>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
  </memballoon>
</devices>
"""


@dataclasses.dataclass
class DomainDef:
    """One domain definition: what ``virsh dumpxml`` shows."""

    name: str
    uuid: bytes
    max_memory: int  # KiB
    memory: int  # KiB
    max_vcpus: int
    vcpus: int  # online (<vcpu current=...>)
    os_type: str = "hvm"
    arch: str = "i686"
    title: str | None = None
    description: str | None = None
    #: the <metadata> elements: (namespace URI, prefix, element without
    #: namespace); None: no <metadata> at all (libvirt keeps it once there)
    metadata: list[tuple[str, str, ET.Element]] | None = None
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    devices: list[ET.Element] = dataclasses.field(default_factory=list)
    blkio_weight: int = 0
    #: hard_limit, soft_limit, swap_hard_limit (KiB); absent: unlimited
    memtune: dict[str, int] = dataclasses.field(default_factory=dict)
    vcpupin: dict[int, CpuSet] = dataclasses.field(default_factory=dict)
    emulatorpin: CpuSet | None = None
    iothreads: list[int] = dataclasses.field(default_factory=list)  # IOThread IDs
    #: whether the IDs were given (an <iothreadids> list, iothreadadd) rather
    #: than numbered from an <iothreads> count
    iothread_ids_given: bool = False
    iothreadpin: dict[int, CpuSet] = dataclasses.field(default_factory=dict)
    numa_mode: str | None = None
    numa_nodeset: CpuSet | None = None
    #: perf event name -> enabled (absent: never set)
    perf: dict[str, bool] = dataclasses.field(default_factory=dict)

    def copy(self) -> DomainDef:
        return copy.deepcopy(self)

    def memory_limit(self, name: str) -> int:
        return self.memtune.get(name, MEMORY_UNLIMITED)

    # -- devices --------------------------------------------------------

    def disks(self) -> list[ET.Element]:
        return [d for d in self.devices if d.tag == "disk"]

    def disk_targets(self) -> list[tuple[str, bool]]:
        """Each disk's target name, and whether it is a hard disk (not a
        CD-ROM or floppy): what snapshots and checkpoints cover."""
        return [
            (target.get("dev", ""), disk.get("device", "disk") == "disk")
            for disk in self.disks()
            if (target := disk.find("target")) is not None
        ]

    def interfaces(self) -> list[ET.Element]:
        return [d for d in self.devices if d.tag == "interface"]

    def has_memballoon(self) -> bool:
        return any(d.tag == "memballoon" and d.get("model") != "none" for d in self.devices)

    def disk(self, name: str) -> ET.Element | None:
        """virDomainDiskByName: the disk whose target is ``name`` or, for a
        name starting with "/", whose source is."""
        for disk in self.disks():
            if not name.startswith("/"):
                target = disk.find("target")
                if target is not None and target.get("dev") == name:
                    return disk
            else:
                source = disk.find("source")
                if source is not None and name in (source.get("file"), source.get("dev")):
                    return disk
        return None

    def interface(self, device: str) -> ET.Element | None:
        """virDomainNetFind: by target name or MAC address."""
        for net in self.interfaces():
            target, mac = net.find("target"), net.find("mac")
            if target is not None and target.get("dev") == device:
                return net
            if mac is not None and (mac.get("address") or "").lower() == device.lower():
                return net
        return None


@dataclasses.dataclass
class Snapshot:
    """A domain snapshot: what it saved and its place in the tree."""

    name: str
    description: str | None
    state: str  # the domain's state then: "running", "paused", "shutoff", ...
    creation_time: int
    parent: str | None
    domain: DomainDef
    memory: str  # "internal", or "no" for a domain that was off
    disks: list[tuple[str, str]]  # (target, "internal" or "no")


@dataclasses.dataclass
class Checkpoint:
    """A domain checkpoint: a dirty bitmap per disk since it was taken."""

    name: str
    description: str | None
    creation_time: int
    parent: str | None
    domain: DomainDef
    disks: list[tuple[str, str]]  # (target, "bitmap" or "no")


@dataclasses.dataclass
class Domain(Defined):
    """A domain's run state around its definition(s)."""

    definition: DomainDef
    #: the persistent definition while a persistent domain runs (newDef)
    next_definition: DomainDef | None = None
    id: int = -1
    state: int = SHUTOFF
    reason: int = SHUTOFF_UNKNOWN
    persistent: bool = True
    autostart: bool = False
    managed_save: bool = False
    snapshots: dict[str, Snapshot] = dataclasses.field(default_factory=dict)
    current_snapshot: str | None = None
    checkpoints: dict[str, Checkpoint] = dataclasses.field(default_factory=dict)
    current_checkpoint: str | None = None
    #: the guest's clock (seconds, nanoseconds), as the test driver starts it
    guest_time: tuple[int, int] = (627319920, 0)
    #: whether "/" and "/boot" are frozen
    frozen: list[bool] = dataclasses.field(default_factory=lambda: [False, False])

    @property
    def max_memory(self) -> int:
        return self.definition.max_memory

    @property
    def memory(self) -> int:
        return self.definition.memory

    @property
    def vcpus(self) -> int:
        return self.definition.vcpus

    @property
    def active(self) -> bool:
        return self.id != -1

    @property
    def uuid_str(self) -> str:
        return str(uuidlib.UUID(bytes=self.uuid))

    @property
    def persistent_definition(self) -> DomainDef:
        """What ``dumpxml --inactive`` shows: the definition the domain
        boots next."""
        return self.next_definition or self.definition

    def handle(self) -> rp.RemoteNonnullDomain:
        return rp.RemoteNonnullDomain(self.name, self.uuid, self.id)

    def xml(self, inactive: bool = False, secure: bool = False) -> str:
        """The domain XML, formatted as libvirt formats it."""
        from .xml.domain import format_domain_xml  # xml reads Domains: import it late

        if inactive:
            return format_domain_xml(self.persistent_definition, -1)
        return format_domain_xml(self.definition, self.id)

    def definitions(self, flags: int) -> tuple[DomainDef | None, DomainDef | None]:
        """virDomainObjGetDefs: the live and the persistent definition a
        call with ``flags`` (virDomainModificationImpact) affects."""
        live_flag, config_flag = bool(flags & AFFECT_LIVE), bool(flags & AFFECT_CONFIG)
        if not live_flag and not config_flag:
            live_flag, config_flag = self.active, not self.active
        if live_flag and not self.active:
            raise rpc_error(E.VIR_ERR_OPERATION_INVALID, "domain is not running", domain=FROM_TEST)
        if config_flag and not self.persistent:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                "transient domains do not have any persistent config",
                domain=FROM_TEST,
            )
        return (
            self.definition if live_flag else None,
            self.persistent_definition if config_flag else None,
        )

    def one_definition(self, flags: int) -> DomainDef:
        """virDomainObjGetOneDef: the one definition ``flags`` name."""
        if flags & AFFECT_LIVE and flags & AFFECT_CONFIG:
            raise invalid_argument(
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
                "virDomainObjGetOneDefState",
                ErrorDomain.VIR_FROM_DOMAIN,
            )
        live, config = self.definitions(flags)
        definition = live or config
        assert definition is not None
        return definition


def default_domain() -> Domain:
    """libvirt's test driver domain "test", running (reason unknown) as id 1."""
    definition = DomainDef(
        name="test",
        uuid=uuidlib.UUID(TEST_UUID).bytes,
        max_memory=8388608,
        memory=2097152,
        max_vcpus=2,
        vcpus=2,
        devices=list(ET.fromstring(_TEST_DEVICES)),
    )
    return Domain(definition, next_definition=definition.copy(), id=1, state=RUNNING, reason=RUNNING_UNKNOWN)


@dataclasses.dataclass
class _Registration:
    client: Client
    callback_id: int
    kind: str  # "domain", "network", "storage_pool", "node_device"
    event_id: int
    key: bytes | str | None  # the one object's UUID (name for node devices)


#: Sends one event to one registered client: (client, callback ID).
Send = Callable[[Client, int], None]

S = TypeVar("S")


class Hypervisor:
    """The in-memory state every connection of one daemon shares: the
    domains, and the state of each object kind (``hv[kind]``), made for
    ``kinds`` (by default every registered kind)."""

    def __init__(self, kinds: Iterable[ObjectKind[Any]] | None = None) -> None:
        self.domains: dict[str, Domain] = {}
        kinds = registered() if kinds is None else kinds
        self._states: dict[ObjectKind[Any], object] = {kind: kind.state() for kind in kinds if kind.state}
        self.next_callback = 0
        self.registrations: dict[int, _Registration] = {}
        #: What sends events to the registered clients (the daemon sets itself).
        self.handler: RemoteHandler | None = None
        self.add(default_domain())
        self.next_id = 2  # the default domain runs as id 1

    def __getitem__(self, kind: ObjectKind[S]) -> S:
        """``kind``'s state: its objects."""
        try:
            return cast(S, self._states[kind])
        except KeyError:
            raise LookupError(f"this hypervisor was made without the object kind {kind.name!r}") from None

    def has(self, kind: ObjectKind[Any]) -> bool:
        """Whether this hypervisor keeps ``kind``'s state."""
        return kind.state is None or kind in self._states

    def add(self, domain: Domain) -> None:
        self.domains[domain.name] = domain

    def by_name(self, name: str) -> Domain:
        domain = self.domains.get(name)
        if domain is None:
            raise rpc_error(E.VIR_ERR_NO_DOMAIN, domain=FROM_TEST)
        return domain

    def _with_uuid(self, uuid: bytes) -> Domain | None:
        return next((d for d in self.domains.values() if d.uuid == uuid), None)

    def by_uuid(self, uuid: bytes) -> Domain:
        domain = self._with_uuid(uuid)
        if domain is None:
            raise rpc_error(E.VIR_ERR_NO_DOMAIN, domain=FROM_TEST)
        return domain

    def by_id(self, id: int) -> Domain:
        for domain in self.domains.values():
            if domain.id == id and id != -1:
                return domain
        raise rpc_error(E.VIR_ERR_NO_DOMAIN, domain=FROM_TEST)

    def of(self, handle: rp.RemoteNonnullDomain) -> Domain:
        """The domain a client's handle names (testDomObjFromDomain)."""
        domain = self._with_uuid(handle.uuid)
        if domain is not None:
            return domain
        text = str(uuidlib.UUID(bytes=handle.uuid)) if len(handle.uuid) == 16 else "?"
        raise rpc_error(
            E.VIR_ERR_NO_DOMAIN,
            f"no domain with matching uuid '{text}' ({handle.name})",
            domain=FROM_TEST,
        )

    def assign(self, new: DomainDef, live: bool) -> tuple[Domain, bool]:
        """virDomainObjListAdd: the domain ``new`` defines, and whether one
        of that name was there; ``live``: for starting it now."""
        old = self.domains.get(new.name)
        for other in self.domains.values():
            if other.uuid == new.uuid and other.name != new.name:
                raise rpc_error(
                    E.VIR_ERR_OPERATION_FAILED,
                    f"domain '{other.name}' is already defined with uuid {other.uuid_str}",
                    domain=ErrorDomain.VIR_FROM_DOMAIN,
                )
        if old is None:
            domain = Domain(new, persistent=not live)
            self.add(domain)
            return domain, False
        if old.uuid != new.uuid:
            raise rpc_error(
                E.VIR_ERR_OPERATION_FAILED,
                f"domain '{old.name}' already exists with uuid {old.uuid_str}",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        if live and old.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"domain '{old.name}' is already active",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        # virDomainObjAssignDef
        if old.active:
            old.next_definition = new
        elif live:
            old.next_definition = old.next_definition or old.definition
            old.definition = new
        else:
            old.definition = new
        return old, True

    # -- lifecycle --------------------------------------------------------

    def start(self, domain: Domain, reason: int = RUNNING_BOOTED, detail: int = STARTED_BOOTED) -> None:
        domain.id = self.next_id
        self.next_id += 1
        domain.state, domain.reason = RUNNING, reason
        if domain.persistent and domain.next_definition is None:
            # the running copy may change; the definition stays
            domain.next_definition = domain.definition.copy()
        domain.managed_save = False
        self.emit(domain, EVENT_STARTED, detail)

    def stop(self, domain: Domain, reason: int = SHUTOFF_DESTROYED, detail: int = STOPPED_DESTROYED) -> None:
        domain.id = -1
        domain.state, domain.reason = SHUTOFF, reason
        if domain.next_definition is not None:  # changes to the running copy end
            domain.definition, domain.next_definition = domain.next_definition, None
        self.emit(domain, EVENT_STOPPED, detail)
        if not domain.persistent:
            self.domains.pop(domain.name, None)

    # -- events -----------------------------------------------------------

    def register(self, client: Client, kind: str, event_id: int, key: bytes | str | None) -> int:
        callback_id = self.next_callback
        self.next_callback += 1
        self.registrations[callback_id] = _Registration(client, callback_id, kind, event_id, key)
        return callback_id

    def deregister(self, client: Client, callback_id: int) -> None:
        registration = self.registrations.get(callback_id)
        if registration is None or registration.client is not client:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"callback ID {callback_id} not registered")
        del self.registrations[callback_id]

    def forget(self, client: Client) -> None:
        for callback_id, registration in list(self.registrations.items()):
            if registration.client is client:
                del self.registrations[callback_id]

    def notify(self, kind: str, key: bytes | str, event_id: int, send: Send) -> None:
        """Send an event about the object ``key`` to every client
        registered for it."""
        for registration in list(self.registrations.values()):
            if (registration.kind, registration.event_id) != (kind, event_id):
                continue
            if registration.key is not None and registration.key != key:
                continue
            send(registration.client, registration.callback_id)

    def emit(self, domain: Domain, event: int, detail: int) -> None:
        """A domain lifecycle event."""
        handler = self.handler
        if handler is None:
            return
        message = rp.RemoteDomainEventLifecycleMsg(domain.handle(), event, detail)
        self.notify(
            "domain",
            domain.uuid,
            VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda client, callback_id: handler.send_domain_event_callback_lifecycle(
                client, rp.RemoteDomainEventCallbackLifecycleMsg(callback_id, message)
            ),
        )
