"""``libvirt_rpc.open(uri)``: a connection to libvirtd, as libvirt's client
opens one (src/remote/remote_driver.c ``doRemoteOpen``).

The connection object *is* the remote program's generated client (every
``REMOTE_PROC_*`` is a method: ``conn.domain_lookup_by_name(name="test")``)
and carries the other programs on the same socket as ``conn.qemu`` and
``conn.lxc``.  The handshake: authentication (AUTH_LIST, then SASL or
polkit if the server asks; :mod:`.auth`, done before the RPC client starts
so that a SASL security layer can be put under it), then
CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE) and CONNECT_OPEN with the URI
the server should open and the read-only flag.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from libvirt_rpc.lxc_protocol_client import AsyncLxcClient, LxcClient
from libvirt_rpc.qemu_protocol_client import AsyncQemuClient, QemuClient
from libvirt_rpc.remote_protocol_client import AsyncRemoteClient, RemoteClient

from . import transport
from .auth.credentials import AuthCallback, ConnectAuth, connect_auth
from .auth.handshake import authenticate, authenticate_async
from .client import Event, EventHandler, RpcClient
from .errors import LibvirtError
from .transport.sasl import SaslStream
from .uri import LibvirtURI

if TYPE_CHECKING:
    import asyncio

    from .client.asyncio_client import AsyncRpcClient

VIR_CONNECT_RO = 1  # virConnectFlags
VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10  # virDrvFeature (libvirt_internal.h)
DEFAULT_TIMEOUT = 30.0


def _open_args(uri: LibvirtURI, readonly: bool) -> dict[str, Any]:
    name = uri.name_for_server
    return {"name": name or None, "flags": VIR_CONNECT_RO if readonly else 0}


def _only_for(callback_id: int, callback: Callable[[Event], None]) -> EventHandler:
    """An event handler that passes on the events of one registration."""

    def handler(event: Event) -> None:
        if getattr(event.message, "callbackID", None) == callback_id:
            callback(event)

    return handler


class _Common:
    """What the blocking and the asyncio connection share."""

    rpc: RpcClient | AsyncRpcClient

    def _setup(self, rpc: RpcClient | AsyncRpcClient, uri: LibvirtURI, programs: tuple[Any, ...]) -> None:
        self.uri = uri
        self.keepalive_supported = False
        for program in programs:
            rpc.register_events(program.PROGRAM, program.VERSION, program.EVENTS)

    @property
    def timeout(self) -> float | None:
        """Seconds each call may take (None: no limit)."""
        return self.rpc.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.rpc.timeout = value

    def add_event_handler(self, handler: EventHandler) -> None:
        """``handler(event)`` runs (on the connection's background thread,
        or in the event loop) for each event."""
        self.rpc.add_event_handler(handler)

    def set_keepalive(self, interval: float = 5.0, count: int = 5) -> None:
        """Ping the server when idle; close the connection if it stops
        answering (``virConnectSetKeepAlive``)."""
        self.rpc.start_keepalive(interval, count)


class Connection(_Common, RemoteClient):
    """A blocking connection to libvirtd (thread-safe).  Use as a context
    manager, or call :meth:`close` (sends CONNECT_CLOSE)."""

    rpc: RpcClient

    def __init__(self, rpc: RpcClient, uri: LibvirtURI) -> None:
        RemoteClient.__init__(self, rpc)
        self.rpc = rpc
        self.qemu = QemuClient(rpc)
        self.lxc = LxcClient(rpc)
        self._setup(rpc, uri, (RemoteClient, QemuClient, LxcClient))

    def handshake(self, readonly: bool) -> None:
        """What follows authentication: the keepalive feature, CONNECT_OPEN."""
        feature = self.connect_supports_feature(feature=VIR_DRV_FEATURE_PROGRAM_KEEPALIVE)
        self.keepalive_supported = bool(feature.supported)
        self.connect_open(**_open_args(self.uri, readonly))

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events; stops when ``timeout`` passes without one."""
        return self.rpc.events(timeout)

    def on_domain_event(
        self, event_id: int, callback: Callable[[Event], None], dom: Any = None
    ) -> int:
        """Register for one domain event kind (``VIR_DOMAIN_EVENT_ID_*``) with
        CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY; ``callback`` gets the
        events of this registration.  Returns the callback ID."""
        callback_id = self.connect_domain_event_callback_register_any(
            eventID=event_id, dom=dom
        ).callbackID
        self.rpc.add_event_handler(_only_for(callback_id, callback))
        return callback_id

    def close(self) -> None:
        if not self.rpc.closed:
            try:
                self.connect_close()
            except LibvirtError:
                pass
        self.rpc.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncConnection(_Common, AsyncRemoteClient):
    """The asyncio connection: the same API with coroutines."""

    rpc: AsyncRpcClient

    def __init__(self, rpc: AsyncRpcClient, uri: LibvirtURI) -> None:
        AsyncRemoteClient.__init__(self, rpc)
        self.rpc = rpc
        self.qemu = AsyncQemuClient(rpc)
        self.lxc = AsyncLxcClient(rpc)
        self._setup(rpc, uri, (AsyncRemoteClient, AsyncQemuClient, AsyncLxcClient))

    async def handshake(self, readonly: bool) -> None:
        feature = await self.connect_supports_feature(feature=VIR_DRV_FEATURE_PROGRAM_KEEPALIVE)
        self.keepalive_supported = bool(feature.supported)
        await self.connect_open(**_open_args(self.uri, readonly))

    def events(self) -> AsyncIterator[Event]:
        return self.rpc.events()

    async def on_domain_event(
        self, event_id: int, callback: Callable[[Event], None], dom: Any = None
    ) -> int:
        registered = await self.connect_domain_event_callback_register_any(
            eventID=event_id, dom=dom
        )
        self.rpc.add_event_handler(_only_for(registered.callbackID, callback))
        return registered.callbackID

    async def close(self) -> None:
        if not self.rpc.closed:
            try:
                await self.connect_close()
            except LibvirtError:
                pass
        await self.rpc.close()

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def open(
    uri: str = "",
    *,
    readonly: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    auth: ConnectAuth | AuthCallback | None = None,
) -> Connection:
    """Connect to libvirtd at ``uri`` (``test+unix:///default?socket=...``,
    ``qemu+tcp://host/system``, ``test+tls://...``, ``qemu+ssh://...``).

    ``timeout`` bounds connecting and is the default for every call.
    ``auth``: where credentials for SASL come from besides the client's
    ``auth.conf`` -- a callback that fills a list of
    :class:`~.auth.Credential` requests, or a :class:`~.auth.ConnectAuth`
    naming the credential types too (libvirt's ``virConnectOpenAuth``).
    """
    parsed = LibvirtURI.parse(uri)
    stream = transport.open_stream(parsed, timeout, readonly=readonly)
    try:
        layer = authenticate(stream, parsed, connect_auth(auth), timeout)
        if layer is not None:
            stream = SaslStream(stream, layer)
        rpc = RpcClient(stream, timeout=timeout)
    except BaseException:
        stream.close()
        raise
    connection = Connection(rpc, parsed)
    try:
        connection.handshake(readonly)
    except BaseException:
        rpc.close()
        raise
    return connection


async def _drop(writer: asyncio.StreamWriter) -> None:
    """Close a connection that never got its RPC client, at once."""
    writer.transport.abort()
    writer.close()  # ends a helper process (ssh, ext) too
    try:
        await writer.wait_closed()
    except (OSError, ConnectionError):
        pass


async def open_async(
    uri: str = "",
    *,
    readonly: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    auth: ConnectAuth | AuthCallback | None = None,
) -> AsyncConnection:
    """The asyncio :func:`open`: ``async with await open_async(uri) as conn``
    (an ``auth`` callback may be a coroutine function)."""
    # asyncio's side loads here: blocking users never import asyncio
    from .client.asyncio_client import AsyncRpcClient
    from .transport.sasl_async import wrap_async

    parsed = LibvirtURI.parse(uri)
    reader, writer = await transport.open_async_stream(parsed, timeout, readonly=readonly)
    try:
        layer = await authenticate_async(reader, writer, parsed, connect_auth(auth), timeout)
        if layer is not None:
            reader, writer = wrap_async(writer, layer)
    except BaseException:
        await _drop(writer)
        raise
    # descriptors only on a unix socket to the daemon with nothing between
    passes_fds = transport.REGISTRY[parsed.transport].passes_fds and layer is None
    rpc = AsyncRpcClient(reader, writer, timeout=timeout, passes_fds=passes_fds)
    connection = AsyncConnection(rpc, parsed)
    try:
        await connection.handshake(readonly)
    except BaseException:
        await rpc.close()
        raise
    return connection
