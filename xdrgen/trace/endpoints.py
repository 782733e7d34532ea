"""The two ends a proxy joins, with one callback interface whatever the
socket: a unix socket read with ``recvmsg`` so that file descriptors pass
through, or an asyncio transport (TCP, TLS).

Both report what they read (``on_data(bytes, fds)``), the end of the
stream (``on_eof``), errors (``on_error``), and when what is written to
them piles up (``on_pause``) or drains (``on_resume``): the proxy stops
reading the other side meanwhile, so its memory stays flat whatever the
peers do.
"""

from __future__ import annotations

import array
import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from ..runtime.virnet.descriptors import FD_SIZE, close_fds, recv_with_fds

READ_SIZE = 64 * 1024
HIGH_WATER = 256 * 1024  # bytes waiting to be written before the other side is paused
_FDS_SPACE = socket.CMSG_SPACE(64 * FD_SIZE)


def _nothing(*_args: Any) -> None:
    return None


class Endpoint:
    """Callbacks and the operations a flow uses; see the module docstring."""

    supports_fds = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.on_data: Callable[[bytes, list[int]], None] = _nothing
        self.on_eof: Callable[[], None] = _nothing
        self.on_error: Callable[[BaseException], None] = _nothing
        self.on_pause: Callable[[], None] = _nothing
        self.on_resume: Callable[[], None] = _nothing
        #: Called with the descriptors a write had to drop (no unix socket).
        self.on_fds_dropped: Callable[[int], None] = _nothing

    def start(self) -> None:
        """Begin reading (callbacks are set by now)."""
        raise NotImplementedError

    def write(self, data: bytes, fds: list[int] | None = None) -> None:
        """Write ``data``; ``fds`` travel with its last byte (and are closed
        here once sent)."""
        raise NotImplementedError

    def pause_reading(self) -> None:
        raise NotImplementedError

    def resume_reading(self) -> None:
        raise NotImplementedError

    def write_eof(self) -> None:
        """No more writes: end the stream once what is buffered is sent."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class UnixEndpoint(Endpoint):
    """A non-blocking ``AF_UNIX`` socket driven by the loop's reader and
    writer callbacks.  Descriptors received come with the bytes of the
    same ``recvmsg``: the kernel ends a read after the bytes that carry
    descriptors, so they belong to its last byte, and are sent again on
    the last byte of the same data (libvirt's one ``\\0`` byte per
    descriptor comes out as it went in)."""

    supports_fds = True

    def __init__(self, sock: socket.socket, name: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name)
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._loop = loop
        self._backlog: deque[tuple[memoryview, list[int]]] = deque()
        self._backlog_bytes = 0
        self._reading = False
        self._writing = False
        self._paused_peer = False
        self._eof_pending = False
        self._closed = False

    def start(self) -> None:
        self.resume_reading()

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closed:
            self._reading = True
            self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data, fds = recv_with_fds(self._sock, READ_SIZE, _FDS_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self.pause_reading()
            self.on_error(error)
            return
        if not data and not fds:
            self.pause_reading()
            self.on_eof()
            return
        self.on_data(data, fds)

    def write(self, data: bytes, fds: list[int] | None = None) -> None:
        fds = fds or []
        if not (fds or self._backlog or self._closed):
            # The usual case: the socket takes it all at once.
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as error:
                self.on_error(error)
                return
            if sent == len(data):
                return
            data = data[sent:]
        if self._closed:
            close_fds(fds)
            return
        if fds and len(data) > 1:
            self._backlog.append((memoryview(data)[:-1], []))
            self._backlog.append((memoryview(data)[-1:], list(fds)))
        else:
            self._backlog.append((memoryview(data), list(fds)))
        self._backlog_bytes += len(data)
        if not self._writing:
            self._push()

    def _push(self) -> None:
        backlog = self._backlog
        try:
            while backlog:
                view, fds = backlog[0]
                if fds:
                    rights = array.array("i", fds)
                    sent = self._sock.sendmsg([view], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
                    close_fds(fds)  # sent once, whatever part of the data went with them
                else:
                    sent = self._sock.send(view)
                self._backlog_bytes -= sent
                if sent == len(view):
                    backlog.popleft()
                else:
                    backlog[0] = (view[sent:], fds)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as error:
            self._drop_backlog()
            self.on_error(error)
            return
        if backlog:
            if not self._writing:
                self._writing = True
                self._loop.add_writer(self._fd, self._push)
            if not self._paused_peer and self._backlog_bytes > HIGH_WATER:
                self._paused_peer = True
                self.on_pause()
            return
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        if self._paused_peer:
            self._paused_peer = False
            self.on_resume()
        if self._eof_pending:
            self._shutdown()

    def write_eof(self) -> None:
        self._eof_pending = True
        if not self._backlog:
            self._shutdown()

    def _shutdown(self) -> None:
        self._eof_pending = False
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _drop_backlog(self) -> None:
        for _, fds in self._backlog:
            close_fds(fds)
        self._backlog.clear()
        self._backlog_bytes = 0

    def close(self) -> None:
        if self._closed:
            return
        self.pause_reading()
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        self._drop_backlog()
        self._closed = True
        self._sock.close()


class TransportEndpoint(Endpoint, asyncio.Protocol):
    """An asyncio transport (TCP or TLS) as an endpoint; descriptors cannot
    pass, so those written to it are closed and reported."""

    def __init__(self, name: str, *, tls: bool = False) -> None:
        super().__init__(name)
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._started = False
        self._eof = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._started:
            transport.pause_reading()  # nothing is read before the other end is there

    def data_received(self, data: bytes) -> None:
        self.on_data(data, [])

    def eof_received(self) -> bool:
        self._eof = True
        self.on_eof()
        # Keep writing what the other direction still sends (a TLS
        # transport cannot half-close and closes itself).
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.on_error(exc)
        elif not self._eof:
            self._eof = True
            self.on_eof()

    def pause_writing(self) -> None:
        self.on_pause()

    def resume_writing(self) -> None:
        self.on_resume()

    # -- Endpoint
    def start(self) -> None:
        self._started = True
        self.resume_reading()

    def write(self, data: bytes, fds: list[int] | None = None) -> None:
        if fds:
            dropped = len(fds)
            close_fds(fds)
            self.on_fds_dropped(dropped)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def pause_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing() and self._transport.is_reading():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing() and not self._transport.is_reading():
            self._transport.resume_reading()

    def write_eof(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()  # TLS: the buffer is sent first

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
