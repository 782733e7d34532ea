"""Rules that change messages: parsing them, and what comes out for one
message (dropped, held back, rewritten with every length right, or passed
on untouched when it cannot be decoded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vp
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType, encode_message, parse_frame
from xdrgen.trace import Catalog, Codecs, LibvirtFraming, TraceMessage
from xdrgen.trace.rewrite import Outgoing, Rewriter, RuleError, Rules
from xdrgen.trace.virnet import parse_header

REMOTE = rp.REMOTE_PROGRAM
LOOKUP = rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME
FRAMING = LibvirtFraming()


@pytest.fixture(scope="module")
def codecs() -> Codecs:
    return Codecs(Catalog.from_package("libvirt_rpc"), FRAMING)


def error_reply(text: str, proc: int = LOOKUP) -> bytes:
    error = vp.VirNetMessageError(42, 12, text, 2, None, "Domain not found", None, None, -1, -1, None)
    return bytes(encode_message(REMOTE, 1, proc, MessageType.REPLY, 7, MessageStatus.ERROR, error))


def apply(codecs: Codecs, rules: Rules, frame: bytes, direction: str = "<") -> Outgoing:
    message = codecs.message(1, direction, 0.0, parse_header(frame), None)
    message.frame = frame
    return Rewriter(rules, codecs).apply(FRAMING.session(), message)


def test_rules_parse() -> None:
    rules = Rules.parse(["domain_lookup_by_name=a=b"], ["keepalive.*"], ["domain_get_info:reply=0.5"])
    assert rules.errors[0][1] == "a=b" and rules.errors[0][0].procedure == "domain_lookup_by_name"
    assert rules.drops[0].program == "keepalive"
    assert rules.delays[0][1] == 0.5 and rules.delays[0][0].type == "reply"
    assert not Rules() and rules
    for bad in (dict(errors=["x"]), dict(delays=["x=soon"]), dict(delays=["x=-1"]), dict(rewrite_file="/nonexistent.py")):
        with pytest.raises(RuleError):
            Rules.parse(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [1, 2, 3, 7, 64, 301])
def test_error_text_replaced_with_lengths_recomputed(codecs: Codecs, length: int) -> None:
    text = "é" * (length // 2) + "x" * (length - length // 2)  # multi-byte UTF-8 too
    out = apply(codecs, Rules.parse([f"domain_lookup_by_name={text}"]), error_reply("Domain not found: nosuch"))
    ((data, sent),) = out.frames
    message = parse_frame(data)  # the runtime's own checks: length word, header
    assert vp.VirNetMessageError.decode(message.payload).message == text
    assert sent.header.length == len(data)
    assert out.notes == [f"rewritten, was len={len(error_reply('Domain not found: nosuch'))}"]


def test_error_rule_leaves_other_messages_alone(codecs: Codecs) -> None:
    rules = Rules.parse(["domain_lookup_by_name=x"])
    other = error_reply("no", proc=rp.REMOTE_PROC_DOMAIN_GET_INFO)
    assert apply(codecs, rules, other).frames[0][0] is other
    ok = bytes(encode_message(REMOTE, 1, LOOKUP, MessageType.REPLY, 7, MessageStatus.OK,
                              rp.RemoteDomainLookupByNameRet(rp.RemoteNonnullDomain("t", b"u" * 16, 1))))  # fmt: skip
    out = apply(codecs, rules, ok)
    assert out.frames[0][0] is ok and out.notes == []


def test_drop_and_delay(codecs: Codecs) -> None:
    frame = error_reply("x")
    assert apply(codecs, Rules.parse(drops=["domain_lookup_*:reply"]), frame).frames == []
    out = apply(codecs, Rules.parse(delays=["domain_lookup_by_name=0.25"]), frame)
    assert out.frames[0][0] is frame and out.delay == 0.25 and out.notes == ["delayed 0.25s"]
    assert apply(codecs, Rules.parse(drops=["domain_lookup_by_name:call"]), frame).frames[0][0] is frame


def rules_from(tmp_path: Path, source: str) -> Rules:
    path = tmp_path / "rules.py"
    path.write_text(source)
    return Rules.parse(rewrite_file=str(path))


def test_rewrite_function_changes_replaces_or_drops(codecs: Codecs, tmp_path: Path) -> None:
    hostname = bytes(encode_message(REMOTE, 1, rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, MessageType.REPLY, 3,
                                    MessageStatus.OK, rp.RemoteConnectGetHostnameRet("vm")))  # fmt: skip
    rules = rules_from(tmp_path, (
        "def rewrite(message):\n"
        "    if message.procedure_name == 'connect_get_hostname':\n"
        "        message.payload.hostname = 'a-much-longer-host-name.example'\n"
        "    if message.procedure_name == 'domain_lookup_by_name':\n"
        "        return None\n"
        "    return message\n"
    ))  # fmt: skip
    ((data, _),) = apply(codecs, rules, hostname).frames
    assert rp.RemoteConnectGetHostnameRet.decode(parse_frame(data).payload).hostname == "a-much-longer-host-name.example"
    assert apply(codecs, rules, error_reply("x")).frames == []
    open_call = bytes(encode_message(REMOTE, 1, 1, MessageType.CALL, 1, MessageStatus.OK,
                                     rp.RemoteConnectOpenArgs("test:///default", 0)))  # fmt: skip
    out = apply(codecs, rules, open_call, ">")
    assert out.frames[0][0] is open_call and out.notes == []  # unchanged: the very bytes that came


def test_rewrite_function_can_return_several(codecs: Codecs, tmp_path: Path) -> None:
    rules = rules_from(tmp_path, (
        "def rewrite(message):\n"
        "    other = message.copy()\n"
        "    other.header.serial = 99\n"
        "    return [message, other]\n"
    ))  # fmt: skip
    frame = error_reply("x")
    out = apply(codecs, rules, frame)
    assert [parse_frame(data).serial for data, _ in out.frames] == [7, 99]


def test_undecodable_messages_pass_untouched(codecs: Codecs, tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "def rewrite(message):\n    raise AssertionError('not called')\n")
    garbage = bytes(encode_message(REMOTE, 1, LOOKUP, MessageType.CALL, 1, MessageStatus.OK, b"\xff" * 9))
    out = apply(codecs, rules, garbage, ">")
    assert out.frames[0][0] is garbage
    assert out.frames[0][1].undecodable is not None


def test_a_failing_rewrite_function_passes_the_message_on(codecs: Codecs, tmp_path: Path) -> None:
    rules = rules_from(tmp_path, "def rewrite(message):\n    return 1 / 0\n")
    frame = error_reply("x")
    out = apply(codecs, rules, frame)
    assert out.frames[0][0] is frame and out.notes == ["rewrite failed: ZeroDivisionError"]
    rules = rules_from(tmp_path, "def rewrite(message):\n    message.payload.code = 'x'\n    return message\n")
    out = apply(codecs, rules, frame)
    assert out.frames[0][0] is frame and out.notes[0].startswith("rewrite not encodable")


def test_trace_message_helpers(codecs: Codecs) -> None:
    message: TraceMessage = codecs.message(1, "<", 0.0, parse_header(error_reply("x")), error_reply("x"))
    assert message.is_reply and message.is_error and not message.is_call
    assert message.payload.message == "x"
