"""Storage pool and volume XML, as libvirt's storage_conf.c reads and
writes it (for the pool kinds a test pool can be: their source and target
kept as given)."""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
import xml.etree.ElementTree as ET

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import rpc_error
from . import Writer, parse_document, uuid_of, scaled, text_of, xml_error

_FROM_STORAGE = ErrorDomain.VIR_FROM_STORAGE

#: The volume type of each pool type (testStorageVolumeTypeForPool).
VOLUME_TYPES = {
    "dir": "file", "fs": "file", "netfs": "file", "vstorage": "file",
    "sheepdog": "network", "iscsi-direct": "network", "gluster": "network", "rbd": "network",
    "logical": "block", "disk": "block", "mpath": "block", "iscsi": "block", "scsi": "block",
    "zfs": "block",
}  # fmt: skip


@dataclasses.dataclass
class PoolDef:
    name: str
    uuid: bytes
    type: str = "dir"
    capacity: int = 0
    allocation: int = 0
    available: int = 0
    source: list[ET.Element] = dataclasses.field(default_factory=list)
    target_path: str | None = None
    permissions: ET.Element | None = None

    @property
    def uuid_str(self) -> str:
        return str(uuidlib.UUID(bytes=self.uuid))


@dataclasses.dataclass
class VolumeDef:
    name: str
    key: str
    path: str
    capacity: int
    allocation: int
    format: str = "raw"


def format_pool_xml(p: PoolDef) -> str:
    w = Writer()
    w.open("pool", [("type", p.type)])
    w.leaf("name", p.name)
    w.leaf("uuid", p.uuid_str)
    for what in ("capacity", "allocation", "available"):
        w.leaf(what, getattr(p, what), [("unit", "bytes")])
    w.open("source")
    for element in p.source:
        w.element(element)
    w.close("source")
    if p.target_path is not None or p.permissions is not None:
        w.open("target")
        if p.target_path is not None:
            w.leaf("path", p.target_path)
        if p.permissions is not None:
            w.element(p.permissions)
        w.close("target")
    w.close("pool")
    return w.text()


def format_volume_xml(pool: PoolDef, v: VolumeDef) -> str:
    w = Writer()
    w.open("volume", [("type", VOLUME_TYPES.get(pool.type, "file"))])
    w.leaf("name", v.name)
    w.leaf("key", v.key)
    w.leaf("capacity", v.capacity, [("unit", "bytes")])
    w.leaf("allocation", v.allocation, [("unit", "bytes")])
    w.open("target")
    w.leaf("path", v.path)
    w.empty("format", [("type", v.format)])
    w.close("target")
    w.close("volume")
    return w.text()


def parse_pool_xml(text: str) -> PoolDef:
    root = parse_document(text, "pool", "pool_definition", _FROM_STORAGE)
    kind = root.get("type")
    if kind is None:
        raise xml_error("storage pool missing type attribute", _FROM_STORAGE)
    if kind not in VOLUME_TYPES:
        raise xml_error(f"unknown storage pool type {kind}", _FROM_STORAGE)
    name = text_of(root, "name")
    if name is None:
        raise rpc_error(E.VIR_ERR_XML_ERROR, "missing pool source name element", domain=_FROM_STORAGE)
    uuid = uuid_of(root, _FROM_STORAGE)
    source = root.find("source")
    permissions = root.find("target/permissions")
    return PoolDef(
        name=name,
        uuid=uuid,
        type=kind,
        source=list(source) if source is not None else [],
        target_path=text_of(root, "target/path"),
        permissions=permissions,
    )


def parse_volume_xml(text: str, pool: PoolDef) -> VolumeDef:
    root = parse_document(text, "volume", "volume_definition", _FROM_STORAGE)
    name = text_of(root, "name")
    if name is None:
        raise rpc_error(E.VIR_ERR_NO_NAME, "volume", domain=_FROM_STORAGE)
    capacity = scaled(root.find("capacity"), "capacity", "bytes", _FROM_STORAGE)
    if capacity is None:
        raise xml_error("missing capacity element", _FROM_STORAGE)
    allocation = scaled(root.find("allocation"), "allocation", "bytes", _FROM_STORAGE)
    fmt = root.find("target/format")
    path = f"{pool.target_path}/{name}"
    return VolumeDef(
        name=name,
        key=path,
        path=path,
        capacity=capacity,
        allocation=capacity if allocation is None else allocation,
        format=fmt.get("type", "raw") if fmt is not None else "raw",
    )


def pool_sources_xml(kind: str, host: str | None) -> str | None:
    """testConnectFindStoragePoolSources's answers: two volume groups for
    "logical", an NFS share on the given host for "netfs"."""
    w = Writer()
    w.open("sources")
    if kind == "logical":
        for device, group in (("/dev/sda20", "testvg1"), ("/dev/sda21", "testvg2")):
            w.open("source")
            w.empty("device", [("path", device)])
            w.leaf("name", group)
            w.empty("format", [("type", "lvm2")])
            w.close("source")
    elif kind == "netfs" and host is not None:
        w.open("source")
        w.empty("host", [("name", host)])
        w.empty("dir", [("path", "/testshare")])
        w.empty("format", [("type", "nfs")])
        w.close("source")
    else:
        return None
    w.close("sources")
    return w.text()
