"""File descriptors passed beside libvirt's byte stream: ``SCM_RIGHTS``
ancillary data on unix sockets, one descriptor per one-byte ``sendmsg``
after a ``*_WITH_FDS`` message (virSocketSendFD / gnulib ``sendfd``).

What both ends of a connection need, whatever reads the socket:
:func:`send_carrier` sends one descriptor, :func:`recv_with_fds` reads
bytes and the descriptors that came with them (:func:`received_descriptors`
takes them out of ``recvmsg``'s ancillary data), :class:`PassedDescriptors`
hands them to the messages that announce them, :func:`close_fds` closes a
list of them exactly once.
"""

from __future__ import annotations

import array
import collections
import errno
import os
import socket
from collections.abc import Iterable

from .framing import MAX_FDS, FrameDecoder, ProtocolError

FD_SIZE = array.array("i").itemsize
#: ``recvmsg``'s room for ancillary data: a whole batch of descriptors
FDS_SPACE = socket.CMSG_SPACE(MAX_FDS * FD_SIZE) if hasattr(socket, "CMSG_SPACE") else 0
#: received descriptors are close-on-exec at once
RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
_CTRUNC = int(socket.MSG_CTRUNC)  # a plain int: IntFlag arithmetic is slow


def received_descriptors(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    """The descriptors in ``recvmsg``'s ancillary data (``SCM_RIGHTS``)."""
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            got = array.array("i")
            got.frombytes(payload[: len(payload) - len(payload) % FD_SIZE])
            fds.extend(got)
    return fds


def recv_with_fds(sock: socket.socket, size: int, space: int = FDS_SPACE) -> tuple[bytes, list[int]]:
    """One ``recvmsg`` of at most ``size`` bytes and the descriptors that
    came with them (``b""``: the end of the stream).  Descriptors cut off
    for want of ``space`` are an ``OSError`` (those that came are closed);
    a non-blocking socket with nothing to read raises ``BlockingIOError``."""
    data, ancdata, flags, _ = sock.recvmsg(size, space, RECV_FLAGS)
    fds = received_descriptors(ancdata) if ancdata else []
    if flags & _CTRUNC:
        close_fds(fds)
        raise OSError(errno.EBADMSG, "more file descriptors than a message may carry")
    return data, fds


def send_carrier(sock: socket.socket, fd: int) -> None:
    """Send one descriptor as libvirt does: a ``\\0`` byte carrying it in
    ``SCM_RIGHTS``.  On a non-blocking socket with no room this raises
    ``BlockingIOError`` and sends nothing."""
    rights = array.array("i", [fd])
    if sock.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)]) != 1:
        raise OSError(errno.EIO, "Failed to send file descriptor")


def close_fds(fds: list[int]) -> None:
    """Close every descriptor in ``fds``, emptying the list.  Each is taken
    out before it is closed (``list.pop`` is atomic), so two threads that
    race to clean up the same list never close one twice."""
    while True:
        try:
            fd = fds.pop()
        except IndexError:
            return
        try:
            os.close(fd)
        except OSError:
            pass


class PassedDescriptors:
    """Descriptors that arrive beside a byte stream, for the messages that
    announce them.

    libvirt sends a ``*_WITH_FDS`` message's descriptors after it, each
    with a one-byte carrier.  :meth:`announce` has ``decoder`` drop the
    carriers from the byte stream; the descriptors, which the reader adds
    as they arrive (:meth:`add`), wait here until :meth:`take` hands them to
    their message.  A message that waits for its descriptors blocks no one:
    the reader goes on reading, and asks again.
    """

    def __init__(self, decoder: FrameDecoder) -> None:
        self._decoder = decoder
        self._fds: collections.deque[int] = collections.deque()

    def add(self, fds: Iterable[int]) -> None:
        """Descriptors that came with the bytes of the last read."""
        self._fds.extend(fds)

    def announce(self, count: int) -> None:
        """A message just decoded announces ``count`` descriptors."""
        self._decoder.skip(count)

    def take(self, count: int) -> list[int] | None:
        """The ``count`` descriptors of the message announced last once they
        have all arrived, else None.  They come with their carriers: once
        the carriers are read, a descriptor still missing was never sent
        (:class:`ProtocolError`)."""
        carriers_read = self._decoder.skipped()
        fds = self._fds
        if len(fds) < count:
            if carriers_read:
                raise ProtocolError(f"{count} file descriptors announced, {len(fds)} received")
            return None
        return [fds.popleft() for _ in range(count)]

    def close(self) -> None:
        """Close the descriptors no message has taken."""
        while self._fds:
            try:
                os.close(self._fds.popleft())
            except OSError:
                pass
