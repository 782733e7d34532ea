"""The asyncio ONC RPC server: TCP and UDP listeners in front of a
:class:`~.dispatch.Dispatcher`.

Each TCP connection has its own limits, so that a hostile or slow client
only stalls itself: a record is at most ``max_record`` bytes (a larger
one ends the connection: the stream cannot be resynchronised); at most
``max_in_flight`` of its calls run at once, and while that many do, or
while more than ``max_output`` bytes of its replies wait to be sent, the
server stops reading from it.  Over UDP, calls beyond
``udp_max_in_flight`` are dropped (their clients send them again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
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


class Server:
    """Serves ``handlers`` (one per program version) on the listeners that
    :meth:`listen_tcp` and :meth:`listen_udp` open."""

    def __init__(
        self,
        handlers: Iterable[Handler],
        *,
        max_record: int = SERVER_MAX_RECORD,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_output: int = DEFAULT_MAX_OUTPUT,
        udp_max_in_flight: int = DEFAULT_UDP_MAX_IN_FLIGHT,
        fragment_size: int | None = None,
    ) -> None:
        check_fragment_size(fragment_size)
        self.dispatcher = Dispatcher(handlers)
        self.max_record = max_record
        self.max_in_flight = max_in_flight
        self.max_output = max_output
        self.udp_max_in_flight = udp_max_in_flight
        self.fragment_size = fragment_size
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

    def _start(self, message: Buffer, peer: Any) -> None:
        if tracing.SERVER.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.SERVER.message(self, ">", message)
        result = self._dispatch(message, peer, self.transport_name, self.reserve)
        if result is None:
            return
        if isinstance(result, bytearray):
            self._reply(result, peer)
            return
        task = self._loop.create_task(result)
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(done, peer))

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

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = stream = cast(asyncio.Transport, transport)
        self._peer = stream.get_extra_info("peername")
        stream.set_write_buffer_limits(high=self._server.max_output)
        self._server._endpoints.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            records = self._records.feed(data)
        except XdrError as exc:
            log.warning("closing the connection from %s: %s", self._peer, exc)
            self.abort()
            return
        self._backlog.extend(records)
        self._work()

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
        self.abort()

    def abort(self) -> None:
        super().abort()
        self._backlog.clear()
        self._server._endpoints.discard(self)
        if self._transport is not None:
            self._transport.abort()


class _UdpEndpoint(_Endpoint, asyncio.DatagramProtocol):
    transport_name = "udp"

    def __init__(self, server: Server) -> None:
        super().__init__(server, server.udp_max_in_flight)
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # asyncio's own is no subclass
        self._server._endpoints.add(self)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(self._running) >= self._limit:
            return  # busy: the client will send it again
        self._start(data, addr)

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

