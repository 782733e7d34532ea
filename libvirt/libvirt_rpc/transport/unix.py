"""The ``unix`` transport: an ``AF_UNIX`` stream socket to ``uri.socket``
(``@name`` is an abstract socket).  The only one that can pass file
descriptors, the way libvirt does (:class:`UnixStream`).
"""

from __future__ import annotations

import array
import errno
import socket
from typing import TYPE_CHECKING

from xdrgen.runtime.virnet.descriptors import FDS_SPACE, RECV_FLAGS, close_fds, received_descriptors
from xdrgen.runtime.virnet.framing import MAX_FDS

from ..uri import LibvirtURI
from .base import Deadline, SocketStream, Stream, Transport, system_error, timeout_error

if TYPE_CHECKING:
    import asyncio

    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["UnixStream", "UnixTransport"]


class UnixStream(SocketStream):
    """A :class:`Stream` over an ``AF_UNIX`` socket; can pass descriptors.

    libvirt's way (virSocketSendFD / gnulib ``sendfd``): the message bytes go
    first, then every descriptor travels in its own ``sendmsg`` carrying a
    single ``\\0`` byte and one ``SCM_RIGHTS`` entry.  The reader must read the
    message exactly (length word, then body) before :meth:`recv_fds`, or the
    bytes that carry descriptors would be consumed as data.
    """

    supports_fds = True

    def __init__(self, sock: socket.socket, transport: str = "unix") -> None:
        super().__init__(sock, transport)

    def send_fds(self, data: ReadableBuffer, fds: list[int] | tuple[int, ...]) -> None:
        if len(fds) > MAX_FDS:
            raise ValueError(f"at most {MAX_FDS} descriptors per message, got {len(fds)}")
        self._sock.sendall(data)
        for fd in fds:
            self.send_fd(fd)

    def send_fd(self, fd: int) -> None:
        """Send one descriptor: one ``\\0`` byte with ``SCM_RIGHTS``."""
        rights = array.array("i", [fd])
        sent = self._sock.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
        if sent != 1:
            raise system_error("Failed to send file descriptor", err=errno.EIO)

    def recv_fds(self, count: int) -> list[int]:
        fds: list[int] = []
        try:
            while len(fds) < count:
                fds.extend(self._recv_fd_message())
        except BaseException:
            close_fds(fds)
            raise
        return fds

    def recv_fd(self) -> int:
        """Receive one descriptor (see :meth:`recv_fds`)."""
        (fd,) = self.recv_fds(1)
        return fd

    def recv_into_with_fds(self, buffer: WriteableBuffer) -> tuple[int, list[int]]:
        # A buffered reader cannot tell in advance where a descriptor's
        # carrier byte is, so every read takes ancillary data too.
        count, ancdata, _msg_flags, _ = self._sock.recvmsg_into([buffer], FDS_SPACE, RECV_FLAGS)
        return count, received_descriptors(ancdata) if ancdata else []

    def _recv_fd_message(self) -> list[int]:
        # Room for a whole batch in case a peer packs several into one message.
        data, ancdata, msg_flags, _ = self._sock.recvmsg(1, FDS_SPACE, RECV_FLAGS)
        fds = received_descriptors(ancdata)
        if not data and not fds:
            raise EOFError("end of file while receiving file descriptors")
        if msg_flags & socket.MSG_CTRUNC or not fds:
            close_fds(fds)
            raise OSError(errno.EBADMSG, "Failed to recv file descriptor")
        return fds


def _unix_address(path: str) -> str:
    # libvirt's convention: a leading '@' names an abstract socket.
    return "\0" + path[1:] if path.startswith("@") else path


def _connect_unix(path: str, deadline: Deadline) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(deadline.remaining())
        sock.connect(_unix_address(path))
    except TimeoutError as exc:
        sock.close()
        raise timeout_error(f"connecting to socket '{path}'") from exc
    except OSError as exc:
        sock.close()
        raise system_error(f"Failed to connect socket to '{path}'", exc) from exc
    return sock


async def _open_async_unix(
    path: str, limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        import asyncio  # asyncio only for asyncio's users

        return await asyncio.open_unix_connection(_unix_address(path), limit=limit)
    except OSError as exc:
        raise system_error(f"Failed to connect socket to '{path}'", exc) from exc


def _socket_path(uri: LibvirtURI, readonly: bool) -> str:
    path = uri.socket_path(readonly)
    assert path is not None  # always set for unix
    return path


class UnixTransport(Transport):
    name = "unix"
    passes_fds = True

    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> Stream:
        return UnixStream(_connect_unix(_socket_path(uri, readonly), deadline), self.name)

    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await _open_async_unix(_socket_path(uri, readonly), limit)

    def timeout_target(self, uri: LibvirtURI, readonly: bool) -> str:
        return _socket_path(uri, readonly)
