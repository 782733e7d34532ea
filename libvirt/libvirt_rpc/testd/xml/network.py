"""Network XML: read into a :class:`NetworkDef` and written back as
libvirt's virNetworkDefFormat writes it."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET

from ...errors import ErrorDomain, LibvirtError
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


# -- virNetworkUpdate ------------------------------------------------------------

#: virNetworkUpdateSection, by number
SECTIONS = ("none", "bridge", "domain", "ip", "ip-dhcp-host", "ip-dhcp-range", "forward",
            "forward-interface", "forward-pf", "portgroup", "dns-host", "dns-txt", "dns-srv")  # fmt: skip
MODIFY, DELETE, ADD_LAST, ADD_FIRST = 1, 2, 3, 4
_DHCP_CHILDREN = {"range": ("start", "end"), "host": ("mac", "id", "name", "ip")}


def _update_error(code: int, message: str) -> LibvirtError:
    return rpc_error(code, message, domain=_FROM_NETWORK)


def _quoted(element: ET.Element) -> str:
    attrs = "".join(f" {k}='{v}'" for k, v in element.attrib.items())
    return f'"<{element.tag}{attrs}/>"'


def update_network(n: NetworkDef, command: int, section: int, parent_index: int, xml: str) -> None:
    """virNetworkDefUpdateSection for the DHCP sections (hosts and ranges);
    the others are refused as libvirt refuses those it cannot change."""
    name = SECTIONS[section] if 0 <= section < len(SECTIONS) else str(section)
    if name not in ("ip-dhcp-host", "ip-dhcp-range"):
        raise _update_error(
            E.VIR_ERR_OPERATION_UNSUPPORTED, f"can't update '{name}' section of network '{n.name}'"
        )
    if command not in (MODIFY, DELETE, ADD_LAST, ADD_FIRST):
        raise _update_error(E.VIR_ERR_NO_SUPPORT, f"unrecognized network update command code {command}")
    tag = "host" if name == "ip-dhcp-host" else "range"
    try:
        given = ET.fromstring(xml)
    except ET.ParseError as error:
        raise _update_error(E.VIR_ERR_XML_DETAIL, f"(network_update):{error}") from None
    if given.tag != tag:
        raise xml_error(
            f"unexpected element <{given.tag}>, expecting <{tag}>, while updating network '{n.name}'",
            _FROM_NETWORK,
        )
    given = _ordered(given, _DHCP_CHILDREN[tag])
    ips = [ip for ip in n.ips if ip.get("family") != "ipv6"] if parent_index < 0 else n.ips[parent_index:]
    what = "dhcp host entry" if tag == "host" else "dhcp range entry"
    if not ips:
        raise _update_error(
            E.VIR_ERR_OPERATION_INVALID,
            f"couldn't update {what} - no <ip> element found at index {parent_index} in network '{n.name}'",
        )
    dhcp = ips[0].find("dhcp")
    if dhcp is None:
        dhcp = ET.SubElement(ips[0], "dhcp")
    entries = dhcp.findall(tag)
    if tag == "range":
        same = [
            e for e in entries if (e.get("start"), e.get("end")) == (given.get("start"), given.get("end"))
        ]
        if command == MODIFY:
            raise _update_error(
                E.VIR_ERR_OPERATION_UNSUPPORTED, "dhcp ranges cannot be modified, only added or deleted"
            )
        if command == DELETE and not same:
            raise _update_error(
                E.VIR_ERR_OPERATION_INVALID, f"couldn't locate a matching {what} in network '{n.name}'"
            )
    elif command in (ADD_LAST, ADD_FIRST):
        same = [
            e
            for e in entries
            if any(given.get(k) and e.get(k) == given.get(k) for k in ("mac", "id", "name", "ip"))
        ]
    elif command == DELETE:
        same = [e for e in entries if all(e.get(k) == v for k, v in given.attrib.items())]
        if not same:
            raise _update_error(
                E.VIR_ERR_OPERATION_INVALID, f"couldn't locate a matching {what} in network '{n.name}'"
            )
    else:  # MODIFY: the entry of that MAC address (or id)
        key = "mac" if given.get("mac") else "id"
        same = [e for e in entries if e.get(key) == given.get(key)]
        if not same:
            fields = " ".join(f"\"{k}='{given.get(k) or '(null)'}'\"" for k in ("mac", "name", "ip"))
            raise _update_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"couldn't locate an existing {what} with {fields} in network '{n.name}'",
            )
    if command in (ADD_LAST, ADD_FIRST):
        if same:
            raise _update_error(
                E.VIR_ERR_OPERATION_INVALID,
                f"there is an existing {what} in network '{n.name}' that matches {_quoted(same[0])}",
            )
        ranges, hosts = dhcp.findall("range"), dhcp.findall("host")
        group = ranges if tag == "range" else hosts
        group.insert(0 if command == ADD_FIRST else len(group), given)
        dhcp[:] = ranges + hosts + dhcp.findall("bootp")
    elif command == DELETE:
        dhcp.remove(same[0])
    else:
        dhcp[list(dhcp).index(same[0])] = given
