"""The libvirt RPC client: many calls in flight over one connection.

:class:`RpcClient` (blocking, thread-safe: callers read their own replies
in turn, libvirt's way, and a background thread reads while nobody calls)
and :class:`AsyncRpcClient` (asyncio: the transport hands it what arrives)
implement the channel protocols that generated stubs call
(:mod:`xdrgen.runtime.rpc`).
Both route what arrives the same way (:class:`_Router`): replies by (prog,
vers, proc, serial) to the waiting call, keepalive PINGs answered with PONG,
MESSAGE events to handlers, STREAM/STREAM_HOLE packets to the stream of their
call.  When the connection drops every pending and later call fails at once.
"""

from __future__ import annotations

import _thread
import asyncio
import collections
import itertools
import logging
import os
import queue
import select
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from xdrgen.runtime.rpc import Packable
from xdrgen.runtime.xdr import XdrError, XdrStruct
from . import idle_watch
from xdrgen.runtime.virnet import framing as wire
from .errors import CallTimeoutError, ConnectionClosedError, ErrorNumber, LibvirtError
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType

log = logging.getLogger("xdrgen.libvirt.client")

T = TypeVar("T", bound=XdrStruct)
R = TypeVar("R")

_HOLE = struct.Struct(">qI")  # virNetStreamHole: hyper length, u_int flags


@dataclass(frozen=True)
class Event:
    """An event the server sent (a MESSAGE): its procedure's name and the
    decoded ``_msg`` struct."""

    program: int
    procedure: int
    name: str
    message: XdrStruct


EventHandler = Callable[[Event], None]


def decode_error(payload: memoryview) -> LibvirtError:
    """A ``remote_error`` payload as :class:`LibvirtError`."""
    from libvirt_rpc.virnetprotocol import VirNetMessageError

    try:
        error = VirNetMessageError.decode(payload)
    except XdrError as exc:
        return LibvirtError(f"malformed error reply: {exc}", code=ErrorNumber.VIR_ERR_RPC)
    return LibvirtError.from_remote_error(
        error.code,
        error.domain,
        error.message,
        error.level,
        error.str1,
        error.str2,
        error.str3,
        error.int1,
        error.int2,
    )


def _result(message: Message, result: type[T] | None) -> T | None:
    if message.status == MessageStatus.ERROR:
        raise decode_error(message.payload)
    if result is None:
        return None
    try:
        return result.decode(message.payload)
    except XdrError as exc:
        raise LibvirtError(
            f"cannot decode the reply to procedure {message.proc}: {exc}",
            code=ErrorNumber.VIR_ERR_RPC,
        ) from exc


class _Router:
    """Decides what to do with each incoming message; shared by both clients."""

    def __init__(self) -> None:
        self.events: dict[tuple[int, int, int], tuple[str, type[XdrStruct]]] = {}
        self.handlers: list[EventHandler] = []

    def register_events(self, prog: int, vers: int, table: dict[int, tuple[str, type[XdrStruct]]]) -> None:
        for proc, (name, cls) in table.items():
            self.events[(prog, vers, proc)] = (name, cls)

    def event(self, message: Message) -> Event | None:
        entry = self.events.get((message.prog, message.vers, message.proc))
        if entry is None:
            log.warning(
                "ignoring unknown event: program %#x version %d procedure %d",
                message.prog,
                message.vers,
                message.proc,
            )
            return None
        name, cls = entry
        try:
            decoded = cls.decode(message.payload)
        except XdrError as exc:
            log.warning("ignoring malformed event %s: %s", name, exc)
            return None
        return Event(message.prog, message.proc, name, decoded)


def _reply_key(message: Message) -> tuple[int, int, int, int]:
    return (message.prog, message.vers, message.proc, message.serial)


class _Dispatcher:
    """What both clients do with an incoming message; they supply how a
    reply is handed to its caller and how a PING is answered."""

    _router: _Router
    _streams: dict[int, Any]
    _event_queues: list[Any]  # queue.Queue or asyncio.Queue: both put_nowait

    def _answer_ping(self) -> None:
        raise NotImplementedError

    def _settle(self, message: Message) -> bool:
        """Give a reply to the call waiting for it; False if none is."""
        raise NotImplementedError

    def _dispatch(self, message: Message) -> None:
        kind = message.type
        if kind is MessageType.REPLY or kind is MessageType.REPLY_WITH_FDS:  # the usual case first
            for fd in message.fds:
                os.close(fd)  # no stub returns descriptors yet: do not leak them
            if not self._settle(message):
                log.warning("ignoring a reply nobody waits for (serial %d)", message.serial)
        elif _is_keepalive(message):
            if _is_ping(message):
                self._answer_ping()
        elif kind in (MessageType.STREAM, MessageType.STREAM_HOLE):
            stream = self._streams.get(message.serial)
            if stream is None:
                log.warning("ignoring stream data for unknown serial %d", message.serial)
            else:
                stream._deliver(message)
        elif kind == MessageType.MESSAGE:
            event = self._router.event(message)
            if event is not None:
                self._publish(event)
        else:
            log.warning("ignoring a %s message from the server", kind.name)

    def _publish(self, event: Event) -> None:
        """Hand an event to the handlers and the ``events()`` iterators."""
        for handler in list(self._router.handlers):
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed")
        for box in list(self._event_queues):
            box.put_nowait(event)


def _read_error(exc: BaseException) -> LibvirtError:
    """libvirt's words for a connection that failed while reading."""
    if isinstance(exc, EOFError):
        return ConnectionClosedError("internal error: End of file while reading data: Input/output error")
    if isinstance(exc, wire.ProtocolError):
        return ConnectionClosedError(f"internal error: protocol error from server: {exc}")
    return ConnectionClosedError(f"internal error: cannot recv data: {exc}")


def _keepalive_tick(interval: float) -> float:
    """How often a keepalive loop looks at the connection."""
    return min(interval, 1.0) if interval > 1 else interval


def _keepalive_due(last_received: float, interval: float, count: int) -> LibvirtError | bool:
    """What a keepalive loop does now: the error that closes a connection
    silent for ``count`` intervals after the first, True to send a PING
    (quiet for an interval), False to wait (libvirt's virKeepAliveTimer)."""
    idle = time.monotonic() - last_received
    if idle >= interval * (count + 1):
        return ConnectionClosedError("internal error: connection closed due to keepalive timeout")
    return idle >= interval


def _is_ping(message: Message) -> bool:
    return (
        message.prog == wire.KEEPALIVE_PROGRAM
        and message.type == MessageType.MESSAGE
        and message.proc == wire.KEEPALIVE_PING
    )


def _is_keepalive(message: Message) -> bool:
    return message.prog == wire.KEEPALIVE_PROGRAM


# ---------------------------------------------------------------------------
# blocking client


class _Waiter:
    """A thread waiting for something the connection will bring: a reply, or
    a stream's next packet.

    It parks on a bare lock (taken by :meth:`prepare`, released by
    :meth:`wake`): the cheapest way to park a thread, ``threading.Event``
    costs several times more.  A caller that reads its reply itself never
    parks, so the lock is only made by :meth:`prepare`, which must come
    before the waiter's last look at :meth:`ready` (whoever makes it ready
    sets the result first and wakes second, so one of the two sees the
    other).  A wake-up that finds nobody waiting is kept for the next
    :meth:`wait`, which then looks at :meth:`ready` again."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: Any = None

    def ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        if self._lock is None:
            lock = _thread.allocate_lock()
            lock.acquire()
            self._lock = lock

    def wake(self) -> None:
        lock = self._lock
        if lock is not None:
            try:
                lock.release()
            except RuntimeError:
                pass  # a wake-up is pending already

    def wait(self, timeout: float | None) -> bool:
        return bool(self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)))


class _StreamWaiter(_Waiter):
    """A stream's reader waiting for its next packet (or the connection's
    end, as an exception)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        super().__init__()
        self.items: collections.deque[Message | BaseException] = collections.deque()

    def ready(self) -> bool:
        return bool(self.items)


class _Pending(_Waiter):
    """A call waiting for its reply (or the connection's end)."""

    __slots__ = ("key", "message", "error")

    def __init__(self, key: tuple[int, int, int, int]) -> None:
        self._lock = None  # _Waiter.__init__, inline: this is made for every call
        self.key = key
        self.message: Message | None = None
        self.error: BaseException | None = None

    def ready(self) -> bool:
        return self.message is not None or self.error is not None


def _piece(stream: DataStream[Any] | AsyncDataStream[Any], message: Message) -> bytes | int:
    """What a STREAM/STREAM_HOLE message means to the reader: data, the
    length of a hole, or ``b""`` at the end; an ERROR raises."""
    if message.type == MessageType.STREAM_HOLE:
        length, _flags = _HOLE.unpack_from(message.payload, 0)
        return int(length)
    if message.status == MessageStatus.ERROR:
        stream._done = True
        stream._forget()
        raise decode_error(message.payload)
    if message.status == MessageStatus.OK or not message.payload:
        stream._eof = True  # libvirtd ends the data with an empty packet
        return b""
    return bytes(message.payload)


def _confirms_finish(stream: DataStream[Any] | AsyncDataStream[Any], message: Message) -> bool:
    """After we sent our STREAM OK: is ``message`` the server's confirmation?

    A read stream may first show the rest of its data and the server's own
    end-of-data OK; the confirmation is the OK after that.  An ERROR raises.
    """
    if message.status == MessageStatus.ERROR:
        raise decode_error(message.payload)
    if message.type != MessageType.STREAM:
        return False  # a hole: dropped
    if message.status == MessageStatus.CONTINUE:
        if not message.payload:
            stream._eof = True  # the server's end of data
        return False  # unread data: dropped
    if stream.direction == "read" and not stream._eof:
        stream._eof = True  # a server that ends its data with OK
        return False
    return True


def _stream_frame(
    header: tuple[int, int, int, int], kind: MessageType, status: MessageStatus, body: Any = None
) -> bytearray:
    """One STREAM/STREAM_HOLE frame of the stream whose call is ``header``."""
    prog, vers, proc, serial = header
    return wire.encode_message(prog, vers, proc, kind, serial, status, body)


def _data_frames(header: tuple[int, int, int, int], data: bytes) -> Iterator[bytearray]:
    """``data`` as STREAM CONTINUE frames of at most :data:`wire.STREAM_CHUNK` bytes."""
    view = memoryview(data)
    for start in range(0, len(view), wire.STREAM_CHUNK):
        yield _stream_frame(header, MessageType.STREAM, MessageStatus.CONTINUE, view[start : start + wire.STREAM_CHUNK])


def _hole_frame(header: tuple[int, int, int, int], length: int, flags: int) -> bytearray:
    return _stream_frame(header, MessageType.STREAM_HOLE, MessageStatus.CONTINUE, _HOLE.pack(length, flags))


def _take(buffer: bytearray, size: int) -> bytes:
    """The first ``size`` bytes of ``buffer`` (all if negative), removed."""
    if size < 0:
        size = len(buffer)
    data = bytes(buffer[:size])
    del buffer[:size]
    return data


class DataStream(Generic[R]):
    """A data stream of a ``@readstream``/``@writestream`` procedure.

    Reading returns ``b""`` at the end; holes of sparse streams are skipped
    by :meth:`read` and reported by :meth:`read_chunk`.  :meth:`finish` ends
    the stream and waits for the server to confirm it.
    """

    def __init__(self, client: RpcClient, prog: int, vers: int, proc: int, serial: int, direction: str) -> None:
        self.direction = direction
        self._client = client
        self._header = (prog, vers, proc, serial)
        self._waiter = _StreamWaiter()
        self._buffer = bytearray()
        self._eof = False
        self._done = False
        self.result: R = None  # type: ignore[assignment]

    def _forget(self) -> None:
        self._client._forget_stream(self._header[3])

    # fed by whichever thread reads the connection (an error: the connection ended)
    def _deliver(self, item: Message | BaseException) -> None:
        self._waiter.items.append(item)
        self._waiter.wake()

    def _next(self) -> Message:
        if not self._client._wait_for(self._waiter, self._client.timeout):
            raise CallTimeoutError(None)
        item = self._waiter.items.popleft()
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Message)
        return item

    def read_chunk(self) -> bytes | int:
        """The next piece from the server: data (``b""`` at the end) or the
        length of a hole (an ``int``)."""
        if self._eof:
            return b""
        return _piece(self, self._next())

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = self.read_chunk()
            self._buffer += bytes(chunk) if isinstance(chunk, int) else chunk  # a hole reads as zeros
        return _take(self._buffer, size)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(wire.STREAM_CHUNK)
            if not chunk:
                return
            yield chunk

    def write(self, data: bytes) -> int:
        for frame in _data_frames(self._header, data):
            self._client._send(frame)
        self._check_error()
        return len(data)

    def send_hole(self, length: int, flags: int = 0) -> None:
        self._client._send(_hole_frame(self._header, length, flags))

    def _check_error(self) -> None:
        """Raise an error the server sent while we were writing."""
        items = self._waiter.items
        if not items:
            return
        item = items[0]
        if isinstance(item, BaseException):
            raise item
        if item.status == MessageStatus.ERROR:
            items.popleft()
            self._done = True
            raise decode_error(item.payload)

    def finish(self) -> None:
        """Tell the server the stream is done and wait for its confirmation
        (unread data of a read stream is dropped)."""
        if self._done:
            return
        self._client._send(_stream_frame(self._header, MessageType.STREAM, MessageStatus.OK))
        try:
            while not _confirms_finish(self, self._next()):
                pass
        finally:
            self._done = True
            self._forget()

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._client._send(_stream_frame(self._header, MessageType.STREAM, MessageStatus.ERROR))
        finally:
            self._forget()

    def __enter__(self) -> DataStream[R]:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.finish()
        else:
            self.abort()


_WATCHER = "watcher"  # the role holder when the background thread reads
# A caller giving up the role leaves the watch off: back-to-back calls then
# cost no epoll_ctl at all.  The background thread, woken when a call turns
# the watch off, turns it back on once nobody has read for this long (what
# arrives meanwhile waits at most that long, unless a call reads it first).
_REARM_AFTER = 0.05


class RpcClient(_Dispatcher):
    """A blocking libvirt RPC connection over a connected byte stream.

    Thread-safe: any number of threads may call at once.  It reads the way
    libvirt's client does: a caller reads the socket itself until its reply
    arrives, handing other callers their replies on the way, and passes the
    reading on to a caller still waiting when it is done; while nobody
    calls, a background thread watches the socket (see :mod:`.idle_watch`).
    Event handlers always run on that thread.  ``timeout`` is the default
    per-call timeout in seconds (None: wait for ever).
    """

    def __init__(self, stream: Any, *, timeout: float | None = None) -> None:
        self._stream = stream
        self.timeout = timeout
        self._send_lock = threading.Lock()  # guards the outbox, never held while sending
        self._outbox: list[bytes | bytearray] = []
        self._sending = False  # a thread is sending the outbox
        self._lock = threading.Lock()  # guards the reading role and the waiters
        self._serials = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._streams: dict[int, DataStream[Any]] = {}
        self._router = _Router()
        self._closed: LibvirtError | None = None
        self._event_queues: list[queue.Queue[Event | None]] = []
        self._backlog: collections.deque[Event] = collections.deque()  # for the handlers
        self.last_received = time.monotonic()
        self._decoder = wire.FrameDecoder()
        self._fds: collections.deque[int] = collections.deque()
        self._view = memoryview(bytearray(wire.STREAM_CHUNK))  # the reader's buffer
        # who reads: None (nobody: the watch is armed), _WATCHER or a _Waiter
        self._role: object = None
        self._waiters: dict[_Waiter, None] = {}  # waiting for the role, in order
        # TLS may hold decrypted bytes that poll() cannot see
        self._buffered = getattr(getattr(stream, "socket", None), "pending", None)
        self._poll = select.poll()
        self._poll.register(stream.fileno(), select.POLLIN)
        self._watch = idle_watch.watch(stream.fileno())
        self._armed = True  # the watch reports the socket (guarded by _lock)
        self._keepalive: threading.Thread | None = None
        self._reader = threading.Thread(target=self._watch_loop, name="libvirt-rpc-reader", daemon=True)
        self._reader.start()

    # ---- channel protocol
    def call(self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T]) -> T:
        value = _result(self._call(prog, vers, proc, args), result)
        assert value is not None
        return value

    def call_void(self, prog: int, vers: int, proc: int, args: Packable | None) -> None:
        _result(self._call(prog, vers, proc, args), None)

    def call_stream(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        result: type[Any] | None,
        direction: str,
    ) -> DataStream[Any]:
        serial = next(self._serials)
        stream: DataStream[Any] = DataStream(self, prog, vers, proc, serial, direction)
        with self._lock:
            self._streams[serial] = stream
        try:
            stream.result = _result(self._call(prog, vers, proc, args, serial=serial), result)
        except BaseException:
            self._forget_stream(serial)
            raise
        return stream

    # ---- events
    def register_events(self, prog: int, vers: int, table: dict[int, tuple[str, type[XdrStruct]]]) -> None:
        self._router.register_events(prog, vers, table)

    def add_event_handler(self, handler: EventHandler) -> None:
        """Call ``handler(event)`` (on the background thread) for every event."""
        self._router.handlers.append(handler)

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._router.handlers.remove(handler)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events from now on (the subscription starts with this
        call), until the connection closes or ``timeout`` seconds pass
        without one."""
        box: queue.Queue[Event | None] = queue.Queue()
        self._event_queues.append(box)

        def iterate() -> Iterator[Event]:
            try:
                while True:
                    try:
                        item = box.get(timeout=timeout)
                    except queue.Empty:
                        return
                    if item is None:
                        return
                    yield item
            finally:
                self._event_queues.remove(box)

        return iterate()

    # ---- keepalive
    def start_keepalive(self, interval: float = 5.0, count: int = 5) -> None:
        """Ping the server when it has been quiet for ``interval`` seconds;
        close the connection once it stays silent for ``count`` more
        intervals (libvirt's ``virConnectSetKeepAlive``)."""
        if self._keepalive is not None:
            return

        def loop() -> None:
            while self._closed is None:
                time.sleep(_keepalive_tick(interval))
                due = _keepalive_due(self.last_received, interval, count)
                if isinstance(due, LibvirtError):
                    self._shutdown(due)
                    return
                if due:
                    try:
                        self._send(wire.PING_FRAME)
                    except LibvirtError:
                        return

        self._keepalive = threading.Thread(target=loop, name="libvirt-rpc-keepalive", daemon=True)
        self._keepalive.start()

    # ---- lifecycle
    @property
    def closed(self) -> bool:
        return self._closed is not None

    def close(self) -> None:
        self._shutdown(ConnectionClosedError())
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)

    # ---- internals
    def _send(self, frame: bytes | bytearray) -> None:
        """Queue ``frame`` and send it, unless another thread is sending: that
        one then sends it with its own, in the same system call (fewer
        sends, and fewer threads fighting over the GIL around them)."""
        if self._closed is not None:
            raise self._closed
        outbox = self._outbox
        with self._send_lock:
            if self._sending:
                outbox.append(frame)
                return
            self._sending = True
        data = frame
        try:
            while True:
                self._stream.sendall(data)
                with self._send_lock:
                    if not outbox:
                        self._sending = False
                        return
                    data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
                    outbox.clear()
        except OSError as exc:
            with self._send_lock:
                self._sending = False
                outbox.clear()
            error = ConnectionClosedError(f"internal error: cannot send data: {exc}")
            self._shutdown(error)
            raise error from exc

    def _call(self, prog: int, vers: int, proc: int, args: Packable | None, serial: int | None = None) -> Message:
        # No lock on this path: the serial counter and the dict operations
        # are atomic under the GIL; the shutdown race is closed by looking at
        # _closed again once the call is registered.
        if serial is None:
            serial = next(self._serials)
        frame = wire.encode_call(prog, vers, proc, serial, args)
        pending = _Pending((prog, vers, proc, serial))
        self._pending[serial] = pending
        try:
            if self._closed is not None:
                raise self._closed
            self._send(frame)
            if not self._wait_for(pending, self.timeout):
                raise CallTimeoutError(f"Timed out during operation: no reply to procedure {proc} in {self.timeout} s")
        finally:
            self._pending.pop(serial, None)
        if pending.error is not None:
            raise pending.error
        assert pending.message is not None
        return pending.message

    def _forget_stream(self, serial: int) -> None:
        with self._lock:
            self._streams.pop(serial, None)

    # ---- reading: one reader at a time, caller or background thread
    def _wait_for(self, waiter: _Waiter, timeout: float | None) -> bool:
        """Block until ``waiter`` is ready, reading the connection ourselves
        whenever nobody else does; False if ``timeout`` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._waiters.pop(waiter, None)
                if waiter.ready():
                    return True
                if self._closed is not None:
                    raise self._closed
                if self._role is None:
                    self._role = waiter
                    if self._armed:
                        # the reply must not wake the background thread; it
                        # is woken instead to re-arm once calls stop
                        self._armed = False
                        self._watch.disarm()
                        self._watch.wake()
                elif self._role is not waiter:
                    waiter.prepare()
                    if waiter.ready():  # made ready before the lock existed
                        return True
                    self._waiters[waiter] = None
            if self._role is waiter:
                return self._read_for(waiter, deadline)
            if not waiter.wait(None if deadline is None else deadline - time.monotonic()):
                with self._lock:
                    self._waiters.pop(waiter, None)
                    if self._role is waiter:  # handed the role just as time ran out
                        self._pass_role()
                return waiter.ready()
            # woken: ready, or handed the role (or a stale wake-up): look again

    def _read_for(self, waiter: _Waiter, deadline: float | None) -> bool:
        """Read (holding the role) until ``waiter`` is ready or time is up.

        Each read waits in ``poll`` first, for the deadline's sake: a read
        that waits by itself (``SO_RCVTIMEO``) saves that system call but
        is also woken whenever the daemon makes room in our send buffer, a
        second thread switch per call that costs more than the poll."""
        buffered = self._buffered  # TLS may hold decrypted bytes poll() cannot see
        try:
            while not waiter.ready():
                if deadline is not None and not (buffered is not None and buffered()):
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._poll.poll(int(left * 1000) + 1):
                        break  # time is up
                self._receive()
        except (EOFError, wire.ProtocolError, OSError) as exc:
            self._shutdown(_read_error(exc))
        finally:
            with self._lock:
                self._pass_role()
        return waiter.ready()

    def _pass_role(self, from_watcher: bool = False) -> None:
        """Give up reading (``self._lock`` held): to the first waiter that
        still waits, else to the background thread if TLS holds bytes that
        nobody would read, else to nobody (the background thread arms its
        watch: at once if it read, after _REARM_AFTER if a caller did)."""
        waiters = self._waiters
        while waiters:
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.ready():
                self._role = waiter
                waiter.wake()
                return
        if self._closed is not None:
            self._role = None
            self._watch.wake()
        elif not from_watcher and self._buffered is not None and self._buffered():
            self._role = _WATCHER
            self._watch.wake()
        else:
            self._role = None
            if from_watcher:
                self._arm()
            # else: the next call is likely to come soon; the background
            # thread arms the watch once none has for a while (_REARM_AFTER)

    def _arm(self) -> None:
        self._armed = True
        self._watch.arm()

    def _ready_now(self) -> bool:
        return (self._buffered is not None and self._buffered() > 0) or bool(self._poll.poll(0))

    def _receive(self) -> None:
        """One read; every whole frame it completes is dispatched at once
        (so no frame waits in the buffer once its reader has gone)."""
        decoder = self._decoder
        frame: bytes | bytearray | None = decoder.take_whole(self._read())  # the usual read: one whole reply
        self.last_received = time.monotonic()
        if frame is None:
            frame = decoder.next_frame()
        while frame is not None:
            message = wire.parse_frame(frame)
            if message.nfds:
                decoder.skip(message.nfds)
                while len(self._fds) < message.nfds:
                    decoder.push(self._read())
                message.fds = [self._fds.popleft() for _ in range(message.nfds)]
            self._dispatch(message)
            frame = decoder.next_frame()

    def _read(self) -> memoryview:
        """One read: its bytes, and its descriptors into the queue that
        ``*_WITH_FDS`` messages take theirs from."""
        view = self._view
        count, fds = self._stream.recv_into_with_fds(view)
        if not count:
            for fd in fds:
                os.close(fd)
            raise EOFError
        if fds:
            self._fds.extend(fds)
        return view[:count]

    def _watch_loop(self) -> None:
        """The background thread: reads while nobody calls, runs the event
        handlers, and ends when the connection closes."""
        try:
            while self._closed is None:
                with self._lock:
                    timeout = None if self._armed else _REARM_AFTER
                try:
                    readable = self._watch.wait(timeout)
                except OSError as exc:
                    if self._closed is None:  # not just the socket closing under us
                        self._shutdown(ConnectionClosedError(f"internal error: cannot watch the connection: {exc}"))
                    break
                with self._lock:
                    if readable:
                        self._armed = False  # one-shot: it fired
                        if self._role is None:
                            self._role = _WATCHER
                    elif self._role is None and not self._armed and self._closed is None:
                        self._arm()  # nobody reads: watch again
                    mine = self._role is _WATCHER
                if mine:
                    try:
                        # a caller may have read the bytes that woke us: look again
                        while self._ready_now():
                            self._receive()
                    except (EOFError, wire.ProtocolError, OSError) as exc:
                        self._shutdown(_read_error(exc))
                    finally:
                        with self._lock:
                            self._pass_role(from_watcher=True)
                self._run_handlers()
        finally:
            self._run_handlers()
            for box in list(self._event_queues):
                box.put(None)
            with self._lock:  # nobody arms or wakes a closed watch
                self._watch.close()

    def _publish(self, event: Event) -> None:
        # Handlers run on the background thread, never inside a caller's
        # read (which holds the role a handler's own calls would need).
        self._backlog.append(event)
        if threading.current_thread() is not self._reader:
            with self._lock:
                self._watch.wake()

    def _run_handlers(self) -> None:
        while self._backlog:
            super()._publish(self._backlog.popleft())

    def _answer_ping(self) -> None:
        try:
            self._send(wire.PONG_FRAME)
        except LibvirtError:
            pass

    def _settle(self, message: Message) -> bool:
        pending = self._pending.get(message.serial)
        if pending is None or pending.key != _reply_key(message):
            return False
        pending.message = message
        pending.wake()
        return True

    def _shutdown(self, error: LibvirtError) -> None:
        with self._lock:
            if self._closed is not None:
                return
            self._closed = error
            pending = list(self._pending.values())
            streams = list(self._streams.values())
            self._watch.wake()  # the background thread ends (and ends the iterators)
        for item in pending:
            item.error = error
            item.wake()
        for stream in streams:
            stream._deliver(error)
        try:
            self._stream.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# asyncio client


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
        for frame in _data_frames(self._header, data):
            await self._client._send(frame)
        return len(data)

    async def send_hole(self, length: int, flags: int = 0) -> None:
        await self._client._send(_hole_frame(self._header, length, flags))

    async def finish(self) -> None:
        if self._done:
            return
        await self._client._send(_stream_frame(self._header, MessageType.STREAM, MessageStatus.OK))
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
            await self._client._send(_stream_frame(self._header, MessageType.STREAM, MessageStatus.ERROR))
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

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, timeout: float | None = None) -> None:
        self._writer = writer
        self.timeout = timeout
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
        self._decoder = wire.FrameDecoder()
        self._lost_connection = self._loop.create_future()
        transport = writer.transport
        transport.set_protocol(_Receiver(self, transport.get_protocol()))
        # ``reader`` gets nothing from now on; what it already held (nothing,
        # unless the server spoke first) is taken by a task, and whatever
        # arrives before that task has run waits behind it
        self._early: list[bytes] | None = []
        reader.feed_eof()
        self._task = self._loop.create_task(self._take_early(reader))

    async def call(self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T]) -> T:
        value = _result(await self._call(prog, vers, proc, args), result)
        assert value is not None
        return value

    async def call_void(self, prog: int, vers: int, proc: int, args: Packable | None) -> None:
        _result(await self._call(prog, vers, proc, args), None)

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
                    self._shutdown(due)
                    return
                if due:
                    try:
                        await self._send(wire.PING_FRAME)
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
        try:
            await asyncio.wait_for(asyncio.shield(self._lost_connection), 5)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass

    async def _send(self, frame: bytes | bytearray) -> None:
        if self._queue(frame):
            await self._drain()

    def _queue(self, frame: bytes | bytearray) -> bool:
        """Queue one whole frame for sending (whole frames never interleave);
        True if the caller should then wait in :meth:`_drain`."""
        if self._closed is not None:
            raise self._closed
        if len(frame) >= wire.INITIAL_BUFFER:
            self._flush()  # stream data: in order, and not copied again
            self._writer.write(frame)
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
        return self._writer.transport.get_write_buffer_size() > wire.INITIAL_BUFFER

    async def _drain(self) -> None:
        try:
            async with self._send_lock:
                await self._writer.drain()
        except (OSError, ConnectionError) as exc:
            error = ConnectionClosedError(f"internal error: cannot send data: {exc}")
            self._shutdown(error)
            raise error from exc

    async def _call(self, prog: int, vers: int, proc: int, args: Packable | None, serial: int | None = None) -> Message:
        if self._closed is not None:
            raise self._closed
        if serial is None:
            serial = next(self._serials)
        frame = wire.encode_call(prog, vers, proc, serial, args)
        future: asyncio.Future[Message] = self._loop.create_future()
        timeout = self.timeout
        self._pending[serial] = ((prog, vers, proc, serial), future, None if timeout is None else self._loop.time() + timeout)
        if timeout is not None and self._sweeper is None:
            self._sweeper = self._loop.create_task(self._sweep_timeouts())
        try:
            if self._queue(frame):
                await self._drain()
            return await future
        finally:
            self._pending.pop(serial, None)

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
        for chunk in [data, *(early or ())]:
            if chunk:
                self._received(chunk)

    def _received(self, data: bytes) -> None:
        """Bytes from the transport: every whole frame is dispatched at once
        (one read often holds several replies)."""
        if self._early is not None:
            self._early.append(data)
            return
        if self._closed is not None:
            return
        self.last_received = time.monotonic()
        decoder = self._decoder
        try:
            frame: bytes | bytearray | None = decoder.take_whole(data)  # the usual read: one whole reply
            if frame is None:
                frame = decoder.next_frame()
            while frame is not None:
                self._dispatch(wire.parse_frame(frame))
                frame = decoder.next_frame()
        except wire.ProtocolError as exc:
            self._shutdown(_read_error(exc))

    def _lost(self, exc: Exception | None) -> None:
        """The transport's end (EOF, an error, or our own close)."""
        if not self._lost_connection.done():
            self._lost_connection.set_result(None)
        self._shutdown(_read_error(EOFError() if exc is None else exc))

    def _flush(self) -> None:
        """Send the frames queued by :meth:`_send`."""
        outbox = self._outbox
        if outbox:
            data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
            outbox.clear()
            if self._closed is None:
                self._writer.write(data)

    def _answer_ping(self) -> None:
        self._loop.create_task(self._send_quietly(wire.PONG_FRAME))

    def _settle(self, message: Message) -> bool:
        entry = self._pending.get(message.serial)
        if entry is None or entry[0] != _reply_key(message):
            return False
        if not entry[1].done():
            entry[1].set_result(message)
        return True

    async def _send_quietly(self, frame: bytes | bytearray) -> None:
        try:
            await self._send(frame)
        except LibvirtError:
            pass

    def _shutdown(self, error: LibvirtError) -> None:
        if self._closed is not None:
            return
        self._closed = error
        for _key, future, _deadline in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
        for stream in list(self._streams.values()):
            stream._deliver(error)
        for box in list(self._event_queues):
            box.put_nowait(None)
        try:
            self._writer.close()
        except (OSError, RuntimeError):
            pass
        if not self._task.done():
            self._task.cancel()


__all__ = [
    "AsyncDataStream",
    "AsyncRpcClient",
    "DataStream",
    "Event",
    "RpcClient",
    "decode_error",
]
