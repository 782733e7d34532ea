"""TCP reassembly: segments in any order, retransmitted, overlapping,
across the wrap of sequence numbers, and lost."""

from __future__ import annotations

import random

import pytest

from xdrgen.trace.reassembly import MAX_PENDING, Direction, Gap

DATA = bytes(range(256)) * 40


def segments(start: int, sizes: list[int]) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    for size in sizes:
        out.append(((start + offset) & 0xFFFFFFFF, DATA[offset : offset + size]))
        offset += size
    return out


def joined(direction: Direction, segs: list[tuple[int, bytes]]) -> bytes:
    out = []
    for seq, data in segs:
        for item in direction.segment(seq, data):
            assert not isinstance(item, Gap)
            out.append(item)
    return b"".join(out)


@pytest.mark.parametrize("isn", [1000, 0xFFFFFFFF - 3000])  # the second wraps around
def test_out_of_order_and_retransmitted_segments(isn: int) -> None:
    segs = segments(isn + 1, [100, 700, 1, 1448, 3000, 2, 4989])
    rng = random.Random(5)
    shuffled = segs[:1] + rng.sample(segs[1:], len(segs) - 1)
    shuffled += rng.sample(segs, 3)  # retransmissions, after everything
    shuffled.insert(3, segs[1])  # ... and in between
    direction = Direction()
    direction.syn(isn)
    assert joined(direction, shuffled) == DATA[:10240]


def test_overlapping_segments_are_trimmed() -> None:
    direction = Direction()
    direction.syn(99)
    got = joined(direction, [(100, DATA[:50]), (130, DATA[30:90]), (80 + 100, DATA[80:120]), (150, DATA[50:60])])
    assert got == DATA[:120]


def test_a_capture_that_starts_mid_stream() -> None:
    direction = Direction()
    assert joined(direction, [(5000, DATA[:10]), (5010, DATA[10:20])]) == DATA[:20]


def test_lost_bytes_become_a_gap_at_the_end() -> None:
    direction = Direction()
    direction.syn(0)
    assert direction.segment(1, DATA[:10]) == [DATA[:10]]
    assert direction.segment(31, DATA[30:40]) == []  # 10..30 never come
    assert direction.flush() == [Gap(20), DATA[30:40]]


def test_an_acknowledged_hole_is_a_gap_at_once() -> None:
    """The receiver acknowledged bytes the capture lacks: they were lost by
    the capture and will not be sent again."""
    direction = Direction()
    direction.syn(0)
    direction.segment(1, DATA[:10])
    assert direction.segment(31, DATA[30:40]) == []
    assert direction.acked(11) == []  # nothing beyond what arrived
    assert direction.acked(41) == [Gap(20), DATA[30:40]]
    assert direction.segment(41, DATA[40:45]) == [DATA[40:45]]


def test_too_much_waiting_data_skips_the_gap() -> None:
    direction = Direction()
    direction.syn(0)
    chunk = b"z" * 65536
    out = []
    seq = 1 + 100  # the first 100 bytes are lost
    while not out:
        out = direction.segment(seq, chunk)
        seq += len(chunk)
    assert isinstance(out[0], Gap) and out[0].size == 100
    assert sum(len(item) for item in out[1:] if isinstance(item, bytes)) > MAX_PENDING


def test_fin_ends_the_direction_once_everything_arrived() -> None:
    direction = Direction()
    direction.syn(0)
    direction.segment(11, DATA[10:20], fin=True)
    assert not direction.finished
    assert direction.segment(1, DATA[:10]) == [DATA[:10], DATA[10:20]]
    assert direction.finished
