"""What the tracer needs of a wire framing, whatever the protocol.

A framing splits one direction of a byte stream into messages, reads each
message's header, and frames a changed message again.  libvirt's framing
(a length word and a 24-byte header, :mod:`xdrgen.trace.virnet`) is one;
RFC 5531's (:mod:`xdrgen.trace.oncrpc`) the other: a framing hands out
one :class:`FramingSession` per connection, so that the two directions
share state -- an ONC RPC reply carries only its XID
(:attr:`Header.serial`), and its program, version and procedure come from
the call the client's splitter saw with that XID; the credentials go into
:attr:`Header.detail`; ``encode`` writes one record fragment.  A framing
may have a variant for datagrams (:meth:`Framing.datagrams`: ONC RPC over
UDP).

Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..runtime.xdr import Buffer

#: Whether a (program, version) is one the catalog knows.
ProgramCheck = Callable[[int, int], bool]

CLIENT_TO_SERVER = ">"
SERVER_TO_CLIENT = "<"


def other_direction(direction: str) -> str:
    """The direction back: ``<`` for ``>`` and ``>`` for ``<``."""
    return SERVER_TO_CLIENT if direction == CLIENT_TO_SERVER else CLIENT_TO_SERVER


@dataclass(slots=True)
class Header:
    """One message's header as a trace line shows it.

    ``type`` and ``status`` are lower-case words ("call", "reply",
    "message", "stream", ...; "ok", "error", "continue"), or the number
    when the framing does not know it.  ``payload`` says what the bytes
    after ``offset`` are, so that the payload can be decoded with the
    generated codecs: "args" (a call's arguments, an event's message),
    "result" (a reply's result), "error" (the framing's error struct),
    "stream" (raw data), "hole" (the framing's stream-hole struct) or
    "none" (nothing to decode).  ``problem`` is why the header itself is
    unusual (an unknown type, too many descriptors): such a message is
    passed on untouched and marked.
    """

    program: int
    version: int
    procedure: int
    type: str
    status: str
    serial: int
    length: int
    offset: int
    payload: str
    nfds: int = 0
    problem: str | None = None
    #: What else the framing shows after the length (RFC 5531: the
    #: credentials, ``auth=sys(uid=0,gid=0,gids=[],host=h)``); empty for libvirt.
    detail: str = ""
    #: The serial is an XID, shown in hex (RFC 5531).
    hex_serial: bool = False
    #: For a frame whose payload is not one run of bytes (a record of
    #: several fragments): the frame without its framing, where ``offset``
    #: counts from.  None: ``offset`` counts from the frame's start.
    unframe: Callable[[bytes], bytes] | None = None


@dataclass(slots=True)
class Piece:
    """A run of one direction's bytes: a message (``header`` set) or bytes
    that are not one (``header`` None): a descriptor's carrier byte, a
    TLS confirmation, or everything after the stream stopped making sense
    (``problem`` says why).  ``data`` is the bytes, or None for a message
    when the splitter was told not to keep payloads (a proxy that only
    prints lines forwards what it reads and needs nothing but headers)."""

    size: int
    header: Header | None = None
    data: bytes | None = None
    problem: str | None = None


class Splitter(Protocol):
    """Splits one direction of a connection into :class:`Piece` s."""

    def feed(self, data: Buffer) -> list[Piece]:
        """Take the next bytes of the stream; return the pieces they
        complete, in stream order (their sizes add up to every byte fed
        so far, less what is still incomplete)."""
        ...

    def gap(self, size: int) -> list[Piece]:
        """``size`` bytes of the stream are missing (a capture lost them):
        return what was incomplete, and find the next message if the
        framing can."""
        ...

    def end(self) -> list[Piece]:
        """The stream ended: what was incomplete, as a piece with a problem."""
        ...


class FramingSession(Protocol):
    """The framing of one connection (state both directions share)."""

    def splitter(self, direction: str, *, keep: bool, preamble: int = 0) -> Splitter:
        """A splitter for ``direction`` (``>`` client to server, ``<``
        back); ``keep``: whole messages in :attr:`Piece.data`;
        ``preamble``: bytes at the start that are not messages."""
        ...

    def encode(self, header: Header, body: bytes, original: bytes) -> bytes:
        """Frame a message again around a new ``body`` (the header's
        fields as they are now, every length recomputed); ``original``
        is the frame it replaces."""
        ...

    def length(self, frame: bytes) -> int:
        """The length a trace line shows for ``frame`` (:attr:`Header.length`)."""
        ...


class Framing(Protocol):
    """A wire framing, by name (see :data:`xdrgen.trace.FRAMINGS`)."""

    name: str
    #: What a TLS server sends after the handshake before any message
    #: (libvirt: one byte, 1); a proxy that ends TLS on one side only
    #: adds or removes it.
    tls_confirmation: bytes
    #: Where the catalog finds the error struct and the stream-hole struct
    #: (module of the generated package, class), if the framing has them.
    error_type: tuple[str, str] | None
    hole_type: tuple[str, str] | None

    def session(self, known_program: ProgramCheck | None = None) -> FramingSession:
        """The framing of a new connection; ``known_program`` (whether a
        program and version are in the catalog) helps find the next
        message after bytes were lost."""
        ...

    def plausible(self, data: Buffer, known_program: ProgramCheck | None = None) -> bool:
        """Whether ``data`` (the first bytes of a stream) looks like the
        start of a message of a program ``known_program`` knows: how a
        capture reader finds this protocol on any port."""
        ...

    def is_call(self, data: Buffer) -> bool:
        """Whether a stream's first bytes are a call (so its sender is the
        client, when the capture missed the connection's start)."""
        ...

    def datagrams(self) -> Framing | None:
        """The framing of the protocol's messages over UDP, one per
        datagram (None: the protocol has none)."""
        ...


def hunt(buffer: bytearray, size: int, starts: Callable[[Buffer], bool], pieces: list[Piece]) -> tuple[bytes | None, bytes]:
    """After lost bytes: find where a message starts in ``buffer`` (what
    came since), ``starts`` judging each ``size``-byte window.  The bytes
    skipped become a piece of ``pieces``; returns (the bytes from the start
    found on, b"") or, when none is found yet, (None, the last bytes, which
    may begin one: kept for the next look, so memory stays flat)."""
    found = next((i for i in range(len(buffer) - size + 1) if starts(buffer[i : i + size])), None)
    skip = max(0, len(buffer) - size + 1) if found is None else found
    if skip:
        pieces.append(Piece(skip, data=bytes(buffer[:skip]), problem="bytes after a gap"))
    rest = bytes(buffer[skip:])
    return (None, rest) if found is None else (rest, b"")


class StreamSplitter:
    """What the splitters of byte streams share: bytes passed on as they
    are (a preamble, descriptors' carriers), everything unframed once the
    stream stopped making sense, looking for the next message after lost
    bytes.  A subclass takes the bytes of messages (:meth:`_take`) and
    tells where a message starts (:meth:`_starts`, judging
    :attr:`_window` bytes); its ``feed`` tries the usual read (one whole
    message) itself and hands the rest to :meth:`_split`."""

    #: Bytes :meth:`_starts` needs to judge whether a message starts there.
    _window: int

    def __init__(self, preamble: int = 0) -> None:
        self._raw = preamble  # bytes to pass on as they are
        self._broken: str | None = None  # once set, every byte is passed on unframed
        self._hunting = False  # after a gap: looking for the next message
        self._kept = bytearray()  # while hunting: the last bytes, which may begin a message

    def _split(self, data: Buffer) -> list[Piece]:
        pieces: list[Piece] = []
        view = memoryview(data)
        while view:
            if self._broken is not None:
                pieces.append(Piece(len(view), data=bytes(view), problem=self._broken))
                break
            if self._hunting:
                view = self._hunt(view, pieces)
            elif self._raw:
                take = min(self._raw, len(view))
                self._raw -= take
                pieces.append(Piece(take, data=bytes(view[:take])))
                view = view[take:]
            else:
                view = self._take(view, pieces)
        return pieces

    def gap(self, size: int) -> list[Piece]:
        # The loss is reported even between two messages (nothing partial).
        consumed, held = self._current()
        pieces = [Piece(consumed, data=held, problem=f"{size} bytes lost")]
        self._forget()
        self._raw = 0
        if self._broken is None:
            self._hunting = True
        return pieces

    def end(self) -> list[Piece]:
        consumed, held = self._current()
        if not consumed and not (self._hunting and held):
            return []
        piece = Piece(consumed or len(held), data=held, problem="incomplete message at the end of the stream")
        self._forget()
        return [piece]

    def _current(self) -> tuple[int, bytes]:
        """(bytes of the current message consumed, those held); while
        hunting, (0, the bytes kept for the next look)."""
        return (0, bytes(self._kept)) if self._hunting else self._partial()

    def _forget(self) -> None:
        self._kept = bytearray()
        self._reset()

    def _hunt(self, view: memoryview, pieces: list[Piece]) -> memoryview:
        """Pass on bytes until a message starts (see :func:`hunt`); keep
        the last few bytes that might begin one (memory stays flat)."""
        self._kept += view
        rest, kept = hunt(self._kept, self._window, self._starts, pieces)
        self._kept = bytearray(kept)
        self._hunting = rest is None
        return memoryview(rest or b"")

    def _partial(self) -> tuple[int, bytes]:
        """(bytes of the current message consumed, those held)."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget the current message."""
        raise NotImplementedError

    def _take(self, view: memoryview, pieces: list[Piece]) -> memoryview:
        """Consume bytes of the current message, appending it once whole."""
        raise NotImplementedError

    def _starts(self, window: Buffer) -> bool:
        """Whether a message starts with these :attr:`_window` bytes."""
        raise NotImplementedError
