"""TCP reassembly for captures: segments in any order, retransmitted or
overlapping, become each direction's byte stream again.

Sequence numbers are compared modulo 2**32.  A segment ahead of what is
expected waits (up to :data:`MAX_PENDING` bytes per direction); a segment
wholly behind is a retransmission and is dropped, one that straddles the
expected number is trimmed.  When the bytes in between never come (the
capture lost them: the receiver acknowledged them, or too much waits), the
stream reports a gap of their size and goes on.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MASK = 0xFFFFFFFF
HALF = 1 << 31
MAX_PENDING = 16 * 1024 * 1024


@dataclass(slots=True)
class Gap:
    """``size`` bytes of the stream are missing."""

    size: int


Delivery = bytes | Gap


def _distance(seq: int, base: int) -> int:
    """How far ``seq`` is ahead of ``base`` (negative: behind), mod 2**32."""
    diff = (seq - base) & MASK
    return diff - (1 << 32) if diff >= HALF else diff


@dataclass(slots=True)
class Direction:
    """One direction's bytes, in order."""

    next_seq: int | None = None  # the sequence number of the next byte expected
    fin_seq: int | None = None  # where the stream ends, once a FIN was seen
    finished: bool = False
    pending: dict[int, bytes] = field(default_factory=dict)
    pending_bytes: int = 0

    def syn(self, seq: int) -> None:
        if self.next_seq is None:
            self.next_seq = (seq + 1) & MASK

    def segment(self, seq: int, data: bytes, fin: bool = False) -> list[Delivery]:
        """Take one segment; return what it (and what waited for it) delivers."""
        if self.next_seq is None:  # the capture began after the handshake
            self.next_seq = seq
        if fin:
            self.fin_seq = (seq + len(data)) & MASK
        out: list[Delivery] = []
        if data:
            ahead = _distance(seq, self.next_seq)
            if ahead <= 0:
                self._deliver(data[-ahead:], out)
            elif seq not in self.pending or len(self.pending[seq]) < len(data):
                self.pending_bytes += len(data) - len(self.pending.get(seq, b""))
                self.pending[seq] = data
            self._drain(out)
            if self.pending_bytes > MAX_PENDING:
                self._skip_gap(out)
        self._check_end()
        return out

    def acked(self, ack: int) -> list[Delivery]:
        """The receiver acknowledged the bytes before ``ack``: a hole before
        waiting data that it covers was lost by the capture, not by the
        network, and will not come again; stop waiting for it."""
        out: list[Delivery] = []
        if self.next_seq is None or not self.pending or _distance(ack, self.next_seq) <= 0:
            return out
        first = min(_distance(seq, self.next_seq) for seq in self.pending)
        if first <= _distance(ack, self.next_seq):
            self._skip_gap(out)
            self._check_end()
        return out

    def flush(self) -> list[Delivery]:
        """The capture ended: deliver what waits, with the gaps before it."""
        out: list[Delivery] = []
        while self.pending:
            self._skip_gap(out)
        self._check_end()
        return out

    def _deliver(self, data: bytes, out: list[Delivery]) -> None:
        if data and self.next_seq is not None:
            out.append(data)
            self.next_seq = (self.next_seq + len(data)) & MASK

    def _drain(self, out: list[Delivery]) -> None:
        """Deliver waiting segments that now join on (or overlap) the stream."""
        while self.pending and self.next_seq is not None:
            best = None
            for seq in self.pending:
                if _distance(seq, self.next_seq) <= 0:
                    best = seq
                    break
            if best is None:
                return
            data = self.pending.pop(best)
            self.pending_bytes -= len(data)
            ahead = _distance(best, self.next_seq)
            self._deliver(data[-ahead:] if ahead else data, out)

    def _skip_gap(self, out: list[Delivery]) -> None:
        assert self.next_seq is not None
        first = min(self.pending, key=lambda seq: _distance(seq, self.next_seq or 0))
        out.append(Gap(_distance(first, self.next_seq)))
        self.next_seq = first
        self._drain(out)

    def _check_end(self) -> None:
        if self.fin_seq is not None and self.next_seq == self.fin_seq and not self.pending:
            self.finished = True
