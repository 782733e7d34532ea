"""The blocking client, :class:`RpcClient`, and its :class:`DataStream`.

Thread-safe: callers read their own replies in turn, libvirt's way, and a
background thread reads while nobody calls (:mod:`.idle_watch`).  The
waiters (:class:`_Waiter`) are how a thread parks until the connection
brings what it waits for.
"""

from __future__ import annotations

import _thread
import collections
import itertools
import os
import queue
import select
import threading
import time
from collections.abc import Iterator
from typing import Any, Generic

from xdrgen.runtime.rpc import Files, Packable, WithFds
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.descriptors import close_fds
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType
from xdrgen.runtime.xdr import XdrStruct

from .. import wiretrace
from ..errors import CallTimeoutError, ConnectionClosedError, LibvirtError
from . import idle_watch
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
    decode_error,
)
from .sending import WOULD_BLOCK, Sender, Stalled
from .streams import R, _confirms_finish, _data_frames, _hole_frame, _piece, _stream_frame, _take


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
        deadline = self._client._deadline()
        for frame in _data_frames(self._header, data):
            self._client._send(frame, deadline)
        self._check_error()
        return len(data)

    def send_hole(self, length: int, flags: int = 0) -> None:
        self._client._send(_hole_frame(self._header, length, flags), self._client._deadline())

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
        self._client._send(_stream_frame(self._header, MessageType.STREAM, MessageStatus.OK), self._client._deadline())
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
            self._client._send(
                _stream_frame(self._header, MessageType.STREAM, MessageStatus.ERROR), self._client._deadline()
            )
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
    per-call timeout in seconds (None: wait for ever): sending and reading
    alike, whatever the server does.  The client makes ``stream``
    non-blocking and waits in ``poll`` itself (see :mod:`.sending`).
    """

    def __init__(self, stream: Any, *, timeout: float | None = None) -> None:
        self._stream = stream
        self.timeout = timeout
        stream.settimeout(0.0)  # every wait is a poll that knows the deadline
        self._sender = Sender(stream)
        self._trace_id = wiretrace.CLIENT.number()
        self._lock = threading.Lock()  # guards the reading role and the waiters
        self._serials = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._streams: dict[int, DataStream[Any]] = {}
        self._router = _Router()
        self._closed: LibvirtError | None = None
        self._event_queues: list[queue.Queue[Event | None]] = []
        self._backlog: collections.deque[Event] = collections.deque()  # for the handlers
        self.last_received = time.monotonic()
        self._passes_fds = bool(getattr(stream, "supports_fds", False))
        self._incoming = Incoming(RECEIVE if self._passes_fds else REFUSE)
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
    def call(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T], files: Files = ()
    ) -> T:
        message = self._call(prog, vers, proc, args, files)
        if message.fds:
            close_received(message)
        value = _result(message, result)
        assert value is not None
        return value

    def call_void(self, prog: int, vers: int, proc: int, args: Packable | None, files: Files = ()) -> None:
        message = self._call(prog, vers, proc, args, files)
        if message.fds:
            close_received(message)
        _result(message, None)

    def call_receiving_fds(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[Any] | None, files: Files = ()
    ) -> WithFds[Any]:
        """A call whose reply brings descriptors: the result and those
        descriptors, now the caller's (closed if the call fails)."""
        return _result_with_fds(self._call(prog, vers, proc, args, files), result)

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
                        self._send(wire.PING_FRAME, time.monotonic() + interval)
                    except CallTimeoutError:
                        pass  # the server reads nothing: its silence ends the connection
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
    def _deadline(self) -> float | None:
        """When something started now must be done (None: never)."""
        timeout = self.timeout
        return None if timeout is None else time.monotonic() + timeout

    def _send(
        self,
        frame: bytes | bytearray,
        deadline: float | None,
        what: str = "a message",
        fds: list[int] | tuple[()] = (),
    ) -> None:
        """Send ``frame`` (and then ``fds``, which are the sender's from now
        on, sent or not) by ``deadline`` (see :mod:`.sending`): past it,
        :class:`CallTimeoutError`; the connection is closed if that left
        half a frame on it."""
        if self._closed is not None:
            if fds:
                close_fds(fds)
            raise self._closed
        if wiretrace.CLIENT.levels.get(wiretrace.DEBUG) is not False:  # off: one dict look-up
            wiretrace.CLIENT.frame(self._trace_id, ">", frame)
        try:
            self._sender.send(frame, deadline, fds)
        except OSError as exc:
            if self._closed is not None:  # closed under us: say why
                raise self._closed from exc
            error = _send_error(exc, self._stream.error_output())
            self._shutdown(error)
            raise error from exc
        except Stalled as stalled:
            if stalled.broken:
                self._shutdown(_half_sent())
            raise _send_timeout(what, self.timeout) from None

    def _call(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        files: Files = (),
        serial: int | None = None,
    ) -> Message:
        # No lock on this path: the serial counter and the dict operations
        # are atomic under the GIL; the shutdown race is closed by _send,
        # which looks at _closed again once the call is registered.
        if serial is None:
            serial = next(self._serials)
        copies: list[int] | tuple[()] = ()
        if files:
            frame, copies = call_with_fds(prog, vers, proc, serial, args, files, self._passes_fds)
        else:
            frame = wire.encode_call(prog, vers, proc, serial, args)
        pending = _Pending((prog, vers, proc, serial))
        self._pending[serial] = pending
        deadline = self._deadline()
        try:
            self._send(frame, deadline, f"procedure {proc}", copies)
            if not self._wait_until(pending, deadline):
                raise CallTimeoutError(f"Timed out during operation: no reply to procedure {proc} in {self.timeout} s")
            if pending.error is not None:
                raise pending.error
        except BaseException:
            self._abandon(pending)
            raise
        finally:
            self._pending.pop(serial, None)
        assert pending.message is not None
        return pending.message

    def _abandon(self, pending: _Pending) -> None:
        """A failed call gives up its reply; descriptors that came with it
        are closed here or, if it comes later, by :meth:`_settle`."""
        with self._lock:
            self._pending.pop(pending.key[3], None)
            message = pending.message
        if message is not None:
            close_received(message)

    def _forget_stream(self, serial: int) -> None:
        with self._lock:
            self._streams.pop(serial, None)

    # ---- reading: one reader at a time, caller or background thread
    def _wait_for(self, waiter: _Waiter, timeout: float | None) -> bool:
        """Block until ``waiter`` is ready, reading the connection ourselves
        whenever nobody else does; False if ``timeout`` passes first."""
        return self._wait_until(waiter, None if timeout is None else time.monotonic() + timeout)

    def _wait_until(self, waiter: _Waiter, deadline: float | None) -> bool:
        """:meth:`_wait_for` until ``deadline`` (``time.monotonic()``)."""
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
                if not (buffered is not None and buffered()):
                    if deadline is None:
                        self._poll.poll()
                    else:
                        left = deadline - time.monotonic()
                        if left <= 0 or not self._poll.poll(int(left * 1000) + 1):
                            break  # time is up
                self._receive()
        except (EOFError, wire.ProtocolError, OSError) as exc:
            self._shutdown(_read_error(exc, self._stream.error_output()))
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
        """One read, and what it completes dispatched."""
        data = self._read()
        if data is None:
            return  # nothing yet (a TLS record not yet whole)
        self.last_received = time.monotonic()
        self._take_in(data)

    def _read(self) -> memoryview | None:
        """One read that waits for nothing: its bytes (None if there were
        none to read), its descriptors to :attr:`_incoming`."""
        view = self._view
        try:
            count, fds = self._stream.recv_into_with_fds(view)
        except WOULD_BLOCK:
            return None
        if not count:
            for fd in fds:
                os.close(fd)
            raise EOFError
        if fds:
            self._incoming.add_fds(fds)
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
                        self._shutdown(_read_error(exc, self._stream.error_output()))
                    finally:
                        with self._lock:
                            self._pass_role(from_watcher=True)
                self._run_handlers()
        finally:
            self._run_handlers()
            self._router.warnings.flush()
            self._incoming.close()  # descriptors no message took
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
            self._send(wire.PONG_FRAME, self._deadline())
        except LibvirtError:
            pass

    def _settle(self, message: Message) -> bool:
        pending = self._pending.get(message.serial)
        if pending is None or pending.key != _reply_key(message):
            return False
        if message.fds:
            # Descriptors must not be lost to a caller giving up just now:
            # either it sees the reply (and closes them) or we see it gone.
            with self._lock:
                pending.message = message
                if self._pending.get(message.serial) is not pending:
                    return False
        else:
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
