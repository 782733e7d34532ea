"""The asyncio ONC RPC server: TCP and UDP listeners in front of a
:class:`~.dispatch.Dispatcher`.

Each TCP connection has its own limits, so that a hostile or slow client
only stalls itself: a record is at most ``max_record`` bytes (a larger
one ends the connection: the stream cannot be resynchronised); at most
``max_in_flight`` of its calls run at once, and while that many do, or
while more than ``max_output`` bytes of its replies wait to be sent, the
server stops reading from it; a connection idle for ``idle_timeout``
seconds (no record came in, no call ran, no reply went out) is closed.
Beyond ``max_connections`` open ones, new connections are closed as soon
as they are accepted.  Over UDP, calls beyond ``udp_max_in_flight`` in
all, or beyond ``max_in_flight`` from one peer (address and port), are
dropped (their clients send them again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any, Self, cast

from ..xdr import Buffer, XdrError
from . import messages, tracing
from .dispatch import Dispatcher, Reply
from .handler import Handler
from .messages import AcceptStat
from .record import MARK_SIZE, SERVER_MAX_RECORD, RecordReader, check_fragment_size, finish_record
from .channel import MAX_DATAGRAM

log = logging.getLogger("xdrgen.runtime.oncrpc.server")

DEFAULT_MAX_IN_FLIGHT = 64
DEFAULT_MAX_OUTPUT = 1024 * 1024
DEFAULT_UDP_MAX_IN_FLIGHT = 256
# TI-RPC's own limit is the process's descriptors (commonly 1024): past them
# it closes the least active connection; here the newcomer is turned away.
DEFAULT_MAX_CONNECTIONS = 1024
# TI-RPC's svc_run closes no idle connection (its rpcbind, those idle for
# 30 s); the Linux kernel's RPC server (knfsd) ages them out after 6
# minutes.  The kernel's, as clients of this package do not reconnect.
DEFAULT_IDLE_TIMEOUT = 360.0
_REFUSALS_LOGGED_EVERY = 1.0  # seconds: a flood of connections logs a line a second


class Server:
    """Serves ``handlers`` (one per program version) on the listeners that
    :meth:`listen_tcp` and :meth:`listen_udp` open.

    The limits (see the module's documentation): ``max_record`` bytes a
    record, ``max_in_flight`` calls running per TCP connection or UDP peer,
    ``max_output`` bytes of replies waiting per connection,
    ``max_connections`` TCP connections open, ``idle_timeout`` seconds
    before an idle connection is closed (None: never), and
    ``udp_max_in_flight`` UDP calls running in all.  Replies over TCP go
    in fragments of at most ``fragment_size`` bytes (None: one each)."""

    def __init__(
        self,
        handlers: Iterable[Handler],
        *,
        max_record: int = SERVER_MAX_RECORD,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_output: int = DEFAULT_MAX_OUTPUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        udp_max_in_flight: int = DEFAULT_UDP_MAX_IN_FLIGHT,
        fragment_size: int | None = None,
    ) -> None:
        check_fragment_size(fragment_size)
        self.dispatcher = Dispatcher(handlers)
        self.max_record = max_record
        self.max_in_flight = max_in_flight
        self.max_output = max_output
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.udp_max_in_flight = udp_max_in_flight
        self.fragment_size = fragment_size
        self._connections = 0  # TCP connections open (not counting those turned away)
        self._refused = 0  # connections turned away since the last log line
        self._refusal_logged = -_REFUSALS_LOGGED_EVERY
        self.tcp_addresses: list[Any] = []
        self.udp_addresses: list[Any] = []
        self._listeners: list[asyncio.Server] = []
        self._endpoints: set[_Endpoint] = set()
        self._closing: asyncio.Future[None] | None = None

    @property
    def programs(self) -> list[tuple[int, int]]:
        """The (program, version) pairs served."""
        return self.dispatcher.programs

    @property
    def listeners(self) -> list[tuple[str, Any]]:
        """("tcp" or "udp", address) of each listener, as
        :func:`.rpcbind.register` takes them."""
        return [("tcp", address) for address in self.tcp_addresses] + [
            ("udp", address) for address in self.udp_addresses
        ]

    async def listen_tcp(self, host: str | None = "127.0.0.1", port: int = 0) -> Any:
        """Listen on TCP; return the address (its port, when 0 was asked,
        the one the system chose)."""
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(lambda: _TcpConnection(self), host, port)
        self._listeners.append(listener)
        addresses = [sock.getsockname() for sock in listener.sockets]
        self.tcp_addresses.extend(addresses)
        return addresses[0]

    async def listen_udp(self, host: str = "127.0.0.1", port: int = 0) -> Any:
        """Serve on UDP; return the address."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpEndpoint(self), local_addr=(host, port), family=family)
        address = transport.get_extra_info("sockname")
        self.udp_addresses.append(address)
        return address

    async def serve_forever(self) -> None:
        """Serve until :meth:`close`."""
        await asyncio.shield(self._closing_future())

    def close(self) -> None:
        """Stop listening and drop every connection and running call."""
        for listener in self._listeners:
            listener.close()
        for endpoint in list(self._endpoints):
            endpoint.abort()
        closing = self._closing_future()
        if not closing.done():
            closing.set_result(None)

    async def wait_closed(self) -> None:
        for listener in self._listeners:
            await listener.wait_closed()

    def _admit(self, peer: Any) -> bool:
        """Whether a new connection (from ``peer``) may stay open."""
        if self._connections < self.max_connections:
            self._connections += 1
            return True
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= _REFUSALS_LOGGED_EVERY:
            log.warning(
                "%d connection(s) closed at once, the latest from %s: %d are open (max_connections)",
                self._refused, peer, self._connections,
            )  # fmt: skip
            self._refused = 0
            self._refusal_logged = now
        return False

    def _closing_future(self) -> asyncio.Future[None]:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_future()
        return self._closing

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()


class _Endpoint:
    """What TCP connections and UDP endpoints share: starting calls and
    keeping track of those that run."""

    transport_name = ""
    reserve = 0

    def __init__(self, server: Server, limit: int) -> None:
        self._server = server
        self._dispatch = server.dispatcher.dispatch
        self._limit = limit
        self._running: set[asyncio.Task[Reply | None]] = set()
        self._loop = asyncio.get_running_loop()

    def _start(self, message: Buffer, peer: Any) -> asyncio.Task[Reply | None] | None:
        """Answer ``message``, or start the task that will (and return it)."""
        if tracing.SERVER.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.SERVER.message(self, ">", message)
        result = self._dispatch(message, peer, self.transport_name, self.reserve)
        if result is None:
            return None
        if isinstance(result, bytearray):
            self._reply(result, peer)
            return None
        task = self._loop.create_task(result)
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(done, peer))
        return task

    def _finished(self, task: asyncio.Task[Reply | None], peer: Any) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        reply = task.result()
        if reply is not None:
            self._reply(reply, peer)

    def _reply(self, reply: Reply, peer: Any) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        for task in self._running:
            task.cancel()
        self._running.clear()


class _TcpConnection(_Endpoint, asyncio.Protocol):
    transport_name = "tcp"
    reserve = MARK_SIZE

    def __init__(self, server: Server) -> None:
        super().__init__(server, server.max_in_flight)
        self._records = RecordReader(server.max_record)
        self._transport: asyncio.Transport | None = None
        self._peer: Any = None
        self._backlog: collections.deque[bytes] = collections.deque()  # read, not started
        self._reading = True
        self._outbox: list[Reply] = []  # replies for the next write
        self._outbox_size = 0
        self._admitted = False  # counted among the server's connections
        self._active_at = 0.0  # when a record last came in or replies went out
        self._idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = stream = cast(asyncio.Transport, transport)
        self._peer = stream.get_extra_info("peername")
        server = self._server
        if not server._admit(self._peer):
            stream.abort()
            return
        self._admitted = True
        stream.set_write_buffer_limits(high=server.max_output)
        server._endpoints.add(self)
        if server.idle_timeout is not None:
            self._active_at = self._loop.time()
            self._idle_timer = self._loop.call_at(self._active_at + server.idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        try:
            records = self._records.feed(data)
        except XdrError as exc:
            log.warning("closing the connection from %s: %s", self._peer, exc)
            self.abort()
            return
        if records:  # bytes that complete no record (a trickle) are no sign of life
            self._active_at = self._loop.time()
        self._backlog.extend(records)
        self._work()

    def _check_idle(self) -> None:
        """Close the connection if it has been idle for ``idle_timeout``;
        else look again when it may have been."""
        timeout = self._server.idle_timeout
        assert timeout is not None
        now = self._loop.time()
        if self._running:  # the server is the slow one: the client waits
            due = now + timeout
        else:
            due = self._active_at + timeout
            if due <= now:
                log.info("closing the connection from %s: idle for %s s", self._peer, timeout)
                self.abort()
                return
        self._idle_timer = self._loop.call_at(due, self._check_idle)

    def _work(self) -> None:
        """Start what was read, as far as the limits allow; read on only
        when nothing waits."""
        backlog = self._backlog
        while backlog and self._can_start():
            self._start(backlog.popleft(), self._peer)
        reading = not backlog and self._can_start()
        if reading != self._reading and self._transport is not None and not self._transport.is_closing():
            self._reading = reading
            if reading:
                self._transport.resume_reading()
            else:
                self._transport.pause_reading()

    def _can_start(self) -> bool:
        if len(self._running) >= self._limit or self._transport is None:
            return False
        # what waits to be sent: the replies of this turn, and the transport's buffer
        return self._outbox_size + self._transport.get_write_buffer_size() < self._server.max_output

    def _finished(self, task: asyncio.Task[Reply | None], peer: Any) -> None:
        super()._finished(task, peer)
        self._work()

    def _reply(self, reply: Reply, peer: Any) -> None:
        if tracing.SERVER.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.SERVER.message(self, "<", reply)
        # The replies made in one turn of the event loop leave together.
        if not self._outbox:
            self._loop.call_soon(self._flush)
        self._outbox.append(reply)
        self._outbox_size += len(reply)

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, []
        self._outbox_size = 0
        self._active_at = self._loop.time()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        fragment_size = self._server.fragment_size
        if len(outbox) == 1:
            transport.write(finish_record(outbox[0], fragment_size))
        else:
            transport.write(b"".join(finish_record(reply, fragment_size) for reply in outbox))

    def pause_writing(self) -> None:
        self._work()  # stops reading

    def resume_writing(self) -> None:
        self._work()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self._admitted = False
            self._server._connections -= 1
        self.abort()

    def abort(self) -> None:
        super().abort()
        self._backlog.clear()
        self._server._endpoints.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._transport is not None:
            self._transport.abort()


class _UdpEndpoint(_Endpoint, asyncio.DatagramProtocol):
    transport_name = "udp"

    def __init__(self, server: Server) -> None:
        super().__init__(server, server.udp_max_in_flight)
        self._transport: asyncio.DatagramTransport | None = None
        self._by_peer: collections.Counter[Any] = collections.Counter()  # calls running per peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # asyncio's own is no subclass
        self._server._endpoints.add(self)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        by_peer = self._by_peer
        # busy, or busy with this peer (which must not take every slot):
        # the client will send it again
        if len(self._running) >= self._limit or by_peer[addr] >= self._server.max_in_flight:
            return
        if self._start(data, addr) is not None:
            by_peer[addr] += 1

    def _finished(self, task: asyncio.Task[Reply | None], peer: Any) -> None:
        by_peer = self._by_peer
        by_peer[peer] -= 1
        if by_peer[peer] <= 0:
            del by_peer[peer]
        super()._finished(task, peer)

    def _reply(self, reply: Reply, peer: Any) -> None:
        if len(reply) > MAX_DATAGRAM:
            xid = messages.reply_xid(reply)
            log.error("a reply of %d bytes does not fit in a datagram", len(reply))
            reply = messages.accepted_reply(xid or 0, AcceptStat.SYSTEM_ERR)
        if tracing.SERVER.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.SERVER.message(self, "<", reply)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(reply, peer)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error (a client went away?): %s", exc)

    def abort(self) -> None:
        super().abort()
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._endpoints.discard(self)

