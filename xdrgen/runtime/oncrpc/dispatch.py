"""From a call message to its reply, whatever the transport.

:meth:`Dispatcher.dispatch` checks a call in RFC 5531's order -- RPC
version, credentials, program, version, procedure, arguments -- and either
answers at once (every error, and the NULL procedure of a handler that
leaves it alone), or returns the coroutine that runs the handler and
builds the reply.  A message that is not a call, or too short to be one,
gets no reply.

Credentials, as a careful server checks them: AUTH_NONE (with an empty
body) and AUTH_SYS (a well-formed ``authsys_parms`` filling the body) are
accepted, with an AUTH_NONE verifier; AUTH_SHORT is refused with
AUTH_REJECTEDCRED (this server hands out no short-hand credentials, so any
is stale: the client must start again with its full one); any other flavor,
and a credential that does not decode, with AUTH_BADCRED; another verifier
with AUTH_BADVERF.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..xdr import Buffer, XdrError
from . import messages
from .auth import AUTH_NONE, NULL_AUTH, Auth, AuthFlavor, AuthStat, AuthSys, OpaqueAuth
from .errors import AuthError, RpcError
from .handler import Call, Handler, is_unimplemented
from .messages import AcceptStat, MsgType
from .procedures import Procedure

log = logging.getLogger("xdrgen.runtime.oncrpc.server")

Reply = bytearray
Pending = Coroutine[Any, Any, Reply | None]
# (procedure, bound handler method); no method: not implemented
Entry = tuple[Procedure[Any], Callable[..., Coroutine[Any, Any, Any]] | None]

_NULL_AUTHS = bytes(16)  # AUTH_NONE credential and verifier: the usual case
_NULL_ENTRY: Entry = (Procedure(0, "NULL", "null"), None)


class Dispatcher:
    """Routes calls to handlers by (program, version, procedure)."""

    def __init__(self, handlers: Iterable[Handler]) -> None:
        self._routes: dict[int, dict[int, dict[int, Entry]]] = {}
        for handler in handlers:
            versions = self._routes.setdefault(handler.PROGRAM, {})
            if handler.VERSION in versions:
                raise ValueError(f"two handlers for program {handler.PROGRAM} version {handler.VERSION}")
            versions[handler.VERSION] = _table(handler)
        self._ranges = {prog: (min(versions), max(versions)) for prog, versions in self._routes.items()}

    @property
    def programs(self) -> list[tuple[int, int]]:
        """The (program, version) pairs served."""
        return [(prog, vers) for prog, versions in self._routes.items() for vers in versions]

    def dispatch(self, message: Buffer, peer: Any, transport: str, reserve: int = 0) -> Reply | Pending | None:
        """The reply to ``message`` (with ``reserve`` bytes free at its
        front), or the coroutine that makes it, or None for no reply."""
        try:
            xid, kind, rpcvers, prog, vers, proc = messages.CALL_HEADER.unpack_from(message, 0)
        except struct.error:
            return None  # too short to be a call
        if kind != MsgType.CALL:
            return None
        if rpcvers != messages.RPC_VERSION:
            return messages.rpc_mismatch_reply(xid, reserve=reserve)
        if message[24:40] == _NULL_AUTHS:
            cred: Auth = AUTH_NONE
            verf = NULL_AUTH
            offset = 40
        else:
            try:
                cred, verf, offset = _authenticate(message)
            except AuthError as error:
                return messages.auth_error_reply(xid, error.stat, reserve)
        versions = self._routes.get(prog)
        if versions is None:
            return messages.accepted_reply(xid, AcceptStat.PROG_UNAVAIL, reserve=reserve)
        table = versions.get(vers)
        if table is None:
            return messages.accepted_reply(xid, AcceptStat.PROG_MISMATCH, self._ranges[prog], reserve=reserve)
        entry = table.get(proc)
        if entry is None:
            if proc != 0:
                return messages.accepted_reply(xid, AcceptStat.PROC_UNAVAIL, reserve=reserve)
            entry = _NULL_ENTRY
        procedure, method = entry
        try:
            args = procedure.unpack_args(message, offset)
        except (XdrError, RecursionError):
            return messages.accepted_reply(xid, AcceptStat.GARBAGE_ARGS, reserve=reserve)
        if method is None:
            if proc == 0:
                return messages.success_reply(xid, reserve)
            return messages.accepted_reply(xid, AcceptStat.PROC_UNAVAIL, reserve=reserve)
        call = Call(xid, prog, vers, proc, cred, verf, peer, transport)
        return _run(call, procedure, method(call, *args), reserve)


async def _run(call: Call, procedure: Procedure[Any], running: Coroutine[Any, Any, Any], reserve: int) -> Reply:
    try:
        result = await running
    except RpcError as error:
        return messages.error_reply(call.xid, error, reserve)
    except Exception:
        log.exception("%s (program %d version %d) failed", procedure.name, call.prog, call.vers)
        return messages.accepted_reply(call.xid, AcceptStat.SYSTEM_ERR, reserve=reserve)
    reply = messages.success_reply(call.xid, reserve)
    try:
        procedure.pack_result(result, reply)
    except Exception:
        log.exception("%s (program %d version %d) returned what cannot be encoded", procedure.name, call.prog, call.vers)
        return messages.accepted_reply(call.xid, AcceptStat.SYSTEM_ERR, reserve=reserve)
    return reply


def _authenticate(message: Buffer) -> tuple[Auth, OpaqueAuth, int]:
    """The credential and verifier of a call (other than AUTH_NONE's
    zeros), and where the arguments start."""
    try:
        cred_raw, offset = OpaqueAuth.unpack_from(message, 24)
    except XdrError:
        raise AuthError(AuthStat.AUTH_BADCRED) from None
    try:
        verf, offset = OpaqueAuth.unpack_from(message, offset)
    except XdrError:
        raise AuthError(AuthStat.AUTH_BADVERF) from None
    cred = _credential(cred_raw)
    if verf.flavor != AuthFlavor.AUTH_NONE or verf.body:
        raise AuthError(AuthStat.AUTH_BADVERF)
    return cred, verf, offset


def _credential(cred: OpaqueAuth) -> Auth:
    if cred.flavor == AuthFlavor.AUTH_SYS:
        try:
            return AuthSys.decode_body(cred.body)
        except XdrError:
            raise AuthError(AuthStat.AUTH_BADCRED) from None
    if cred.flavor == AuthFlavor.AUTH_NONE and not cred.body:
        return AUTH_NONE
    if cred.flavor == AuthFlavor.AUTH_SHORT:
        raise AuthError(AuthStat.AUTH_REJECTEDCRED)
    raise AuthError(AuthStat.AUTH_BADCRED)


def _table(handler: Handler) -> dict[int, Entry]:
    """What each procedure of ``handler`` runs (checked up front: a
    missing or blocking method is a mistake to report now, not per call)."""
    table: dict[int, Entry] = {}
    for number, procedure in handler.PROCEDURES.items():
        if number != procedure.number:
            raise ValueError(f"{type(handler).__name__}.PROCEDURES[{number}] is procedure {procedure.number}")
        method = getattr(handler, procedure.method, None)
        if method is None:
            raise TypeError(f"{type(handler).__name__} has no method {procedure.method} for {procedure.name}")
        if is_unimplemented(method):
            table[number] = (procedure, None)
            continue
        if not asyncio.iscoroutinefunction(method):
            raise TypeError(f"{type(handler).__name__}.{procedure.method} must be a coroutine function (async def)")
        table[number] = (procedure, method)
    return table
