"""The asyncio client, :class:`AsyncRpcClient`, and its :class:`AsyncDataStream`.

The transport hands what arrives straight to the client (:class:`_Receiver`),
which settles the awaiting calls' futures.  On a unix socket the client
reads with ``recvmsg`` instead of the transport, and sends descriptors
beside it (:class:`~xdrgen.runtime.virnet.asyncio_fds.TransportFds`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any, Generic

from xdrgen.runtime.rpc import Files, Packable, WithFds
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet import asyncio_fds
from xdrgen.runtime.virnet.asyncio_fds import TransportFds
from xdrgen.runtime.virnet.descriptors import close_fds
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType
from xdrgen.runtime.xdr import XdrStruct

from .. import wiretrace
from ..errors import CallTimeoutError, ConnectionClosedError, LibvirtError
from ..transport.base import writer_error_output
from .descriptors import call_with_fds, close_received
from .incoming import RECEIVE, REFUSE, Incoming
from .routing import (
    Event,
    EventHandler,
    T,
    _Dispatcher,
    _keepalive_due,
    _keepalive_tick,
    _read_error,
    _half_sent,
    _send_error,
    _send_timeout,
    _reply_key,
    _result,
    _result_with_fds,
    _Router,
)
from .streams import R, _confirms_finish, _data_frames, _hole_frame, _piece, _stream_frame, _take


# The longest a close waits for what is queued to go out (the call timeout
# if shorter).
_CLOSE_GRACE = 5.0


class AsyncDataStream(Generic[R]):
    """The asyncio flavour of :class:`DataStream`."""

    def __init__(self, client: AsyncRpcClient, prog: int, vers: int, proc: int, serial: int, direction: str) -> None:
        self.direction = direction
        self._client = client
        self._header = (prog, vers, proc, serial)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._buffer = bytearray()
        self._eof = False
        self._done = False
        self.result: R = None  # type: ignore[assignment]

    def _forget(self) -> None:
        self._client._streams.pop(self._header[3], None)

    def _deliver(self, message: Message | BaseException) -> None:
        self._queue.put_nowait(message)

    async def _next(self) -> Message:
        async with asyncio.timeout(self._client.timeout):
            item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Message)
        return item

    async def read_chunk(self) -> bytes | int:
        if self._eof:
            return b""
        return _piece(self, await self._next())

    async def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = await self.read_chunk()
            self._buffer += bytes(chunk) if isinstance(chunk, int) else chunk  # a hole reads as zeros
        return _take(self._buffer, size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read(wire.STREAM_CHUNK)
            if not chunk:
                return
            yield chunk

    async def write(self, data: bytes) -> int:
        deadline = self._client._deadline()
        for frame in _data_frames(self._header, data):
            await self._client._send(frame, deadline)
        return len(data)

    async def send_hole(self, length: int, flags: int = 0) -> None:
        await self._client._send(_hole_frame(self._header, length, flags), self._client._deadline())

    async def finish(self) -> None:
        if self._done:
            return
        await self._client._send(
            _stream_frame(self._header, MessageType.STREAM, MessageStatus.OK), self._client._deadline()
        )
        try:
            while not _confirms_finish(self, await self._next()):
                pass
        finally:
            self._done = True
            self._forget()

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self._client._send(
                _stream_frame(self._header, MessageType.STREAM, MessageStatus.ERROR), self._client._deadline()
            )
        finally:
            self._forget()


class _Receiver(asyncio.Protocol):
    """Takes over a connection's transport from asyncio's stream protocol:
    what arrives goes straight to the client (no reader task to wake, no
    second buffer); flow control and the close go on to the stream
    protocol, so the ``StreamWriter`` keeps working (``drain``,
    ``wait_closed``)."""

    def __init__(self, client: AsyncRpcClient, streams: asyncio.BaseProtocol) -> None:
        self._client = client
        self._streams = streams

    def data_received(self, data: bytes) -> None:
        self._client._received(data)

    def eof_received(self) -> bool | None:
        self._client._lost(None)
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._lost(exc)
        self._streams.connection_lost(exc)

    def pause_writing(self) -> None:
        self._streams.pause_writing()

    def resume_writing(self) -> None:
        self._streams.resume_writing()


class AsyncRpcClient(_Dispatcher):
    """The asyncio libvirt RPC connection: the transport hands what arrives
    to :meth:`_received`, which settles the awaiting calls' futures.  Create
    it inside a running event loop, before anything is read from
    ``reader``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        timeout: float | None = None,
        passes_fds: bool | None = None,
    ) -> None:
        self._writer = writer
        self.timeout = timeout
        self._trace_id = wiretrace.CLIENT.number()
        self._serials = itertools.count(1)
        self._loop = asyncio.get_running_loop()
        self._pending: dict[
            int, tuple[tuple[int, int, int, int], asyncio.Future[Message], float | None]
        ] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._streams: dict[int, AsyncDataStream[Any]] = {}
        self._router = _Router()
        self._closed: LibvirtError | None = None
        self._event_queues: list[asyncio.Queue[Event | None]] = []
        self._send_lock = asyncio.Lock()
        self._outbox: list[bytes | bytearray] = []  # small frames, sent at the loop turn's end
        self.last_received = time.monotonic()
        self._keepalive: asyncio.Task[None] | None = None
        self._lost_connection = self._loop.create_future()
        transport = writer.transport
        transport.set_protocol(_Receiver(self, transport.get_protocol()))
        # ``reader`` gets nothing from now on; what it already held (nothing,
        # unless the server spoke first) is taken by a task, and whatever
        # arrives before that task has run waits behind it
        self._early: list[tuple[bytes, list[int]]] | None = []
        self._fds: TransportFds | None = None
        # None: whenever the transport is a unix socket (connections over a
        # helper process or a SASL layer say False)
        if asyncio_fds.passes_fds(transport) if passes_fds is None else passes_fds:
            assert isinstance(transport, asyncio.Transport)
            self._fds = TransportFds(transport, self._received, self._read_ended)
        self._incoming = Incoming(RECEIVE if self._fds is not None else REFUSE)
        #: where frames are written: the transport, or beside descriptors
        self._out: Any = self._fds if self._fds is not None else transport
        reader.feed_eof()
        self._task = self._loop.create_task(self._take_early(reader))

    async def call(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T], files: Files = ()
    ) -> T:
        message = await self._call(prog, vers, proc, args, files)
        if message.fds:
            close_received(message)
        value = _result(message, result)
        assert value is not None
        return value

    async def call_void(self, prog: int, vers: int, proc: int, args: Packable | None, files: Files = ()) -> None:
        message = await self._call(prog, vers, proc, args, files)
        if message.fds:
            close_received(message)
        _result(message, None)

    async def call_receiving_fds(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[Any] | None, files: Files = ()
    ) -> WithFds[Any]:
        """A call whose reply brings descriptors: the result and those
        descriptors, now the caller's (closed if the call fails)."""
        return _result_with_fds(await self._call(prog, vers, proc, args, files), result)

    async def call_stream(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        result: type[Any] | None,
        direction: str,
    ) -> AsyncDataStream[Any]:
        serial = next(self._serials)
        stream: AsyncDataStream[Any] = AsyncDataStream(self, prog, vers, proc, serial, direction)
        self._streams[serial] = stream
        try:
            stream.result = _result(await self._call(prog, vers, proc, args, serial=serial), result)
        except BaseException:
            self._streams.pop(serial, None)
            raise
        return stream

    def register_events(self, prog: int, vers: int, table: dict[int, tuple[str, type[XdrStruct]]]) -> None:
        self._router.register_events(prog, vers, table)

    def add_event_handler(self, handler: EventHandler) -> None:
        self._router.handlers.append(handler)

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._router.handlers.remove(handler)

    def events(self) -> AsyncIterator[Event]:
        """Events from now on (the subscription starts with this call), until
        the connection closes."""
        box: asyncio.Queue[Event | None] = asyncio.Queue()
        self._event_queues.append(box)

        async def iterate() -> AsyncIterator[Event]:
            try:
                while True:
                    item = await box.get()
                    if item is None:
                        return
                    yield item
            finally:
                self._event_queues.remove(box)

        return iterate()

    def start_keepalive(self, interval: float = 5.0, count: int = 5) -> None:
        if self._keepalive is not None:
            return

        async def loop() -> None:
            while self._closed is None:
                await asyncio.sleep(_keepalive_tick(interval))
                due = _keepalive_due(self.last_received, interval, count)
                if isinstance(due, LibvirtError):
                    self._shutdown(due, abort=True)  # nothing queued would be read
                    return
                if due:
                    try:
                        # queued, never waited for: behind a peer that reads
                        # nothing the wait would never end, nor would this loop
                        self._queue(wire.PING_FRAME)
                    except LibvirtError:
                        return

        self._keepalive = asyncio.get_running_loop().create_task(loop())

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def close(self) -> None:
        self._shutdown(ConnectionClosedError())
        for helper in (self._keepalive, self._sweeper):
            if helper is not None:
                helper.cancel()
        # What is still queued goes out first, unless the server does not
        # read it: a close waits no longer than a call would.
        grace = _CLOSE_GRACE if self.timeout is None else min(self.timeout, _CLOSE_GRACE)
        try:
            await asyncio.wait_for(asyncio.shield(self._lost_connection), grace)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._writer.transport.abort()
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass

    def _deadline(self) -> float | None:
        """When something started now must be done (the loop's clock; None:
        never)."""
        timeout = self.timeout
        return None if timeout is None else self._loop.time() + timeout

    async def _send(self, frame: bytes | bytearray, deadline: float | None) -> None:
        if self._queue(frame):
            await self._drain(deadline)

    def _queue(self, frame: bytes | bytearray) -> bool:
        """Queue one whole frame for sending (whole frames never interleave);
        True if the caller should then wait in :meth:`_drain`."""
        if self._closed is not None:
            raise self._closed
        if wiretrace.CLIENT.levels.get(wiretrace.DEBUG) is not False:  # off: one dict look-up
            wiretrace.CLIENT.frame(self._trace_id, ">", frame)
        if len(frame) >= wire.INITIAL_BUFFER:
            self._flush()  # stream data: in order, and not copied again
            self._out.write(frame)
        else:
            # The calls made in one turn of the event loop (by the tasks
            # that one read of replies woke) leave together at its end:
            # one send, and one read for the daemon instead of one per
            # call -- it then spends a fifth less CPU per call.
            if not self._outbox:
                self._loop.call_soon(self._flush)
            self._outbox.append(frame)
        # waiting for the buffer to drain is only worth it when the peer is
        # slow to read
        return bool(self._out.get_write_buffer_size() > wire.INITIAL_BUFFER)

    async def _drain(self, deadline: float | None, what: str = "a message") -> None:
        """Wait until the transport's buffer is low again, at most until
        ``deadline``: past it :class:`CallTimeoutError` (what was queued
        stays queued, in whole frames: the connection can go on)."""
        try:
            async with asyncio.timeout_at(deadline):
                async with self._send_lock:
                    await self._writer.drain()
        except TimeoutError:
            raise _send_timeout(what, self.timeout) from None
        except (OSError, ConnectionError) as exc:
            error = _send_error(exc, self._error_output())
            self._shutdown(error)
            raise error from exc

    async def _call(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        files: Files = (),
        serial: int | None = None,
    ) -> Message:
        if self._closed is not None:
            raise self._closed
        if serial is None:
            serial = next(self._serials)
        copies: list[int] | None = None
        if files:
            frame, copies = call_with_fds(prog, vers, proc, serial, args, files, self._fds is not None)
        else:
            frame = wire.encode_call(prog, vers, proc, serial, args)
        future: asyncio.Future[Message] = self._loop.create_future()
        deadline = self._deadline()
        self._pending[serial] = ((prog, vers, proc, serial), future, deadline)
        if deadline is not None and self._sweeper is None:
            self._sweeper = self._loop.create_task(self._sweep_timeouts())
        try:
            if copies is not None:
                await self._send_with_fds(frame, copies, deadline, proc)
            elif self._queue(frame):
                await self._drain(deadline, f"procedure {proc}")
            return await future
        except BaseException:
            # a reply that came just before a cancel: its descriptors
            if future.done() and not future.cancelled() and future.exception() is None:
                close_received(future.result())
            raise
        finally:
            self._pending.pop(serial, None)
            if copies:
                close_fds(copies)

    async def _send_with_fds(self, frame: bytearray, fds: list[int], deadline: float | None, proc: int) -> None:
        """Send a call and its descriptors after every frame queued before,
        by ``deadline``."""
        assert self._fds is not None
        self._flush()
        try:
            async with asyncio.timeout_at(deadline):
                await self._fds.send(frame, fds)
        except TimeoutError:
            if self._fds.broken:
                self._shutdown(_half_sent(), abort=True)
            raise _send_timeout(f"procedure {proc}", self.timeout) from None
        except OSError as exc:
            error = _send_error(exc, self._error_output())
            self._shutdown(error)
            raise error from exc

    async def _sweep_timeouts(self) -> None:
        """Fail calls past their deadline.  One task for all calls is far
        cheaper than a timer per call; a deadline is met within a quarter of
        the timeout (at most a second) late."""
        while self._closed is None:
            period = min(1.0, (self.timeout or 4.0) / 4)
            await asyncio.sleep(period)
            now = self._loop.time()
            for key, future, deadline in list(self._pending.values()):
                if deadline is not None and now >= deadline and not future.done():
                    future.set_exception(
                        CallTimeoutError(
                            f"Timed out during operation: no reply to procedure {key[2]} "
                            f"in {self.timeout} s"
                        )
                    )

    async def _take_early(self, reader: asyncio.StreamReader) -> None:
        try:
            data = await reader.read()
        except (OSError, ConnectionError) as exc:  # lost before we took over
            self._lost(exc)
            return
        early, self._early = self._early, None
        for chunk, fds in [(data, []), *(early or ())]:
            if chunk:
                self._received(chunk, fds)

    def _received(self, data: bytes, fds: list[int] | None = None) -> None:
        """Bytes (and the descriptors that came with them) from the
        connection: every whole frame is dispatched at once (one read often
        holds several replies)."""
        if self._early is not None:
            self._early.append((data, fds or []))
            return
        if self._closed is not None:
            if fds:
                close_fds(fds)
            return
        self.last_received = time.monotonic()
        try:
            if fds:
                self._incoming.add_fds(fds)
            self._take_in(data)
        except wire.ProtocolError as exc:
            self._shutdown(_read_error(exc))

    def _read_ended(self, error: OSError | None) -> None:
        """The end of what :class:`TransportFds` reads: the peer's EOF, or
        a failed read."""
        self._lost(error)

    def _lost(self, exc: Exception | None) -> None:
        """The transport's end (EOF, an error, or our own close)."""
        if not self._lost_connection.done():
            self._lost_connection.set_result(None)
        self._shutdown(_read_error(EOFError() if exc is None else exc, self._error_output()))
        if self._fds is not None:
            self._fds.close()  # the same connection: it ends with the transport

    def _error_output(self) -> str:
        """What a helper process (ssh, ext) wrote to stderr, if there is one."""
        return writer_error_output(self._writer)

    def _flush(self) -> None:
        """Send the frames queued by :meth:`_send`."""
        outbox = self._outbox
        if outbox:
            data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
            outbox.clear()
            if self._closed is None:
                self._out.write(data)

    def _answer_ping(self) -> None:
        try:
            self._queue(wire.PONG_FRAME)  # not waited for, like our PINGs
        except LibvirtError:
            pass

    def _settle(self, message: Message) -> bool:
        entry = self._pending.get(message.serial)
        if entry is None or entry[0] != _reply_key(message):
            return False
        future = entry[1]
        if future.done():  # timed out
            close_received(message)
        else:
            future.set_result(message)
        return True

    def _shutdown(self, error: LibvirtError, abort: bool = False) -> None:
        if self._closed is not None:
            return
        self._closed = error
        self._router.warnings.flush()
        self._incoming.close()  # descriptors no message took
        for _key, future, _deadline in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
        for stream in list(self._streams.values()):
            stream._deliver(error)
        for box in list(self._event_queues):
            box.put_nowait(None)
        try:
            if abort:
                self._writer.transport.abort()
            self._writer.close()
        except (OSError, RuntimeError):
            pass
        if not self._task.done():
            self._task.cancel()
