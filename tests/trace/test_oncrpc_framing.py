"""RFC 5531 for the tracer: records split anywhere and in several
fragments, replies named after their calls by XID (bounded), AUTH_SYS and
every status shown, UDP datagrams, lost bytes, messages framed again."""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

import pytest

_ONC_TESTS = str(Path(__file__).resolve().parent.parent / "oncrpc")
if _ONC_TESTS not in sys.path:
    sys.path.insert(0, _ONC_TESTS)

from toy import TOYPROC_ADD, TOYPROC_ECHO, TOYPROC_WHOAMI, Identity, ToyV3Handler  # noqa: E402

from xdrgen.runtime.oncrpc import AcceptStat, AuthStat, AuthSys, errors, messages  # noqa: E402
from xdrgen.runtime.oncrpc.record import finish_record  # noqa: E402
from xdrgen.runtime.oncrpc.tracing import MAX_CALLS, program_name  # noqa: E402
from xdrgen.trace import Catalog, Codecs, LineFormatter, Output, Tracer  # noqa: E402
from xdrgen.trace.catalog import _program  # noqa: E402
from xdrgen.trace.framing import CLIENT_TO_SERVER as C2S  # noqa: E402
from xdrgen.trace.framing import SERVER_TO_CLIENT as S2C  # noqa: E402
from xdrgen.trace.framing import Piece  # noqa: E402
from xdrgen.trace.oncrpc import OncRpcFraming  # noqa: E402

PROG, VERS = ToyV3Handler.PROGRAM, ToyV3Handler.VERSION
SYS = AuthSys(7, "box", 1000, 100, (4, 24))
CATALOG = Catalog([_program(ToyV3Handler, {})])


def call(xid: int, procedure: object = TOYPROC_ADD, args: tuple[object, ...] = (2, 3), auth: bytes = bytes(16)) -> bytes:
    message = messages.start_call(xid, PROG, VERS, procedure.number, auth)  # type: ignore[attr-defined]
    procedure.pack_args(args, message)  # type: ignore[attr-defined]
    return bytes(message)


def reply(xid: int, result: bytes = struct.pack(">i", 5)) -> bytes:
    return bytes(messages.success_reply(xid)) + result


def record(message: bytes, fragment: int | None = None) -> bytes:
    return bytes(finish_record(bytearray(4) + message, fragment))


def split(framing: OncRpcFraming, direction: str, chunks: list[bytes], session: object = None, keep: bool = True) -> list[Piece]:
    session = session or framing.session(CATALOG.knows)
    splitter = session.splitter(direction, keep=keep)  # type: ignore[attr-defined]
    pieces = []
    for chunk in chunks:
        pieces += splitter.feed(chunk)
    return pieces + splitter.end()


def lines(pieces_by_direction: list[tuple[str, list[Piece]]], payload: bool = False) -> list[str]:
    out: list[str] = []

    class Lines(Output):
        def line(self, text: str) -> None:
            out.extend(text.split("\n"))

    tracer = Tracer(Codecs(CATALOG, OncRpcFraming()), LineFormatter(payload=payload), Lines(sys.stdout))
    for direction, pieces in pieces_by_direction:
        for piece in pieces:
            tracer.piece(1, direction, 0.0, piece)
    return [re.sub(r"^\s*\d+\.\d{3} 1 ", "", line) for line in out]


def test_program_names_drop_the_version() -> None:
    assert program_name("MountV3Handler", 3) == "mount"
    assert program_name("ToyV3AsyncClient", 3) == "toy"
    assert program_name("RemoteHandler", 1) == "remote"
    assert program_name("Rpcbvers4Handler", 4) == "rpcbvers"
    assert program_name("NfsV3Handler", 4) == "nfsv3"  # only its own version goes


@pytest.mark.parametrize("fragment", [None, 1, 7, 64])
def test_records_split_anywhere_name_replies_by_xid(fragment: int | None) -> None:
    framing = OncRpcFraming()
    session = framing.session(CATALOG.knows)
    calls = record(call(0x1234, auth=SYS.encode()), fragment) + record(call(0x1235, TOYPROC_ECHO, ("hi",)), fragment)
    answers = record(reply(0x1235, b"\0\0\0\2HI\0\0"), fragment) + record(reply(0x1234), fragment)
    bytewise = [calls[i : i + 1] for i in range(len(calls))]
    out = lines([(C2S, split(framing, C2S, bytewise, session)), (S2C, split(framing, S2C, [answers], session))], payload=True)
    frags = "" if fragment is None else f" frags={-(-len(call(0x1234, auth=SYS.encode())) // fragment)}"
    assert out[0] == f"> toy.3.toyproc_add(call, ok, 0x00001234) len=80 auth=sys(uid=1000,gid=100,gids=[4,24],host=box){frags}"
    assert out[1].strip() == "(2, 3)"
    assert out[2].startswith("> toy.3.toyproc_echo(call, ok, 0x00001235) len=48") and out[3].strip() == "'hi'"
    # replies in another order than their calls, named by XID
    assert out[4].startswith("< toy.3.toyproc_echo(reply, success, 0x00001235) len=32") and out[5].strip() == "'HI'"
    assert out[6].startswith("< toy.3.toyproc_add(reply, success, 0x00001234) len=28") and out[7].strip() == "5"


def test_every_status_shown() -> None:
    framing = OncRpcFraming()
    session = framing.session(CATALOG.knows)
    xids = range(1, 8)
    split(framing, C2S, [record(call(x)) for x in xids], session)
    replies = [
        messages.accepted_reply(1, AcceptStat.PROG_MISMATCH, (2, 3)),
        messages.accepted_reply(2, AcceptStat.PROC_UNAVAIL),
        messages.accepted_reply(3, AcceptStat.GARBAGE_ARGS),
        messages.accepted_reply(4, AcceptStat.SYSTEM_ERR),
        messages.error_reply(5, errors.RpcMismatch(2, 2)),
        messages.auth_error_reply(6, AuthStat.AUTH_TOOWEAK),
        messages.accepted_reply(7, AcceptStat.PROG_UNAVAIL),
    ]
    out = lines([(S2C, split(framing, S2C, [record(bytes(r)) for r in replies], session))])
    assert out == [
        "< toy.3.toyproc_add(reply, prog_mismatch, 0x00000001) len=32 versions=2-3",
        "< toy.3.toyproc_add(reply, proc_unavail, 0x00000002) len=24",
        "< toy.3.toyproc_add(reply, garbage_args, 0x00000003) len=24",
        "< toy.3.toyproc_add(reply, system_err, 0x00000004) len=24",
        "< toy.3.toyproc_add(reply, rpc_mismatch, 0x00000005) len=24 versions=2-2",
        "< toy.3.toyproc_add(reply, auth_error, 0x00000006) len=20 why=auth_tooweak",
        "< toy.3.toyproc_add(reply, prog_unavail, 0x00000007) len=24",
    ]


def test_a_reply_to_no_call_seen_is_marked() -> None:
    framing = OncRpcFraming()
    out = lines([(S2C, split(framing, S2C, [record(reply(0x99))]))])
    assert out == ["< 0x0.0.0(reply, success, 0x00000099) len=28 [undecodable: no call with this XID seen]"]


def test_calls_remembered_are_bounded() -> None:
    framing = OncRpcFraming()
    session = framing.session(CATALOG.knows)
    split(framing, C2S, [record(call(x)) for x in range(MAX_CALLS + 10)], session)
    first, last = split(framing, S2C, [record(reply(0)), record(reply(MAX_CALLS + 9))], session)
    assert first.header is not None and first.header.problem == "no call with this XID seen"
    assert last.header is not None and last.header.problem is None and last.header.procedure == TOYPROC_ADD.number


def test_datagrams_are_one_message_each_and_may_be_answered_twice() -> None:
    framing = OncRpcFraming().datagrams()
    assert framing is not None and framing.datagrams() is framing
    session = framing.session(CATALOG.knows)
    out = lines([(C2S, split(framing, C2S, [call(5, TOYPROC_WHOAMI, ())], session)),
                 (S2C, split(framing, S2C, [reply(5, Identity(1, 2, 3, "h").encode())] * 2, session))], payload=True)  # fmt: skip
    assert out[0] == "> toy.3.toyproc_whoami(call, ok, 0x00000005) len=40"
    assert out[1] == out[3] == "< toy.3.toyproc_whoami(reply, success, 0x00000005) len=44"
    assert out[2].strip() == "Identity(flavor=1, uid=2, gids=3, machine='h')"
    assert framing.plausible(call(5)) and not framing.plausible(reply(5)) and framing.is_call(call(5))
    assert OncRpcFraming().plausible(record(call(5))) and not OncRpcFraming().plausible(record(call(5))[:27])


def test_headers_only_without_keep_and_unframed_when_broken() -> None:
    framing = OncRpcFraming()
    big = record(call(1, TOYPROC_ECHO, ("x" * 1000,)), 100)
    (piece,) = split(framing, C2S, [big], keep=False)
    assert piece.data is None and piece.header is not None and piece.size == len(big)
    assert piece.header.length == len(big) - 4 * 11 and piece.header.detail == "frags=11"
    pieces = split(framing, C2S, [struct.pack(">I", 0x7FFFFFFF) + b"junk"])
    assert pieces[0].header is None and "no RFC 5531 record marking" in (pieces[0].problem or "")


def test_after_lost_bytes_the_next_call_or_known_reply_is_found() -> None:
    framing = OncRpcFraming()
    session = framing.session(CATALOG.knows)
    splitter = session.splitter(C2S, keep=True)
    splitter.feed(record(call(1))[:10])
    pieces = splitter.gap(100) + splitter.feed(b"\x01" * 37 + record(call(2)) + record(call(3)))
    assert [p.problem for p in pieces if p.header is None] == ["100 bytes lost", "bytes after a gap"]
    assert [p.header.serial for p in pieces if p.header is not None] == [2, 3]
    back = session.splitter(S2C, keep=True)
    back.gap(5)
    found = [p.header.serial for p in back.feed(b"\0" * 9 + record(reply(3))) if p.header is not None]
    assert found == [3]


def test_framed_again_with_lengths_recomputed() -> None:
    framing = OncRpcFraming()
    session = framing.session(CATALOG.knows)
    original = record(call(8, TOYPROC_ECHO, ("hi",), auth=SYS.encode()), 16)
    (piece,) = split(framing, C2S, [original], session)
    assert piece.header is not None and piece.data == original
    codecs = Codecs(CATALOG, framing)
    message = codecs.message(1, C2S, 0.0, piece.header, piece.data)
    assert message.payload == "hi"
    message.payload = "a longer text"
    again = codecs.encode(session, message)
    assert again == record(call(8, TOYPROC_ECHO, ("a longer text",), auth=SYS.encode()))
    # a reply's status changed: built anew
    (answer,) = split(framing, S2C, [record(reply(8, b"\0\0\0\2HI\0\0"))], session)
    assert answer.header is not None and answer.data is not None
    answer.header.status = "system_err"
    assert session.encode(answer.header, b"", answer.data) == record(bytes(messages.accepted_reply(8, AcceptStat.SYSTEM_ERR)))
    answer.header.status = "auth_error"
    with pytest.raises(ValueError, match="accept_stat"):
        session.encode(answer.header, b"", answer.data)
