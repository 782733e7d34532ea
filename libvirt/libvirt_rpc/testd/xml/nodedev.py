"""Node device XML, for the devices of libvirt's test driver: the host
("system" capability) and its Fibre Channel SCSI hosts."""

from __future__ import annotations

import dataclasses

from . import Writer


@dataclasses.dataclass
class SystemCapability:
    hardware: tuple[tuple[str, str], ...]  # vendor, version, serial, uuid
    firmware: tuple[tuple[str, str], ...]  # vendor, version, release_date

    type = "system"


@dataclasses.dataclass
class ScsiHostCapability:
    host: int
    unique_id: int
    wwnn: str
    wwpn: str
    fabric_wwn: str
    vport_ops: bool  # can create virtual ports (vHBAs)

    type = "scsi_host"


@dataclasses.dataclass
class NodeDeviceDef:
    name: str
    parent: str | None
    capability: SystemCapability | ScsiHostCapability


def format_node_device_xml(d: NodeDeviceDef) -> str:
    w = Writer()
    w.open("device")
    w.leaf("name", d.name)
    if d.parent is not None:
        w.leaf("parent", d.parent)
    cap = d.capability
    w.open("capability", [("type", cap.type)])
    if isinstance(cap, SystemCapability):
        for section, entries in (("hardware", cap.hardware), ("firmware", cap.firmware)):
            w.open(section)
            for tag, value in entries:
                w.leaf(tag, value)
            w.close(section)
    else:
        w.leaf("host", cap.host)
        w.leaf("unique_id", cap.unique_id)
        w.open("capability", [("type", "fc_host")])
        w.leaf("wwnn", cap.wwnn)
        w.leaf("wwpn", cap.wwpn)
        w.leaf("fabric_wwn", cap.fabric_wwn)
        w.close("capability")
        if cap.vport_ops:
            w.open("capability", [("type", "vport_ops")])
            w.leaf("max_vports", 0)
            w.leaf("vports", 0)
            w.close("capability")
    w.close("capability")
    w.close("device")
    return w.text()
