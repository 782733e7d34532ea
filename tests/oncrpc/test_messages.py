"""RFC 5531 messages against byte vectors written out from the RFC's
layouts (section 9 ``rpc_msg``, appendix A ``authsys_parms``)."""

from __future__ import annotations

import pytest

from xdrgen.runtime.oncrpc import (
    AUTH_NONE,
    AcceptStat,
    AuthError,
    AuthStat,
    AuthSys,
    GarbageArguments,
    OpaqueAuth,
    ProcedureUnavailable,
    ProgramMismatch,
    ProgramUnavailable,
    RawAuth,
    RpcMismatch,
    RpcSystemError,
    UINT,
)
from xdrgen.runtime.oncrpc import messages
from xdrgen.runtime.oncrpc.procedures import Procedure
from xdrgen.runtime.xdr import XdrError


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


# xid 0x01020304, CALL, rpcvers 2, NFS (100003) version 3, procedure 1
CALL_HEAD = "01020304 00000000 00000002 000186a3 00000003 00000001"
AUTH_NONE_BYTES = "00000000 00000000 00000000 00000000"  # cred (flavor, length), verf
# authsys_parms: stamp, machinename "myhost" (6 bytes + 2 of padding), uid 1000, gid 100, gids [100, 27]
AUTHSYS_BODY = "12345678 00000006 6d79686f 73740000 000003e8 00000064 00000002 00000064 0000001b"
AUTHSYS = AuthSys(0x12345678, "myhost", 1000, 100, (100, 27))


def test_call_header_with_auth_none() -> None:
    message = messages.start_call(0x01020304, 100003, 3, 1, AUTH_NONE.encode())
    assert bytes(message) == hexbytes(CALL_HEAD + AUTH_NONE_BYTES)


def test_call_header_with_auth_sys() -> None:
    message = messages.start_call(0x01020304, 100003, 3, 1, AUTHSYS.encode(), reserve=4)
    # the credential: flavor AUTH_SYS, 36 bytes of body; then an AUTH_NONE verifier
    expected = "00000000" + CALL_HEAD + "00000001 00000024" + AUTHSYS_BODY + "00000000 00000000"
    assert bytes(message) == hexbytes(expected)


def test_authsys_body_decodes_and_refuses_what_rfc_forbids() -> None:
    assert AuthSys.decode_body(hexbytes(AUTHSYS_BODY)) == AUTHSYS
    assert AUTHSYS.encode_body() == hexbytes(AUTHSYS_BODY)
    with pytest.raises(XdrError, match="trailing"):
        AuthSys.decode_body(hexbytes(AUTHSYS_BODY + "00000000"))
    with pytest.raises(XdrError, match="truncated"):
        AuthSys.decode_body(hexbytes(AUTHSYS_BODY)[:-4])
    seventeen_gids = "12345678 00000000 00000000 00000000 00000011" + "00000001" * 17
    with pytest.raises(XdrError, match="exceeds the maximum 16"):
        AuthSys.decode_body(hexbytes(seventeen_gids))
    long_name = "00000000 00000100" + "61" * 256 + "00000000 00000000 00000000"
    with pytest.raises(XdrError, match="exceeds the maximum 255"):
        AuthSys.decode_body(hexbytes(long_name))
    with pytest.raises(XdrError):
        AuthSys(0, "x" * 256, 0, 0).encode_body()
    with pytest.raises(XdrError):
        AuthSys(0, "x", 0, 0, tuple(range(17))).encode_body()


def test_authsys_local_describes_this_process() -> None:
    import os

    local = AuthSys.local("builder")
    assert (local.uid, local.gid, local.machinename) == (os.getuid(), os.getgid(), "builder")
    assert AuthSys.decode_body(local.encode_body()) == local


def test_opaque_auth_is_bounded_by_400_bytes() -> None:
    RawAuth(OpaqueAuth(6, bytes(400))).encode()
    with pytest.raises(XdrError, match="exceeds the maximum 400"):
        RawAuth(OpaqueAuth(6, bytes(401))).encode()
    with pytest.raises(XdrError, match="exceeds the maximum 400"):
        OpaqueAuth.unpack_from(hexbytes("00000006 00000191") + bytes(404))


# ---- replies ------------------------------------------------------------------

RESULT_UINT = Procedure(1, "GET", "get", (), UINT)
VOID = Procedure(0, "NULL", "null")

SUCCESS_7 = "00000001 00000001 00000000 00000000 00000000 00000000 00000007"


def test_success_reply_known_answer() -> None:
    reply = messages.success_reply(1)
    UINT.pack_into(7, reply)
    assert bytes(reply) == hexbytes(SUCCESS_7)
    assert RESULT_UINT.decode_reply(reply) == 7
    assert messages.reply_xid(reply) == 1


def test_success_reply_with_a_verifier_is_read_past_it() -> None:
    # AUTH_SHORT verifier of 5 bytes (padded to 8), then SUCCESS and the result
    reply = hexbytes("00000009 00000001 00000000 00000002 00000005 0102030405000000 00000000 0000002a")
    assert RESULT_UINT.decode_reply(reply) == 42


@pytest.mark.parametrize(
    ("stat", "error"),
    [
        (AcceptStat.PROG_UNAVAIL, ProgramUnavailable),
        (AcceptStat.PROC_UNAVAIL, ProcedureUnavailable),
        (AcceptStat.GARBAGE_ARGS, GarbageArguments),
        (AcceptStat.SYSTEM_ERR, RpcSystemError),
    ],
)
def test_accepted_errors(stat: AcceptStat, error: type[Exception]) -> None:
    reply = messages.accepted_reply(5, stat)
    assert bytes(reply) == hexbytes(f"00000005 00000001 00000000 00000000 00000000 {stat:08x}")
    with pytest.raises(error):
        VOID.decode_reply(reply)


def test_prog_mismatch_carries_the_versions() -> None:
    reply = messages.accepted_reply(5, AcceptStat.PROG_MISMATCH, (2, 3))
    assert bytes(reply) == hexbytes("00000005 00000001 00000000 00000000 00000000 00000002 00000002 00000003")
    with pytest.raises(ProgramMismatch) as caught:
        VOID.decode_reply(reply)
    assert (caught.value.low, caught.value.high) == (2, 3)


def test_rpc_mismatch_carries_the_versions() -> None:
    reply = messages.rpc_mismatch_reply(5)
    assert bytes(reply) == hexbytes("00000005 00000001 00000001 00000000 00000002 00000002")
    with pytest.raises(RpcMismatch) as caught:
        VOID.decode_reply(reply)
    assert (caught.value.low, caught.value.high) == (2, 2)


@pytest.mark.parametrize("stat", list(AuthStat)[1:])
def test_auth_errors_carry_the_auth_stat(stat: AuthStat) -> None:
    reply = messages.auth_error_reply(5, stat)
    assert bytes(reply) == hexbytes(f"00000005 00000001 00000001 00000001 {stat:08x}")
    with pytest.raises(AuthError) as caught:
        VOID.decode_reply(reply)
    assert caught.value.stat is stat


def test_an_unknown_auth_stat_keeps_its_number() -> None:
    with pytest.raises(AuthError) as caught:
        VOID.decode_reply(messages.auth_error_reply(5, 99))
    assert caught.value.stat == 99


@pytest.mark.parametrize(
    "error",
    [
        ProgramUnavailable(),
        ProgramMismatch(1, 4),
        ProcedureUnavailable(),
        GarbageArguments(),
        RpcSystemError(),
        AuthError(AuthStat.AUTH_TOOWEAK),
        RpcMismatch(2, 2),
    ],
)
def test_error_reply_round_trips_each_error(error: Exception) -> None:
    from xdrgen.runtime.oncrpc import RpcError

    assert isinstance(error, RpcError)
    with pytest.raises(type(error)) as caught:
        VOID.decode_reply(messages.error_reply(3, error))
    assert vars(caught.value) == vars(error)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("00000001 00000001 00000000", "truncated"),  # stops after reply_stat
        ("00000001 00000000 00000000 00000000 00000000 00000000", "not a valid REPLY"),  # a CALL
        ("00000001 00000001 00000002 00000000 00000000 00000000", "not a valid reply_stat"),
        ("00000001 00000001 00000001 00000002 00000000", "not a valid reject_stat"),
        ("00000001 00000001 00000000 00000000 00000000 00000006", "not a valid accept_stat"),
        ("00000001 00000001 00000000 00000000 00000191 00000000", "exceeds the maximum 400"),  # verifier
        ("00000001 00000001 00000000 00000000 00000008 00000000", "truncated"),  # verifier cut short
        ("00000001 00000001 00000000 00000000 00000000 00000002 00000002", "truncated"),  # half a range
        ("00000001 00000001 00000001 00000000 00000002", "truncated"),  # RPC_MISMATCH without high
        (SUCCESS_7[:-8], "truncated"),  # the result is missing
        (SUCCESS_7 + "00000000", "trailing"),
    ],
)
def test_malformed_replies_raise_xdr_error(reply: str, message: str) -> None:
    with pytest.raises(XdrError, match=message):
        RESULT_UINT.decode_reply(hexbytes(reply))


def test_reply_xid_ignores_what_is_no_reply() -> None:
    assert messages.reply_xid(hexbytes("00000007 00000001")) == 7
    assert messages.reply_xid(hexbytes("00000007 00000000")) is None  # a call
    assert messages.reply_xid(hexbytes("000000")) is None
