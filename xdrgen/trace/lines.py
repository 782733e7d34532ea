"""Trace lines, in the shape of libvirt's ``rpc-monitor.stp``::

      2.632 1 + client=unix:/tmp/proxy.sock pid=4211 uid=0 server=unix:/run/libvirt/libvirt-sock
      2.632 1 > remote.1.auth_list(call, ok, 0) len=28
      2.633 1 < remote.1.auth_list(reply, ok, 0) len=36
      2.641 1 - client=unix:/tmp/proxy.sock pid=4211 uid=0 server=unix:/run/libvirt/libvirt-sock closed by client

seconds since the trace started, the connection's number, the direction
(``>`` client to server, ``<`` back, ``+`` opened, ``-`` closed), then
program.version.procedure(type, status, serial) and the frame's length.
With payloads, the decoded value follows on an indented line; as JSON,
one object per line.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from ..runtime import traceline
from .framing import Header
from .message import TraceMessage

PAYLOAD_INDENT = traceline.PAYLOAD_INDENT
_HEX_SHOWN = 64  # bytes of an undecodable payload shown in hex


def message_line(
    time: float, conn: int, direction: str, program: str, procedure: str, header: Header, notes: str = ""
) -> str:
    """One message's line."""
    return finish_line(time, conn, direction, line_middle(program, procedure, header), header, notes)


def line_middle(program: str, procedure: str, header: Header) -> str:
    """``remote.1.connect_open(call, ok, ``: the same for every message of
    a procedure, type and status (the proxy keeps them)."""
    return traceline.middle(program, header.version, procedure, header.type, header.status)


def finish_line(time: float, conn: int, direction: str, middle: str, header: Header, notes: str = "") -> str:
    extra = f" nfds={header.nfds}" if header.nfds else ""
    if header.detail:
        extra += f" {header.detail}"
    serial = traceline.xid(header.serial) if header.hex_serial else header.serial
    return traceline.line(time, conn, direction, middle, serial, header.length, extra + notes)


def notes_text(notes: list[str], undecodable: str | None = None) -> str:
    parts = [*notes, *([f"undecodable: {undecodable}"] if undecodable else [])]
    return "".join(f" [{part}]" for part in parts)


def payload_text(message: TraceMessage) -> str | None:
    """The decoded payload as an indented line, or None when there is none."""
    payload = message.payload
    if payload is None:
        return None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
        if message.undecodable is None:
            return f"{PAYLOAD_INDENT}data: {len(data)} bytes"
        shown = data[:_HEX_SHOWN].hex(" ")
        more = f" ... ({len(data)} bytes)" if len(data) > _HEX_SHOWN else ""
        return f"{PAYLOAD_INDENT}raw: {shown}{more}"
    return f"{PAYLOAD_INDENT}{payload!r}"


def jsonable(value: Any) -> Any:
    """A generated value as JSON types: dataclasses as objects (with their
    class under ``_type``), enums as their number, bytes as hex."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"_type": type(value).__name__}
        for field in dataclasses.fields(value):
            out[field.name] = jsonable(getattr(value, field.name))
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


class LineFormatter:
    """Text lines, or JSON objects (``json=True``); ``payload``: the decoded
    payload too."""

    def __init__(self, *, payload: bool = False, json: bool = False) -> None:
        self.payload = payload
        self.json = json

    def message(self, message: TraceMessage, notes: list[str] = []) -> str:  # noqa: B006 (read only)
        if self.json:
            return self._message_json(message, notes)
        header = message.header
        line = message_line(
            message.time,
            message.conn,
            message.direction,
            message.program_name,
            message.procedure_name,
            header,
            notes_text(notes, message.undecodable),
        )
        if self.payload:
            shown = payload_text(message)
            if shown is not None:
                return f"{line}\n{shown}"
        return line

    def _message_json(self, message: TraceMessage, notes: list[str]) -> str:
        header = message.header
        out: dict[str, Any] = {
            "time": round(message.time, 6),
            "conn": message.conn,
            "dir": message.direction,
            "program": message.program_name,
            "version": header.version,
            "procedure": message.procedure_name,
            "type": header.type,
            "status": header.status,
            "serial": header.serial,
            "len": header.length,
            "prog": header.program,
            "proc": header.procedure,
        }
        if header.nfds:
            out["nfds"] = header.nfds
        if header.detail:
            out["detail"] = header.detail
        if notes:
            out["notes"] = notes
        if message.undecodable:
            out["undecodable"] = message.undecodable
        if self.payload and message.payload is not None:
            out["payload"] = jsonable(message.payload)
        return json.dumps(out, ensure_ascii=False)

    def raw(self, time: float, conn: int, direction: str, size: int, problem: str) -> str:
        """Bytes that are not a message (the stream lost its framing)."""
        if self.json:
            return json.dumps(
                {"time": round(time, 6), "conn": conn, "dir": direction, "unframed": size, "problem": problem}
            )
        return f"{time:7.3f} {conn} {direction} {size} unframed bytes [{problem}]"

    def note(self, time: float, conn: int, direction: str, text: str) -> str:
        """Something the proxy did that is no message (descriptors dropped)."""
        if self.json:
            return json.dumps({"time": round(time, 6), "conn": conn, "dir": direction, "note": text})
        return f"{time:7.3f} {conn} {direction} [{text}]"

    def opened(self, time: float, conn: int, client: str, server: str) -> str:
        return self._event(time, conn, "+", client, server, "")

    def closed(self, time: float, conn: int, client: str, server: str, reason: str = "") -> str:
        return self._event(time, conn, "-", client, server, reason)

    def _event(self, time: float, conn: int, sign: str, client: str, server: str, reason: str) -> str:
        if self.json:
            event = {"time": round(time, 6), "conn": conn, "event": "open" if sign == "+" else "close"}
            event.update(client=client, server=server)
            if reason:
                event["reason"] = reason
            return json.dumps(event)
        tail = f" {reason}" if reason else ""
        return f"{time:7.3f} {conn} {sign} client={client} server={server}{tail}"
