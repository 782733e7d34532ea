"""Watching and changing the wire of any protocol xdrgen generated.

- ``python -m xdrgen.trace proxy --package PKG --listen ADDR --upstream ADDR``:
  a proxy that prints one line per message and can change messages on
  their way (:mod:`.proxy`, :mod:`.rewrite`);
- ``python -m xdrgen.trace read --package PKG FILE``: the same lines from a
  pcap/pcapng capture (:mod:`.capture`, needs the ``[trace]`` extra).

Names and payload types come from the generated package's tables
(:mod:`.catalog`); the framing splits byte streams into messages
(:mod:`.framing`; libvirt's in :mod:`.virnet`, RFC 5531's -- record
marking, UDP datagrams -- in :mod:`.oncrpc`).  Standard library only,
besides dpkt for reading captures.
"""

from __future__ import annotations

from collections.abc import Callable

from .catalog import Catalog, CatalogError
from .framing import Framing, Header, Piece
from .lines import LineFormatter
from .matching import Filter, Selector
from .message import Codecs, TraceMessage
from .tracer import Output, Tracer
from .oncrpc import OncRpcFraming
from .virnet import LibvirtFraming

#: The framings ``--framing`` names.
FRAMINGS: dict[str, Callable[[], Framing]] = {"libvirt": LibvirtFraming, "oncrpc": OncRpcFraming}

__all__ = [
    "FRAMINGS",
    "Catalog",
    "CatalogError",
    "Codecs",
    "Filter",
    "Framing",
    "Header",
    "LibvirtFraming",
    "LineFormatter",
    "OncRpcFraming",
    "Output",
    "Piece",
    "Selector",
    "TraceMessage",
    "Tracer",
]
