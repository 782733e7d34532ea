"""What generated server modules build: dispatch tables of RPC procedures.

A generated ``<name>_server.py`` holds, per program version, a subclass of
:class:`ProgramHandler` whose ``PROCEDURES`` table maps procedure numbers
to :class:`Procedure` entries.  A server (libvirt's, or a plain ONC RPC
one) decodes a call's arguments with ``args``, awaits the handler method
named by ``method`` and encodes its value with ``result``; nothing here
knows how messages are framed or which clients exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["Procedure", "ProgramHandler"]


@dataclass(frozen=True, slots=True)
class Procedure:
    """One entry of a generated dispatch table.

    ``method`` is the handler method that serves a call (``send_<name>`` for
    events); ``args``/``result`` the XDR classes of its arguments and result
    (an event's ``args`` is its message type).  ``kind`` is "call" or
    "event"; ``stream`` is "read" (server to client) or "write" for
    procedures whose data follows the reply as a stream; ``priority`` is
    "low" unless annotated otherwise; ``annotations`` every ``@key: value``
    the ``.x`` file gives the procedure, in order (a key can repeat).
    """

    number: int
    name: str
    method: str
    args: type[Any] | None
    result: type[Any] | None
    kind: str = "call"
    stream: str | None = None
    priority: str = "low"
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        """The first value of annotation ``key``, or None."""
        for k, v in self.annotations:
            if k == key:
                return v
        return None

    def annotation_values(self, key: str) -> list[str]:
        """Every value of annotation ``key`` (some, like ``@acl``, repeat)."""
        return [v for k, v in self.annotations if k == key]


class ProgramHandler:
    """Base of the generated handler classes: one instance serves every
    client of one program version.  Per-client state belongs on the client
    object the server passes; the two hooks below see clients come and go.
    The client's type is the server's business, hence ``Any`` here: a
    subclass may name the server's client class."""

    PROGRAM: ClassVar[int]
    VERSION: ClassVar[int]
    NAME: ClassVar[str]
    PROCEDURES: ClassVar[dict[int, Procedure]]

    def client_connected(self, client: Any) -> None:
        """A client connected (called before any of its messages)."""

    def client_closed(self, client: Any) -> None:
        """A client's connection is gone (after its calls were cancelled)."""
