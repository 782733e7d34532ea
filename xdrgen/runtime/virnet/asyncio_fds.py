"""File descriptor passing for an asyncio transport on a unix socket.

asyncio's transports read with ``recv``, which lets the kernel close the
descriptors that arrive, and cannot send any.  :class:`TransportFds` makes
up for both without replacing the transport, which goes on writing (flow
control, ``drain``, closing all stay its own):

- it reads instead of the transport (whose reading it keeps paused) from a
  duplicate of the socket, with ``recvmsg``: bytes and descriptors come
  together to ``received``;
- :meth:`TransportFds.send` sends a message followed by its descriptors
  (libvirt's way: each in a ``sendmsg`` of one ``\\0`` byte) once what the
  transport holds is out, on the duplicate; what the owner writes meanwhile
  waits (:meth:`TransportFds.write`) and follows them.

The duplicate is the same connection: it must be closed with the
transport (:meth:`TransportFds.close`), or the peer never sees the end.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable, Sequence

from .descriptors import close_fds, recv_with_fds, send_carrier

READ_SIZE = 256 * 1024  # as much as asyncio's transports read at once


def passes_fds(transport: asyncio.BaseTransport) -> bool:
    """Whether ``transport`` runs on a unix stream socket (which can pass
    descriptors)."""
    sock = transport.get_extra_info("socket")
    return sock is not None and sock.family == socket.AF_UNIX


class TransportFds:
    """Descriptor passing beside ``transport`` (see the module docstring).

    ``received(data, fds)`` gets each read; ``ended(error)`` the end of the
    stream (None) or a failed read, after which nothing more is read.
    Create it in the transport's event loop, before anything is read.
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        received: Callable[[bytes, list[int]], None],
        ended: Callable[[OSError | None], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._sock: socket.socket = transport.get_extra_info("socket").dup()
        self._fd = self._sock.fileno()
        self._received = received
        self._ended = ended
        self._reading = False
        self._closed = False
        self._sending = asyncio.Lock()
        self._held: list[bytes] | None = None  # what waits for a send to end
        self._held_size = 0
        #: a :meth:`send` stopped in the middle: the stream cannot go on
        self.broken = False
        self._begun = False  # the send under way has sent something
        self._writer_waits: asyncio.Future[None] | None = None  # for room to send
        transport.pause_reading()
        self.resume_reading()

    # -- reading ----------------------------------------------------------

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closed:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _read_ready(self) -> None:
        try:
            # (a buffer per read, as asyncio's: idle connections hold none)
            data, fds = recv_with_fds(self._sock, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._end(error)
            return
        if data:
            self._received(data, fds)
        else:
            close_fds(fds)
            self._end(None)

    def _end(self, error: OSError | None) -> None:
        self.pause_reading()
        self._ended(error)

    # -- writing ----------------------------------------------------------

    def write(self, data: bytes | bytearray) -> None:
        """Write ``data`` after everything written before (through the
        transport, unless a :meth:`send` is under way)."""
        if self._held is None:
            self._transport.write(data)
        else:
            self._held.append(bytes(data))
            self._held_size += len(data)

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet sent (held ones included)."""
        return self._transport.get_write_buffer_size() + self._held_size

    async def send(self, frame: bytes | bytearray, fds: Sequence[int]) -> None:
        """Send ``frame`` and then ``fds`` (which stay the caller's), after
        everything written before.  Cancelled (a timeout) once part of it
        went out, it leaves :attr:`broken` set; ``OSError`` if the socket
        fails."""
        async with self._sending:
            self._held = []
            self._begun = False
            try:
                await self._flushed()
                await self._send_all(frame)
                for fd in fds:
                    await self._send_fd(fd)
            except BaseException:
                if self._begun:
                    self.broken = True
                raise
            finally:
                held, self._held, self._held_size = self._held, None, 0
                if held and not self.broken and not self._transport.is_closing():
                    self._transport.write(b"".join(held))

    async def _flushed(self) -> None:
        """Wait until the transport has sent all it holds."""
        transport = self._transport
        while transport.get_write_buffer_size():
            if transport.is_closing():
                raise ConnectionResetError(errno.ECONNRESET, "the connection is closing")
            await self._writable()
            await asyncio.sleep(0)  # the transport's own writer runs too

    async def _send_all(self, frame: bytes | bytearray) -> None:
        with memoryview(frame) as view:
            sent = 0
            while sent < len(view):
                try:
                    sent += self._sock.send(view[sent:])
                    self._begun = True
                except (BlockingIOError, InterruptedError):
                    await self._writable()

    async def _send_fd(self, fd: int) -> None:
        while True:
            try:
                send_carrier(self._sock, fd)
                return
            except (BlockingIOError, InterruptedError):
                await self._writable()

    async def _writable(self) -> None:
        if self._closed:
            raise ConnectionResetError(errno.ECONNRESET, "the connection is closed")
        ready = self._writer_waits = self._loop.create_future()
        self._loop.add_writer(self._fd, _set_done, ready)
        try:
            await ready
        finally:
            self._writer_waits = None
            if not self._closed:
                self._loop.remove_writer(self._fd)

    def close(self) -> None:
        """Stop reading and close the duplicate (with the transport); a
        send waiting for room fails."""
        if self._closed:
            return
        self.pause_reading()
        self._closed = True
        waits = self._writer_waits
        if waits is not None:
            self._loop.remove_writer(self._fd)
            if not waits.done():
                waits.set_exception(ConnectionResetError(errno.ECONNRESET, "the connection is closed"))
        self._sock.close()


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
