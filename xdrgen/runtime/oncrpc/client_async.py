"""asyncio channels: any number of calls in flight on one connection.

Each call registers a future under its XID; the transport hands what
arrives straight to the channel (it is the asyncio protocol), which
settles the future the reply belongs to.  Calls made in one turn of the
event loop leave together, in one write.  When the connection ends, every
pending call fails at once.

:class:`AsyncChannel` is that machinery; :class:`AsyncTcpChannel` adds
record marking (:class:`.udp.AsyncUdpChannel`, datagrams).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Self, TypeVar, cast

from ..xdr import Buffer, XdrError
from . import messages, tracing
from .alarms import Alarms
from .auth import Auth
from .channel import DEFAULT_TIMEOUT, Channel, RecordFraming
from .errors import ConnectionClosed, RpcTimeout, connection_error, copy_error
from .procedures import Procedure
from .record import CLIENT_MAX_RECORD, RecordReader

R = TypeVar("R")

# Calls larger than this are written at once, not joined with others.
_JOIN_LIMIT = 64 * 1024
# kinds of alarms (subclasses add theirs)
TIMEOUT = 0


class AsyncChannel(Channel):
    """Calls over one connection, from any number of tasks.

    Subclasses frame a message (:meth:`_frame`) and send it
    (:meth:`_transmit`), and call :meth:`_deliver` with each message that
    arrives and :meth:`_fail` when the connection ends."""

    def __init__(self, *, auth: Auth | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(auth=auth, timeout=timeout)
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self._closed: ConnectionClosed | None = None
        self._loop = asyncio.get_running_loop()
        self._writable: asyncio.Future[None] | None = None  # set while writing is paused
        self._alarms = Alarms(self._loop, self._alarm, self._pending)

    # ---- what subclasses provide
    def _transmit(self, xid: int, data: Buffer) -> None:
        raise NotImplementedError

    def _alarm(self, xid: int, kind: int, payload: Any) -> None:
        """An alarm of call ``xid`` (still in flight) is due."""
        if kind == TIMEOUT:
            future = self._pending[xid]
            if not future.done():
                name, timeout = payload
                future.set_exception(RpcTimeout(f"no reply to {name} within {timeout} s"))

    def _close_transport(self) -> None:
        raise NotImplementedError

    # ---- calls
    async def call(
        self,
        prog: int,
        vers: int,
        procedure: Procedure[R],
        args: Sequence[Any] = (),
        timeout: float | None = None,
    ) -> R:
        """Call ``procedure`` of program ``prog`` version ``vers`` with
        ``args``; return its result or raise its error."""
        if self._closed is not None:
            raise copy_error(self._closed)
        if timeout is None:
            timeout = self.timeout
        xid, data = self._encode(prog, vers, procedure, args)
        if tracing.CLIENT.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
            tracing.CLIENT.message(self, ">", data, procedure)
        future: asyncio.Future[bytes] = self._loop.create_future()
        self._pending[xid] = future
        self._alarms.add(timeout, xid, TIMEOUT, (procedure.name, timeout))
        try:
            self._transmit(xid, data)
            if self._writable is not None:  # the peer is slow to read
                await asyncio.shield(self._writable)
            reply = await future
            if tracing.CLIENT.levels.get(tracing.DEBUG) is not False:  # off: one dict look-up
                tracing.CLIENT.message(self, "<", reply)
        finally:
            del self._pending[xid]
        return procedure.decode_reply(reply)

    def _deliver(self, reply: bytes) -> None:
        xid = messages.reply_xid(reply)
        future = self._pending.get(xid) if xid is not None else None
        if future is not None and not future.done():
            future.set_result(reply)
        # else: stray, duplicate or late: nobody wants it

    def _fail(self, error: ConnectionClosed, close: bool = True) -> None:
        """Fail every pending call; unless ``close`` is false, the channel too."""
        if self._closed is not None:
            return
        if close:
            self._closed = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(copy_error(error))
        if close:
            self._alarms.cancel()
            self._close_transport()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    async def close(self) -> None:
        """Close the connection; pending calls fail with ConnectionClosed."""
        self._fail(ConnectionClosed("the channel was closed"))
        await asyncio.sleep(0)  # let the transport finish closing

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncTcpChannel(RecordFraming, AsyncChannel, asyncio.Protocol):
    """Calls over TCP (or any stream), with record marking; it is its
    transport's protocol."""

    def __init__(
        self,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_record: int = CLIENT_MAX_RECORD,
        fragment_size: int | None = None,
    ) -> None:
        super().__init__(auth=auth, timeout=timeout)
        self._set_fragment_size(fragment_size)
        self.peer: Any = None
        self._records = RecordReader(max_record)
        self._transport: asyncio.Transport | None = None
        self._outbox: list[Buffer] = []

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_record: int = CLIENT_MAX_RECORD,
        fragment_size: int | None = None,
    ) -> Self:
        loop = asyncio.get_running_loop()
        channel = cls(auth=auth, timeout=timeout, max_record=max_record, fragment_size=fragment_size)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: channel, host, port)
        except TimeoutError as exc:
            raise RpcTimeout(f"cannot connect to {host} port {port}: timed out") from exc
        except OSError as exc:
            raise ConnectionClosed(f"cannot connect to {host} port {port}: {exc}") from exc
        return channel

    # ---- sending
    def _transmit(self, xid: int, data: Buffer) -> None:
        outbox = self._outbox
        if len(data) >= _JOIN_LIMIT:
            self._flush()
            assert self._transport is not None
            self._transport.write(data)
            return
        if not outbox:
            self._loop.call_soon(self._flush)
        outbox.append(data)

    def _flush(self) -> None:
        outbox = self._outbox
        if not outbox or self._transport is None or self._closed is not None:
            outbox.clear()
            return
        data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
        outbox.clear()
        self._transport.write(data)

    # ---- receiving
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")

    def data_received(self, data: bytes) -> None:
        try:
            records = self._records.feed(data)
        except XdrError as exc:
            self._fail(connection_error(exc))
            return
        for record in records:
            self._deliver(record)

    def eof_received(self) -> bool:
        self._fail(ConnectionClosed("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None:
            self._fail(ConnectionClosed("the connection was closed"))
        else:
            self._fail(connection_error(exc))
        self.resume_writing()  # nobody waits for a dead connection to drain

    def _close_transport(self) -> None:
        self._outbox.clear()
        if self._transport is not None:
            self._transport.close()
