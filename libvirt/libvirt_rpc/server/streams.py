"""The data stream of a ``@readstream``/``@writestream`` call."""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from xdrgen.runtime.virnet.framing import STREAM_CHUNK, MessageStatus, MessageType, Packable, encode_message
from xdrgen.runtime.xdr import Buffer

from ..errors import ErrorNumber, LibvirtError
from .errors import StreamError, internal_error, remote_error, rpc_error

if TYPE_CHECKING:
    from .calls import Call
    from .connection import Client

log = logging.getLogger(__name__)

_HOLE = struct.Struct(">qI")  # virNetStreamHole: hyper length, unsigned int flags


class Hole(NamedTuple):
    """A hole the client sent into a sparse ``@writestream``."""

    length: int
    flags: int


class ServerStream:
    """The data stream of one stream procedure call (``call.stream``).

    Direction is named from the client's side, as libvirt's annotations do:
    a "read" stream carries data from the server (:meth:`send`,
    :meth:`finish`), a "write" stream data from the client (:meth:`recv`,
    then :meth:`finish` to confirm the client's finish).  Data never goes
    out before the call's reply; :meth:`send` waits for it, so a handler
    may start the transfer with :meth:`run` and return its result at once.
    """

    def __init__(self, client: Client, call: Call, direction: str) -> None:
        self.client = client
        self.prog = call.prog
        self.vers = call.vers
        self.proc = call.proc
        self.serial = call.serial
        self.direction = direction
        #: accept STREAM_HOLE packets from the client (libvirt's sparse
        #: streams); a hole on a stream that does not closes the connection
        self.allow_holes = False
        self.closed = False
        self._error: LibvirtError | None = None
        self._replied: asyncio.Future[bool] = client._loop.create_future()
        self._rx: collections.deque[bytes | Hole | None] = collections.deque()
        self._rx_waiter: asyncio.Future[None] | None = None
        self._eof_sent = False
        self._client_finished: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- server side API --------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` (typically the transfer) as a task that is cancelled
        if the client goes away; an exception it raises aborts the stream."""
        task = self.client._loop.create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except StreamError:
            return None
        except LibvirtError as error:
            self.abort(error)
        except Exception as exc:
            log.exception("client %d: stream transfer failed", self.client.id)
            self.abort(internal_error(exc))
        return None

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send data to the client (a "read" stream), in packets of at most
        256 KiB, waiting while the client does not read."""
        await self._wait_replied()
        view = memoryview(data)
        for start in range(0, len(view), STREAM_CHUNK):
            self._check_open()
            self._send_packet(MessageType.STREAM, MessageStatus.CONTINUE, view[start : start + STREAM_CHUNK])
            await self.client._drain()

    async def send_hole(self, length: int, flags: int = 0) -> None:
        """Tell the client that ``length`` bytes of hole follow (sparse streams)."""
        await self._wait_replied()
        self._check_open()
        self._send_packet(MessageType.STREAM_HOLE, MessageStatus.CONTINUE, _HOLE.pack(length, flags))
        await self.client._drain()

    async def recv(self) -> bytes | Hole:
        """The next packet of data from the client (a "write" stream):
        bytes, a :class:`Hole`, or ``b""`` once the client finished."""
        while True:
            if self._rx:
                item = self._rx.popleft()
                if item is None:
                    self._rx.appendleft(None)  # EOF stays
                    return b""
                self.client._release()
                return item
            self._check_open()
            self._rx_waiter = self.client._loop.create_future()
            try:
                await self._rx_waiter
            finally:
                self._rx_waiter = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes | Hole:
        item = await self.recv()
        if item == b"":
            raise StopAsyncIteration
        return item

    async def finish(self) -> None:
        """End the stream successfully.

        "read": send the end of data and wait for the client's finish, then
        confirm it.  "write": confirm the client's finish (after
        :meth:`recv` returned ``b""``).
        """
        await self._wait_replied()
        if self.direction == "read":
            self._check_open()
            if self._client_finished is None:
                self._client_finished = self.client._loop.create_future()
            if not self._eof_sent:
                self._eof_sent = True
                self._send_packet(MessageType.STREAM, MessageStatus.CONTINUE, b"")
            await self._client_finished
        else:
            while not (self._rx and self._rx[0] is None):
                item = await self.recv()
                if item == b"":
                    break
        self._check_error()
        self._send_packet(MessageType.STREAM, MessageStatus.OK, b"")
        self._close()

    def abort(self, error: LibvirtError | None = None) -> None:
        """Fail the stream: the client gets a STREAM/ERROR with ``error``."""
        if self.closed:
            return
        if error is None:
            error = rpc_error(ErrorNumber.VIR_ERR_RPC, "stream aborted by the server")
        if self._replied.done():
            self._send_packet(MessageType.STREAM, MessageStatus.ERROR, remote_error(error))
        self._fail(error)

    # -- internals --------------------------------------------------------

    async def _wait_replied(self) -> None:
        if not self._replied.done():
            await self._replied
        self._check_error()

    def _check_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _check_open(self) -> None:
        self._check_error()
        if self.closed:
            raise StreamError("stream is closed", code=ErrorNumber.VIR_ERR_RPC)

    def _send_packet(self, type_: MessageType, status: MessageStatus, body: Packable | Buffer) -> None:
        self.client._write(encode_message(self.prog, self.vers, self.proc, type_, self.serial, status, body))

    def _activate(self) -> None:
        """The call's reply is out: data may flow."""
        if not self._replied.done():
            self._replied.set_result(True)

    def _wake(self) -> None:
        if self._rx_waiter is not None and not self._rx_waiter.done():
            self._rx_waiter.set_result(None)

    def _fail(self, error: LibvirtError) -> None:
        """Close with ``error``: every waiter raises it."""
        if self._error is None:
            self._error = error
        if not self._replied.done():
            self._replied.set_result(False)
        if self._client_finished is not None and not self._client_finished.done():
            self._client_finished.set_exception(error)
            self._client_finished.exception()  # retrieved: no "never retrieved" warning
        self._close()
        self._wake()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # Queued packets no longer count against the client's limit.
        while self._rx:
            if self._rx.popleft() is not None:
                self.client._release(process=False)
        self.client._streams.pop((self.prog, self.vers, self.proc, self.serial), None)
        self.client._process()

    def _incoming(self, type_: int, status: int, payload: memoryview) -> None:
        """A STREAM or STREAM_HOLE packet from the client for this stream."""
        if type_ == MessageType.STREAM_HOLE:
            if self.direction != "write" or not self.allow_holes:
                self.client.abort("unexpected stream hole")
                return
            try:
                length, flags = _HOLE.unpack_from(payload, 0)
            except struct.error:
                self.client.abort("undecodable stream hole")
                return
            self._rx.append(Hole(length, flags))
            self.client._in_flight += 1
            self._wake()
            return
        if status == MessageStatus.CONTINUE:
            if self.direction != "write":
                error = rpc_error(ErrorNumber.VIR_ERR_RPC, "stream does not accept data")
                self._send_packet(MessageType.STREAM, MessageStatus.ERROR, remote_error(error))
                self._fail(error)
                return
            if self._rx and self._rx[-1] is None:
                return  # data after the client's finish: ignored
            self._rx.append(bytes(payload))
            self.client._in_flight += 1
            self._wake()
        elif status == MessageStatus.OK:
            if self.direction == "write":
                if not (self._rx and self._rx[-1] is None):
                    self._rx.append(None)
                self._wake()
            elif self._client_finished is not None and self._eof_sent:
                if not self._client_finished.done():
                    self._client_finished.set_result(None)
            else:
                # The client finished a download early: confirm, stop sending.
                self._send_packet(MessageType.STREAM, MessageStatus.OK, b"")
                self._fail(StreamError("stream finished by the client"))
        else:
            # Abort at the client's request: libvirtd confirms with an empty OK.
            self._send_packet(MessageType.STREAM, MessageStatus.OK, b"")
            self._fail(StreamError("stream aborted at client request"))

