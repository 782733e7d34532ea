"""File descriptors passed beside libvirt's byte stream: ``SCM_RIGHTS``
ancillary data on unix sockets, one descriptor per one-byte ``sendmsg``
after a ``*_WITH_FDS`` message (virSocketSendFD / gnulib ``sendfd``)."""

from __future__ import annotations

import array
import socket

FD_SIZE = array.array("i").itemsize


def received_descriptors(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    """The descriptors in ``recvmsg``'s ancillary data (``SCM_RIGHTS``)."""
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            got = array.array("i")
            got.frombytes(payload[: len(payload) - len(payload) % FD_SIZE])
            fds.extend(got)
    return fds
