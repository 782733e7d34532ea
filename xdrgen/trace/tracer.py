"""The trace itself: pieces of a connection in, filtered lines out.

The proxy, the capture reader (and later our own client and server) hand
it what they saw; it names the messages from the catalog, decodes payloads
when they are shown, and writes one line per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TextIO

from .framing import Header, Piece
from .lines import LineFormatter, finish_line, line_middle
from .matching import Filter
from .message import Codecs, TraceMessage


class LineSink(Protocol):
    """Where the tracer's lines go: :class:`Output`, or log records."""

    pending: bool

    def line(self, text: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Output:
    """Lines to a text stream.  Writes are buffered; :meth:`flush` pushes
    them out (the proxy does so at most every few tens of milliseconds, so
    a busy connection costs no write per message)."""

    def __init__(self, stream: TextIO, *, owned: bool = False) -> None:
        self._stream = stream
        self._owned = owned
        self.pending = False

    def line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self.pending = True

    def flush(self) -> None:
        if self.pending:
            self.pending = False
            self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self._owned:
            self._stream.close()


class Tracer:
    """Names, filters, formats and writes.  ``payload`` (the formatter's)
    decides whether messages are decoded at all."""

    def __init__(self, codecs: Codecs, formatter: LineFormatter, output: LineSink, filter: Filter | None = None) -> None:
        self.codecs = codecs
        self.formatter = formatter
        self.output = output
        self.filter = filter or Filter()
        self._plain = not (formatter.json or formatter.payload)
        self._middles: dict[tuple[int, int, int, str, str], str] = {}

    def _middle(self, header: Header) -> str:
        """``remote.1.connect_open(call, ok, `` -- or "" when the filter
        hides such messages."""
        program, procedure = self.codecs.catalog.names(header.program, header.version, header.procedure)
        return line_middle(program, procedure, header) if self.filter.shows(program, procedure, header) else ""

    @property
    def wants_payload(self) -> bool:
        return self.formatter.payload

    def opened(self, time: float, conn: int, client: str, server: str) -> None:
        self.output.line(self.formatter.opened(time, conn, client, server))

    def closed(self, time: float, conn: int, client: str, server: str, reason: str = "") -> None:
        self.output.line(self.formatter.closed(time, conn, client, server, reason))

    def note(self, time: float, conn: int, direction: str, text: str) -> None:
        self.output.line(self.formatter.note(time, conn, direction, text))

    def piece(self, conn: int, direction: str, time: float, piece: Piece, notes: Sequence[str] = ()) -> None:
        """Trace one piece of a stream: a message's line, or a line for
        bytes that are not a message (carriers and preambles print none)."""
        header = piece.header
        if header is None:
            if piece.problem is None:
                return
            if piece.size:
                self.output.line(self.formatter.raw(time, conn, direction, piece.size, piece.problem))
            else:
                self.note(time, conn, direction, piece.problem)
            return
        frame = piece.data if self.formatter.payload else None
        self.header(conn, direction, time, header, frame, notes)

    def header(
        self, conn: int, direction: str, time: float, header: Header, frame: bytes | None, notes: Sequence[str] = ()
    ) -> None:
        if self._plain and not notes and header.problem is None:
            # The usual line (the proxy's hot path): its middle part is the
            # same for every message of a procedure, type and status.
            key = (header.program, header.version, header.procedure, header.type, header.status)
            middle = self._middles.get(key)
            if middle is None:
                middle = self._middle(header)
                if len(self._middles) < 65536:
                    self._middles[key] = middle
            if middle:
                self.output.line(finish_line(time, conn, direction, middle, header))
            return
        program, procedure = self.codecs.catalog.names(header.program, header.version, header.procedure)
        if not self.filter.shows(program, procedure, header):
            return
        message = TraceMessage(conn, direction, time, header, program, procedure, frame=frame)
        if frame is not None:
            message.payload, message.undecodable = self.codecs.decode(header, frame)
        elif header.problem is not None:
            message.undecodable = header.problem
        self.output.line(self.formatter.message(message, list(notes)))

    def message(self, message: TraceMessage, notes: Sequence[str] = ()) -> None:
        if not self.filter.shows(message.program_name, message.procedure_name, message.header):
            return
        self.output.line(self.formatter.message(message, list(notes)))
