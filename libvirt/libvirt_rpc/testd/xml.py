"""Domain XML: reading it into a :class:`~.model.Domain` and writing it
back the way libvirt formats it (two-space indent, single-quoted
attributes), with the errors libvirt gives for bad XML."""

from __future__ import annotations

import os
import uuid as uuidlib
import xml.etree.ElementTree as ET

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..errors import LibvirtError
from ..server import rpc_error
from .model import Domain

_UNITS = {
    "b": 1, "bytes": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip


def escape(text: str) -> str:
    """Text as element content."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    """Text as a single-quoted attribute value."""
    return escape(text).replace("'", "&apos;")


def format_element(element: ET.Element, indent: int) -> str:
    """An element the way libvirt writes XML: two-space indent,
    single-quoted attributes, empty elements closed with '/>'."""
    pad = " " * indent
    attrs = "".join(f" {k}='{escape_attribute(v)}'" for k, v in element.attrib.items())
    text = (element.text or "").strip()
    if len(element) == 0:
        if text:
            return f"{pad}<{element.tag}{attrs}>{escape(text)}</{element.tag}>\n"
        return f"{pad}<{element.tag}{attrs}/>\n"
    inner = "".join(format_element(child, indent + 2) for child in element)
    return f"{pad}<{element.tag}{attrs}>\n{inner}{pad}</{element.tag}>\n"


def format_domain_xml(domain: Domain, inactive: bool = False) -> str:
    """The domain XML, formatted as libvirt formats it (``inactive``: the
    persistent definition, without the running id)."""
    head = (
        f"<domain type='test' id='{domain.id}'>"
        if domain.active and not inactive
        else "<domain type='test'>"
    )
    devices = "  <devices>\n" + domain.devices + "  </devices>\n"
    return (
        f"{head}\n"
        f"  <name>{escape(domain.name)}</name>\n"
        f"  <uuid>{domain.uuid_str}</uuid>\n"
        f"  <memory unit='KiB'>{domain.max_memory}</memory>\n"
        f"  <currentMemory unit='KiB'>{domain.memory}</currentMemory>\n"
        f"  <vcpu placement='static'>{domain.vcpus}</vcpu>\n"
        "  <os>\n"
        f"    <type arch='{domain.arch}'>{domain.os_type}</type>\n"
        "    <boot dev='hd'/>\n"
        "  </os>\n"
        "  <clock offset='utc'/>\n"
        f"  <on_poweroff>{domain.on_poweroff}</on_poweroff>\n"
        f"  <on_reboot>{domain.on_reboot}</on_reboot>\n"
        f"  <on_crash>{domain.on_crash}</on_crash>\n"
        f"{devices}"
        "</domain>\n"
    )


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
    devices = "".join(format_element(child, 4) for child in devices_el) if devices_el is not None else ""
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
