"""A decoded message (header + typed payload) and its way back to bytes.

This is what a ``--rewrite`` function receives and returns, and what the
line formatter prints.  Payloads are decoded with the generated codecs the
catalog found: a call's arguments, a reply's result, the framing's error
struct for error replies, an event's message; stream data stays bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .catalog import Catalog
from .framing import Framing, FramingSession, Header


@dataclass(slots=True)
class TraceMessage:
    """One message of one connection.

    ``direction`` is ``>`` (client to server) or ``<``; ``time`` seconds
    since the trace started.  ``payload`` is the decoded value (a generated
    dataclass), ``bytes`` for stream data or a payload that could not be
    decoded (``undecodable`` says why), or None when there is none.
    Change ``payload`` or the header's fields (``header.status = "error"``)
    and the proxy frames the message again with every length recomputed.
    """

    conn: int
    direction: str
    time: float
    header: Header
    program_name: str
    procedure_name: str
    payload: Any = None
    undecodable: str | None = None
    frame: bytes | None = None

    @property
    def is_call(self) -> bool:
        return self.header.type in ("call", "call_with_fds")

    @property
    def is_reply(self) -> bool:
        return self.header.type in ("reply", "reply_with_fds")

    @property
    def is_error(self) -> bool:
        return self.header.payload == "error"

    def copy(self) -> TraceMessage:
        """A shallow copy with its own header (to build a replacement)."""
        return replace(self, header=replace(self.header))


class Codecs:
    """Decodes and encodes payloads with a catalog's generated codecs."""

    def __init__(self, catalog: Catalog, framing: Framing) -> None:
        self.catalog = catalog
        self._error = catalog.type_named(framing.error_type)
        self._hole = catalog.type_named(framing.hole_type)

    def payload_type(self, header: Header) -> Any:
        """The codec class of the payload, or None (raw bytes or nothing)."""
        kind = header.payload
        if kind == "error":
            return self._error
        if kind == "hole":
            return self._hole
        if kind not in ("args", "result"):
            return None
        info = self.catalog.procedure(header.program, header.version, header.procedure)
        if info is None:
            return None
        return info.args if kind == "args" else info.result

    def message(self, conn: int, direction: str, time: float, header: Header, frame: bytes | None) -> TraceMessage:
        """A message with its names and, when ``frame`` is given, its payload."""
        program, procedure = self.catalog.names(header.program, header.version, header.procedure)
        message = TraceMessage(conn, direction, time, header, program, procedure, frame=frame)
        if frame is not None:
            message.payload, message.undecodable = self.decode(header, frame)
        return message

    def decode(self, header: Header, frame: bytes) -> tuple[Any, str | None]:
        """(payload, why it could not be decoded)."""
        body = (frame if header.unframe is None else header.unframe(frame))[header.offset :]
        if header.problem is not None:
            return body, header.problem
        if header.payload in ("stream", "none"):
            return (body or None), (None if header.payload == "stream" or not body else "unexpected payload")
        codec = self.payload_type(header)
        if codec is None:
            if not body and (header.payload != "error" or self._error is None):
                return None, None
            what = "procedure" if header.payload in ("args", "result") else f"{header.payload} type"
            return body, f"unknown {what}"
        try:
            return codec.decode(body), None
        except (ValueError, TypeError, OverflowError) as error:  # XdrError is a ValueError
            return body, f"{type(error).__name__}: {error}"

    def encode(self, session: FramingSession, message: TraceMessage) -> bytes:
        """The message as a frame again: payload encoded (a generated value
        packs itself; other values -- an ONC RPC procedure's ints, strings,
        tuples of arguments -- with their codec; bytes are taken as they
        are), then framed by the session."""
        payload = message.payload
        codec = self.payload_type(message.header)
        if isinstance(payload, (bytes, bytearray, memoryview)):
            body = bytes(payload)
        elif hasattr(payload, "pack_into"):
            out = bytearray()
            payload.pack_into(out)
            body = bytes(out)
        elif codec is not None and not isinstance(codec, type):
            body = codec.encode(payload)
        elif payload is None:
            body = b""
        else:
            raise TypeError(f"no codec to encode {type(payload).__name__} as the payload")
        return session.encode(message.header, body, message.frame or b"")
