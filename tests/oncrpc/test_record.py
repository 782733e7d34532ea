"""Record marking (RFC 5531 section 11): framing, cutting a stream into
records however it arrives, and the size limit."""

from __future__ import annotations

import pytest

from xdrgen.runtime.oncrpc.record import MARK_SIZE, RecordReader, finish_record
from xdrgen.runtime.xdr import XdrError


def framed(payload: bytes, fragment_size: int | None = None) -> bytes:
    return bytes(finish_record(bytearray(MARK_SIZE) + payload, fragment_size))


def test_one_fragment_is_marked_in_place() -> None:
    message = bytearray(4) + b"abcdefgh"
    assert finish_record(message) is message
    assert bytes(message) == bytes.fromhex("80000008") + b"abcdefgh"


def test_large_records_are_sent_in_fragments_when_asked() -> None:
    assert framed(b"abcdefghij", 4) == (
        bytes.fromhex("00000004") + b"abcd" + bytes.fromhex("00000004") + b"efgh" + bytes.fromhex("80000002") + b"ij"
    )
    assert framed(b"abcdefgh", 4) == bytes.fromhex("00000004") + b"abcd" + bytes.fromhex("80000004") + b"efgh"
    assert framed(b"abcd", 4) == bytes.fromhex("80000004") + b"abcd"
    assert framed(b"", 4) == bytes.fromhex("80000000")


def test_records_come_out_whole_whatever_the_pieces() -> None:
    records = [b"first record", b"", bytes(range(256)) * 5, b"x" * 3]
    stream = framed(records[0]) + framed(records[1]) + framed(records[2], 100) + framed(records[3], 1)
    for size in (1, 2, 3, 5, 7, 64, len(stream)):
        reader = RecordReader()
        out = []
        for start in range(0, len(stream), size):
            out += reader.feed(stream[start : start + size])
        assert out == records, size
        assert reader.buffered == 0


def test_many_records_in_one_piece() -> None:
    reader = RecordReader()
    assert reader.feed(b"".join(framed(bytes([n]) * n) for n in range(50))) == [bytes([n]) * n for n in range(50)]


def test_memoryview_input() -> None:
    data = framed(b"hello")
    assert RecordReader().feed(memoryview(data)[:3]) == []
    reader = RecordReader()
    assert reader.feed(memoryview(data)) == [b"hello"]


def test_the_limit_is_checked_before_the_bytes_arrive() -> None:
    reader = RecordReader(max_record=1000)
    with pytest.raises(XdrError, match="record of more than 1000 bytes"):
        reader.feed(bytes.fromhex("800003e9"))  # a single 1001-byte fragment announced
    reader = RecordReader(max_record=1000)
    assert reader.feed(framed(bytes(1000))) == [bytes(1000)]  # exactly the limit is fine
    with pytest.raises(XdrError, match="record of more than"):
        RecordReader(max_record=1000).feed(bytes.fromhex("ffffffff"))


def test_the_limit_counts_every_fragment_of_a_record() -> None:
    reader = RecordReader(max_record=10)
    assert reader.feed(bytes.fromhex("00000006") + b"abcdef") == []
    with pytest.raises(XdrError, match="6 \\+ fragment of 5"):
        reader.feed(bytes.fromhex("80000005"))
    # the fragments of the last record do not count against the next
    reader = RecordReader(max_record=10)
    assert reader.feed(framed(b"0123456789", 3) + framed(b"0123456789", 5)) == [b"0123456789"] * 2


def test_what_is_held_grows_only_with_what_arrived() -> None:
    reader = RecordReader(max_record=1 << 30)
    assert reader.feed(bytes.fromhex("80100000") + bytes(10)) == []  # a 1 MiB fragment announced
    assert reader.buffered == 14
    assert reader.feed(bytes(100)) == []
    assert reader.buffered == 114
    assert reader.feed(bytes(0x100000 - 110)) == [bytes(0x100000)]
    assert reader.buffered == 0
