"""Trace lines of ONC RPC messages: what our own clients and servers send
and receive, on the logger ``xdrgen.trace.oncrpc`` -- and what
``python -m xdrgen.trace --framing oncrpc`` reads off the wire (it
describes messages with :func:`describe` too)::

    import logging
    logging.basicConfig(level=logging.DEBUG)   # level=5 ("TRACE"): payloads too

    DEBUG:xdrgen.trace.oncrpc.client:  0.061 1 > toy.3.toyproc_add(call, ok, 0x6486869a) len=72 auth=sys(uid=0,gid=0,gids=[],host=box)
    TRACE:xdrgen.trace.oncrpc.client:        (2, 3)
    DEBUG:xdrgen.trace.oncrpc.client:  0.062 1 < toy.3.toyproc_add(reply, success, 0x6486869a) len=28

Clients log on ``xdrgen.trace.oncrpc.client``, servers on
``xdrgen.trace.oncrpc.server``, each with its own connection numbers (a
UDP server's endpoint is one "connection"); ``>`` is client to server.
The serial is the XID; a reply is named after its call, matched by XID
(the most recent :data:`MAX_CALLS` calls of a connection are
remembered); ``len`` is the message's length without record marks.  The
status of a reply is its ``accept_stat`` (``success``, ``proc_unavail``,
...) or ``reject_stat`` (``rpc_mismatch``, ``auth_error`` with
``why=auth_tooweak``); a call's is ``ok``.

Names: a program is named after its generated handler or client class,
without the version (``ToyV3Handler`` -> ``toy``); the classes register
themselves (:func:`register`) when they are defined.  A procedure is named
by its method (``toyproc_add``).  While the logger is off for DEBUG each
message costs one dict look-up, where it is sent or received::

    if tracing.CLIENT.levels.get(tracing.DEBUG) is not False:
        tracing.CLIENT.message(self, ">", data, procedure)

(:func:`xdrgen.runtime.traceline.level_memo`).
"""

from __future__ import annotations

import itertools
import logging
import struct
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import traceline, xdr
from ..traceline import PAYLOAD_INDENT, PAYLOAD_LEVEL
from ..xdr import Buffer, XdrError
from .auth import MAX_AUTH_BYTES, AuthFlavor, AuthStat, AuthSys
from .messages import CALL_HEADER, RPC_VERSION, AcceptStat, MsgType, RejectStat, ReplyStat
from .procedures import Procedure
from .record import LAST_FRAGMENT, MARK_SIZE, MAX_FRAGMENT

LOGGER = "xdrgen.trace.oncrpc"
MAX_CALLS = 4096  # calls per connection remembered to name their replies

_U32 = xdr.U32
_TWO = struct.Struct(">II")
DEBUG = _DEBUG = logging.DEBUG
_START = time.monotonic()  # the lines' times count from here (clients and servers alike)


# ---- names ----------------------------------------------------------------

_PROGRAMS: dict[tuple[int, int], str] = {}
_PROCEDURES: dict[tuple[int, int], Mapping[int, Procedure[Any]]] = {}


def program_name(class_name: str, version: int) -> str:
    """The name a program version's class gives its program: the class name
    without ``Handler``/``AsyncClient``/``Client`` and without the version,
    lower case (``MountV3Handler`` -> ``mount``, ``RemoteHandler`` ->
    ``remote``)."""
    for suffix in ("Handler", "AsyncClient", "Client"):
        if class_name.endswith(suffix) and class_name != suffix:
            class_name = class_name[: -len(suffix)]
            break
    name = class_name.lower()
    for tail in (f"v{version}", str(version)):
        if name.endswith(tail) and len(name) > len(tail):
            return name[: -len(tail)].rstrip("_")
    return name


def register(prog: int, vers: int, name: str, procedures: Mapping[int, Procedure[Any]] | None = None) -> None:
    """Name program ``prog`` version ``vers`` (and its procedures) in
    trace lines.  The first name given stays: a generated class is
    defined before the subclasses that implement it."""
    _PROGRAMS.setdefault((prog, vers), name)
    if procedures:
        _PROCEDURES.setdefault((prog, vers), procedures)


def register_class(cls: type) -> None:
    """What generated handler and client classes do when defined."""
    prog, vers = getattr(cls, "PROGRAM", None), getattr(cls, "VERSION", None)
    if isinstance(prog, int) and isinstance(vers, int):
        register(prog, vers, program_name(cls.__name__, vers), getattr(cls, "PROCEDURES", None))


def known_procedure(prog: int, vers: int, proc: int) -> Procedure[Any] | None:
    table = _PROCEDURES.get((prog, vers))
    return None if table is None else table.get(proc)


# ---- payloads ---------------------------------------------------------------


class Arguments:
    """A procedure's arguments as one payload: the value itself for one
    argument, a tuple for several, None for none (``void``)."""

    __slots__ = ("procedure",)

    def __init__(self, procedure: Procedure[Any]) -> None:
        self.procedure = procedure

    def decode(self, data: Buffer) -> Any:
        values = self.procedure.unpack_args(data, 0)
        return values[0] if len(values) == 1 else (values or None)

    def encode(self, value: Any) -> bytes:
        count = len(self.procedure.args)
        values: Sequence[Any] = () if count == 0 else (value,) if count == 1 else value
        out = bytearray()
        self.procedure.pack_args(values, out)
        return bytes(out)


class Result:
    """A procedure's result as a payload (None for ``void``)."""

    __slots__ = ("procedure",)

    def __init__(self, procedure: Procedure[Any]) -> None:
        self.procedure = procedure

    def decode(self, data: Buffer) -> Any:
        return self.procedure.unpack_result(data, 0)

    def encode(self, value: Any) -> bytes:
        out = bytearray()
        self.procedure.pack_result(value, out)
        return bytes(out)


# ---- describing messages ----------------------------------------------------


@dataclass(slots=True)
class Described:
    """An RPC message's header as a trace line shows it.

    ``kind``: "call" or "reply" (or the number of another message type);
    ``status``: "ok" for a call, a reply's accept or reject status;
    ``body``: where the arguments or results start; ``payload``: "args",
    "result" or "none"; ``problem``: why the header is unusable."""

    kind: str
    xid: int
    status: str = ""
    detail: str = ""
    body: int = 0
    payload: str = "none"
    prog: int = 0
    vers: int = 0
    proc: int = 0
    problem: str | None = None


_FLAVORS = {int(f): f.name.lower().removeprefix("auth_") for f in AuthFlavor}
_ACCEPT = {int(s): s.name.lower() for s in AcceptStat}
_AUTH_STATS = {int(s): s.name.lower() for s in AuthStat}
_AUTHSYS_SHOWN: dict[bytes, str] = {}  # credential body -> its text (a client sends the same one)


def describe(message: Buffer) -> Described:
    """The header of one whole RPC message (record marks removed).  Never
    raises: what cannot be read goes into :attr:`Described.problem`."""
    if len(message) < 8:
        return Described("?", 0, problem=f"{len(message)} bytes: too short for an RPC message")
    xid, kind = _TWO.unpack_from(message, 0)
    try:
        if kind == MsgType.CALL:
            return _call(message, xid)
        if kind == MsgType.REPLY:
            return _reply(message, xid)
    except XdrError as error:
        return Described("call" if kind == MsgType.CALL else "reply", xid, problem=str(error))
    return Described(str(kind), xid, problem=f"message type {kind} is neither CALL nor REPLY")


def _call(message: Buffer, xid: int) -> Described:
    try:
        _xid, _kind, rpcvers, prog, vers, proc = CALL_HEADER.unpack_from(message, 0)
    except struct.error:
        xdr.truncated("call_body", 0, message)
    flavor, cred, offset = _opaque_auth(message, 24, "call_body.cred")
    verifier, verf, offset = _opaque_auth(message, offset, "call_body.verf")
    shown = [] if flavor == AuthFlavor.AUTH_NONE else [f"auth={_credential(flavor, cred)}"]
    if verifier != AuthFlavor.AUTH_NONE or verf:
        shown.append(f"verf={_FLAVORS.get(verifier, verifier)}")
    status = "ok" if rpcvers == RPC_VERSION else f"rpcvers_{rpcvers}"
    payload = "args" if rpcvers == RPC_VERSION else "none"
    return Described("call", xid, status, " ".join(shown), offset, payload, prog, vers, proc)


def _reply(message: Buffer, xid: int) -> Described:
    stat = _word(message, 8, "reply_body.stat")
    if stat == ReplyStat.MSG_ACCEPTED:
        verifier, verf, offset = _opaque_auth(message, 12, "accepted_reply.verf")
        accept = _word(message, offset, "accepted_reply.stat")
        offset += 4
        shown = [] if verifier == AuthFlavor.AUTH_NONE and not verf else [f"verf={_FLAVORS.get(verifier, verifier)}"]
        if accept == AcceptStat.SUCCESS:
            return Described("reply", xid, "success", " ".join(shown), offset, "result")
        if accept == AcceptStat.PROG_MISMATCH:
            low, high = _word(message, offset, "mismatch_info.low"), _word(message, offset + 4, "mismatch_info.high")
            shown.append(f"versions={low}-{high}")
        status = _ACCEPT.get(accept, f"accept_stat_{accept}")
        return Described("reply", xid, status, " ".join(shown), offset)
    if stat == ReplyStat.MSG_DENIED:
        reject = _word(message, 12, "rejected_reply.stat")
        if reject == RejectStat.RPC_MISMATCH:
            low, high = _word(message, 16, "mismatch_info.low"), _word(message, 20, "mismatch_info.high")
            return Described("reply", xid, "rpc_mismatch", f"versions={low}-{high}", 24)
        if reject == RejectStat.AUTH_ERROR:
            why = _word(message, 16, "rejected_reply.auth_stat")
            return Described("reply", xid, "auth_error", f"why={_AUTH_STATS.get(why, why)}", 20)
        return Described("reply", xid, f"reject_stat_{reject}", "", 16, problem=f"unknown reject_stat {reject}")
    return Described("reply", xid, f"reply_stat_{stat}", "", 12, problem=f"unknown reply_stat {stat}")


def _word(message: Buffer, offset: int, path: str) -> int:
    try:
        value: int = _U32.unpack_from(message, offset)[0]
    except struct.error:
        xdr.truncated(path, offset, message)
    return value


def _opaque_auth(message: Buffer, offset: int, path: str) -> tuple[int, bytes, int]:
    """(flavor, body, offset after it) of an ``opaque_auth``."""
    flavor = _word(message, offset, path + ".flavor")
    length = _word(message, offset + 4, path + ".body")
    if length > MAX_AUTH_BYTES:
        xdr.too_long(path + ".body", offset + 4, length, MAX_AUTH_BYTES)
    body, end = xdr.unpack_fixed_opaque(message, offset + 8, length, path + ".body")
    return flavor, body, end


def _credential(flavor: int, body: bytes) -> str:
    if flavor != AuthFlavor.AUTH_SYS:
        return _FLAVORS.get(flavor, f"flavor_{flavor}")
    shown = _AUTHSYS_SHOWN.get(body)
    if shown is None:
        try:
            cred = AuthSys.decode_body(body)
        except XdrError:
            shown = "sys(undecodable)"
        else:
            gids = ",".join(map(str, cred.gids))
            shown = f"sys(uid={cred.uid},gid={cred.gid},gids=[{gids}],host={cred.machinename})"
        if len(_AUTHSYS_SHOWN) < 1024:
            _AUTHSYS_SHOWN[body] = shown
    return shown


class Calls:
    """The calls of one connection, by XID, to name their replies: the
    most recent ``limit`` (memory stays flat whatever the peer does).
    ``forget``: a reply takes its call's entry (TCP; over UDP a call may be
    answered twice)."""

    __slots__ = ("_calls", "_limit", "_forget")

    def __init__(self, limit: int = MAX_CALLS, *, forget: bool = True) -> None:
        self._calls: dict[int, Any] = {}
        self._limit = limit
        self._forget = forget

    def remember(self, call: Described, extra: Any = None) -> None:
        """A call (with ``extra``, what else is to be known of it)."""
        calls = self._calls
        calls.pop(call.xid, None)  # a call sent again becomes the most recent
        calls[call.xid] = (call.prog, call.vers, call.proc, extra)
        if len(calls) > self._limit:
            del calls[next(iter(calls))]

    def knows(self, xid: int) -> bool:
        return xid in self._calls

    def answer(self, reply: Described) -> Any:
        """Give ``reply`` the program, version and procedure of its call;
        return the call's ``extra`` (a reply to no call remembered gets a
        :attr:`~Described.problem`)."""
        if reply.kind != "reply" or reply.problem is not None:
            return None
        call = self._calls.pop(reply.xid, None) if self._forget else self._calls.get(reply.xid)
        if call is None:
            reply.problem = "no call with this XID seen"
            reply.payload = "none"
            return None
        reply.prog, reply.vers, reply.proc, extra = call
        return extra


def unmark(data: Buffer) -> bytes:
    """A record's message without its record marks (one or more fragments)."""
    parts = []
    offset = 0
    while offset + MARK_SIZE <= len(data):
        mark = _U32.unpack_from(data, offset)[0]
        end = offset + MARK_SIZE + (mark & MAX_FRAGMENT)
        parts.append(bytes(data[offset + MARK_SIZE : end]))
        offset = end
        if mark & LAST_FRAGMENT:
            break
    return b"".join(parts)


# ---- the runtime's own trace ------------------------------------------------


class _Connection:
    __slots__ = ("number", "calls")

    def __init__(self, number: int, *, forget: bool) -> None:
        self.number = number
        self.calls = Calls(forget=forget)


class Tap:
    """The trace of one side (``"client"`` or ``"server"``) of our ONC RPC
    runtime: a channel or server endpoint hands it each message it sends
    or receives (:meth:`message`)."""

    def __init__(self, side: str) -> None:
        self.logger = logging.getLogger(f"{LOGGER}.{side}")
        #: ``levels.get(DEBUG) is False`` while the trace is off: the check
        #: before :meth:`message` (one dict look-up, no call)
        self.levels = traceline.level_memo(self.logger)
        self._sends = ">" if side == "client" else "<"
        self._numbers = itertools.count(1)
        self._connections: weakref.WeakKeyDictionary[object, _Connection] = weakref.WeakKeyDictionary()

    def message(self, owner: Any, direction: str, data: Buffer, procedure: Procedure[Any] | None = None) -> None:
        """One whole message of ``owner`` (a channel or a server endpoint:
        its connection), sent or received (``direction``: ``>`` client to
        server).  What a client sends is framed already (record marks on a
        stream); what a server sends has ``owner.reserve`` bytes free at
        its front for its mark; what either receives is the message alone.
        A client names the ``procedure`` it calls."""
        if not self.logger.isEnabledFor(_DEBUG):
            return
        reserve: int = owner.reserve  # 0 on UDP
        if direction != self._sends:
            message = bytes(data)
        elif self._sends == ">":
            message = unmark(data) if reserve else bytes(data)
        else:
            message = bytes(data[reserve:])
        connection = self._connections.get(owner)
        if connection is None:  # over UDP a call may be answered twice
            connection = self._connections[owner] = _Connection(next(self._numbers), forget=reserve > 0)
        described = describe(message)
        if described.kind == "call":
            procedure = procedure or known_procedure(described.prog, described.vers, described.proc)
            connection.calls.remember(described, procedure)
        else:
            procedure = connection.calls.answer(described)
        prog, vers, proc = described.prog, described.vers, described.proc
        program = _PROGRAMS.get((prog, vers), f"{prog:#x}")
        name = procedure.method if procedure is not None else str(proc)
        middle = traceline.middle(program, vers, name, described.kind, described.status)
        extra = f" {described.detail}" if described.detail else ""
        if described.problem is not None:
            extra += f" [undecodable: {described.problem}]"
        now = time.monotonic() - _START
        text = traceline.line(now, connection.number, direction, middle, traceline.xid(described.xid), len(message), extra)
        self.logger.debug("%s", text)
        if procedure is not None and described.problem is None and self.logger.isEnabledFor(PAYLOAD_LEVEL):
            self._payload(procedure, described, message)

    def _payload(self, procedure: Procedure[Any], described: Described, message: bytes) -> None:
        codec = payload_codec(procedure, described.payload)
        if codec is None:
            return
        try:
            value = codec.decode(message[described.body :])
        except (ValueError, TypeError, OverflowError) as error:
            self.logger.log(PAYLOAD_LEVEL, "%s[undecodable: %s]", PAYLOAD_INDENT, error)
            return
        if value is not None:
            self.logger.log(PAYLOAD_LEVEL, "%s%r", PAYLOAD_INDENT, value)


def payload_codec(procedure: Procedure[Any], payload: str) -> Arguments | Result | None:
    """The codec of a message's ``payload`` ("args", "result", "none")."""
    if payload == "args":
        return Arguments(procedure)
    if payload == "result":
        return Result(procedure)
    return None


CLIENT = Tap("client")
SERVER = Tap("server")
