"""A tracing, rewriting proxy: clients connect to it, it connects each one
to the upstream server and passes every byte on, printing one line per
message.

Without rules the bytes go out as they came in, before they are even
looked at, and only the headers are kept (memory stays flat, however
large the messages).  With rules (:mod:`xdrgen.trace.rewrite`) whole
messages are held, decided on, and sent as they were or framed again.
Descriptors passed on unix sockets go on with the byte that carried them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .addresses import Address, peer_name
from ..runtime.virnet.descriptors import close_fds
from .endpoints import HIGH_WATER, Endpoint, TransportEndpoint, UnixEndpoint
from .framing import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Framing, FramingSession, Piece, Splitter
from .rewrite import Rewriter
from .tracer import Tracer

FLUSH_INTERVAL = 0.05  # seconds a message may wait to be traced and its line to be written
BACKLOG_BYTES = 256 * 1024  # ... or this many bytes of messages
BACKLOG_READS = 4096  # ... or this many reads
CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    listen: Address
    upstream: Address
    listen_tls: ssl.SSLContext | None = None
    upstream_tls: ssl.SSLContext | None = None


class Backlog:
    """What was passed on but not traced yet, in the order it came.

    Tracing costs a few microseconds a message.  Done right after passing
    the message on, it mostly delays the answer: the peer just woken often
    takes this CPU, and when it answers we are still tracing.  Done in
    batches (every :data:`FLUSH_INTERVAL`, or sooner past
    :data:`BACKLOG_BYTES`), it mostly falls where nothing waits for us,
    and the batch runs faster too.  Everything else the trace writes
    (connections opened and closed) waits for the backlog, so lines stay
    in order."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._items: list[tuple[Flow, float, bytes]] = []
        self._bytes = 0

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, flow: Flow, time: float, data: bytes) -> bool:
        """Keep ``data`` to trace; True when the backlog should be traced now."""
        self._items.append((flow, time, data))
        self._bytes += len(data)
        return self._bytes > BACKLOG_BYTES or len(self._items) > BACKLOG_READS

    def trace(self) -> None:
        items, self._items, self._bytes = self._items, [], 0
        piece = self._tracer.piece
        for flow, time, data in items:
            conn, direction = flow.link.conn, flow.direction
            for each in flow.splitter.feed(data):
                piece(conn, direction, time, each)


class Proxy:
    def __init__(self, config: ProxyConfig, framing: Framing, tracer: Tracer, rewriter: Rewriter | None = None) -> None:
        self.config = config
        self.framing = framing
        self.tracer = tracer
        self.rewriter = rewriter if rewriter is not None and rewriter.rules else None
        self._start = time.monotonic()
        self._connections = 0
        self._links: set[Link] = set()
        self._flush_timer: asyncio.TimerHandle | None = None
        self.backlog = Backlog(tracer)
        self._listener: socket.socket | None = None
        self.address: Address | None = None  # where it listens, port resolved

    def clock(self) -> float:
        return time.monotonic() - self._start

    def output_written(self) -> None:
        """Trace and flush soon (one write per interval, not per message)."""
        if self._flush_timer is None and (self.backlog or self.tracer.output.pending):
            self._flush_timer = asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self._flush)

    def passed_on(self, flow: Flow, data: bytes) -> None:
        """``flow`` passed ``data`` on: trace it soon."""
        if self.backlog.add(flow, time.monotonic() - self._start, data):
            self.backlog.trace()
        if self._flush_timer is None:
            self.output_written()

    def _flush(self) -> None:
        self._flush_timer = None
        self.backlog.trace()
        self.tracer.output.flush()

    def listen(self) -> Address:
        config = self.config
        sock = socket.socket(config.listen.family, socket.SOCK_STREAM)
        if config.listen.kind == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(config.listen.sockaddr)
        sock.listen(128)
        sock.setblocking(False)
        self._listener = sock
        if config.listen.kind == "tcp":
            host, port = sock.getsockname()[:2]
            self.address = Address("tcp", host=host, port=port)
        else:
            self.address = config.listen
        return self.address

    async def serve(self, ready: Callable[[Address], None] | None = None) -> None:
        """Accept clients until cancelled."""
        address = self.listen() if self._listener is None else self.address
        assert self._listener is not None and address is not None
        if ready is not None:
            ready(address)
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                sock, _ = await loop.sock_accept(self._listener)
                self._connections += 1
                task = asyncio.create_task(self._serve(self._connections, sock))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            self._listener.close()
            listen = self.config.listen
            if listen.kind == "unix" and not listen.path.startswith("@"):
                with contextlib.suppress(OSError):
                    os.unlink(listen.path)
            for link in list(self._links):
                link.close("proxy stopped")
            for task in tasks:
                task.cancel()
            if self._flush_timer is not None:
                self._flush_timer.cancel()
            self._flush()

    async def _serve(self, conn: int, sock: socket.socket) -> None:
        config = self.config
        client_name = peer_name(sock, str(config.listen))
        try:
            client = await _endpoint(sock, client_name, config.listen_tls, server_side=True)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            sock.close()
            print(f"xdrgen.trace: connection {conn}: TLS handshake failed: {error}", file=sys.stderr)
            return
        try:
            upstream = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as error:
            client.close()
            # The client sees its connection closed, as if the server had refused it.
            print(f"xdrgen.trace: connection {conn}: cannot reach {config.upstream}: {error!r}", file=sys.stderr)
            return
        link = Link(self, conn, client, upstream)
        self._links.add(link)
        link.start()

    async def _connect(self) -> Endpoint:
        upstream = self.config.upstream
        sock = socket.socket(upstream.family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, upstream.sockaddr)
            return await _endpoint(sock, str(upstream), self.config.upstream_tls, server_side=False, host=upstream.host)
        except BaseException:
            sock.close()
            raise

    def forget(self, link: Link) -> None:
        self._links.discard(link)


async def _endpoint(
    sock: socket.socket, name: str, tls: ssl.SSLContext | None, *, server_side: bool, host: str = ""
) -> Endpoint:
    loop = asyncio.get_running_loop()
    if tls is None and sock.family == socket.AF_UNIX:
        return UnixEndpoint(sock, name, loop)
    endpoint = TransportEndpoint(name, tls=tls is not None)
    if tls is None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await (loop.connect_accepted_socket if server_side else loop.create_connection)(lambda: endpoint, sock=sock)
    elif server_side:
        await loop.connect_accepted_socket(lambda: endpoint, sock, ssl=tls, ssl_handshake_timeout=CONNECT_TIMEOUT)
    else:
        await loop.create_connection(lambda: endpoint, sock=sock, ssl=tls, server_hostname=host or None)
    return endpoint


class Link:
    """One client's connection and its upstream connection."""

    def __init__(self, proxy: Proxy, conn: int, client: Endpoint, upstream: Endpoint) -> None:
        self.proxy = proxy
        self.conn = conn
        self.client = client
        self.upstream = upstream
        self.session = proxy.framing.session(proxy.tracer.codecs.catalog.knows)
        listen_tls = proxy.config.listen_tls is not None
        upstream_tls = proxy.config.upstream_tls is not None
        confirmation = proxy.framing.tls_confirmation
        # A TLS server's confirmation byte: the client sees one exactly when
        # the side it talks to is TLS, so the proxy adds or removes it.
        self.forward = Flow(self, CLIENT_TO_SERVER, client, upstream)
        passed = len(confirmation) if upstream_tls and listen_tls else 0
        stripped = len(confirmation) if upstream_tls and not listen_tls else 0
        self.backward = Flow(self, SERVER_TO_CLIENT, upstream, client, preamble=passed, strip=stripped)
        self._inject = confirmation if listen_tls and not upstream_tls else b""
        self._closed = False
        self._reason = ""

    def start(self) -> None:
        self.proxy.backlog.trace()
        self.proxy.tracer.opened(self.proxy.clock(), self.conn, self.client.name, self.upstream.name)
        self.proxy.output_written()
        if self._inject:
            self.client.write(self._inject)
        self.client.start()
        self.upstream.start()

    def ended(self, flow: Flow) -> None:
        """One direction reached its end and sent everything."""
        if not self._reason:
            self._reason = "closed by client" if flow is self.forward else "closed by server"
        if self.forward.done and self.backward.done:
            self.close(self._reason)

    def failed(self, flow: Flow, error: BaseException) -> None:
        self.close(f"{'client' if flow.source is self.client else 'server'} error: {error}")

    def close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.forward.stop()
        self.backward.stop()
        self.client.close()
        self.upstream.close()
        self.proxy.backlog.trace()
        self.proxy.tracer.closed(self.proxy.clock(), self.conn, self.client.name, self.upstream.name, reason)
        self.proxy.output_written()
        self.proxy.forget(self)


class Flow:
    """One direction of a link: read from ``source``, trace, (rewrite,)
    write to ``destination``; what is held back for a delay stays in order
    and its size pauses the source like a full destination does."""

    def __init__(
        self, link: Link, direction: str, source: Endpoint, destination: Endpoint, *, preamble: int = 0, strip: int = 0
    ) -> None:
        self.link = link
        self.direction = direction
        self.source = source
        self.destination = destination
        proxy = link.proxy
        self.tracer = proxy.tracer
        self.rewriter = proxy.rewriter
        keep = self.rewriter is not None or self.tracer.wants_payload
        self.splitter: Splitter = link.session.splitter(direction, keep=keep, preamble=preamble)
        self._strip = strip  # bytes of a TLS confirmation still to remove
        self._received = 0  # bytes read so far (stream offset of the next byte)
        self._split = 0  # stream offset where the next piece starts
        self._fds: deque[tuple[int, list[int]]] = deque()  # (offset of the carrying byte, descriptors)
        self._drop_carriers = 0  # carrier bytes of a dropped message, to drop too
        self._held: deque[tuple[float, bytes, list[int]]] = deque()  # (due, data, descriptors)
        self._held_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._pauses: set[str] = set()
        self._eof = False
        self.done = False
        self._write = destination.write
        self._passed_on = proxy.passed_on
        source.on_data = self._data
        source.on_eof = self._source_eof
        source.on_error = lambda error: link.failed(self, error)
        destination.on_pause = lambda: self._pause("destination")
        destination.on_resume = lambda: self._resume("destination")
        destination.on_fds_dropped = self._fds_dropped

    # -- reading
    def _data(self, data: bytes, fds: list[int]) -> None:
        if self._strip:
            data = self._strip_confirmation(data)
            if not data:
                close_fds(fds)
                return
        if self.rewriter is None:  # nothing is held back: out first, looked at later (see Backlog)
            self._write(data, fds)
            self._passed_on(self, data)
            return
        now = self.link.proxy.clock()
        if fds:
            self._fds.append((self._received + len(data) - 1, fds))
        self._received += len(data)
        for piece in self.splitter.feed(data):
            self._rewrite(now, piece)
        self.link.proxy.output_written()

    def _strip_confirmation(self, data: bytes) -> bytes:
        """Remove the upstream TLS server's confirmation (the client, not
        on TLS, expects none); anything else than the expected byte ends
        the connection, as it would have ended the client's."""
        expected = self.link.proxy.framing.tls_confirmation
        take = min(self._strip, len(data))
        offset = len(expected) - self._strip
        if data[:take] != expected[offset : offset + take]:
            self.link.close("server refused the TLS session")
            return b""
        self._strip -= take
        return data[take:]

    def _fds_before(self, end: int) -> list[int]:
        """The descriptors carried by bytes before stream offset ``end``."""
        taken: list[int] = []
        while self._fds and self._fds[0][0] < end:
            taken.extend(self._fds.popleft()[1])
        return taken

    def _rewrite(self, now: float, piece: Piece) -> None:
        assert self.rewriter is not None
        self._split += piece.size
        fds = self._fds_before(self._split)
        conn, direction = self.link.conn, self.direction
        header = piece.header
        if header is None:
            data = piece.data or b""
            if self._drop_carriers:
                dropped = min(self._drop_carriers, len(data))
                self._drop_carriers -= dropped
                data = data[dropped:]
                if not data:
                    close_fds(fds)
                    return
            self.tracer.piece(conn, direction, now, piece)
            self._send(data, fds)
            return
        message = self.tracer.codecs.message(conn, direction, now, header, None)
        message.frame = piece.data
        outgoing = self.rewriter.apply(self.link.session, message)
        if not outgoing.frames:
            self._drop_carriers += header.nfds
            close_fds(fds)
            self.tracer.message(message, outgoing.notes)
            return
        for index, (data, sent) in enumerate(outgoing.frames):
            notes = outgoing.notes if index == 0 else ["added"]
            if self.tracer.wants_payload and sent.payload is None and sent.frame is not None and sent is message:
                sent.payload, sent.undecodable = self.tracer.codecs.decode(sent.header, sent.frame)
            self.tracer.message(sent, notes)
            last = index == len(outgoing.frames) - 1
            self._send(data, fds if last else [], outgoing.delay)

    def _fds_dropped(self, count: int) -> None:
        text = f"{count} file descriptor(s) dropped: {self.destination.name} is no unix socket"
        self.link.proxy.backlog.trace()
        self.tracer.note(self.link.proxy.clock(), self.link.conn, self.direction, text)

    # -- writing, in order, some of it later
    def _send(self, data: bytes, fds: list[int], delay: float = 0.0) -> None:
        if not delay and not self._held:
            if data or fds:
                self.destination.write(data, fds)
            return
        now = time.monotonic()
        due = max(now + delay, self._held[-1][0] if self._held else now)
        self._held.append((due, data, fds))
        self._held_bytes += len(data)
        if self._held_bytes > HIGH_WATER:
            self._pause("held")
        if self._timer is None:
            self._schedule()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + max(0.0, self._held[0][0] - time.monotonic()), self._release)

    def _release(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._held and self._held[0][0] <= now:
            _, data, fds = self._held.popleft()
            self._held_bytes -= len(data)
            self.destination.write(data, fds)
        if self._held:
            self._schedule()
        else:
            self._resume("held")
            if self._eof:
                self._finish()

    # -- flow control and the end
    def _pause(self, reason: str) -> None:
        if not self._pauses:
            self.source.pause_reading()
        self._pauses.add(reason)

    def _resume(self, reason: str) -> None:
        if reason in self._pauses:
            self._pauses.discard(reason)
            if not self._pauses and not self._eof:
                self.source.resume_reading()

    def _source_eof(self) -> None:
        self._eof = True
        now = self.link.proxy.clock()
        if self.rewriter is not None:
            for piece in self.splitter.end():
                self._rewrite(now, piece)
        else:
            self.link.proxy.backlog.trace()
            for piece in self.splitter.end():
                self.tracer.piece(self.link.conn, self.direction, now, piece)
        if not self._held:
            self._finish()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.destination.write_eof()
        self.link.ended(self)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, _, fds in self._held:
            close_fds(fds)
        self._held.clear()
        for _, fds in self._fds:
            close_fds(fds)
        self._fds.clear()
