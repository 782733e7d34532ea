"""libvirt's RPC wire format, without any I/O (shared by client and server).

A message is a big-endian u32 length (counting itself), a 24-byte header
(prog, vers, proc, type, serial, status), for the ``*_WITH_FDS`` types a u32
count of file descriptors, then the payload (see libvirt's
``src/rpc/virnetprotocol.x`` and ``docs/kbase/internals/rpc.rst``).  The
descriptors themselves travel after the message, one per ``sendmsg`` with a
one-byte carrier.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Protocol

from ..xdr import Buffer, XdrError

MAX_MESSAGE = 32 * 1024 * 1024  # VIR_NET_MESSAGE_MAX
# The largest frame: the length word counts itself and may be followed by
# VIR_NET_MESSAGE_MAX bytes (virNetMessageDecodeLength, both directions).
MAX_FRAME = MAX_MESSAGE + 4  # + VIR_NET_MESSAGE_LEN_MAX
INITIAL_BUFFER = 65536  # VIR_NET_MESSAGE_INITIAL
STRING_MAX = 4 * 1024 * 1024  # VIR_NET_MESSAGE_STRING_MAX
MAX_FDS = 32  # VIR_NET_MESSAGE_NUM_FDS_MAX
STREAM_CHUNK = 256 * 1024  # VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX: data per STREAM packet

# length + header: u32 len, u32 prog, u32 vers, s32 proc, s32 type, u32 serial, s32 status
FRAME_HEADER = struct.Struct(">IIIiiIi")
HEADER_SIZE = FRAME_HEADER.size  # 28
_U32 = struct.Struct(">I")

KEEPALIVE_PROGRAM = 0x6B656570
KEEPALIVE_VERSION = 1
KEEPALIVE_PING = 1
KEEPALIVE_PONG = 2


class MessageType(enum.IntEnum):
    CALL = 0
    REPLY = 1
    MESSAGE = 2
    STREAM = 3
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5
    STREAM_HOLE = 6


class MessageStatus(enum.IntEnum):
    OK = 0
    ERROR = 1
    CONTINUE = 2


WITH_FDS = (MessageType.CALL_WITH_FDS, MessageType.REPLY_WITH_FDS)
_TYPES = tuple(MessageType)  # indexed by value: 0..6 without gaps
_STATUSES = tuple(MessageStatus)


class ProtocolError(Exception):
    """The peer broke the framing rules; the connection cannot continue."""


class Packable(Protocol):
    def pack_into(self, out: bytearray) -> None: ...


@dataclass(slots=True)
class Message:
    """One decoded message; ``payload`` is a view into the frame."""

    prog: int
    vers: int
    proc: int
    type: MessageType
    serial: int
    status: MessageStatus
    payload: memoryview
    nfds: int = 0
    fds: list[int] | tuple[()] = ()  # the received descriptors (a client fills them in)


def encode_message(
    prog: int,
    vers: int,
    proc: int,
    type: MessageType,
    serial: int,
    status: MessageStatus,
    body: Packable | Buffer | None = None,
    nfds: int = 0,
) -> bytearray:
    """Build one frame; ``body`` is an XDR value (packed in place) or raw bytes."""
    out = bytearray(HEADER_SIZE)
    if type in WITH_FDS:
        if nfds > MAX_FDS:
            raise ProtocolError(f"{nfds} file descriptors; at most {MAX_FDS}")
        out += _U32.pack(nfds)
    if body is not None:
        if isinstance(body, (bytes, bytearray, memoryview)):
            out += body
        else:
            body.pack_into(out)
    if len(out) > MAX_FRAME:
        _too_large(out)
    FRAME_HEADER.pack_into(out, 0, len(out), prog, vers, proc, type, serial, status)
    return out


def encode_call(prog: int, vers: int, proc: int, serial: int, args: Packable | None) -> bytearray:
    """:func:`encode_message` for the commonest frame, a CALL (the client's
    hot path: no descriptors, no raw body to look for)."""
    out = bytearray(HEADER_SIZE)
    if args is not None:
        args.pack_into(out)
    if len(out) > MAX_FRAME:
        _too_large(out)
    FRAME_HEADER.pack_into(out, 0, len(out), prog, vers, proc, MessageType.CALL, serial, MessageStatus.OK)
    return out


def _too_large(out: bytearray) -> None:
    raise XdrError(f"message of {len(out)} bytes exceeds the {MAX_FRAME}-byte limit", path="message")


#: The two keepalive messages, whole frames (both sides send them as they are).
PING_FRAME, PONG_FRAME = (
    bytes(encode_message(KEEPALIVE_PROGRAM, KEEPALIVE_VERSION, proc, MessageType.MESSAGE, 0, MessageStatus.OK))
    for proc in (KEEPALIVE_PING, KEEPALIVE_PONG)
)


def parse_length(prefix: Buffer) -> int:
    """Check a frame's first 4 bytes before anything is read or allocated."""
    length: int = _U32.unpack_from(prefix, 0)[0]
    if length < HEADER_SIZE:
        raise ProtocolError(f"message length {length} is below the {HEADER_SIZE}-byte header")
    if length > MAX_FRAME:
        raise ProtocolError(f"message length {length} exceeds the {MAX_FRAME}-byte limit")
    return length


def parse_frame(frame: Buffer) -> Message:
    """Decode and validate the header of one whole frame (length included)."""
    length, prog, vers, proc, type_, serial, status = FRAME_HEADER.unpack_from(frame, 0)
    if length != len(frame):
        raise ProtocolError(f"frame length {length} does not match {len(frame)} bytes")
    # tuple lookups: several times cheaper than calling the enum classes
    if not 0 <= type_ < len(_TYPES):
        raise ProtocolError(f"unknown message type {type_}")
    if not 0 <= status < len(_STATUSES):
        raise ProtocolError(f"unknown message status {status}")
    kind = _TYPES[type_]
    state = _STATUSES[status]
    view = memoryview(frame)
    payload = view[HEADER_SIZE:]
    nfds = 0
    if kind in WITH_FDS:
        nfds = fds_count(frame)
        payload = payload[4:]
    return Message(prog, vers, proc, kind, serial, state, payload, nfds)


def fds_count(frame: Buffer) -> int:
    """How many descriptors a ``*_WITH_FDS`` frame announces (the word after
    its header); :class:`ProtocolError` for a count that is missing or above
    :data:`MAX_FDS`."""
    if len(frame) < HEADER_SIZE + 4:
        raise ProtocolError("message with file descriptors lacks their count")
    nfds: int = _U32.unpack_from(frame, HEADER_SIZE)[0]
    if nfds > MAX_FDS:
        raise ProtocolError(f"{nfds} file descriptors; at most {MAX_FDS}")
    return nfds


class FrameDecoder:
    """Splits a byte stream into frames: ``feed`` data as it arrives and take
    whole messages out.  The length word is checked before the frame's bytes
    are buffered, so a hostile length costs nothing.  A large frame gathers
    in a buffer of its own, which becomes the frame (no copy at the end):
    it grows with what has arrived until half the frame is in, then takes
    the frame's size at once (never more than twice what the peer sent: one
    that claims 32 MiB and sends 8 costs 8, as in libvirtd)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need = 0  # length of the frame being read, 0 while reading its length
        self._large: bytearray | None = None  # the large frame being gathered
        self._sized = False  # _large has room for the whole frame
        self._skip = 0  # bytes still to drop: descriptor carriers after a frame

    def skip(self, count: int) -> None:
        """Drop the next ``count`` bytes of the stream: the one-byte carriers
        of the descriptors that follow a ``*_WITH_FDS`` message."""
        self._skip += count

    def skipped(self) -> bool:
        """Drop what has arrived of the bytes :meth:`skip` asked to drop;
        True once none are left to drop."""
        if self._skip:
            dropped = min(self._skip, len(self._buffer))
            del self._buffer[:dropped]
            self._skip -= dropped
        return not self._skip

    def feed(self, data: Buffer) -> list[Message]:
        self.push(data)
        messages = []
        while (frame := self.next_frame()) is not None:
            messages.append(parse_frame(frame))
        return messages

    def take_whole(self, data: Buffer) -> bytes | None:
        """``data`` as one frame if it is exactly that and nothing is
        buffered (the usual read of a reply; length checked as by
        :meth:`next_frame`); else None, with ``data`` buffered as by
        :meth:`push`."""
        if not self._buffer and self._large is None and not self._skip and len(data) >= HEADER_SIZE:
            if parse_length(data) == len(data):
                return bytes(data)
        self.push(data)
        return None

    def push(self, data: Buffer) -> None:
        """Buffer received bytes without decoding them (see :meth:`next_frame`)."""
        large = self._large
        if large is None:
            self._buffer += data
            return
        missing = self._need - len(large)
        if len(data) > missing:
            view = memoryview(data)
            self._buffer += view[missing:]
            data = view[:missing]
        if not self._sized and 2 * (len(large) + len(data)) >= self._need:
            large = self._large = _with_room(large, self._need)
            self._sized = True
        large += data

    def next_frame(self) -> bytes | bytearray | None:
        """Take the next whole frame (length word included) out of the buffer,
        or None while it is incomplete; its header is not decoded.

        A server uses this to take one call at a time (so that it can stop
        at its limit of calls in flight) and to judge headers itself.  Raises
        :class:`ProtocolError` for a length below the header or above
        :data:`MAX_FRAME`, before the frame's bytes are waited for.  The
        frame is a new object the caller owns.
        """
        large = self._large
        if large is not None:
            if len(large) < self._need:
                return None
            self._large, self._need = None, 0
            return large
        if self._skip and not self.skipped():
            return None
        if not self._need:
            if len(self._buffer) < 4:
                return None
            self._need = parse_length(self._buffer)
        need = self._need
        buffer = self._buffer
        if len(buffer) < need:
            if need > INITIAL_BUFFER:
                # The buffer holds just this frame's start: from now on
                # the frame gathers on its own (see the class docstring).
                self._sized = 2 * len(buffer) >= need
                self._large = _with_room(buffer, need) if self._sized else buffer
                self._buffer = bytearray()
            return None
        self._need = 0
        if len(buffer) == need:  # the usual case: the buffer holds just this frame
            frame = bytes(buffer)
            buffer.clear()
            return frame
        with memoryview(buffer) as view:
            frame = bytes(view[:need])
        del buffer[:need]
        return frame

    @property
    def pending(self) -> int:
        """Bytes received that are not yet a whole frame."""
        if self._large is not None:
            return len(self._large) + len(self._buffer)
        return len(self._buffer)

    def wanted(self) -> int:
        """How many more bytes finish the current frame (or its length)."""
        if self._large is not None:
            return self._need - len(self._large)
        if not self._need:
            return 4 - len(self._buffer)
        return self._need - len(self._buffer)


def _with_room(start: bytearray, size: int) -> bytearray:
    """``start`` copied into a buffer with room for ``size`` bytes, so that
    appending up to ``size`` never reallocates.  (CPython keeps a bytearray's
    allocation when it shrinks by less than half, and ``start`` is at least
    half of ``size`` here.)"""
    room = bytearray(size)
    room[: len(start)] = start
    del room[len(start) :]
    return room
