"""Domain checkpoint XML, as virDomainCheckpointDefFormat writes it."""

from __future__ import annotations

from ...errors import ErrorDomain
from ..model import Checkpoint
from . import Writer, parse_document, text_of
from .domain import format_domain_xml

_FROM_CHECKPOINT = ErrorDomain.VIR_FROM_DOMAIN_CHECKPOINT


def format_checkpoint_xml(c: Checkpoint, with_domain: bool) -> str:
    w = Writer()
    w.open("domaincheckpoint")
    w.leaf("name", c.name)
    if c.description is not None:
        w.leaf("description", c.description)
    if c.parent is not None:
        w.open("parent")
        w.leaf("name", c.parent)
        w.close("parent")
    w.leaf("creationTime", c.creation_time)
    if c.disks:
        w.open("disks")
        for name, checkpoint in c.disks:
            bitmap = c.name if checkpoint == "bitmap" else None
            w.empty("disk", [("name", name), ("checkpoint", checkpoint), ("bitmap", bitmap)])
        w.close("disks")
    if with_domain:
        w.document(format_domain_xml(c.domain))
    w.close("domaincheckpoint")
    return w.text()


def parse_checkpoint_xml(text: str) -> tuple[str | None, str | None]:
    """The name and description a new checkpoint's XML asks for."""
    root = parse_document(text, "domaincheckpoint", "domain_checkpoint", _FROM_CHECKPOINT)
    return text_of(root, "name"), text_of(root, "description")
