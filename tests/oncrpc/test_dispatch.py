"""From call bytes to reply bytes: every reply a server gives, in RFC 5531's
order of checks, without sockets."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pytest
from toy import TOY_PROGRAM, TOYPROC_ADD, Identity, Toy, ToyV2, ToyV3Handler

from xdrgen.runtime.oncrpc import (
    AUTH_NONE,
    AcceptStat,
    Auth,
    AuthStat,
    AuthSys,
    Call,
    Handler,
    OpaqueAuth,
    Procedure,
    RawAuth,
    messages,
)
from xdrgen.runtime.oncrpc.dispatch import Dispatcher

DISPATCHER = Dispatcher([Toy(), ToyV2()])
PEER = ("192.0.2.1", 700)


def call_bytes(
    proc: int,
    body: bytes = b"",
    *,
    prog: int = TOY_PROGRAM,
    vers: int = 3,
    auth: Auth = AUTH_NONE,
    rpcvers: int = 2,
    xid: int = 0x0A0B0C0D,
) -> bytes:
    message = messages.start_call(xid, prog, vers, proc, auth.encode())
    message[8:12] = rpcvers.to_bytes(4, "big")
    return bytes(message + body)


def answer(message: bytes, dispatcher: Dispatcher = DISPATCHER) -> bytes | None:
    result = dispatcher.dispatch(message, PEER, "tcp")
    if result is None or isinstance(result, bytearray):
        return None if result is None else bytes(result)
    assert inspect.iscoroutine(result)
    reply = asyncio.run(result)
    return None if reply is None else bytes(reply)


def accepted(stat: AcceptStat, extra: str = "", xid: int = 0x0A0B0C0D) -> bytes:
    return bytes.fromhex(f"{xid:08x} 00000001 00000000 00000000 00000000 {stat:08x} {extra}")


def denied_auth(stat: AuthStat) -> bytes:
    return bytes.fromhex(f"0a0b0c0d 00000001 00000001 00000001 {stat:08x}")


def test_success_carries_the_result() -> None:
    reply = answer(call_bytes(2, bytes.fromhex("00000002 00000005")))
    assert reply == accepted(AcceptStat.SUCCESS, "00000007")


def test_null_is_answered_for_every_version_served() -> None:
    for vers in (2, 3):
        assert answer(call_bytes(0, vers=vers)) == accepted(AcceptStat.SUCCESS)
    # also when the handler lists no procedure 0 at all
    class Bare(Handler):
        PROGRAM = 1234
        VERSION = 1

    assert answer(call_bytes(0, prog=1234, vers=1), Dispatcher([Bare()])) == accepted(AcceptStat.SUCCESS)
    # NULL takes no arguments
    assert answer(call_bytes(0, b"\0\0\0\0")) == accepted(AcceptStat.GARBAGE_ARGS)


def test_null_answers_what_an_override_says() -> None:
    class Closed(Toy):
        async def toyproc_null(self, call: Call) -> None:
            raise AssertionError("maintenance")

    assert answer(call_bytes(0), Dispatcher([Closed()])) == accepted(AcceptStat.SYSTEM_ERR)


def test_rpc_version_other_than_2() -> None:
    reply = answer(call_bytes(0, rpcvers=3))
    assert reply == bytes.fromhex("0a0b0c0d 00000001 00000001 00000000 00000002 00000002")


def test_program_unavailable() -> None:
    assert answer(call_bytes(0, prog=TOY_PROGRAM + 1)) == accepted(AcceptStat.PROG_UNAVAIL)


@pytest.mark.parametrize("vers", [1, 4, 0xFFFFFFFF])
def test_program_mismatch_gives_the_versions_served(vers: int) -> None:
    assert answer(call_bytes(0, vers=vers)) == accepted(AcceptStat.PROG_MISMATCH, "00000002 00000003")


@pytest.mark.parametrize("proc", [8, 9, 1000])
def test_procedure_unavailable(proc: int) -> None:
    # 8 is listed but not implemented, 9 and 1000 are not listed
    assert answer(call_bytes(proc)) == accepted(AcceptStat.PROC_UNAVAIL)


def test_an_unimplemented_procedure_is_never_called() -> None:
    class Generated(ToyV3Handler):
        pass

    assert answer(call_bytes(1, bytes.fromhex("00000001 61000000")), Dispatcher([Generated()])) == accepted(
        AcceptStat.PROC_UNAVAIL
    )


@pytest.mark.parametrize(
    "body",
    [
        "",  # nothing
        "00000001",  # one of two ints
        "00000001 00000002 00000003",  # a trailing word
        "00000001 00000002 00",  # a trailing byte
    ],
)
def test_garbage_arguments(body: str) -> None:
    assert answer(call_bytes(2, bytes.fromhex(body))) == accepted(AcceptStat.GARBAGE_ARGS)


def test_garbage_strings() -> None:
    too_long = (1025).to_bytes(4, "big") + bytes(1028)
    not_utf8 = bytes.fromhex("00000001 ff000000")
    for body in (too_long, not_utf8):
        assert answer(call_bytes(1, body)) == accepted(AcceptStat.GARBAGE_ARGS)


@pytest.mark.parametrize(
    ("how", "reply"),
    [
        (1, accepted(AcceptStat.PROG_UNAVAIL)),
        (2, accepted(AcceptStat.PROC_UNAVAIL)),
        (3, accepted(AcceptStat.GARBAGE_ARGS)),
        (4, accepted(AcceptStat.SYSTEM_ERR)),
        (5, denied_auth(AuthStat.AUTH_TOOWEAK)),
        (6, accepted(AcceptStat.SYSTEM_ERR)),  # a bug: logged
        (7, accepted(AcceptStat.SYSTEM_ERR)),  # a result that cannot be encoded: logged
    ],
)
def test_what_handlers_raise(how: int, reply: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert answer(call_bytes(5, how.to_bytes(4, "big"))) == reply
    assert bool(caplog.records) == (how >= 6)


# ---- credentials ----------------------------------------------------------------


def whoami(auth: Auth) -> Identity | bytes:
    reply = answer(call_bytes(3, auth=auth))
    assert reply is not None
    try:
        return Procedure(3, "W", "w", (), Identity).decode_reply(reply)
    except Exception:
        return reply


def test_the_handler_sees_the_credentials_sent() -> None:
    assert whoami(AUTH_NONE) == Identity(0, 0, 0, "tcp 192.0.2.1")
    assert whoami(AuthSys(1, "client.example", 1000, 100, (4, 24, 27))) == Identity(1, 1000, 3, "client.example")


def test_the_call_carries_everything() -> None:
    seen: list[Call] = []

    class Recorder(Toy):
        async def toyproc_add(self, call: Call, a: int, b: int) -> int:
            seen.append(call)
            return 0

    cred = AuthSys(7, "m", 1, 2)
    answer(call_bytes(2, bytes(8), auth=cred, xid=99), Dispatcher([Recorder()]))
    assert seen == [Call(99, TOY_PROGRAM, 3, 2, cred, OpaqueAuth(0), PEER, "tcp")]


@pytest.mark.parametrize(
    ("auth", "stat"),
    [
        (RawAuth(OpaqueAuth(2, b"shorthand")), AuthStat.AUTH_REJECTEDCRED),  # AUTH_SHORT: stale
        (RawAuth(OpaqueAuth(3, b"dh")), AuthStat.AUTH_BADCRED),  # AUTH_DH: not served
        (RawAuth(OpaqueAuth(6, b"gss")), AuthStat.AUTH_BADCRED),  # RPCSEC_GSS: not served
        (RawAuth(OpaqueAuth(0x7777, b"")), AuthStat.AUTH_BADCRED),  # unknown
        (RawAuth(OpaqueAuth(0, b"junk")), AuthStat.AUTH_BADCRED),  # AUTH_NONE with a body
        (RawAuth(OpaqueAuth(1, b"\0\0\0\1")), AuthStat.AUTH_BADCRED),  # AUTH_SYS cut short
        (RawAuth(OpaqueAuth(1, AuthSys(1, "m", 2, 3).encode_body() + bytes(4))), AuthStat.AUTH_BADCRED),
        (RawAuth(OpaqueAuth(0), OpaqueAuth(1, b"")), AuthStat.AUTH_BADVERF),  # verifier not AUTH_NONE
        (RawAuth(OpaqueAuth(0), OpaqueAuth(0, b"abcd")), AuthStat.AUTH_BADVERF),
        (RawAuth(AuthSys(1, "m", 2, 3).credential, OpaqueAuth(2, b"x")), AuthStat.AUTH_BADVERF),
    ],
)
def test_credentials_refused(auth: Auth, stat: AuthStat) -> None:
    assert whoami(auth) == denied_auth(stat)


def test_credential_checks_come_before_the_program() -> None:
    auth = RawAuth(OpaqueAuth(2, b"shorthand"))
    assert answer(call_bytes(0, prog=1, auth=auth)) == denied_auth(AuthStat.AUTH_REJECTEDCRED)


def test_oversized_credential_and_verifier() -> None:
    head = call_bytes(3)[:24]
    big = (401).to_bytes(4, "big") + bytes(404)
    assert answer(head + b"\0\0\0\1" + big + bytes(8)) == denied_auth(AuthStat.AUTH_BADCRED)
    assert answer(head + bytes(8) + b"\0\0\0\0" + big) == denied_auth(AuthStat.AUTH_BADVERF)
    assert answer(head + bytes(8) + b"\0\0\0\0") == denied_auth(AuthStat.AUTH_BADVERF)  # verifier cut short
    assert answer(head + b"\0\0\0\1\0\0\0\x08\0\0") == denied_auth(AuthStat.AUTH_BADCRED)  # credential cut short


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\0\0\0\1",
        bytes.fromhex("00000001 00000001 00000000 00000000 00000000 00000000"),  # a reply
        bytes.fromhex("00000001 00000002 00000002 00000000 00000000 00000000"),  # neither
        call_bytes(0)[:20],  # stops inside the header
    ],
)
def test_no_reply_to_what_is_no_call(message: bytes) -> None:
    assert DISPATCHER.dispatch(message, PEER, "udp") is None


def test_reserve_leaves_room_for_the_record_mark() -> None:
    reply = DISPATCHER.dispatch(call_bytes(0), PEER, "tcp", reserve=4)
    assert isinstance(reply, bytearray) and bytes(reply) == bytes(4) + accepted(AcceptStat.SUCCESS)


# ---- handler tables ---------------------------------------------------------------


def test_mistakes_in_handler_tables_are_reported_up_front() -> None:
    class Blocking(Toy):
        def toyproc_add(self, call: Call, a: int, b: int) -> int:  # type: ignore[override]
            return a + b

    with pytest.raises(TypeError, match="must be a coroutine function"):
        Dispatcher([Blocking()])

    class Missing(Handler):
        PROGRAM = 1
        VERSION = 1
        PROCEDURES = {2: TOYPROC_ADD}

    with pytest.raises(TypeError, match="has no method toyproc_add"):
        Dispatcher([Missing()])

    class Misnumbered(Toy):
        PROCEDURES = {3: TOYPROC_ADD}

    with pytest.raises(ValueError, match=r"PROCEDURES\[3\] is procedure 2"):
        Dispatcher([Misnumbered()])
    with pytest.raises(ValueError, match="two handlers"):
        Dispatcher([Toy(), Toy()])


def test_programs_served() -> None:
    assert sorted(DISPATCHER.programs) == [(TOY_PROGRAM, 2), (TOY_PROGRAM, 3)]

