"""Calls over UDP: one datagram a message, sent again while no reply comes.

The first retransmission comes ``retransmit`` seconds after the call, each
later one after twice the time before it, until the call's timeout.  The
socket is connected, so only the server's datagrams arrive; replies are
matched to calls by XID, so duplicates (from retransmitted calls) and
strays are dropped.  An ICMP "port unreachable" fails the pending calls at
once, as TI-RPC's ``clnt_dg`` does, but leaves the channel usable.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any, Self, cast

from ..xdr import Buffer
from .auth import Auth
from .client_async import AsyncChannel
from .channel import DEFAULT_TIMEOUT, DatagramFraming
from .client_sync import SocketChannel
from .errors import ConnectionClosed, connection_refused

DEFAULT_RETRANSMIT = 1.0
_RETRANSMIT = 1  # an alarm kind (see client_async.TIMEOUT)
_RECEIVE_SIZE = 65536


def open_socket(host: str, port: int) -> socket.socket:
    """A UDP socket connected to ``host`` port ``port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, kind, proto, _name, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConnectionClosed(f"cannot reach {host} port {port}: {exc}") from exc
    try:
        sock.connect(address)
    except OSError as exc:
        sock.close()
        raise ConnectionClosed(f"cannot reach {host} port {port}: {exc}") from exc
    return sock


class UdpChannel(DatagramFraming, SocketChannel):
    """Blocking calls over UDP, thread-safe."""

    receive_size = _RECEIVE_SIZE

    def __init__(
        self,
        sock: socket.socket,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retransmit: float = DEFAULT_RETRANSMIT,
    ) -> None:
        super().__init__(sock, auth=auth, timeout=timeout)
        self.retransmit = retransmit

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retransmit: float = DEFAULT_RETRANSMIT,
    ) -> Self:
        return cls(open_socket(host, port), auth=auth, timeout=timeout, retransmit=retransmit)

    def _receive(self, timeout: float) -> Sequence[bytes]:
        data = self._read(timeout)
        return () if data is None else (bytes(data),)


class AsyncUdpChannel(DatagramFraming, AsyncChannel, asyncio.DatagramProtocol):
    """asyncio calls over UDP; it is its transport's protocol."""

    def __init__(
        self,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retransmit: float = DEFAULT_RETRANSMIT,
    ) -> None:
        super().__init__(auth=auth, timeout=timeout)
        self.retransmit = retransmit
        self.peer: Any = None
        self._transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retransmit: float = DEFAULT_RETRANSMIT,
    ) -> Self:
        loop = asyncio.get_running_loop()
        channel = cls(auth=auth, timeout=timeout, retransmit=retransmit)
        sock = await loop.run_in_executor(None, open_socket, host, port)
        try:
            await loop.create_datagram_endpoint(lambda: channel, sock=sock)
        except OSError as exc:
            sock.close()
            raise ConnectionClosed(f"cannot reach {host} port {port}: {exc}") from exc
        return channel

    def _transmit(self, xid: int, data: Buffer) -> None:
        self._send(xid, data, self.retransmit)

    def _send(self, xid: int, data: Buffer, interval: float) -> None:
        if self._transport is not None:
            self._transport.sendto(data)
            self._alarms.add(interval, xid, _RETRANSMIT, (data, interval))

    def _alarm(self, xid: int, kind: int, payload: Any) -> None:
        if kind == _RETRANSMIT:
            if not self._pending[xid].done():
                data, interval = payload
                self._send(xid, data, interval * 2)
        else:
            super()._alarm(xid, kind, payload)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # asyncio's own is no subclass
        self.peer = transport.get_extra_info("peername")

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._deliver(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            self._fail(connection_refused(exc), close=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionClosed(f"the socket was closed{f': {exc}' if exc else ''}"))

    def _close_transport(self) -> None:
        if self._transport is not None:
            self._transport.close()

