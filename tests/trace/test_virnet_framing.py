"""libvirt's framing for the tracer: splitting streams however they are cut,
descriptor carriers and TLS confirmations, broken and lost bytes, and
framing a changed message again."""

from __future__ import annotations

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vp
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType, encode_message
from xdrgen.trace.framing import Piece
from xdrgen.trace.virnet import LibvirtFraming, VirNetSplitter, parse_header

REMOTE = rp.REMOTE_PROGRAM


def frame(proc: int, type_: MessageType, serial: int, status: MessageStatus = MessageStatus.OK,
          body: object = None, nfds: int = 0) -> bytes:  # fmt: skip
    return bytes(encode_message(REMOTE, 1, proc, type_, serial, status, body, nfds))  # type: ignore[arg-type]


OPEN = frame(rp.REMOTE_PROC_CONNECT_OPEN, MessageType.CALL, 1, body=rp.RemoteConnectOpenArgs("test:///default", 0))
OPENED = frame(rp.REMOTE_PROC_CONNECT_OPEN, MessageType.REPLY, 1)
WITH_FDS = frame(rp.REMOTE_PROC_DOMAIN_CREATE_XML_WITH_FILES, MessageType.CALL_WITH_FDS, 2,
                 body=rp.RemoteDomainCreateXmlWithFilesArgs("<domain/>", 0), nfds=2)  # fmt: skip
ERROR = frame(rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, MessageType.REPLY, 3, MessageStatus.ERROR,
              body=vp.VirNetMessageError(42, 12, "no domain", 2, None, None, None, None, -1, -1, None))  # fmt: skip
STREAM = frame(rp.REMOTE_PROC_DOMAIN_SCREENSHOT, MessageType.STREAM, 4, MessageStatus.CONTINUE, body=b"x" * 1000)
STREAM_OF = [OPEN, OPENED, WITH_FDS, b"\0\0", ERROR, STREAM]


def split(data: bytes, cuts: list[int], *, keep: bool, preamble: int = 0) -> list[Piece]:
    splitter = VirNetSplitter(keep=keep, preamble=preamble)
    pieces = []
    start = 0
    for end in [*cuts, len(data)]:
        pieces += splitter.feed(data[start:end])
        start = end
    return pieces


def shape(pieces: list[Piece]) -> list[tuple[int, object, object]]:
    """(size, (procedure, type, serial), problem) of each piece; runs of
    plain bytes (carriers) count as one, however they arrived."""
    out: list[tuple[int, object, object]] = []
    for p in pieces:
        if p.header is None and p.problem is None and out and out[-1][1:] == (None, None):
            out[-1] = (out[-1][0] + p.size, None, None)
            continue
        out.append((p.size, p.header and (p.header.procedure, p.header.type, p.header.serial), p.problem))
    return out


@pytest.mark.parametrize("keep", [True, False])
def test_any_cutting_gives_the_same_pieces(keep: bool) -> None:
    data = b"".join(STREAM_OF)
    whole = split(data, [], keep=keep)
    assert shape(whole) == [
        (len(OPEN), (1, "call", 1), None),
        (len(OPENED), (1, "reply", 1), None),
        (len(WITH_FDS), (rp.REMOTE_PROC_DOMAIN_CREATE_XML_WITH_FILES, "call_with_fds", 2), None),
        (2, None, None),  # the descriptors' carrier bytes
        (len(ERROR), (rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, "reply", 3), None),
        (len(STREAM), (rp.REMOTE_PROC_DOMAIN_SCREENSHOT, "stream", 4), None),
    ]
    assert whole[2].header is not None and whole[2].header.nfds == 2
    if keep:
        assert b"".join(p.data or b"" for p in whole) == data
    else:
        assert all(p.data is None for p in whole if p.header)
    for cuts in (list(range(1, len(data))), [3, 30, 31, 100, len(data) - 1], [len(OPEN) + 2]):
        assert shape(split(data, cuts, keep=keep)) == shape(whole)


def test_payload_kinds_follow_type_and_status() -> None:
    kinds = [p.header.payload for p in split(b"".join(STREAM_OF), [], keep=True) if p.header]
    assert kinds == ["args", "result", "args", "error", "stream"]
    assert parse_header(frame(1, MessageType.STREAM, 1, MessageStatus.OK)).payload == "none"
    assert parse_header(frame(1, MessageType.STREAM_HOLE, 1, body=b"\0" * 12)).payload == "hole"
    assert parse_header(frame(107, MessageType.MESSAGE, 0)).payload == "args"


def test_a_preamble_passes_before_the_first_message() -> None:
    pieces = split(b"\x01" + OPEN, [], keep=True, preamble=1)
    assert shape(pieces) == [(1, None, None), (len(OPEN), (1, "call", 1), None)]


def test_an_impossible_length_stops_the_framing_and_passes_the_rest() -> None:
    bad = (12).to_bytes(4, "big") + b"garbage"
    pieces = split(OPEN + bad + OPEN, [len(OPEN) + 2], keep=True)
    assert pieces[0].header is not None
    assert all(p.header is None for p in pieces[1:])
    assert b"".join(p.data or b"" for p in pieces[1:]) == bad + OPEN
    assert pieces[1].problem == "message length 12 is not between 28 and 33554432"


def test_odd_headers_are_marked_not_fatal() -> None:
    odd = bytearray(OPENED)
    odd[16:20] = (9).to_bytes(4, "big")  # message type 9
    pieces = split(bytes(odd) + OPEN, [], keep=True)
    assert pieces[0].problem == "unknown message type 9" and pieces[0].header is not None
    assert pieces[0].header.type == "9"
    assert pieces[1].problem is None


def test_after_a_gap_the_next_plausible_header_is_found() -> None:
    splitter = VirNetSplitter(keep=True, known_program=lambda prog, vers: prog == REMOTE and vers == 1)
    assert splitter.feed(OPEN[:10]) == []
    lost = splitter.gap(50)
    assert [p.size for p in lost] == [10] and lost[0].problem == "50 bytes lost"
    assert [(p.size, p.problem) for p in splitter.gap(8)] == [(0, "8 bytes lost")]  # between messages too
    # the rest of a message whose start was lost, then whole ones
    pieces = splitter.feed(STREAM[-300:] + OPENED + ERROR)
    assert [p.problem for p in pieces] == ["bytes after a gap", None, None]
    assert pieces[0].size == 300
    assert shape(pieces[1:]) == shape(split(OPENED + ERROR, [], keep=True))


def test_the_end_reports_an_incomplete_message() -> None:
    splitter = VirNetSplitter(keep=True)
    splitter.feed(OPEN + OPENED[:7])
    (piece,) = splitter.end()
    assert piece.size == 7 and piece.problem == "incomplete message at the end of the stream"
    assert splitter.end() == []


@pytest.mark.parametrize("length", [1, 2, 3, 7, 64, 301])
def test_encode_recomputes_every_length(length: int) -> None:
    """The student's failure: a new error text of any length frames right."""
    session = LibvirtFraming().session()
    (piece,) = split(ERROR, [], keep=True)
    assert piece.header is not None and piece.data is not None
    error = vp.VirNetMessageError.decode(piece.data[piece.header.offset :])
    error.message = "m" * length
    body = error.encode()
    out = session.encode(piece.header, body, piece.data)
    assert int.from_bytes(out[:4], "big") == len(out) == 28 + len(body)
    assert vp.VirNetMessageError.decode(out[28:]).message == "m" * length
    assert len(out) % 4 == 0


def test_encode_keeps_the_descriptor_count() -> None:
    session = LibvirtFraming().session()
    header = parse_header(WITH_FDS)
    out = session.encode(header, WITH_FDS[header.offset :], WITH_FDS)
    assert out == WITH_FDS


def test_plausible_and_is_call() -> None:
    framing = LibvirtFraming()
    assert framing.plausible(OPEN) and framing.is_call(OPEN)
    assert framing.plausible(OPENED) and not framing.is_call(OPENED)
    assert not framing.plausible(OPEN, lambda prog, vers: False)
    assert not framing.plausible(b"\x16\x03\x01" + bytes(40))  # a TLS client hello
    assert not framing.plausible(OPEN[:27])


def test_a_header_split_across_reads_after_a_gap_is_found() -> None:
    splitter = VirNetSplitter(keep=True, known_program=lambda prog, vers: prog == REMOTE and vers == 1)
    splitter.gap(50)
    # junk, then a header cut in two: its first bytes are kept for the next look
    first = splitter.feed(b"\xff" * 40 + OPENED[:10])
    assert [(p.size, p.problem) for p in first] == [(40 + 10 - 27, "bytes after a gap")]
    rest = splitter.feed(OPENED[10:] + ERROR)
    assert [p.problem for p in rest] == ["bytes after a gap", None, None]
    assert rest[0].size == 27 - 10
    assert shape(rest[1:]) == shape(split(OPENED + ERROR, [], keep=True))


def test_the_end_while_looking_after_a_gap_reports_the_bytes_kept() -> None:
    splitter = VirNetSplitter(keep=True, known_program=lambda prog, vers: prog == REMOTE and vers == 1)
    splitter.gap(50)
    splitter.feed(b"\xff" * 40)
    (piece,) = splitter.end()
    assert piece.size == 27 and piece.data == b"\xff" * 27
    assert piece.problem == "incomplete message at the end of the stream"
    assert splitter.end() == []
