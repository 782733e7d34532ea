"""ONC RPC (RFC 5531) for any program: clients, servers, rpcbind.

Standard library only.  Modules, one job each: :mod:`.messages` (call and
reply headers), :mod:`.record` (record marking), :mod:`.auth`
(credentials), :mod:`.errors`, :mod:`.codecs` and :mod:`.procedures` (how
arguments and results are encoded), :mod:`.client_sync`,
:mod:`.client_async` and :mod:`.udp` (channels: connections that carry
calls), :mod:`.client` (bases of generated clients), :mod:`.handler`,
:mod:`.dispatch`, :mod:`.server` and :mod:`.server_thread` (serving),
:mod:`.rpcbind`.

What generated code uses
========================

Codecs.  Arguments and results are described by *codecs*: objects with
``pack_into(value, out: bytearray)`` and ``unpack_from(data, offset) ->
(value, end)``.  A generated struct or union class serves as one as it is
(its instances have ``pack_into(out)``, the class ``unpack_from``);
base types and typedefs use module-level codec objects --
:data:`INT`, :data:`UINT`, :data:`HYPER`, :data:`UHYPER`, :data:`BOOL`,
:data:`FLOAT`, :data:`DOUBLE`, ``String(max, name)``, ``Opaque(max,
name)``, ``FixedOpaque(n, name)``, ``Array(item, max, name)``,
``Optional(item, name)``, ``Chain(item, name)`` (a ``struct list { T item;
list *next; }`` chain as a Python list) -- or the generator's own objects
with the same two methods (a typedef's ``xdr.TypedefCodec``,
``DirpathCodec``).  ``void`` is no codec: no argument, or ``None`` as result.

Procedures.  One :class:`Procedure` per procedure, shared by client and
server; the client module groups a version's in a class::

    class MountV3Procedures:
        mountproc3_null = oncrpc.Procedure(MOUNTPROC3_NULL, "MOUNTPROC3_NULL", "mountproc3_null")
        mountproc3_mnt = oncrpc.Procedure(MOUNTPROC3_MNT, "MOUNTPROC3_MNT", "mountproc3_mnt", (DirpathCodec,), Mountres3)

(number, the .x name, the Python method name, the argument codecs in order,
the result codec or nothing for void).  ``Procedure[R]`` is generic in the
result type, so ``self._call(MountV3Procedures.mountproc3_mnt, ...)``
type-checks as returning ``Mountres3``.

Clients.  A client class per program version, on :class:`Client` (blocking,
thread-safe) or :class:`AsyncClient`; it sets ``PROGRAM`` and ``VERSION``
(plain class attributes) and each method is one line::

    class MountV3Client(oncrpc.Client):
        PROGRAM = MOUNT_PROGRAM
        VERSION = MOUNT_V3

        def mountproc3_mnt(self, dirpath: str) -> Mountres3:
            return self._call(MountV3Procedures.mountproc3_mnt, dirpath)

    class MountV3AsyncClient(oncrpc.AsyncClient):
        PROGRAM = MOUNT_PROGRAM
        VERSION = MOUNT_V3

        async def mountproc3_mnt(self, dirpath: str) -> Mountres3:
            return await self._call(MountV3Procedures.mountproc3_mnt, dirpath)

The bases give ``connect(host, port=None, *, transport="tcp" | "udp",
auth=None, timeout=30.0)`` (``port=None`` asks the host's rpcbind),
``close()``, context managers (``with``; ``async with`` on the client or
on ``AsyncClient.connect(...)`` itself, which can also be awaited), and
``channel``, the connection (``client.channel.timeout`` is the per-call
timeout; several clients can share a channel: ``NfsV3Client(mount.channel)``).

Servers.  A handler class per program version, on :class:`Handler`, with
``PROGRAM``, ``VERSION`` and ``PROCEDURES`` (procedure number ->
:class:`Procedure`), and a method per procedure, marked
:func:`unimplemented` until a subclass overrides it::

    class MountV3Handler(oncrpc.Handler):
        PROGRAM = MOUNT_PROGRAM
        VERSION = MOUNT_V3
        PROCEDURES = {
            MOUNTPROC3_NULL: MountV3Procedures.mountproc3_null,
            MOUNTPROC3_MNT: MountV3Procedures.mountproc3_mnt,
        }

        @oncrpc.unimplemented
        async def mountproc3_null(self, call: oncrpc.Call) -> None:
            pass

        @oncrpc.unimplemented
        async def mountproc3_mnt(self, call: oncrpc.Call, dirpath: str) -> Mountres3:
            raise oncrpc.ProcedureUnavailable

The server answers an unimplemented procedure with PROC_UNAVAIL, and
procedure 0 (NULL), when not overridden or not listed, with an empty
success.  ``call`` (:class:`Call`) has the xid, program, version,
procedure, the credential (``call.cred``: ``AUTH_NONE`` or an
:class:`AuthSys`), the verifier, the peer's address and the transport.
A method raising an :class:`RpcError` answers with that error (e.g.
``AuthError(AuthStat.AUTH_TOOWEAK)``); any other exception, SYSTEM_ERR.
Serve with :class:`Server` (asyncio) or :class:`ServerThread`::

    with oncrpc.ServerThread([MyMount()], tcp=("127.0.0.1", 0), udp=None) as served:
        client = MountV3Client.connect("127.0.0.1", served.tcp_port)
"""

from __future__ import annotations

from .auth import AUTH_NONE, NULL_AUTH, Auth, AuthFlavor, AuthNone, AuthStat, AuthSys, OpaqueAuth, RawAuth
from .client import AsyncClient, Client, Connecting, open_async_channel, open_channel
from .client_async import AsyncChannel, AsyncTcpChannel
from .client_sync import SyncChannel, TcpChannel
from .codecs import (
    BOOL,
    DOUBLE,
    FLOAT,
    HYPER,
    INT,
    UHYPER,
    UINT,
    Array,
    Chain,
    Codec,
    FixedOpaque,
    Opaque,
    Optional,
    String,
)
from .errors import (
    AuthError,
    ConnectionClosed,
    GarbageArguments,
    ProcedureUnavailable,
    ProgramMismatch,
    ProgramNotRegistered,
    ProgramUnavailable,
    RpcError,
    RpcMismatch,
    RpcSystemError,
    RpcTimeout,
)
from .handler import Call, Handler, unimplemented
from .messages import AcceptStat, RejectStat
from .procedures import Procedure
from .rpcbind import Rpcbind
from .server import Server
from .server_thread import ServerThread
from .udp import AsyncUdpChannel, UdpChannel

__all__ = [
    "AUTH_NONE",
    "AcceptStat",
    "Array",
    "AsyncChannel",
    "AsyncClient",
    "AsyncTcpChannel",
    "AsyncUdpChannel",
    "Auth",
    "AuthError",
    "AuthFlavor",
    "AuthNone",
    "AuthStat",
    "AuthSys",
    "BOOL",
    "Call",
    "Chain",
    "Client",
    "Codec",
    "ConnectionClosed",
    "Connecting",
    "DOUBLE",
    "FLOAT",
    "FixedOpaque",
    "GarbageArguments",
    "HYPER",
    "Handler",
    "INT",
    "NULL_AUTH",
    "Opaque",
    "OpaqueAuth",
    "Optional",
    "ProcedureUnavailable",
    "Procedure",
    "ProgramMismatch",
    "ProgramNotRegistered",
    "ProgramUnavailable",
    "RawAuth",
    "RejectStat",
    "RpcError",
    "RpcMismatch",
    "RpcSystemError",
    "RpcTimeout",
    "Rpcbind",
    "Server",
    "ServerThread",
    "String",
    "SyncChannel",
    "TcpChannel",
    "UHYPER",
    "UINT",
    "UdpChannel",
    "open_async_channel",
    "open_channel",
    "unimplemented",
]
