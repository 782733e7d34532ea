"""Network XML: read into a :class:`NetworkDef` and written back as
libvirt's virNetworkDefFormat writes it."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import rpc_error
from . import Writer, parse_document, uuid_of, text_of, xml_error

_FROM_NETWORK = ErrorDomain.VIR_FROM_NETWORK
_FORWARD_MODES = ("nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")
# The forward modes (and isolated: none) for which libvirt manages the bridge.
_BRIDGED = (None, "nat", "route", "open")


@dataclasses.dataclass
class NetworkDef:
    name: str
    uuid: bytes
    forward: str | None = None  # the forward mode; None: isolated
    forward_dev: str | None = None
    forward_interfaces: list[str] = dataclasses.field(default_factory=list)
    bridge: str | None = None
    stp: bool = True
    delay: int = 0
    mac: str | None = None
    domain: str | None = None
    #: the <ip> elements, attributes in libvirt's order
    ips: list[ET.Element] = dataclasses.field(default_factory=list)

    @property
    def uuid_str(self) -> str:
        return str(uuidlib.UUID(bytes=self.uuid))


def format_network_xml(n: NetworkDef) -> str:
    w = Writer()
    w.open("network")
    w.leaf("name", n.name)
    w.leaf("uuid", n.uuid_str)
    if n.forward is not None:
        attrs = [("dev", n.forward_dev), ("mode", n.forward)]
        if n.forward_interfaces:
            w.open("forward", attrs)
            for dev in n.forward_interfaces:
                w.empty("interface", [("dev", dev)])
            w.close("forward")
        else:
            w.empty("forward", attrs)
    if n.forward in _BRIDGED:
        w.empty("bridge", [("name", n.bridge), ("stp", "on" if n.stp else "off"), ("delay", n.delay)])
    elif n.bridge is not None:
        w.empty("bridge", [("name", n.bridge)])
    if n.mac is not None:
        w.empty("mac", [("address", n.mac)])
    if n.domain is not None:
        w.empty("domain", [("name", n.domain)])
    for ip in n.ips:
        w.element(ip)
    w.close("network")
    return w.text()


def _ordered(element: ET.Element, order: tuple[str, ...]) -> ET.Element:
    """A copy of ``element`` with the attributes in ``order`` (others
    dropped), children kept."""
    copy = ET.Element(element.tag, {k: element.attrib[k] for k in order if k in element.attrib})
    copy.extend(element)
    return copy


def _ip(element: ET.Element) -> ET.Element:
    ip = _ordered(element, ("family", "address", "netmask", "prefix", "localPtr"))
    dhcp = element.find("dhcp")
    ip[:] = []
    if dhcp is not None:
        new_dhcp = ET.SubElement(ip, "dhcp")
        for child in dhcp.findall("range"):
            new_dhcp.append(_ordered(child, ("start", "end")))
        for child in dhcp.findall("host"):
            new_dhcp.append(_ordered(child, ("mac", "id", "name", "ip")))
        for child in dhcp.findall("bootp"):
            new_dhcp.append(_ordered(child, ("file", "server")))
    return ip


def parse_network_xml(text: str) -> NetworkDef:
    """virNetworkDefParse for the elements kept here: name, uuid, forward,
    bridge, mac, domain and ip (with dhcp)."""
    root = parse_document(text, "network", "network_definition", _FROM_NETWORK)
    name = text_of(root, "name")
    if name is None:
        raise rpc_error(E.VIR_ERR_NO_NAME, "network", domain=_FROM_NETWORK)
    uuid = uuid_of(root, _FROM_NETWORK)
    n = NetworkDef(name=name, uuid=uuid)
    forward = root.find("forward")
    if forward is not None:
        mode = forward.get("mode", "nat")
        if mode not in _FORWARD_MODES:
            raise xml_error(f"unknown forwarding type '{mode}'", _FROM_NETWORK)
        n.forward = mode
        n.forward_dev = forward.get("dev")
        n.forward_interfaces = [i.get("dev", "") for i in forward.findall("interface")]
        if n.forward_dev and not n.forward_interfaces:
            n.forward_interfaces = [n.forward_dev]
    bridge = root.find("bridge")
    if bridge is not None:
        n.bridge = bridge.get("name")
        n.stp = bridge.get("stp", "on") != "off"
        n.delay = int(bridge.get("delay", "0"))
    mac = root.find("mac")
    if mac is not None:
        n.mac = mac.get("address")
    domain = root.find("domain")
    if domain is not None:
        n.domain = domain.get("name")
    n.ips = [_ip(ip) for ip in root.findall("ip")]
    return n
