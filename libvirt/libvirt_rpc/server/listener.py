"""The server: program handlers served on unix and TCP listeners."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from xdrgen.runtime.dispatch import ProgramHandler

from .calls import CallTable
from .connection import Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """libvirtd's per-server limits (``libvirtd.conf`` names in brackets)."""

    #: calls (and unconsumed incoming stream packets) in flight per client
    #: before its connection is no longer read [max_client_requests]
    max_client_requests: int = 5
    #: connections beyond this are closed as soon as they are accepted [max_clients]
    max_clients: int = 5000
    #: connections the kernel queues until they are accepted: the listen
    #: backlog [max_queued_clients]
    max_queued_clients: int = 1000
    #: seconds of silence before the server pings a client that enabled
    #: keepalive; 0 disables [keepalive_interval]
    keepalive_interval: float = 5.0
    #: unanswered pings before such a client is dropped [keepalive_count]
    keepalive_count: int = 5
    #: bytes queued for a client that does not read (events, stream data)
    #: beyond which it is disconnected
    max_output_buffer: int = 64 * 1024 * 1024


class Server:
    """Serves the given program handlers on any number of listeners."""

    def __init__(self, handlers: Iterable[ProgramHandler], *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._handlers = list(handlers)
        self._programs: dict[tuple[int, int], CallTable] = {}
        for handler in self._handlers:
            key = (handler.PROGRAM, handler.VERSION)
            if key in self._programs:
                raise ValueError(f"two handlers for program {key[0]:#x} version {key[1]}")
            self._programs[key] = {
                number: (procedure, getattr(handler, procedure.method))
                for number, procedure in handler.PROCEDURES.items()
                if procedure.kind == "call"
            }
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._listeners: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self.clients: set[Client] = set()
        self._closed: asyncio.Event | None = None

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._closed = asyncio.Event()
        elif self._loop is not loop:
            raise RuntimeError("a Server belongs to one event loop")

    async def listen_unix(self, path: str | os.PathLike[str], mode: int = 0o700) -> str:
        """Listen on a unix socket created with ``mode`` (libvirtd's
        read-write socket: 0700).  A socket another daemon serves is refused
        (``OSError`` EADDRINUSE); a socket file nobody listens on any more
        is replaced."""
        self._bind_loop()
        path = os.fspath(path)
        _make_way(path)
        sock = _bound_unix_socket(path, mode)
        try:
            listener = await self._loop.create_unix_server(
                lambda: Client(self), sock=sock, backlog=self.limits.max_queued_clients
            )
        except BaseException:
            sock.close()
            os.unlink(path)
            raise
        self._listeners.append(listener)
        self._unix_paths.append(path)
        return path

    async def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on TCP; returns the bound (host, port) (port 0 picks one)."""
        self._bind_loop()
        listener = await self._loop.create_server(
            lambda: Client(self),
            host,
            port,
            reuse_address=True,
            family=socket.AF_UNSPEC,
            backlog=self.limits.max_queued_clients,
        )
        self._listeners.append(listener)
        sockname = listener.sockets[0].getsockname()
        return sockname[0], sockname[1]

    def _add_client(self, client: Client) -> bool:
        if len(self.clients) >= self.limits.max_clients:
            log.warning("too many clients (%d); refusing a connection", len(self.clients))
            client.closed = True
            assert client.transport is not None
            client.transport.abort()
            return False
        self.clients.add(client)
        return True

    def _remove_client(self, client: Client) -> None:
        self.clients.discard(client)

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` is called."""
        self._bind_loop()
        assert self._closed is not None
        await self._closed.wait()

    async def close(self) -> None:
        """Stop listening and drop every client."""
        for listener in self._listeners:
            listener.close()
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners.clear()
        for path in self._unix_paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._unix_paths.clear()
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.abort()
        for _ in range(3):  # let connection_lost callbacks run
            await asyncio.sleep(0)
        if self._closed is not None:
            self._closed.set()


def _make_way(path: str) -> None:
    """Remove a stale socket file at ``path``; refuse one a daemon serves
    (libvirtd refuses to start beside itself too).  Anything else is left
    for ``bind`` to refuse."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.setblocking(False)  # a listener with a full backlog still counts
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            os.unlink(path)  # nobody listens: stale
            return
        except BlockingIOError:
            pass
    raise OSError(errno.EADDRINUSE, f"Unix socket '{path}' is in use by another daemon")


def _bound_unix_socket(path: str, mode: int) -> socket.socket:
    """A unix socket bound to ``path`` whose file has ``mode`` from the start
    (libvirtd's way: the umask, for the ``bind`` only)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(~mode & 0o777)
    try:
        sock.bind(path)
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    return sock
