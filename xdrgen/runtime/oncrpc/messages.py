"""RFC 5531 messages (``struct rpc_msg``): call and reply headers.

Written by hand with ``struct``: every call passes through here twice.
What follows a header (arguments, results) is the procedure's business
(:mod:`.procedures`).  Functions that build a message take ``reserve``, the
number of bytes to leave free at the front (4 for the TCP record mark, so
the message need not be copied to prepend it).
"""

from __future__ import annotations

import enum
import struct

from .. import xdr
from ..xdr import Buffer
from .auth import MAX_AUTH_BYTES, AuthStat, OpaqueAuth
from .errors import (
    AuthError,
    GarbageArguments,
    ProcedureUnavailable,
    ProgramMismatch,
    ProgramUnavailable,
    RpcError,
    RpcMismatch,
    RpcSystemError,
)

RPC_VERSION = 2


class MsgType(enum.IntEnum):
    CALL = 0
    REPLY = 1


class ReplyStat(enum.IntEnum):
    MSG_ACCEPTED = 0
    MSG_DENIED = 1


class AcceptStat(enum.IntEnum):
    SUCCESS = 0
    PROG_UNAVAIL = 1
    PROG_MISMATCH = 2
    PROC_UNAVAIL = 3
    GARBAGE_ARGS = 4
    SYSTEM_ERR = 5


class RejectStat(enum.IntEnum):
    RPC_MISMATCH = 0
    AUTH_ERROR = 1


# call: xid, CALL, rpcvers, prog, vers, proc (then cred, verf)
CALL_HEADER = struct.Struct(">6I")
# reply: xid, REPLY, reply_stat, then two words: an accepted reply's
# verifier flavor and length, or a denied reply's reject_stat and its first
# detail (low version or auth_stat)
_REPLY_HEAD = struct.Struct(">5I")
_TWO = struct.Struct(">II")
_U32 = xdr.U32

# accepted reply, AUTH_NONE verifier: xid, REPLY, MSG_ACCEPTED, flavor, length, accept_stat
_ACCEPTED = struct.Struct(">6I")
# The usual reply, from byte 4: REPLY, MSG_ACCEPTED, an empty AUTH_NONE
# verifier, SUCCESS; its results start at byte 24.
_PLAIN_SUCCESS = _ACCEPTED.pack(0, MsgType.REPLY, ReplyStat.MSG_ACCEPTED, 0, 0, AcceptStat.SUCCESS)[4:]
# The hot paths compare plain ints (an IntEnum member is a slower lookup).
_CALL = int(MsgType.CALL)
_REPLY = int(MsgType.REPLY)
_ERROR_CLASSES: dict[int, type[RpcError]] = {
    AcceptStat.PROG_UNAVAIL: ProgramUnavailable,
    AcceptStat.PROC_UNAVAIL: ProcedureUnavailable,
    AcceptStat.GARBAGE_ARGS: GarbageArguments,
    AcceptStat.SYSTEM_ERR: RpcSystemError,
}
_ERROR_TEXT = {
    AcceptStat.PROG_UNAVAIL: "program unavailable",
    AcceptStat.PROC_UNAVAIL: "procedure unavailable",
    AcceptStat.GARBAGE_ARGS: "the server could not decode the arguments",
    AcceptStat.SYSTEM_ERR: "system error on the server",
}


# ---- calls -------------------------------------------------------------------


def start_call(xid: int, prog: int, vers: int, proc: int, auth: bytes, reserve: int = 0) -> bytearray:
    """A call message up to its arguments; ``auth`` is the encoded
    credential and verifier (:meth:`Auth.encode`)."""
    out = bytearray(reserve)
    out += CALL_HEADER.pack(xid, _CALL, RPC_VERSION, prog, vers, proc)
    out += auth
    return out


# ---- replies: building -------------------------------------------------------


def success_reply(xid: int, reserve: int = 0) -> bytearray:
    """An accepted, successful reply up to its results (AUTH_NONE verifier)."""
    out = bytearray(reserve)
    out += _ACCEPTED.pack(xid, MsgType.REPLY, ReplyStat.MSG_ACCEPTED, 0, 0, AcceptStat.SUCCESS)
    return out


def accepted_reply(
    xid: int,
    stat: AcceptStat,
    mismatch: tuple[int, int] | None = None,
    verifier: OpaqueAuth | None = None,
    reserve: int = 0,
) -> bytearray:
    """An accepted reply other than SUCCESS; PROG_MISMATCH carries the
    ``(low, high)`` versions of the program."""
    out = bytearray(reserve)
    out += _TWO.pack(xid, MsgType.REPLY)
    out += _U32.pack(ReplyStat.MSG_ACCEPTED)
    (verifier or OpaqueAuth(0)).pack_into(out)
    out += _U32.pack(stat)
    if stat == AcceptStat.PROG_MISMATCH:
        if mismatch is None:
            raise ValueError("PROG_MISMATCH needs the (low, high) versions")
        out += _TWO.pack(*mismatch)
    return out


def rpc_mismatch_reply(xid: int, low: int = RPC_VERSION, high: int = RPC_VERSION, reserve: int = 0) -> bytearray:
    out = bytearray(reserve)
    out += struct.pack(">6I", xid, MsgType.REPLY, ReplyStat.MSG_DENIED, RejectStat.RPC_MISMATCH, low, high)
    return out


def auth_error_reply(xid: int, stat: AuthStat | int, reserve: int = 0) -> bytearray:
    out = bytearray(reserve)
    out += _REPLY_HEAD.pack(xid, MsgType.REPLY, ReplyStat.MSG_DENIED, RejectStat.AUTH_ERROR, stat)
    return out


def error_reply(xid: int, error: RpcError, reserve: int = 0) -> bytearray:
    """The reply that reports ``error`` (what a server answers when a
    handler raises one of the RPC errors)."""
    if isinstance(error, AuthError):
        return auth_error_reply(xid, error.stat, reserve)
    if isinstance(error, RpcMismatch):
        return rpc_mismatch_reply(xid, error.low, error.high, reserve)
    if isinstance(error, ProgramMismatch):
        return accepted_reply(xid, AcceptStat.PROG_MISMATCH, (error.low, error.high), reserve=reserve)
    for stat, kind in _ERROR_CLASSES.items():
        if isinstance(error, kind):
            return accepted_reply(xid, AcceptStat(stat), reserve=reserve)
    return accepted_reply(xid, AcceptStat.SYSTEM_ERR, reserve=reserve)


# ---- replies: reading --------------------------------------------------------


def reply_xid(message: Buffer) -> int | None:
    """The xid of a reply, or None if ``message`` is no reply at all (a
    client ignores those)."""
    if len(message) < 8:
        return None
    xid, kind = _TWO.unpack_from(message, 0)
    return xid if kind == _REPLY else None


def results_offset(reply: Buffer) -> int:
    """Where the results of a successful reply start; any other reply
    raises its :class:`RpcError` (a malformed one, XdrError)."""
    if reply[4:24] == _PLAIN_SUCCESS:
        return 24
    try:
        head: tuple[int, ...] = _REPLY_HEAD.unpack_from(reply, 0)
    except struct.error:
        xdr.truncated("reply", 0, reply)
    _xid, kind, stat, word3, word4 = head
    if kind != MsgType.REPLY:
        xdr.bad_value("rpc_msg.mtype", 4, "REPLY", kind)
    if stat == ReplyStat.MSG_ACCEPTED:
        # word3, word4: the verifier's flavor and length
        if word4 > MAX_AUTH_BYTES:
            xdr.too_long("accepted_reply.verf", 16, word4, MAX_AUTH_BYTES)
        offset = 20 + word4 + (-word4 & 3)
        accept = _unpack(_U32, reply, offset, "accepted_reply.stat")[0]
        if accept == AcceptStat.SUCCESS:
            return offset + 4
        raise _accepted_error(reply, offset, accept)
    if stat == ReplyStat.MSG_DENIED:
        if word3 == RejectStat.RPC_MISMATCH:
            high = _unpack(_U32, reply, 20, "rejected_reply.mismatch_info")[0]
            raise RpcMismatch(word4, high)
        if word3 == RejectStat.AUTH_ERROR:
            raise AuthError(word4)
        xdr.bad_value("rejected_reply.stat", 12, "reject_stat", word3)
    xdr.bad_value("reply_body.stat", 8, "reply_stat", stat)


def _accepted_error(reply: Buffer, offset: int, accept: int) -> RpcError:
    if accept == AcceptStat.PROG_MISMATCH:
        low, high = _unpack(_TWO, reply, offset + 4, "accepted_reply.mismatch_info")
        return ProgramMismatch(low, high)
    kind = _ERROR_CLASSES.get(accept)
    if kind is None:
        xdr.bad_value("accepted_reply.stat", offset, "accept_stat", accept)
    return kind(_ERROR_TEXT[AcceptStat(accept)])


def _unpack(layout: struct.Struct, data: Buffer, offset: int, path: str) -> tuple[int, ...]:
    try:
        values: tuple[int, ...] = layout.unpack_from(data, offset)
    except struct.error:
        xdr.truncated(path, offset, data)
    return values

