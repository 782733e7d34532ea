"""Blocking channels: many calls in flight on one connection, from any
number of threads.

There is no reader thread: a caller waiting for its reply reads the
connection itself, and hands every reply that belongs to another caller
to that caller (replies are matched by XID).  Only one caller reads at a
time; when it has its reply it passes the reading on to a caller still
waiting.  A single-threaded caller thus sends and reads its own reply with
no thread switch at all.  When the connection fails, every pending call
fails at once.

:class:`SyncChannel` is that machinery; :class:`TcpChannel` adds record
marking over a stream socket (:class:`.udp.UdpChannel`, datagrams and
retransmission).
"""

from __future__ import annotations

import _thread
import select
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, Self, TypeVar

from ..xdr import Buffer, XdrError
from . import messages, tracing
from .auth import Auth
from .channel import DEFAULT_TIMEOUT, Channel, RecordFraming
from .errors import ConnectionClosed, RpcError, RpcTimeout, connection_error, connection_refused, copy_error
from .procedures import Procedure
from .record import CLIENT_MAX_RECORD, RecordReader

R = TypeVar("R")

RECEIVE_SIZE = 256 * 1024


class Waiter:
    """A call waiting for its reply (or its failure).

    It parks on a bare lock, made (and taken) by :meth:`prepare` only when
    the caller must wait while another reads; :meth:`wake` releases it.  A
    wake-up that finds nobody waiting is kept for the next :meth:`wait`,
    whose caller then looks again: spurious returns are harmless."""

    __slots__ = ("reply", "error", "_lock")

    def __init__(self) -> None:
        self.reply: bytes | None = None
        self.error: ConnectionClosed | None = None
        self._lock: Any = None

    def done(self) -> bool:
        return self.reply is not None or self.error is not None

    def prepare(self) -> None:
        if self._lock is None:
            lock = _thread.allocate_lock()
            lock.acquire()
            self._lock = lock

    def wake(self) -> None:
        if self._lock is not None:
            try:
                self._lock.release()
            except RuntimeError:
                pass  # a wake-up is pending already

    def wait(self, timeout: float) -> None:
        self._lock.acquire(timeout=max(timeout, 0.0))


def poll_ms(seconds: float) -> float:
    """``poll``'s timeout for ``seconds`` (it rounds up: never early)."""
    return max(seconds, 0.0) * 1000.0


class SyncChannel(Channel):
    """Calls over one connection, blocking, thread-safe.

    Subclasses say how a message is framed (:meth:`_frame`), sent
    (:meth:`_send`) and received (:meth:`_receive`), and whether a call is
    sent again when no reply comes (:attr:`retransmit`)."""

    retransmit: float | None = None  # seconds before the first retransmission

    def __init__(self, *, auth: Auth | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(auth=auth, timeout=timeout)
        self._lock = threading.Lock()
        self._pending: dict[int, Waiter] = {}
        self._reader: Waiter | None = None  # the call that reads now
        self._sending = 0  # threads inside _send (the socket is closed after them)
        self._closed: ConnectionClosed | None = None

    # ---- what subclasses provide
    def _send(self, data: Buffer, deadline: float) -> None:
        raise NotImplementedError

    def _receive(self, timeout: float) -> Sequence[bytes]:
        """Messages that arrived within ``timeout`` seconds (maybe none)."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Wake whoever waits on the socket (it is closed later)."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the socket (nobody uses it any more)."""
        raise NotImplementedError

    # ---- calls
    def call(
        self,
        prog: int,
        vers: int,
        procedure: Procedure[R],
        args: Sequence[Any] = (),
        timeout: float | None = None,
    ) -> R:
        """Call ``procedure`` of program ``prog`` version ``vers`` with
        ``args``; return its result or raise its error."""
        if timeout is None:
            timeout = self.timeout
        deadline = time.monotonic() + timeout
        xid, data = self._encode(prog, vers, procedure, args)
        if tracing.CLIENT.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.CLIENT.message(self, ">", data, procedure)
        waiter = Waiter()
        self._pending[xid] = waiter  # atomic under the GIL; _fail copies the dict
        try:
            if self._closed is not None:
                raise copy_error(self._closed)
            self._sending_call(data, deadline)
            self._wait(waiter, data, deadline, timeout, procedure)
        finally:
            self._pending.pop(xid, None)
            if self._reader is waiter:
                with self._lock:
                    self._pass_reading(waiter)
        if waiter.error is not None:
            raise copy_error(waiter.error)
        assert waiter.reply is not None
        if tracing.CLIENT.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.CLIENT.message(self, "<", waiter.reply)
        return procedure.decode_reply(waiter.reply)

    def _sending_call(self, data: Buffer, deadline: float) -> None:
        with self._lock:
            if self._closed is not None:
                raise copy_error(self._closed)
            self._sending += 1
        try:
            self._send(data, deadline)
        finally:
            with self._lock:
                self._sending -= 1
                self._release_if_idle()

    def _wait(self, waiter: Waiter, data: Buffer, deadline: float, timeout: float, procedure: Procedure[Any]) -> None:
        interval = self.retransmit
        resend_at = deadline if interval is None else min(deadline, time.monotonic() + interval)
        while True:
            with self._lock:
                if waiter.done():
                    return
                if self._reader is None:
                    self._reader = waiter
                reading = self._reader is waiter
                if not reading:
                    waiter.prepare()
            until = resend_at
            if reading:
                self._read_until(waiter, until)
            else:
                waiter.wait(until - time.monotonic())
            if waiter.done():
                return
            now = time.monotonic()
            if now >= deadline:
                raise RpcTimeout(f"no reply to {procedure.name} within {timeout} s")
            if interval is not None and now >= resend_at:
                self._sending_call(data, deadline)
                interval *= 2
                resend_at = min(deadline, now + interval)

    # ---- reading, one caller at a time
    def _read_until(self, waiter: Waiter, until: float) -> None:
        """Read (holding the reading role) until ``waiter`` has its reply or
        ``until`` passes; then pass the role on."""
        try:
            while not waiter.done():
                left = until - time.monotonic()
                if left <= 0:
                    break
                received = self._receive(left)
                if received:
                    self._deliver(received)
        except ConnectionRefusedError as exc:
            self._fail(connection_refused(exc), close=False)
        except (OSError, XdrError, RpcError) as exc:
            self._fail(connection_error(exc))
        finally:
            with self._lock:
                self._pass_reading(waiter)

    def _deliver(self, received: Sequence[bytes]) -> None:
        pending = self._pending
        with self._lock:
            for reply in received:
                xid = messages.reply_xid(reply)
                waiter = pending.get(xid) if xid is not None else None
                if waiter is not None and not waiter.done():
                    waiter.reply = reply
                    waiter.wake()
                # else: a stray or duplicate reply, or a late one whose
                # caller gave up: nobody wants it

    def _pass_reading(self, waiter: Waiter) -> None:
        """Give up reading (lock held): to a call that still waits, else to
        nobody (the next caller takes it)."""
        if self._reader is not waiter:
            return
        self._reader = None
        for other in list(self._pending.values()):
            if other is not waiter and not other.done():
                self._reader = other
                other.wake()
                break
        self._release_if_idle()

    # ---- the end
    def _fail(self, error: ConnectionClosed, close: bool = True) -> None:
        """Fail every pending call with ``error``; unless ``close`` is
        false, the channel too."""
        with self._lock:
            if self._closed is not None:
                return
            if close:
                self._closed = error
            for waiter in list(self._pending.values()):
                if not waiter.done():
                    waiter.error = error
                    waiter.wake()
            if close:
                self._shutdown()
                self._release_if_idle()

    def _release_if_idle(self) -> None:
        if self._closed is not None and self._reader is None and not self._sending:
            self._release()

    def close(self) -> None:
        """Close the connection; pending calls fail with ConnectionClosed."""
        self._fail(ConnectionClosed("the channel was closed"))

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SocketChannel(SyncChannel):
    """A :class:`SyncChannel` on a non-blocking socket, waiting in ``poll``
    (so that every wait honours the caller's deadline)."""

    receive_size = RECEIVE_SIZE

    def __init__(self, sock: socket.socket, *, auth: Auth | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(auth=auth, timeout=timeout)
        sock.setblocking(False)
        self.sock = sock
        self.peer = sock.getpeername()
        self._read_poll = select.poll()
        self._read_poll.register(sock, select.POLLIN)
        self._write_poll = select.poll()
        self._write_poll.register(sock, select.POLLOUT)
        self._send_lock = threading.Lock()
        # received bytes land here (a fresh buffer per receive would cost an
        # allocation as large as the biggest possible read)
        self._buffer = memoryview(bytearray(self.receive_size))

    def _send(self, data: Buffer, deadline: float) -> None:
        if not self._send_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise RpcTimeout("timed out waiting to send (other calls fill the connection)")
        try:
            self._send_all(data, deadline)
        except RpcError:
            raise  # a timeout (RpcTimeout is a TimeoutError, an OSError)
        except ConnectionRefusedError as exc:
            error = connection_refused(exc)
            self._fail(error, close=False)
            raise copy_error(error) from exc
        except OSError as exc:
            error = ConnectionClosed(f"cannot send: {exc}")
            self._fail(error)
            raise copy_error(error) from exc
        finally:
            self._send_lock.release()

    def _send_all(self, data: Buffer, deadline: float) -> None:
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):  # the usual case
            return
        view = memoryview(data)[sent:]
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not self._write_poll.poll(poll_ms(left)):
                if len(view) < len(data):
                    # half a message on the wire: the stream is lost
                    self._fail(ConnectionClosed("a call timed out halfway through sending"))
                raise RpcTimeout("timed out sending (the server does not read)")
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                pass

    def _read(self, timeout: float) -> memoryview | None:
        """What one receive brings within ``timeout`` seconds (None: nothing
        yet; valid until the next read)."""
        if not self._read_poll.poll(poll_ms(timeout)):
            return None
        try:
            count = self.sock.recv_into(self._buffer)
        except BlockingIOError:
            return None
        return self._buffer[:count]

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # not connected any more

    def _release(self) -> None:
        self.sock.close()


class TcpChannel(RecordFraming, SocketChannel):
    """Calls over TCP (or any stream socket), with record marking.

    ``max_record`` bounds a reply; ``fragment_size`` splits calls larger
    than it into several fragments."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_record: int = CLIENT_MAX_RECORD,
        fragment_size: int | None = None,
    ) -> None:
        super().__init__(sock, auth=auth, timeout=timeout)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._set_fragment_size(fragment_size)
        self._records = RecordReader(max_record)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_record: int = CLIENT_MAX_RECORD,
        fragment_size: int | None = None,
    ) -> Self:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise RpcTimeout(f"cannot connect to {host} port {port}: timed out") from exc
        except OSError as exc:
            raise ConnectionClosed(f"cannot connect to {host} port {port}: {exc}") from exc
        return cls(sock, auth=auth, timeout=timeout, max_record=max_record, fragment_size=fragment_size)

    def _receive(self, timeout: float) -> Sequence[bytes]:
        data = self._read(timeout)
        if data is None:
            return ()
        if not data:
            raise ConnectionClosed("the server closed the connection")
        return self._records.feed(data)
