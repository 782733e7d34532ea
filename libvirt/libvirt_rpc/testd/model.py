"""The in-memory hypervisor: domains, libvirt's default test objects, and
the clients registered for events.

Every connection of one daemon shares one :class:`Hypervisor`; the RPC
procedures (the mixins of :mod:`.handler`) read and change it."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.remote_protocol_server import RemoteHandler

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import Client, rpc_error

FROM_TEST = ErrorDomain.VIR_FROM_TEST

# virDomainState and the reasons used here
NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN, SHUTOFF, CRASHED, PMSUSPENDED = range(8)
RUNNING_UNKNOWN, RUNNING_BOOTED, RUNNING_UNPAUSED = 0, 1, 5
PAUSED_USER = 1
SHUTOFF_UNKNOWN, SHUTOFF_DESTROYED = 0, 2

# virDomainEventType / details
EVENT_DEFINED, EVENT_UNDEFINED, EVENT_STARTED, EVENT_SUSPENDED, EVENT_RESUMED, EVENT_STOPPED = range(6)
DEFINED_ADDED, DEFINED_UPDATED = 0, 1
UNDEFINED_REMOVED = 0
STARTED_BOOTED = 0
SUSPENDED_PAUSED = 0
RESUMED_UNPAUSED = 0
STOPPED_DESTROYED = 1

VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

# The devices of libvirt's default test domain, as `virsh dumpxml` shows them.
_TEST_DEVICES = """\
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
"""


@dataclasses.dataclass
class Domain:
    name: str
    uuid: bytes
    max_memory: int  # KiB
    memory: int  # KiB
    vcpus: int
    os_type: str = "hvm"
    arch: str = "i686"
    devices: str = ""  # the <devices> content, formatted
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    id: int = -1
    state: int = SHUTOFF
    reason: int = SHUTOFF_UNKNOWN
    persistent: bool = True
    autostart: bool = False

    @property
    def active(self) -> bool:
        return self.id != -1

    @property
    def uuid_str(self) -> str:
        return str(uuidlib.UUID(bytes=self.uuid))

    def handle(self) -> rp.RemoteNonnullDomain:
        return rp.RemoteNonnullDomain(self.name, self.uuid, self.id)

    def xml(self, inactive: bool = False) -> str:
        """The domain XML, formatted as libvirt formats it."""
        from .xml import format_domain_xml  # xml.py builds Domains: import it late

        return format_domain_xml(self, inactive)


def default_domain() -> Domain:
    """libvirt's test driver domain "test", running (reason unknown) as id 1."""
    return Domain(
        name="test",
        uuid=uuidlib.UUID(TEST_UUID).bytes,
        max_memory=8388608,
        memory=2097152,
        vcpus=2,
        devices=_TEST_DEVICES,
        id=1,
        state=RUNNING,
        reason=RUNNING_UNKNOWN,
    )


@dataclasses.dataclass
class _Registration:
    client: Client
    callback_id: int
    event_id: int
    uuid: bytes | None


class Hypervisor:
    """The in-memory state every connection of one daemon shares."""

    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}
        self.next_callback = 0
        self.registrations: dict[int, _Registration] = {}
        #: What sends events to the registered clients (the daemon sets itself).
        self.handler: RemoteHandler | None = None
        self.add(default_domain())
        self.next_id = 2  # the default domain runs as id 1

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

    # -- lifecycle --------------------------------------------------------

    def start(self, domain: Domain, reason: int = RUNNING_BOOTED) -> None:
        domain.id = self.next_id
        self.next_id += 1
        domain.state, domain.reason = RUNNING, reason
        self.emit(domain, EVENT_STARTED, STARTED_BOOTED)

    def stop(self, domain: Domain, reason: int = SHUTOFF_DESTROYED) -> None:
        domain.id = -1
        domain.state, domain.reason = SHUTOFF, reason
        self.emit(domain, EVENT_STOPPED, STOPPED_DESTROYED)
        if not domain.persistent:
            self.domains.pop(domain.name, None)

    # -- events -----------------------------------------------------------

    def register(self, client: Client, event_id: int, uuid: bytes | None) -> int:
        callback_id = self.next_callback
        self.next_callback += 1
        self.registrations[callback_id] = _Registration(client, callback_id, event_id, uuid)
        return callback_id

    def deregister(self, client: Client, callback_id: int) -> None:
        registration = self.registrations.get(callback_id)
        if registration is None or registration.client is not client:
            raise rpc_error(
                E.VIR_ERR_INTERNAL_ERROR, f"callback ID {callback_id} not registered"
            )
        del self.registrations[callback_id]

    def forget(self, client: Client) -> None:
        for callback_id, registration in list(self.registrations.items()):
            if registration.client is client:
                del self.registrations[callback_id]

    def emit(self, domain: Domain, event: int, detail: int) -> None:
        """Send a lifecycle event to every client registered for it."""
        if self.handler is None:
            return
        for registration in list(self.registrations.values()):
            if registration.event_id != VIR_DOMAIN_EVENT_ID_LIFECYCLE:
                continue
            if registration.uuid is not None and registration.uuid != domain.uuid:
                continue
            self.handler.send_domain_event_callback_lifecycle(
                registration.client,
                rp.RemoteDomainEventCallbackLifecycleMsg(
                    registration.callback_id,
                    rp.RemoteDomainEventLifecycleMsg(domain.handle(), event, detail),
                ),
            )
