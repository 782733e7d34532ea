"""ONC RPC (RFC 5531) for the tracer: record marking over TCP, one message
per UDP datagram.

Over a stream each message is a record: fragments, each behind a 4-byte
mark (the high bit marks the last one; the rest is its length).  A call
names its program, version and procedure; a reply only its XID, so the
connection's session remembers the calls each side made
(:class:`~xdrgen.runtime.oncrpc.tracing.Calls`, bounded) and names a reply
after its call.  Headers are read by
:func:`xdrgen.runtime.oncrpc.tracing.describe`, as our own client and
server do for their trace: status (``success``, ``proc_unavail``,
``auth_error``, ...), AUTH_SYS credentials and mismatch ranges go into the
line.  A message's ``len`` is its length without record marks (as over
UDP); a record of several fragments shows ``frags=N``.
"""

from __future__ import annotations

import struct

from ..runtime import xdr
from ..runtime.oncrpc import messages
from ..runtime.oncrpc.messages import RPC_VERSION, AcceptStat, MsgType
from ..runtime.oncrpc.record import LAST_FRAGMENT, MARK_SIZE, MAX_FRAGMENT, finish_record
from ..runtime.oncrpc.tracing import Calls, Described, describe, unmark
from ..runtime.xdr import Buffer
from .framing import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Header, Piece, ProgramCheck, StreamSplitter, other_direction

#: Bytes of a message kept to read its header when the message itself is
#: not kept: the largest header (a call with two 400-byte auths) fits.
HEAD_SIZE = 1024
#: A record larger than this is no record: the stream lost its framing.
MAX_RECORD = 64 * 1024 * 1024
CALL_SIZE = 24  # xid, mtype, rpcvers, prog, vers, proc
_SNIFF = MARK_SIZE + CALL_SIZE
_MAX_VERSION = 64  # without a catalog: a bigger version is no call header
_U32 = xdr.U32


def _looks_like_call(message: Buffer, known_program: ProgramCheck | None) -> bool:
    """Whether ``message`` starts with a call header of a program the
    catalog knows (or, without one, of a plausible version)."""
    if len(message) < CALL_SIZE:
        return False
    _xid, kind, rpcvers, prog, vers, _proc = messages.CALL_HEADER.unpack_from(message, 0)
    if kind != MsgType.CALL or rpcvers != RPC_VERSION:
        return False
    return known_program(prog, vers) if known_program is not None else 0 < vers <= _MAX_VERSION


class OncSession:
    """One connection's (or UDP conversation's) RFC 5531 framing: the calls
    each side made, by XID."""

    def __init__(self, stream: bool, known_program: ProgramCheck | None = None) -> None:
        self.stream = stream
        self.known = known_program
        # calls made by the client (answered from the server) and the other
        # way round (callbacks); over UDP a call may be answered twice
        self.calls = {d: Calls(forget=stream) for d in (CLIENT_TO_SERVER, SERVER_TO_CLIENT)}

    def splitter(self, direction: str, *, keep: bool, preamble: int = 0) -> RecordSplitter | DatagramSplitter:
        if self.stream:
            return RecordSplitter(self, direction, keep=keep, preamble=preamble)
        return DatagramSplitter(self, direction, keep=keep)

    def header(self, direction: str, message: Buffer, length: int, fragments: int = 1) -> Header:
        """The header of a message (``message``: at least its first
        :data:`HEAD_SIZE` bytes; ``length``: all of it) sent in ``direction``."""
        described = describe(message)
        if described.kind == "call":
            self.calls[direction].remember(described)
        else:
            self.calls[other_direction(direction)].answer(described)
        return _header(described, length, fragments, self.stream)

    def answers_a_call(self, direction: str, message: Buffer) -> bool:
        """Whether ``message`` starts like the reply to a call remembered
        (how the reading finds its way after lost bytes)."""
        if len(message) < 12:
            return False
        xid, kind, stat = struct.unpack_from(">3I", message, 0)
        return kind == MsgType.REPLY and stat in (0, 1) and self.calls[other_direction(direction)].knows(xid)

    def encode(self, header: Header, body: bytes, original: bytes) -> bytes:
        """The message again around a new ``body``: the original's header
        (credentials, verifier) with the header's XID, program, version and
        procedure; a reply whose status changed is built anew (an
        ``accept_stat``: ``success``, ``proc_unavail``, ``system_err``, ...).
        One record of one fragment over a stream."""
        message = unmark(original) if self.stream else original
        described = describe(message)
        if header.type != described.kind or described.problem is not None:
            raise ValueError(f"cannot frame a {header.type!r} message in place of a {described.kind!r} one")
        if header.type == "call":
            rpcvers = _U32.unpack_from(message, 8)[0]
            out = bytearray(message[: described.body])
            messages.CALL_HEADER.pack_into(out, 0, header.serial, MsgType.CALL, rpcvers, header.program, header.version, header.procedure)
            out += body
        elif header.status == described.status:
            out = bytearray(message[: described.body])
            _U32.pack_into(out, 0, header.serial)
            out += body
        else:
            out = _new_reply(header.serial, header.status, body)
        if not self.stream:
            return bytes(out)
        return bytes(finish_record(bytearray(MARK_SIZE) + out))

    def length(self, frame: bytes) -> int:
        """A message's length, without its record marks."""
        return len(unmark(frame)) if self.stream else len(frame)


def _new_reply(xid: int, status: str, body: bytes) -> bytearray:
    try:
        stat = AcceptStat[status.upper()]
    except KeyError:
        raise ValueError(f"cannot build a reply of status {status!r} (an accept_stat name is needed)") from None
    if stat == AcceptStat.SUCCESS:
        return messages.success_reply(xid) + body
    if stat == AcceptStat.PROG_MISMATCH:
        raise ValueError("a PROG_MISMATCH reply needs its version range: change the payload of one instead")
    return messages.accepted_reply(xid, stat)


def _header(described: Described, length: int, fragments: int, stream: bool) -> Header:
    detail = described.detail
    if fragments > 1:
        detail = f"{detail} frags={fragments}".lstrip()
    return Header(
        described.prog,
        described.vers,
        described.proc,
        described.kind,
        described.status or "?",
        described.xid,
        length,
        described.body,
        described.payload,
        problem=described.problem,
        detail=detail,
        hex_serial=True,
        unframe=unmark if stream else None,
    )


class DatagramSplitter:
    """UDP: every datagram one message."""

    def __init__(self, session: OncSession, direction: str, *, keep: bool) -> None:
        self._session = session
        self._direction = direction
        self._keep = keep

    def feed(self, data: Buffer) -> list[Piece]:
        header = self._session.header(self._direction, data[:HEAD_SIZE], len(data))
        return [Piece(len(data), header, bytes(data) if self._keep else None, header.problem)]

    def gap(self, size: int) -> list[Piece]:
        return []

    def end(self) -> list[Piece]:
        return []


class RecordSplitter(StreamSplitter):
    """Splits one direction of a stream into records.  Without ``keep``
    only the first :data:`HEAD_SIZE` bytes of each message are held
    (memory stays flat however large the records); with it, whole records
    as they were on the wire, marks included."""

    _window = _SNIFF

    def __init__(self, session: OncSession, direction: str, *, keep: bool, preamble: int = 0) -> None:
        super().__init__(preamble)
        self._session = session
        self._direction = direction
        self._keep = keep
        self._reset()

    def _reset(self) -> None:
        self._mark = bytearray()  # a mark that is not whole yet
        self._left = 0  # bytes of the current fragment still to come
        self._last = False  # the current fragment ends the record
        self._wire = bytearray()  # the record as on the wire (with ``keep``)
        self._head = bytearray()  # the first HEAD_SIZE bytes of its message
        self._size = 0  # bytes of the record consumed
        self._length = 0  # bytes of its message consumed
        self._fragments = 0

    def feed(self, data: Buffer) -> list[Piece]:
        if not (self._size or self._raw or self._hunting) and self._broken is None and len(data) >= MARK_SIZE:
            # The usual read: exactly one record of one fragment.
            mark = _U32.unpack_from(data, 0)[0]
            if mark & LAST_FRAGMENT and (mark & MAX_FRAGMENT) + MARK_SIZE == len(data):
                return [self._whole(data, memoryview(data)[MARK_SIZE:], 1)]
        return self._split(data)

    def _take(self, view: memoryview, pieces: list[Piece]) -> memoryview:
        """Consume bytes of the current record; append it once whole."""
        if not self._left:
            take = min(MARK_SIZE - len(self._mark), len(view))
            self._mark += view[:take]
            self._consume(view[:take], message=False)
            view = view[take:]
            if len(self._mark) < MARK_SIZE:
                return view
            mark = _U32.unpack_from(self._mark, 0)[0]
            self._mark = bytearray()
            self._left = mark & MAX_FRAGMENT
            self._last = bool(mark & LAST_FRAGMENT)
            self._fragments += 1
            if self._length + self._left > MAX_RECORD:
                self._broken = f"a record of more than {MAX_RECORD} bytes: no RFC 5531 record marking"
                pieces.append(Piece(self._size, data=bytes(self._wire or self._head), problem=self._broken))
                self._reset()
                return view
        take = min(self._left, len(view))
        self._consume(view[:take], message=True)
        self._left -= take
        view = view[take:]
        if not self._left and self._last:
            pieces.append(self._whole(self._wire, self._head, self._fragments, self._size, self._length))
            self._reset()
        return view

    def _consume(self, chunk: memoryview, *, message: bool) -> None:
        self._size += len(chunk)
        if self._keep:
            self._wire += chunk
        if message:
            self._length += len(chunk)
            room = HEAD_SIZE - len(self._head)
            if room > 0:
                self._head += chunk[:room]

    def _whole(self, wire: Buffer, head: Buffer, fragments: int, size: int = -1, length: int = -1) -> Piece:
        size = len(wire) if size < 0 else size
        length = len(head) if length < 0 else length
        header = self._session.header(self._direction, head[:HEAD_SIZE], length, fragments)
        return Piece(size, header, bytes(wire) if self._keep else None, header.problem)

    def _partial(self) -> tuple[int, bytes]:
        return self._size, bytes(self._wire or self._head)

    def _starts(self, data: Buffer) -> bool:
        """A record that starts a call the catalog knows, or a reply to a
        call remembered."""
        mark = _U32.unpack_from(data, 0)[0]
        if (mark & MAX_FRAGMENT) < 12:
            return False
        message = data[MARK_SIZE:]
        return _looks_like_call(message, self._session.known) or self._session.answers_a_call(self._direction, message)


class OncRpcFraming:
    """RFC 5531 (see the module's docstring); ``stream``: record marking
    (TCP), else one message per datagram (UDP)."""

    name = "oncrpc"
    tls_confirmation = b""
    error_type: tuple[str, str] | None = None  # errors are statuses, not messages
    hole_type: tuple[str, str] | None = None

    def __init__(self, stream: bool = True) -> None:
        self.stream = stream

    def session(self, known_program: ProgramCheck | None = None) -> OncSession:
        return OncSession(self.stream, known_program)

    def plausible(self, data: Buffer, known_program: ProgramCheck | None = None) -> bool:
        """A call of a program the catalog knows (replies tell too little
        to recognise the protocol by)."""
        if not self.stream:
            return _looks_like_call(data, known_program)
        if len(data) < _SNIFF or (_U32.unpack_from(data, 0)[0] & MAX_FRAGMENT) < CALL_SIZE:
            return False
        return _looks_like_call(memoryview(data)[MARK_SIZE:], known_program)

    def is_call(self, data: Buffer) -> bool:
        at = 8 if self.stream else 4
        return len(data) >= at + 4 and _U32.unpack_from(data, at)[0] == MsgType.CALL

    def datagrams(self) -> OncRpcFraming:
        return self if not self.stream else OncRpcFraming(stream=False)
