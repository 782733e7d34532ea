"""What both data stream classes (:class:`~.blocking.DataStream` and
:class:`~.asyncio_client.AsyncDataStream`) share: the STREAM/STREAM_HOLE
frames they send, what the ones they receive mean, and their read buffer."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from .routing import decode_error

R = TypeVar("R")  # what a stream's call returned (its ``result``)

_HOLE = struct.Struct(">qI")  # virNetStreamHole: hyper length, u_int flags


class _Stream(Protocol):
    """The state of a stream that :func:`_piece` and :func:`_confirms_finish`
    read and set."""

    direction: str
    _eof: bool
    _done: bool

    def _forget(self) -> None: ...


def _piece(stream: _Stream, message: Message) -> bytes | int:
    """What a STREAM/STREAM_HOLE message means to the reader: data, the
    length of a hole, or ``b""`` at the end; an ERROR raises."""
    if message.type == MessageType.STREAM_HOLE:
        return _hole_length(message.payload)
    if message.status == MessageStatus.ERROR:
        stream._done = True
        stream._forget()
        raise decode_error(message.payload)
    if message.status == MessageStatus.OK or not message.payload:
        stream._eof = True  # libvirtd ends the data with an empty packet
        return b""
    return bytes(message.payload)


def _hole_length(payload: memoryview) -> int:
    """A STREAM_HOLE's length; one that does not decode (or is negative) is
    libvirt's "Malformed stream hole packet" (the packet is dropped)."""
    if len(payload) >= _HOLE.size:
        length, _flags = _HOLE.unpack_from(payload, 0)
        if length >= 0:
            return int(length)
    raise LibvirtError.from_code(
        ErrorNumber.VIR_ERR_INTERNAL_ERROR, "Malformed stream hole packet", domain=ErrorDomain.VIR_FROM_RPC
    )


def _confirms_finish(stream: _Stream, message: Message) -> bool:
    """After we sent our STREAM OK: is ``message`` the server's confirmation?

    A read stream may first show the rest of its data and the server's own
    end-of-data OK; the confirmation is the OK after that.  An ERROR raises.
    """
    if message.status == MessageStatus.ERROR:
        raise decode_error(message.payload)
    if message.type != MessageType.STREAM:
        return False  # a hole: dropped
    if message.status == MessageStatus.CONTINUE:
        if not message.payload:
            stream._eof = True  # the server's end of data
        return False  # unread data: dropped
    if stream.direction == "read" and not stream._eof:
        stream._eof = True  # a server that ends its data with OK
        return False
    return True


def _stream_frame(
    header: tuple[int, int, int, int], kind: MessageType, status: MessageStatus, body: Any = None
) -> bytearray:
    """One STREAM/STREAM_HOLE frame of the stream whose call is ``header``."""
    prog, vers, proc, serial = header
    return wire.encode_message(prog, vers, proc, kind, serial, status, body)


def _data_frames(header: tuple[int, int, int, int], data: bytes) -> Iterator[bytearray]:
    """``data`` as STREAM CONTINUE frames of at most :data:`wire.STREAM_CHUNK` bytes."""
    view = memoryview(data)
    for start in range(0, len(view), wire.STREAM_CHUNK):
        yield _stream_frame(header, MessageType.STREAM, MessageStatus.CONTINUE, view[start : start + wire.STREAM_CHUNK])


def _hole_frame(header: tuple[int, int, int, int], length: int, flags: int) -> bytearray:
    return _stream_frame(header, MessageType.STREAM_HOLE, MessageStatus.CONTINUE, _HOLE.pack(length, flags))


def _take(buffer: bytearray, size: int) -> bytes:
    """The first ``size`` bytes of ``buffer`` (all if negative), removed."""
    if size < 0:
        size = len(buffer)
    data = bytes(buffer[:size])
    del buffer[:size]
    return data
