"""Domain snapshot XML, as virDomainSnapshotDefFormat writes it (with the
domain definition the snapshot holds), and the few elements read from a
new snapshot's XML."""

from __future__ import annotations

import dataclasses

from ...errors import ErrorDomain
from ..model import Snapshot
from . import Writer, parse_document, text_of
from .domain import format_domain_xml

_FROM_SNAPSHOT = ErrorDomain.VIR_FROM_DOMAIN_SNAPSHOT


@dataclasses.dataclass
class SnapshotRequest:
    """What a ``<domainsnapshot>`` given to create asks for."""

    name: str | None
    description: str | None


def format_snapshot_xml(s: Snapshot) -> str:
    w = Writer()
    w.open("domainsnapshot")
    w.leaf("name", s.name)
    if s.description is not None:
        w.leaf("description", s.description)
    w.leaf("state", s.state)
    if s.parent is not None:
        w.open("parent")
        w.leaf("name", s.parent)
        w.close("parent")
    w.leaf("creationTime", s.creation_time)
    w.empty("memory", [("snapshot", s.memory)])
    if s.disks:
        w.open("disks")
        for name, snapshot in s.disks:
            w.empty("disk", [("name", name), ("snapshot", snapshot)])
        w.close("disks")
    w.document(format_domain_xml(s.domain))
    w.close("domainsnapshot")
    return w.text()


def parse_snapshot_xml(text: str) -> SnapshotRequest:
    root = parse_document(text, "domainsnapshot", "domain_snapshot", _FROM_SNAPSHOT)
    return SnapshotRequest(text_of(root, "name"), text_of(root, "description"))
