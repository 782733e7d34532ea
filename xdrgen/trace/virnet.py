"""libvirt's framing for the tracer, on top of :mod:`xdrgen.runtime.virnet.framing`.

A message is a u32 length word (counting itself), the 24-byte header
(program, version, procedure, type, serial, status), for ``*_WITH_FDS``
types a u32 count of descriptors, then the payload; each descriptor
follows the message as one ``\\0`` byte sent with ``SCM_RIGHTS``.  After a
TLS handshake the server sends one byte, 1, before any message.
"""

from __future__ import annotations

from ..runtime.virnet.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    MAX_FDS,
    MAX_MESSAGE,
    WITH_FDS,
    MessageStatus,
    MessageType,
    encode_message,
)
from ..runtime.xdr import Buffer
from .framing import Header, Piece, ProgramCheck, StreamSplitter

_TYPE_NAMES = {int(t): t.name.lower() for t in MessageType}
_STATUS_NAMES = {int(s): s.name.lower() for s in MessageStatus}
_TYPES = {name: MessageType(number) for number, name in _TYPE_NAMES.items()}
_STATUSES = {name: MessageStatus(number) for number, name in _STATUS_NAMES.items()}
_WITH_FDS = frozenset(int(t) for t in WITH_FDS)
_FDS_HEADER = HEADER_SIZE + 4  # the header and the descriptor count
_MAX_VERSION = 64  # no libvirt program has more; a bigger one is not a header


def payload_kind(type_: int, status: int) -> str:
    """What follows the header of a message of this type and status."""
    if status == MessageStatus.ERROR:
        return "error"
    if type_ in (MessageType.CALL, MessageType.CALL_WITH_FDS, MessageType.MESSAGE):
        return "args"
    if type_ in (MessageType.REPLY, MessageType.REPLY_WITH_FDS):
        return "result"
    if type_ == MessageType.STREAM:
        return "stream" if status == MessageStatus.CONTINUE else "none"
    if type_ == MessageType.STREAM_HOLE:
        return "hole"
    return "none"


#: (type, status) -> (type name, status name, payload kind) for the
#: messages without descriptors: one look-up on the hot path.
_PLAIN = {
    (int(t), int(s)): (t.name.lower(), s.name.lower(), payload_kind(t, s))
    for t in MessageType
    for s in MessageStatus
    if t not in WITH_FDS
}


def parse_header(frame: Buffer) -> Header:
    """The header of one whole frame, or of its first 28 (32) bytes when
    the length word says how long the whole is.  Never raises for a frame
    of at least 28 bytes: what is odd goes into :attr:`Header.problem`."""
    length, prog, vers, proc, type_, serial, status = FRAME_HEADER.unpack_from(frame, 0)
    plain = _PLAIN.get((type_, status))
    if plain is not None:
        return Header(prog, vers, proc, plain[0], plain[1], serial, length, HEADER_SIZE, plain[2])
    problem = None
    nfds = 0
    offset = HEADER_SIZE
    type_name = _TYPE_NAMES.get(type_)
    status_name = _STATUS_NAMES.get(status)
    if type_name is None:
        type_name, problem = str(type_), f"unknown message type {type_}"
    if status_name is None:
        status_name, problem = str(status), problem or f"unknown message status {status}"
    if type_ in _WITH_FDS:
        if len(frame) < _FDS_HEADER or length < _FDS_HEADER:
            problem = problem or "message with file descriptors lacks their count"
        else:
            nfds = int.from_bytes(frame[HEADER_SIZE:_FDS_HEADER], "big")
            offset = _FDS_HEADER
            if nfds > MAX_FDS:
                problem = problem or f"{nfds} file descriptors; at most {MAX_FDS}"
                nfds = 0
    kind = "none" if problem else payload_kind(type_, status)
    return Header(prog, vers, proc, type_name, status_name, serial, length, offset, kind, nfds, problem)


def plausible(data: Buffer, known_program: ProgramCheck | None = None) -> bool:
    """Whether ``data`` starts with what looks like a libvirt header."""
    if len(data) < HEADER_SIZE:
        return False
    length, prog, vers, _proc, type_, _serial, status = FRAME_HEADER.unpack_from(data, 0)
    if not HEADER_SIZE <= length <= MAX_MESSAGE or type_ not in _TYPE_NAMES or status not in _STATUS_NAMES:
        return False
    if known_program is not None:
        return known_program(prog, vers)
    return bool(0 < vers <= _MAX_VERSION)


class VirNetSplitter(StreamSplitter):
    """Splits one direction of a libvirt connection.  Without ``keep`` only
    the first 32 bytes of each message are held (memory stays flat however
    large the messages); with it, whole messages (one at a time).  The
    bytes passed on as they are: a preamble, descriptors' carriers."""

    _window = HEADER_SIZE

    def __init__(self, *, keep: bool, preamble: int = 0, known_program: ProgramCheck | None = None) -> None:
        super().__init__(preamble)
        self._keep = keep
        self._known = known_program
        self._buffer = bytearray()  # the current message's bytes that are kept
        self._need = 0  # the current message's length, 0 until its length word is in
        self._seen = 0  # bytes of the current message consumed so far

    def feed(self, data: Buffer) -> list[Piece]:
        if not (self._seen or self._raw or self._hunting) and self._broken is None and len(data) >= HEADER_SIZE:
            # The usual read: exactly one whole message, nothing pending.
            if int.from_bytes(data[:4], "big") == len(data) <= MAX_MESSAGE:
                return [self._whole(data)]
        return self._split(data)

    def _take(self, view: memoryview, pieces: list[Piece]) -> memoryview:
        """Consume bytes of the current message; append it once whole."""
        buffer = self._buffer
        if not self._need:
            take = min(4 - len(buffer), len(view))
            buffer += view[:take]
            self._seen += take
            view = view[take:]
            if len(buffer) < 4:
                return view
            length = int.from_bytes(buffer[:4], "big")
            if not HEADER_SIZE <= length <= MAX_MESSAGE:
                self._broken = f"message length {length} is not between {HEADER_SIZE} and {MAX_MESSAGE}"
                pieces.append(Piece(self._seen, data=bytes(buffer), problem=self._broken))
                self._reset()
                return view
            self._need = length
        left = self._need - self._seen
        take = min(left, len(view))
        # Without ``keep`` only the bytes a header can use are held.
        room = take if self._keep else max(0, min(take, _FDS_HEADER - len(buffer)))
        buffer += view[:room]
        self._seen += take
        view = view[take:]
        if self._seen == self._need:
            pieces.append(self._whole(buffer))
            self._reset()
        return view

    def _whole(self, frame: Buffer) -> Piece:
        """The piece of one whole message (or its first bytes without
        ``keep``); its descriptors' carrier bytes come next."""
        header = parse_header(frame)
        self._raw = header.nfds
        return Piece(header.length, header, bytes(frame) if self._keep else None, header.problem)

    def _reset(self) -> None:
        self._buffer = bytearray()
        self._need = self._seen = 0

    def _partial(self) -> tuple[int, bytes]:
        return self._seen, bytes(self._buffer)

    def _starts(self, window: Buffer) -> bool:
        return plausible(window, self._known)


class VirNetSession:
    """One connection's libvirt framing (no state shared by the directions)."""

    def __init__(self, known_program: ProgramCheck | None = None) -> None:
        self._known = known_program

    def splitter(self, direction: str, *, keep: bool, preamble: int = 0) -> VirNetSplitter:
        return VirNetSplitter(keep=keep, preamble=preamble, known_program=self._known)

    def encode(self, header: Header, body: bytes, original: bytes) -> bytes:
        """A frame of the header's fields around ``body``; the length word
        and the descriptor count come out right by construction."""
        try:
            type_ = _TYPES[header.type]
            status = _STATUSES[header.status]
        except KeyError as error:
            raise ValueError(f"cannot frame a message of type {header.type!r}, status {header.status!r}") from error
        return bytes(
            encode_message(
                header.program, header.version, header.procedure, type_, header.serial, status, body, header.nfds
            )
        )

    def length(self, frame: bytes) -> int:
        return len(frame)  # the length word counts the whole frame


class LibvirtFraming:
    """libvirt's virNet framing (see the module's docstring)."""

    name = "libvirt"
    tls_confirmation = b"\x01"
    error_type: tuple[str, str] | None = ("virnetprotocol", "VirNetMessageError")
    hole_type: tuple[str, str] | None = ("virnetprotocol", "VirNetStreamHole")

    def session(self, known_program: ProgramCheck | None = None) -> VirNetSession:
        return VirNetSession(known_program)

    def plausible(self, data: Buffer, known_program: ProgramCheck | None = None) -> bool:
        return plausible(data, known_program)

    def is_call(self, data: Buffer) -> bool:
        return len(data) >= HEADER_SIZE and FRAME_HEADER.unpack_from(data, 0)[4] in (
            MessageType.CALL,
            MessageType.CALL_WITH_FDS,
        )

    def datagrams(self) -> None:
        return None  # libvirt speaks over byte streams only
