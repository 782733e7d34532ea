"""Host interface XML: read into a :class:`InterfaceDef`, the elements
kept as given and written back in libvirt's order."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from ...errors import ErrorDomain
from . import Writer, parse_document, xml_error

_FROM_INTERFACE = ErrorDomain.VIR_FROM_INTERFACE
_TYPES = ("ethernet", "bridge", "bond", "vlan")
# Where libvirt writes each child of <interface>; others follow in the
# order given, the MAC address last.
_ORDER = {"start": 0, "mtu": 1, "protocol": 2}


@dataclasses.dataclass
class InterfaceDef:
    name: str
    type: str
    mac: str | None
    children: list[ET.Element]  # everything but <mac>, in libvirt's order


def format_interface_xml(i: InterfaceDef) -> str:
    w = Writer()
    w.open("interface", [("type", i.type), ("name", i.name)])
    for child in i.children:
        w.element(child)
    if i.mac is not None:
        w.empty("mac", [("address", i.mac)])
    w.close("interface")
    return w.text()


def parse_interface_xml(text: str) -> InterfaceDef:
    root = parse_document(text, "interface", "interface_definition", _FROM_INTERFACE)
    kind = root.get("type")
    if kind not in _TYPES:
        raise xml_error(
            f"unknown interface type {kind}" if kind else "interface has no type", _FROM_INTERFACE
        )
    name = root.get("name")
    if name is None:
        raise xml_error("interface has no name", _FROM_INTERFACE)
    mac = root.find("mac")
    children = [c for c in root if c.tag != "mac"]
    children.sort(key=lambda c: _ORDER.get(c.tag, len(_ORDER)))
    return InterfaceDef(name, kind, mac.get("address") if mac is not None else None, children)
