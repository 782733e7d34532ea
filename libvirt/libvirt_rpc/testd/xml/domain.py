"""Domain XML: read into a :class:`~..model.Domain` and written back in
libvirt's element order."""

from __future__ import annotations

import io
import os
import uuid as uuidlib
import xml.etree.ElementTree as ET

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import rpc_error
from .. import cpumap
from ..model import PERF_EVENTS, Domain, DomainDef
from . import Writer, escape, parse_document, scaled, text_of, uuid_of, xml_error

_FROM_DOMAIN = ErrorDomain.VIR_FROM_DOMAIN
MEMTUNE_LIMITS = ("hard_limit", "soft_limit", "swap_hard_limit")


def format_domain_xml(d: DomainDef, id: int = -1) -> str:
    """The domain XML ``virsh dumpxml`` prints; ``id`` -1 for an inactive
    (or the persistent) definition."""
    w = Writer()
    w.open("domain", [("type", "test"), ("id", id if id != -1 else None)])
    w.leaf("name", d.name)
    w.leaf("uuid", uuidlib.UUID(bytes=d.uuid))
    if d.title is not None:
        w.leaf("title", d.title)
    if d.description is not None:
        w.leaf("description", d.description)
    if d.metadata == []:
        w.empty("metadata")
    elif d.metadata is not None:
        w.open("metadata")
        for uri, prefix, element in d.metadata:
            w.document(libxml_text(element, prefix, uri))
        w.close("metadata")
    w.leaf("memory", d.max_memory, [("unit", "KiB")])
    w.leaf("currentMemory", d.memory, [("unit", "KiB")])
    if d.blkio_weight:
        w.open("blkiotune")
        w.leaf("weight", d.blkio_weight)
        w.close("blkiotune")
    if d.memtune:
        w.open("memtune")
        for limit in MEMTUNE_LIMITS:
            if limit in d.memtune:
                w.leaf(limit, d.memtune[limit], [("unit", "KiB")])
        w.close("memtune")
    current = d.vcpus if d.vcpus != d.max_vcpus else None
    w.leaf("vcpu", d.max_vcpus, [("placement", "static"), ("current", current)])
    if d.iothreads:
        w.leaf("iothreads", len(d.iothreads))
    if d.iothreads and d.iothread_ids_given:
        w.open("iothreadids")
        for iothread in d.iothreads:
            w.empty("iothread", [("id", iothread)])
        w.close("iothreadids")
    if d.vcpupin or d.emulatorpin is not None or d.iothreadpin:
        w.open("cputune")
        for vcpu in sorted(d.vcpupin):
            w.empty("vcpupin", [("vcpu", vcpu), ("cpuset", cpumap.format(d.vcpupin[vcpu]))])
        if d.emulatorpin is not None:
            w.empty("emulatorpin", [("cpuset", cpumap.format(d.emulatorpin))])
        for iothread in d.iothreads:
            if iothread in d.iothreadpin:
                w.empty(
                    "iothreadpin",
                    [("iothread", iothread), ("cpuset", cpumap.format(d.iothreadpin[iothread]))],
                )
        w.close("cputune")
    if d.numa_mode is not None:
        w.open("numatune")
        nodeset = cpumap.format(d.numa_nodeset) if d.numa_nodeset is not None else None
        w.empty("memory", [("mode", d.numa_mode), ("nodeset", nodeset)])
        w.close("numatune")
    w.open("os")
    w.leaf("type", d.os_type, [("arch", d.arch)])
    w.empty("boot", [("dev", "hd")])
    w.close("os")
    w.empty("clock", [("offset", "utc")])
    w.leaf("on_poweroff", d.on_poweroff)
    w.leaf("on_reboot", d.on_reboot)
    w.leaf("on_crash", d.on_crash)
    if d.perf:
        w.open("perf")
        for event in PERF_EVENTS:
            if event in d.perf:
                w.empty("event", [("name", event), ("enabled", "yes" if d.perf[event] else "no")])
        w.close("perf")
    w.open("devices")
    for device in d.devices:
        w.element(device)
    w.close("devices")
    w.close("domain")
    return w.text()


def _kib(element: ET.Element | None, what: str) -> int | None:
    size = scaled(element, what, "KiB", _FROM_DOMAIN)
    return None if size is None else -(-size // 1024)  # rounded up, as libvirt does


# The order libvirt writes devices in, by element.
_DEVICE_ORDER = (
    "emulator", "disk", "controller", "lease", "filesystem", "interface", "smartcard", "serial",
    "parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video",
    "hostdev", "redirdev", "redirfilter", "hub", "watchdog", "memballoon", "rng", "nvram",
    "panic", "shmem", "memory", "iommu", "vsock", "crypto",
)  # fmt: skip
# virDomainDiskDefAssignAddress: per bus, units per bus and buses per
# controller; and the implicit controllers, in the order libvirt adds them.
_DRIVE_LAYOUT = {"ide": (2, 2), "scsi": (7, 1), "fdc": (2, 1), "sata": (6, 1)}


def _disk_index(name: str) -> int | None:
    """virDiskNameToIndex: "hda" 0, "sdq" 16, "vdaa" 26."""
    prefix = next((p for p in ("fd", "hd", "vd", "sd", "xvd", "ubd") if name.startswith(p)), None)
    letters = name[len(prefix) :] if prefix else ""
    if not letters.isalpha() or not letters.islower():
        return None
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("a") + 1
    return index - 1


def _complete_disks(devices: ET.Element) -> None:
    """The drive addresses of disks on IDE, SCSI, SATA and floppy buses, and
    the controllers they need, as libvirt adds them."""
    needed: dict[str, int] = {}
    for disk in devices.findall("disk"):
        target = disk.find("target")
        bus = target.get("bus") if target is not None else None
        index = _disk_index(target.get("dev", "")) if target is not None else None
        if bus not in _DRIVE_LAYOUT or index is None:
            continue
        units, buses = _DRIVE_LAYOUT[bus]
        address = disk.find("address")
        if address is None:
            per_controller = units * buses
            controller, rest = divmod(index, per_controller)
            values = {
                "type": "drive",
                "controller": controller,
                "bus": rest // units,
                "target": 0,
                "unit": rest % units,
            }
            address = ET.SubElement(disk, "address", {k: str(v) for k, v in values.items()})
        needed[bus] = max(needed.get(bus, -1), int(address.get("controller", "0")))
    present = {(c.get("type"), c.get("index")) for c in devices.findall("controller")}
    for bus in _DRIVE_LAYOUT:
        for index in range(needed.get(bus, -1) + 1):
            if (bus, str(index)) not in present:
                devices.append(ET.Element("controller", {"type": bus, "index": str(index)}))


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


def _device_rank(device: ET.Element) -> int:
    return _DEVICE_ORDER.index(device.tag) if device.tag in _DEVICE_ORDER else len(_DEVICE_ORDER)


def _vcpus(root: ET.Element) -> tuple[int, int]:
    element = root.find("vcpu")
    try:
        maximum = int((element.text if element is not None else None) or "1")
        current = int(element.get("current", maximum)) if element is not None else maximum
    except ValueError:
        raise xml_error("maximum vcpus count must be an integer") from None
    return maximum, min(current, maximum)


def _tuning(root: ET.Element, d: DomainDef) -> None:
    """blkiotune, memtune, cputune and numatune."""
    weight = text_of(root, "blkiotune/weight")
    if weight is not None:
        d.blkio_weight = int(weight)
    for limit in MEMTUNE_LIMITS:
        value = _kib(root.find(f"memtune/{limit}"), limit)
        if value is not None:
            d.memtune[limit] = value
    for pin in root.findall("cputune/vcpupin"):
        d.vcpupin[int(pin.get("vcpu", "0"))] = cpumap.parse(pin.get("cpuset", ""))
    d.iothreads = [int(i.get("id", "0")) for i in root.findall("iothreadids/iothread")]
    d.iothread_ids_given = bool(d.iothreads)
    count = text_of(root, "iothreads")
    if count is not None and not d.iothreads:
        d.iothreads = list(range(1, int(count) + 1))
    for pin in root.findall("cputune/iothreadpin"):
        d.iothreadpin[int(pin.get("iothread", "0"))] = cpumap.parse(pin.get("cpuset", ""))
    emulator = root.find("cputune/emulatorpin")
    if emulator is not None:
        d.emulatorpin = cpumap.parse(emulator.get("cpuset", ""))
    memory = root.find("numatune/memory")
    if memory is not None:
        d.numa_mode = memory.get("mode", "strict")
        nodeset = memory.get("nodeset")
        d.numa_nodeset = cpumap.parse(nodeset) if nodeset else None
    for event in root.findall("perf/event"):
        d.perf[event.get("name", "")] = event.get("enabled") == "yes"


def _libxml_attribute(value: str) -> str:
    return escape(value).replace('"', "&quot;").replace("\n", "&#10;")


def libxml_text(
    element: ET.Element, prefix: str | None = None, uri: str | None = None, depth: int = 0
) -> str:
    """An element as libxml2 dumps a node (double-quoted attributes, each
    child on a line of its own): metadata, kept as the user gave it; with
    ``prefix``, every element in namespace ``uri`` under that prefix."""
    pad = "  " * depth
    tag = f"{prefix}:{element.tag}" if prefix else element.tag
    attrs = [(f"xmlns:{prefix}", uri)] if prefix and depth == 0 and uri is not None else []
    attrs += list(element.attrib.items())
    head = tag + "".join(f' {k}="{_libxml_attribute(v)}"' for k, v in attrs)
    text = element.text if element.text and element.text.strip() else ""
    if len(element) == 0:
        return f"{pad}<{head}>{escape(text)}</{tag}>" if text else f"{pad}<{head}/>"
    inner = "\n".join(libxml_text(child, prefix, uri, depth + 1) for child in element)
    return f"{pad}<{head}>\n{inner}\n{pad}</{tag}>"


def without_namespaces(element: ET.Element) -> ET.Element:
    """A copy of ``element`` with its elements' namespaces dropped."""
    copy = ET.Element(element.tag.rpartition("}")[2], element.attrib)
    copy.text = element.text
    copy.extend(without_namespaces(child) for child in element)
    return copy


def _metadata(text: str, root: ET.Element) -> list[tuple[str, str, ET.Element]] | None:
    """The <metadata> elements with the prefixes the document gave their
    namespaces."""
    element = root.find("metadata")
    if element is None:
        return None
    prefixes = {uri: prefix for _, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",))}
    out = []
    for child in element:
        uri = child.tag[1:].partition("}")[0] if child.tag.startswith("{") else ""
        if uri:  # libvirt drops metadata without a namespace
            out.append((uri, prefixes.get(uri) or "ns", without_namespaces(child)))
    return out


def parse_domain_def(text: str) -> DomainDef:
    """A domain definition from XML: name, uuid, title, description,
    memory, vcpus, tuning, os type and arch, on_* actions and devices (kept
    as given, with the MAC addresses and target names libvirt adds)."""
    root = parse_document(text, "domain", "domain_definition", _FROM_DOMAIN)
    kind = root.get("type")
    if kind is None:
        raise xml_error("missing domain type attribute")
    if kind != "test":
        raise rpc_error(
            E.VIR_ERR_CONFIG_UNSUPPORTED,
            f"Emulator '/usr/bin/test-hv' does not support virt type '{kind}'",
            domain=_FROM_DOMAIN,
        )
    name = text_of(root, "name")
    if name is None:
        raise rpc_error(E.VIR_ERR_NO_NAME, "domain", domain=_FROM_DOMAIN)
    uuid = uuid_of(root, _FROM_DOMAIN)
    max_memory = _kib(root.find("memory"), "memory")
    if max_memory is None:
        raise xml_error("missing element memory")
    memory = _kib(root.find("currentMemory"), "currentMemory")
    if memory is None or memory > max_memory:
        memory = max_memory
    max_vcpus, vcpus = _vcpus(root)
    os_type_el = root.find("os/type")
    if os_type_el is None or not (os_type_el.text or "").strip():
        raise rpc_error(E.VIR_ERR_OS_TYPE, "(null)", domain=_FROM_DOMAIN)
    devices_el = root.find("devices")
    if devices_el is not None:
        _complete_disks(devices_el)
        _complete_interfaces(devices_el)
    d = DomainDef(
        name=name,
        uuid=uuid,
        max_memory=max_memory,
        memory=memory,
        max_vcpus=max_vcpus,
        vcpus=vcpus,
        os_type=(os_type_el.text or "").strip(),
        arch=os_type_el.get("arch", "i686"),
        title=text_of(root, "title"),
        description=text_of(root, "description"),
        devices=sorted(devices_el, key=_device_rank) if devices_el is not None else [],
        metadata=_metadata(text, root),
    )
    for action in ("on_poweroff", "on_reboot", "on_crash"):
        value = text_of(root, action)
        if value is not None:
            setattr(d, action, value)
    _tuning(root, d)
    return d


def parse_domain_xml(text: str) -> Domain:
    """A new (inactive, persistent) domain defined by ``text``."""
    return Domain(parse_domain_def(text))


# -- device tuning kept in the device elements --------------------------------

#: A disk's <iotune> children, in libvirt's order (all unsigned long long but
#: group_name).
IOTUNE_FIELDS = (
    "total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
    "total_iops_sec", "read_iops_sec", "write_iops_sec",
    "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max",
    "total_iops_sec_max", "read_iops_sec_max", "write_iops_sec_max",
    "size_iops_sec", "group_name",
    "total_bytes_sec_max_length", "read_bytes_sec_max_length", "write_bytes_sec_max_length",
    "total_iops_sec_max_length", "read_iops_sec_max_length", "write_iops_sec_max_length",
)  # fmt: skip
BANDWIDTH_FIELDS = ("average", "peak", "floor", "burst")


def _insert_after(parent: ET.Element, child: ET.Element, after: tuple[str, ...]) -> None:
    """Put ``child`` in place of its old namesake, else after the last of
    the ``after`` elements (libvirt's order)."""
    old = parent.find(child.tag)
    if old is not None:
        parent.remove(old)
    position = max((i + 1 for i, c in enumerate(parent) if c.tag in after), default=0)
    parent.insert(position, child)


def disk_iotune(disk: ET.Element) -> dict[str, int | str]:
    values: dict[str, int | str] = {}
    for field in IOTUNE_FIELDS:
        text = disk.findtext(f"iotune/{field}")
        if text is not None:
            values[field] = text if field == "group_name" else int(text)
    return values


def set_disk_iotune(disk: ET.Element, values: dict[str, int | str]) -> None:
    iotune = ET.Element("iotune")
    for field in IOTUNE_FIELDS:
        if values.get(field):
            ET.SubElement(iotune, field).text = str(values[field])
    _insert_after(disk, iotune, ("driver", "source", "backingStore", "target"))
    if not len(iotune):
        disk.remove(iotune)


def interface_bandwidth(net: ET.Element) -> dict[str, dict[str, int]]:
    """ "inbound" and "outbound": their average, peak, floor and burst."""
    out: dict[str, dict[str, int]] = {}
    for direction in ("inbound", "outbound"):
        element = net.find(f"bandwidth/{direction}")
        if element is not None:
            out[direction] = {k: int(v) for k, v in element.attrib.items()}
    return out


def set_interface_bandwidth(net: ET.Element, bandwidth: dict[str, dict[str, int]]) -> None:
    element = ET.Element("bandwidth")
    for direction in ("inbound", "outbound"):
        rates = bandwidth.get(direction)
        if rates:
            ET.SubElement(element, direction, {k: str(rates[k]) for k in BANDWIDTH_FIELDS if rates.get(k)})
    _insert_after(net, element, ("mac", "source"))
    if not len(element):
        net.remove(element)


def set_balloon_period(devices: list[ET.Element], period: int) -> None:
    """The memory balloon's statistics period (<stats period='N'/>, first;
    none for 0)."""
    for balloon in (d for d in devices if d.tag == "memballoon"):
        stats = ET.Element("stats", period=str(period))
        _insert_after(balloon, stats, ())
        if not period:
            balloon.remove(stats)
