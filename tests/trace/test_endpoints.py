"""Descriptors an endpoint cannot pass on are closed, and said so."""

from __future__ import annotations

import asyncio
import os
import socket


from xdrgen.trace.endpoints import TransportEndpoint, UnixEndpoint


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_transport_endpoint_closes_and_reports_the_descriptors_it_drops() -> None:
    endpoint = TransportEndpoint("tcp:127.0.0.1:1")
    dropped: list[int] = []
    endpoint.on_fds_dropped = dropped.append
    fds = list(os.pipe())
    endpoint.write(b"\0", fds)
    assert dropped == [2]
    assert all(_closed(fd) for fd in fds)


def test_closed_unix_endpoint_closes_the_descriptors_written_to_it() -> None:
    loop = asyncio.new_event_loop()
    left, right = socket.socketpair()
    try:
        endpoint = UnixEndpoint(left, "unix:test", loop)
        endpoint.close()
        fds = list(os.pipe())
        endpoint.write(b"\0", list(fds))
        endpoint.write(b"more")  # no descriptors: nothing to close, no error
        assert all(_closed(fd) for fd in fds)
    finally:
        right.close()
        loop.close()
