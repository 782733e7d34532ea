"""The channel classes by transport name ("tcp", "udp")."""

from __future__ import annotations

from .client_async import AsyncTcpChannel
from .client_sync import TcpChannel
from .udp import AsyncUdpChannel, UdpChannel

SYNC: dict[str, type[TcpChannel] | type[UdpChannel]] = {"tcp": TcpChannel, "udp": UdpChannel}
ASYNC: dict[str, type[AsyncTcpChannel] | type[AsyncUdpChannel]] = {"tcp": AsyncTcpChannel, "udp": AsyncUdpChannel}


def check(transport: str) -> str:
    if transport not in SYNC:
        raise ValueError(f"transport must be 'tcp' or 'udp', not {transport!r}")
    return transport
