"""The libvirt RPC client: many calls in flight over one connection.

:class:`RpcClient` (blocking, thread-safe: callers read their own replies
in turn, libvirt's way, and a background thread reads while nobody calls;
:mod:`.blocking`) and :class:`AsyncRpcClient` (asyncio: the transport hands
it what arrives; :mod:`.asyncio_client`) implement the channel protocols
that generated stubs call (:mod:`xdrgen.runtime.rpc`).
Both turn what arrives into whole messages with their descriptors the same
way (:mod:`.incoming`) and route them the same way (:mod:`.routing`):
replies by (prog, vers, proc, serial) to the waiting call, keepalive PINGs
answered with PONG, MESSAGE events to handlers, STREAM/STREAM_HOLE packets
to the stream of their call (whose frames both stream classes build with
:mod:`.streams`); what they ignore is logged within a budget
(:mod:`.throttle`).  No call waits past its timeout, whatever the server
does: the blocking client sends within the call's deadline
(:mod:`.sending`), the asyncio one waits for the transport's buffer no
longer.  When the connection drops every pending and later call fails at
once.  On unix sockets both pass file descriptors, libvirt's way: a call's
``files=`` go as copies after its frame, a reply's come back to the caller
as ``WithFds`` (:mod:`.descriptors`; the asyncio client reads with
``recvmsg`` beside its transport).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .blocking import DataStream, RpcClient
from .routing import Event, EventHandler, decode_error

if TYPE_CHECKING:
    from .asyncio_client import AsyncDataStream, AsyncRpcClient

__all__ = [
    "AsyncDataStream",
    "AsyncRpcClient",
    "DataStream",
    "Event",
    "EventHandler",
    "RpcClient",
    "decode_error",
]


def __getattr__(name: str) -> Any:
    # the asyncio client loads on first use: blocking users never import asyncio
    if name in ("AsyncDataStream", "AsyncRpcClient"):
        from . import asyncio_client

        return getattr(asyncio_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
