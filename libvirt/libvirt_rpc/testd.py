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
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import dataclasses
import gc
import logging
import os
import signal
import socket
import sys
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.remote_protocol_server import RemoteHandler

from .errors import ErrorDomain, ErrorNumber, LibvirtError
from .server import Call, Client, Limits, Server, rpc_error

__all__ = ["Domain", "Hypervisor", "TestDaemon", "main"]

log = logging.getLogger(__name__)

E = ErrorNumber
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
VIR_DOMAIN_EVENT_ID_LAST = 27  # libvirt 9.0.0

VIR_DOMAIN_XML_INACTIVE = 2
VIR_CONNECT_RO = 1

# virDrvFeature numbers libvirt 9.0.0 asks about (the keepalive one, 10, is
# answered by the server runtime itself)
_FEATURES = {
    8: 0,  # FD_PASSING: this server cannot take file descriptors
    9: 1,  # TYPED_PARAM_STRING
    14: 1,  # REMOTE_CLOSE_CALLBACK
    15: 1,  # REMOTE_EVENT_CALLBACK
    16: 1,  # NETWORK_UPDATE_HAS_CORRECT_ORDER
}

# virConnectListAllDomainsFlags: groups of alternatives; a group filters only
# when one of its flags is given.
_LIST_GROUPS: tuple[tuple[tuple[int, Any], ...], ...] = (
    ((1, lambda d: d.active), (2, lambda d: not d.active)),
    ((4, lambda d: d.persistent), (8, lambda d: not d.persistent)),
    (
        (16, lambda d: d.state == RUNNING),
        (32, lambda d: d.state == PAUSED),
        (64, lambda d: d.state == SHUTOFF),
        (128, lambda d: d.state not in (RUNNING, PAUSED, SHUTOFF)),
    ),
    ((256, lambda d: False), (512, lambda d: True)),  # managed save
    ((1024, lambda d: d.autostart), (2048, lambda d: not d.autostart)),
    ((4096, lambda d: False), (8192, lambda d: True)),  # snapshots
    ((16384, lambda d: False), (32768, lambda d: True)),  # checkpoints
)

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

SCREENSHOT = Path("/usr/share/libvirt/test-screenshot.png")


def _c_string(text: str, size: int | None = None) -> list[int]:
    """A NUL-terminated C char array as the XDR ``char x[N]``/``<N>`` lists."""
    data = list(text.encode()) + [0]
    if size is not None:
        data += [0] * (size - len(data))
    return data


def _hostname() -> str:
    """What libvirt's virGetHostname() returns: the host name, or its
    canonical name when the short name is not qualified."""
    name = socket.gethostname()
    if name.startswith("localhost") or "." in name:
        return name
    try:
        infos = socket.getaddrinfo(name, None, 0, 0, 0, socket.AI_CANONNAME)
    except OSError:
        return name
    canon = infos[0][3] if infos else ""
    if not canon or canon.startswith("localhost"):
        return name
    return canon


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
        head = f"<domain type='test' id='{self.id}'>" if self.active and not inactive else "<domain type='test'>"
        devices = "  <devices>\n" + self.devices + "  </devices>\n"
        return (
            f"{head}\n"
            f"  <name>{_escape(self.name)}</name>\n"
            f"  <uuid>{self.uuid_str}</uuid>\n"
            f"  <memory unit='KiB'>{self.max_memory}</memory>\n"
            f"  <currentMemory unit='KiB'>{self.memory}</currentMemory>\n"
            f"  <vcpu placement='static'>{self.vcpus}</vcpu>\n"
            "  <os>\n"
            f"    <type arch='{self.arch}'>{self.os_type}</type>\n"
            "    <boot dev='hd'/>\n"
            "  </os>\n"
            "  <clock offset='utc'/>\n"
            f"  <on_poweroff>{self.on_poweroff}</on_poweroff>\n"
            f"  <on_reboot>{self.on_reboot}</on_reboot>\n"
            f"  <on_crash>{self.on_crash}</on_crash>\n"
            f"{devices}"
            "</domain>\n"
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _escape(text).replace("'", "&apos;")


_UNITS = {
    "b": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip


def _xml_error(info: str) -> LibvirtError:
    return rpc_error(E.VIR_ERR_XML_ERROR, info, domain=ErrorDomain.VIR_FROM_DOMAIN)


def _kib(element: ET.Element | None, what: str) -> int | None:
    if element is None:
        return None
    unit = (element.get("unit") or "KiB").lower()
    if unit not in _UNITS:
        raise _xml_error(f"unknown unit '{element.get('unit')}' for {what}")
    try:
        value = int((element.text or "").strip())
    except ValueError:
        raise _xml_error(f"invalid value for {what}") from None
    return -(-value * _UNITS[unit] // 1024)  # rounded up, as libvirt does


def _format_element(element: ET.Element, indent: int) -> str:
    """A device element the way libvirt writes XML: two-space indent,
    single-quoted attributes, empty elements closed with '/>'."""
    pad = " " * indent
    attrs = "".join(f" {k}='{_attr(v)}'" for k, v in element.attrib.items())
    text = (element.text or "").strip()
    if len(element) == 0:
        if text:
            return f"{pad}<{element.tag}{attrs}>{_escape(text)}</{element.tag}>\n"
        return f"{pad}<{element.tag}{attrs}/>\n"
    inner = "".join(_format_element(child, indent + 2) for child in element)
    return f"{pad}<{element.tag}{attrs}>\n{inner}{pad}</{element.tag}>\n"


def _complete_interfaces(devices: ET.Element) -> None:
    """What libvirt adds to a network interface: a MAC address (random, in
    QEMU's 52:54:00 range) and, from the test driver, a ``testnetN`` name."""
    interfaces = devices.findall("interface")
    taken = {t.get("dev") for t in devices.findall("interface/target")}
    for interface in interfaces:
        if interface.find("mac") is None:
            mac = ET.Element("mac", address="52:54:00:" + ":".join(f"{b:02x}" for b in os.urandom(3)))
            interface.insert(0, mac)
        if interface.find("target") is None:
            number = next(n for n in range(1024) if f"testnet{n}" not in taken)
            taken.add(f"testnet{number}")
            target = ET.Element("target", dev=f"testnet{number}")
            after = [i for i, child in enumerate(interface) if child.tag in ("mac", "source")]
            interface.insert(after[-1] + 1, target)


def parse_domain_xml(text: str) -> Domain:
    """A domain from XML: name, uuid, memory, currentMemory, vcpu, os type
    and arch, on_* actions and devices (kept as given)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise _xml_error(f"(domain_definition):{error}") from None
    if root.tag != "domain":
        raise _xml_error(f"unexpected root element <{root.tag}>, expecting <domain>")
    kind = root.get("type")
    if kind is None:
        raise _xml_error("missing domain type attribute")
    if kind != "test":
        raise rpc_error(
            E.VIR_ERR_CONFIG_UNSUPPORTED,
            f"Emulator '/usr/bin/test-hv' does not support virt type '{kind}'",
            domain=ErrorDomain.VIR_FROM_DOMAIN,
        )
    name = (root.findtext("name") or "").strip()
    if not name:
        raise rpc_error(E.VIR_ERR_NO_NAME, "domain", domain=ErrorDomain.VIR_FROM_DOMAIN)
    raw_uuid = (root.findtext("uuid") or "").strip()
    if raw_uuid:
        try:
            uuid = uuidlib.UUID(raw_uuid).bytes
        except ValueError:
            raise _xml_error("malformed uuid element") from None
    else:
        uuid = uuidlib.uuid4().bytes
    max_memory = _kib(root.find("memory"), "memory")
    if max_memory is None:
        raise _xml_error("missing element memory")
    memory = _kib(root.find("currentMemory"), "currentMemory")
    if memory is None or memory > max_memory:
        memory = max_memory
    vcpus_text = (root.findtext("vcpu") or "1").strip()
    try:
        vcpus = int(vcpus_text)
    except ValueError:
        raise _xml_error("maximum vcpus count must be an integer") from None
    os_type_el = root.find("os/type")
    if os_type_el is None or not (os_type_el.text or "").strip():
        raise rpc_error(E.VIR_ERR_OS_TYPE, "(null)", domain=ErrorDomain.VIR_FROM_DOMAIN)
    devices_el = root.find("devices")
    if devices_el is not None:
        _complete_interfaces(devices_el)
    devices = "".join(_format_element(child, 4) for child in devices_el) if devices_el is not None else ""
    domain = Domain(
        name=name,
        uuid=uuid,
        max_memory=max_memory,
        memory=memory,
        vcpus=vcpus,
        os_type=os_type_el.text.strip(),  # type: ignore[union-attr]
        arch=os_type_el.get("arch", "i686"),
        devices=devices,
    )
    for action in ("on_poweroff", "on_reboot", "on_crash"):
        value = (root.findtext(action) or "").strip()
        if value:
            setattr(domain, action, value)
    return domain


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
        self.handler: TestDaemon | None = None
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


@dataclasses.dataclass
class _Connection:
    """Per-client state: whether CONNECT_OPEN was called, and how."""

    uri: str | None = None
    read_only: bool = False


class TestDaemon(RemoteHandler):
    """The remote program over a :class:`Hypervisor`, like libvirtd's test
    driver behind its remote dispatcher."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, hypervisor: Hypervisor | None = None) -> None:
        self.hv = hypervisor or Hypervisor()
        self.hv.handler = self
        self.hostname = _hostname()

    # -- connection -------------------------------------------------------

    def client_connected(self, client: Client) -> None:
        client.data["testd"] = _Connection()

    def client_closed(self, client: Client) -> None:
        self.hv.forget(client)

    def _open(self, call: Call) -> _Connection:
        """The client's connection; libvirtd's error when it is not open."""
        conn: _Connection = call.client.data["testd"]
        if conn.uri is None:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, "hypervisor connection not open")
        return conn

    def _domain(self, call: Call, handle: rp.RemoteNonnullDomain) -> Domain:
        """The domain a call's handle names, on an open connection."""
        self._open(call)
        return self.hv.of(handle)

    def _writable(self, call: Call, api: str) -> _Connection:
        conn = self._open(call)
        if conn.read_only:
            raise rpc_error(
                E.VIR_ERR_OPERATION_DENIED,
                f"read only access prevents {api}",
                domain=ErrorDomain.VIR_FROM_DOMAIN,  # libvirt-domain.c's check
            )
        return conn

    async def auth_list(self, call: Call) -> rp.RemoteAuthListRet:
        return rp.RemoteAuthListRet([rp.RemoteAuthType.REMOTE_AUTH_NONE])

    async def connect_open(self, call: Call, args: rp.RemoteConnectOpenArgs) -> None:
        conn: _Connection = call.client.data["testd"]
        name = args.name or "test:///default"
        if not name.startswith("test://"):
            raise rpc_error(E.VIR_ERR_NO_CONNECT, name, domain=ErrorDomain.VIR_FROM_NONE)
        conn.uri = "test:///default"
        conn.read_only = bool(args.flags & VIR_CONNECT_RO)

    async def connect_close(self, call: Call) -> None:
        conn: _Connection = call.client.data["testd"]
        conn.uri = None
        self.hv.forget(call.client)
        call.close_after_reply = True  # as libvirtd does

    async def connect_supports_feature(
        self, call: Call, args: rp.RemoteConnectSupportsFeatureArgs
    ) -> rp.RemoteConnectSupportsFeatureRet:
        self._open(call)
        return rp.RemoteConnectSupportsFeatureRet(_FEATURES.get(args.feature, 0))

    async def connect_register_close_callback(self, call: Call) -> None:
        self._open(call)

    async def connect_unregister_close_callback(self, call: Call) -> None:
        self._open(call)

    async def connect_get_type(self, call: Call) -> rp.RemoteConnectGetTypeRet:
        self._open(call)
        return rp.RemoteConnectGetTypeRet("TEST")

    async def connect_get_version(self, call: Call) -> rp.RemoteConnectGetVersionRet:
        self._open(call)
        return rp.RemoteConnectGetVersionRet(2)  # "0.0.2", as the test driver

    async def connect_get_lib_version(self, call: Call) -> rp.RemoteConnectGetLibVersionRet:
        self._open(call)
        return rp.RemoteConnectGetLibVersionRet(9000000)  # the protocol's libvirt 9.0.0

    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        self._open(call)
        return rp.RemoteConnectGetHostnameRet(self.hostname)

    async def connect_get_uri(self, call: Call) -> rp.RemoteConnectGetUriRet:
        conn = self._open(call)
        assert conn.uri is not None
        return rp.RemoteConnectGetUriRet(conn.uri)

    async def connect_is_secure(self, call: Call) -> rp.RemoteConnectIsSecureRet:
        self._open(call)
        return rp.RemoteConnectIsSecureRet(1)

    async def connect_get_max_vcpus(
        self, call: Call, args: rp.RemoteConnectGetMaxVcpusArgs
    ) -> rp.RemoteConnectGetMaxVcpusRet:
        self._open(call)
        return rp.RemoteConnectGetMaxVcpusRet(32)

    async def node_get_info(self, call: Call) -> rp.RemoteNodeGetInfoRet:
        self._open(call)
        return rp.RemoteNodeGetInfoRet(_c_string("i686", 32), 3145728, 16, 1400, 2, 2, 2, 2)

    async def node_get_security_model(self, call: Call) -> rp.RemoteNodeGetSecurityModelRet:
        self._open(call)
        return rp.RemoteNodeGetSecurityModelRet(_c_string("testSecurity"), _c_string(""))

    # -- events -----------------------------------------------------------

    async def connect_domain_event_callback_register_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackRegisterAnyArgs
    ) -> rp.RemoteConnectDomainEventCallbackRegisterAnyRet:
        self._open(call)
        if not 0 <= args.eventID < VIR_DOMAIN_EVENT_ID_LAST:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"unsupported event ID {args.eventID}")
        uuid = args.dom.uuid if args.dom is not None else None
        callback_id = self.hv.register(call.client, args.eventID, uuid)
        return rp.RemoteConnectDomainEventCallbackRegisterAnyRet(callback_id)

    async def connect_domain_event_callback_deregister_any(
        self, call: Call, args: rp.RemoteConnectDomainEventCallbackDeregisterAnyArgs
    ) -> None:
        self._open(call)
        self.hv.deregister(call.client, args.callbackID)

    # -- listing and lookup -----------------------------------------------

    def _list(self, flags: int) -> list[Domain]:
        out = []
        for domain in self.hv.domains.values():
            for group in _LIST_GROUPS:
                tests = [test for flag, test in group if flags & flag]
                if tests and not any(test(domain) for test in tests):
                    break
            else:
                out.append(domain)
        return out

    async def connect_list_all_domains(
        self, call: Call, args: rp.RemoteConnectListAllDomainsArgs
    ) -> rp.RemoteConnectListAllDomainsRet:
        self._open(call)
        domains = self._list(args.flags)
        handles = [d.handle() for d in domains] if args.need_results else []
        return rp.RemoteConnectListAllDomainsRet(handles, len(domains))

    async def connect_num_of_domains(self, call: Call) -> rp.RemoteConnectNumOfDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDomainsRet(len(self._list(1)))

    async def connect_list_domains(
        self, call: Call, args: rp.RemoteConnectListDomainsArgs
    ) -> rp.RemoteConnectListDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDomainsRet([d.id for d in self._list(1)][: args.maxids])

    async def connect_num_of_defined_domains(
        self, call: Call
    ) -> rp.RemoteConnectNumOfDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectNumOfDefinedDomainsRet(len(self._list(2)))

    async def connect_list_defined_domains(
        self, call: Call, args: rp.RemoteConnectListDefinedDomainsArgs
    ) -> rp.RemoteConnectListDefinedDomainsRet:
        self._open(call)
        return rp.RemoteConnectListDefinedDomainsRet([d.name for d in self._list(2)][: args.maxnames])

    async def domain_lookup_by_name(
        self, call: Call, args: rp.RemoteDomainLookupByNameArgs
    ) -> rp.RemoteDomainLookupByNameRet:
        self._open(call)
        return rp.RemoteDomainLookupByNameRet(self.hv.by_name(args.name).handle())

    async def domain_lookup_by_uuid(
        self, call: Call, args: rp.RemoteDomainLookupByUuidArgs
    ) -> rp.RemoteDomainLookupByUuidRet:
        self._open(call)
        return rp.RemoteDomainLookupByUuidRet(self.hv.by_uuid(args.uuid).handle())

    async def domain_lookup_by_id(
        self, call: Call, args: rp.RemoteDomainLookupByIdArgs
    ) -> rp.RemoteDomainLookupByIdRet:
        self._open(call)
        return rp.RemoteDomainLookupByIdRet(self.hv.by_id(args.id).handle())

    # -- inspecting a domain ----------------------------------------------

    async def domain_get_info(
        self, call: Call, args: rp.RemoteDomainGetInfoArgs
    ) -> rp.RemoteDomainGetInfoRet:
        d = self._domain(call, args.dom)
        # The test driver reports the time of day as CPU time.
        return rp.RemoteDomainGetInfoRet(d.state, d.max_memory, d.memory, d.vcpus, time.time_ns())

    async def domain_get_state(
        self, call: Call, args: rp.RemoteDomainGetStateArgs
    ) -> rp.RemoteDomainGetStateRet:
        d = self._domain(call, args.dom)
        return rp.RemoteDomainGetStateRet(d.state, d.reason)

    async def domain_get_os_type(
        self, call: Call, args: rp.RemoteDomainGetOsTypeArgs
    ) -> rp.RemoteDomainGetOsTypeRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainGetOsTypeRet("linux")  # what the test driver answers

    async def domain_get_max_memory(
        self, call: Call, args: rp.RemoteDomainGetMaxMemoryArgs
    ) -> rp.RemoteDomainGetMaxMemoryRet:
        return rp.RemoteDomainGetMaxMemoryRet(self._domain(call, args.dom).max_memory)

    async def domain_get_xml_desc(
        self, call: Call, args: rp.RemoteDomainGetXmlDescArgs
    ) -> rp.RemoteDomainGetXmlDescRet:
        d = self._domain(call, args.dom)
        return rp.RemoteDomainGetXmlDescRet(d.xml(inactive=bool(args.flags & VIR_DOMAIN_XML_INACTIVE)))

    async def domain_is_active(
        self, call: Call, args: rp.RemoteDomainIsActiveArgs
    ) -> rp.RemoteDomainIsActiveRet:
        return rp.RemoteDomainIsActiveRet(int(self._domain(call, args.dom).active))

    async def domain_is_persistent(
        self, call: Call, args: rp.RemoteDomainIsPersistentArgs
    ) -> rp.RemoteDomainIsPersistentRet:
        return rp.RemoteDomainIsPersistentRet(int(self._domain(call, args.dom).persistent))

    async def domain_is_updated(
        self, call: Call, args: rp.RemoteDomainIsUpdatedArgs
    ) -> rp.RemoteDomainIsUpdatedRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainIsUpdatedRet(0)

    async def domain_get_autostart(
        self, call: Call, args: rp.RemoteDomainGetAutostartArgs
    ) -> rp.RemoteDomainGetAutostartRet:
        return rp.RemoteDomainGetAutostartRet(int(self._domain(call, args.dom).autostart))

    async def domain_set_autostart(self, call: Call, args: rp.RemoteDomainSetAutostartArgs) -> None:
        self._writable(call, "virDomainSetAutostart")
        self.hv.of(args.dom).autostart = bool(args.autostart)

    async def domain_has_managed_save_image(
        self, call: Call, args: rp.RemoteDomainHasManagedSaveImageArgs
    ) -> rp.RemoteDomainHasManagedSaveImageRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainHasManagedSaveImageRet(0)

    async def domain_snapshot_num(
        self, call: Call, args: rp.RemoteDomainSnapshotNumArgs
    ) -> rp.RemoteDomainSnapshotNumRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainSnapshotNumRet(0)

    async def domain_get_security_label(
        self, call: Call, args: rp.RemoteDomainGetSecurityLabelArgs
    ) -> rp.RemoteDomainGetSecurityLabelRet:
        d = self._domain(call, args.dom)
        if d.active:
            return rp.RemoteDomainGetSecurityLabelRet(_c_string("libvirt-test"), 1)
        return rp.RemoteDomainGetSecurityLabelRet(_c_string(""), 0)

    async def domain_get_messages(
        self, call: Call, args: rp.RemoteDomainGetMessagesArgs
    ) -> rp.RemoteDomainGetMessagesRet:
        self._domain(call, args.dom)
        return rp.RemoteDomainGetMessagesRet([])

    async def domain_screenshot(
        self, call: Call, args: rp.RemoteDomainScreenshotArgs
    ) -> rp.RemoteDomainScreenshotRet:
        d = self._domain(call, args.dom)
        if not d.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "domain is not running", domain=FROM_TEST
            )
        try:
            data = SCREENSHOT.read_bytes()
        except OSError as error:
            raise rpc_error(
                E.VIR_ERR_SYSTEM_ERROR,
                f"Unable to open {SCREENSHOT}: {error.strerror}",
                domain=FROM_TEST,
            ) from None
        stream = call.stream
        assert stream is not None

        async def transfer() -> None:
            await stream.send(data)
            await stream.finish()

        stream.run(transfer())
        return rp.RemoteDomainScreenshotRet("image/png")

    # -- changing a domain --------------------------------------------------

    def _define(self, xml: str) -> rp.RemoteNonnullDomain:
        new = parse_domain_xml(xml)
        old = self.hv.domains.get(new.name)
        if old is None:
            for other in self.hv.domains.values():
                if other.uuid == new.uuid:
                    raise rpc_error(
                        E.VIR_ERR_OPERATION_FAILED,
                        f"domain '{other.name}' is already defined with uuid {other.uuid_str}",
                        domain=ErrorDomain.VIR_FROM_DOMAIN,
                    )
            self.hv.add(new)
            self.hv.emit(new, EVENT_DEFINED, DEFINED_ADDED)
            return new.handle()
        if old.uuid != new.uuid:
            raise rpc_error(
                E.VIR_ERR_OPERATION_FAILED,
                f"domain '{old.name}' already exists with uuid {old.uuid_str}",
                domain=ErrorDomain.VIR_FROM_DOMAIN,
            )
        # Same domain: the new definition replaces the old one; a running
        # domain keeps its runtime state.
        new.id, new.state, new.reason, new.autostart = old.id, old.state, old.reason, old.autostart
        new.persistent = True
        self.hv.add(new)
        self.hv.emit(new, EVENT_DEFINED, DEFINED_UPDATED)
        return new.handle()

    async def domain_define_xml(
        self, call: Call, args: rp.RemoteDomainDefineXmlArgs
    ) -> rp.RemoteDomainDefineXmlRet:
        self._writable(call, "virDomainDefineXML")
        return rp.RemoteDomainDefineXmlRet(self._define(args.xml))

    async def domain_define_xml_flags(
        self, call: Call, args: rp.RemoteDomainDefineXmlFlagsArgs
    ) -> rp.RemoteDomainDefineXmlFlagsRet:
        self._writable(call, "virDomainDefineXMLFlags")
        return rp.RemoteDomainDefineXmlFlagsRet(self._define(args.xml))

    def _undefine(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if not d.persistent:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "cannot undefine transient domain", domain=FROM_TEST
            )
        self.hv.emit(d, EVENT_UNDEFINED, UNDEFINED_REMOVED)
        if d.active:
            d.persistent = False
        else:
            del self.hv.domains[d.name]

    async def domain_undefine(self, call: Call, args: rp.RemoteDomainUndefineArgs) -> None:
        self._writable(call, "virDomainUndefine")
        self._undefine(args.dom)

    async def domain_undefine_flags(
        self, call: Call, args: rp.RemoteDomainUndefineFlagsArgs
    ) -> None:
        self._writable(call, "virDomainUndefineFlags")
        self._undefine(args.dom)

    def _create(self, handle: rp.RemoteNonnullDomain) -> Domain:
        d = self.hv.of(handle)
        if d.state != SHUTOFF:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"Domain '{d.name}' is already running",
                domain=FROM_TEST,
            )
        self.hv.start(d)
        return d

    async def domain_create(self, call: Call, args: rp.RemoteDomainCreateArgs) -> None:
        self._writable(call, "virDomainCreate")
        self._create(args.dom)

    async def domain_create_with_flags(
        self, call: Call, args: rp.RemoteDomainCreateWithFlagsArgs
    ) -> rp.RemoteDomainCreateWithFlagsRet:
        self._writable(call, "virDomainCreateWithFlags")
        return rp.RemoteDomainCreateWithFlagsRet(self._create(args.dom).handle())

    def _destroy(self, handle: rp.RemoteNonnullDomain) -> None:
        d = self.hv.of(handle)
        if not d.active:
            raise rpc_error(
                E.VIR_ERR_OPERATION_INVALID, "domain is not running", domain=FROM_TEST
            )
        self.hv.stop(d, SHUTOFF_DESTROYED)

    async def domain_destroy(self, call: Call, args: rp.RemoteDomainDestroyArgs) -> None:
        self._writable(call, "virDomainDestroy")
        self._destroy(args.dom)

    async def domain_destroy_flags(
        self, call: Call, args: rp.RemoteDomainDestroyFlagsArgs
    ) -> None:
        self._writable(call, "virDomainDestroyFlags")
        self._destroy(args.dom)

    async def domain_suspend(self, call: Call, args: rp.RemoteDomainSuspendArgs) -> None:
        self._writable(call, "virDomainSuspend")
        d = self.hv.of(args.dom)
        if d.state in (SHUTOFF, PAUSED):
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not running", domain=FROM_TEST)
        d.state, d.reason = PAUSED, PAUSED_USER
        self.hv.emit(d, EVENT_SUSPENDED, SUSPENDED_PAUSED)

    async def domain_resume(self, call: Call, args: rp.RemoteDomainResumeArgs) -> None:
        self._writable(call, "virDomainResume")
        d = self.hv.of(args.dom)
        if d.state != PAUSED:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"domain '{d.name}' not paused", domain=FROM_TEST)
        d.state, d.reason = RUNNING, RUNNING_UNPAUSED
        self.hv.emit(d, EVENT_RESUMED, RESUMED_UNPAUSED)


# ---------------------------------------------------------------------------
# The daemon


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m libvirt_rpc.testd",
        description="A libvirt RPC daemon with an in-memory test hypervisor "
        "(like libvirtd's test:///default driver).",
    )
    parser.add_argument("--unix", metavar="PATH", help="listen on this unix socket")
    parser.add_argument(
        "--tcp", metavar="HOST:PORT", type=_address, help="listen on TCP (port 0 picks one)"
    )
    parser.add_argument(
        "--max-client-requests", type=int, default=5, help="calls in flight per client (5)"
    )
    parser.add_argument(
        "--keepalive-interval", type=float, default=5.0, help="seconds; 0 disables (5)"
    )
    parser.add_argument("--keepalive-count", type=int, default=5, help="(5)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    return parser


def _release_import_memory() -> None:
    """Give back the memory that importing the generated modules used and
    freed: with glibc about 55 of 95 MiB of RSS."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


async def serve(args: argparse.Namespace) -> None:
    _release_import_memory()
    limits = Limits(
        max_client_requests=args.max_client_requests,
        keepalive_interval=args.keepalive_interval,
        keepalive_count=args.keepalive_count,
    )
    server = Server([TestDaemon()], limits=limits)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: loop.create_task(server.close()))
    if args.unix:
        path = await server.listen_unix(args.unix)
        print(f"listening on unix {path}", flush=True)
    if args.tcp:
        host, port = await server.listen_tcp(*args.tcp)
        print(f"listening on tcp {host}:{port}", flush=True)
    await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.unix and not args.tcp:
        _parser().error("give --unix PATH and/or --tcp HOST:PORT")
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="testd: %(levelname)s: %(message)s", stream=sys.stderr)
    try:
        asyncio.run(serve(args))
    except OSError as error:
        print(f"testd: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
