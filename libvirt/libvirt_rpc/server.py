"""An asyncio server for libvirt's RPC protocol, driven by generated tables.

Generated ``<name>_server.py`` modules hold, per program version, a handler
base class whose ``PROCEDURES`` table maps procedure numbers to
:class:`Procedure` entries.  :class:`Server` takes instances of subclasses,
listens on unix and TCP sockets and, per connection:

- reads frames one at a time with :class:`~.protocol.FrameDecoder`; a length
  below 28 bytes or above 32 MiB closes that connection at once, before
  anything is buffered (libvirtd does the same);
- keeps at most ``max_client_requests`` calls in flight (libvirtd's default
  is 5): above it the connection is simply not read any more until a reply
  goes out, so the kernel's socket buffers push back on the client;
- stops reading as well while its replies are not being read (the
  transport's write buffer is above its high-water mark);
- dispatches CALLs by (program, version, procedure) and answers REPLY/OK, or
  REPLY/ERROR with a ``remote_error`` filled the way libvirtd fills it
  (``VIR_ERR_RPC`` "Cannot find program P version V", "unknown procedure:
  N", "Unexpected message status S", "Unable to decode message payload");
- answers keepalive PINGs with PONGs and, once the client asked
  ``CONNECT_SUPPORTS_FEATURE(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE)``, pings an
  idle client and drops it when it stops answering, as libvirtd does;
- sends events (``MESSAGE``) and stream data (``STREAM``) for handlers.

Everything runs on one event loop: a handler that blocks the loop blocks
every client, so handlers must await rather than block.  A slow or hostile
client only ever stalls its own connection.  :func:`start_in_thread` runs a
server on a loop of its own in a background thread, for use from blocking
code and tests.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future as ConcurrentFuture
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

from xdrgen.runtime.xdr import XdrError
from .errors import ErrorDomain, ErrorLevel, ErrorNumber, LibvirtError, error_format, error_message
from xdrgen.runtime.virnet.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    KEEPALIVE_PING,
    KEEPALIVE_PROGRAM,
    KEEPALIVE_VERSION,
    MAX_FDS,
    PING_FRAME,
    PONG_FRAME,
    STREAM_CHUNK,
    STRING_MAX,
    FrameDecoder,
    MessageStatus,
    MessageType,
    Packable,
    ProtocolError,
    encode_message,
)

__all__ = [
    "Procedure",
    "ProgramHandler",
    "Call",
    "Client",
    "Server",
    "ServerStream",
    "StreamError",
    "Hole",
    "Limits",
    "ServerThread",
    "start_in_thread",
    "rpc_error",
    "unsupported",
]

log = logging.getLogger(__name__)

#: libvirt's main program: its CONNECT_SUPPORTS_FEATURE(PROGRAM_KEEPALIVE)
#: switches keepalive on, which the server answers itself (as libvirtd's
#: remote driver does, whether or not the connection is open yet).
REMOTE_PROGRAM = 0x20008086
REMOTE_VERSION = 1
REMOTE_PROC_CONNECT_SUPPORTS_FEATURE = 60
VIR_DRV_FEATURE_PROGRAM_KEEPALIVE = 10

#: libvirtd sends every event with serial 1.
EVENT_SERIAL = 1

_CALL = MessageType.CALL
_CALL_WITH_FDS = MessageType.CALL_WITH_FDS
_REPLY = MessageType.REPLY
_MESSAGE = MessageType.MESSAGE
_STREAM = MessageType.STREAM
_STREAM_HOLE = MessageType.STREAM_HOLE
_OK = MessageStatus.OK
_ERROR = MessageStatus.ERROR
_CONTINUE = MessageStatus.CONTINUE

_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_II = struct.Struct(">ii")
_HOLE = struct.Struct(">qI")  # virNetStreamHole: hyper length, unsigned int flags
_SUPPORTED = _I32.pack(1)

T = TypeVar("T")


def _s32(value: int) -> int:
    """A header word as C's ``%d`` prints it."""
    return value - (1 << 32) if value >= 1 << 31 else value


# ---------------------------------------------------------------------------
# Tables (what generated code builds)


@dataclass(frozen=True, slots=True)
class Procedure:
    """One entry of a generated dispatch table.

    ``method`` is the handler method that serves a call (``send_<name>`` for
    events); ``args``/``result`` the XDR classes of its ``_args``/``_ret``
    (an event's ``args`` is its message type).  ``kind`` is "call" or
    "event"; ``stream`` is "read" (server to client) or "write" for
    libvirt's ``@readstream``/``@writestream`` procedures; ``priority`` is
    libvirt's ``@priority`` ("low" when unset); ``annotations`` every
    ``@key: value`` of the procedure, in order (``@acl`` can repeat).
    """

    number: int
    name: str
    method: str
    args: type[Any] | None
    result: type[Any] | None
    kind: str = "call"
    stream: str | None = None
    priority: str = "low"
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        """The first value of annotation ``key``, or None."""
        for k, v in self.annotations:
            if k == key:
                return v
        return None

    def annotation_values(self, key: str) -> list[str]:
        """Every value of annotation ``key`` (``@acl`` may be given several times)."""
        return [v for k, v in self.annotations if k == key]


class ProgramHandler:
    """Base of the generated handler classes: one instance serves every
    client of one program version.  Per-client state belongs in
    :attr:`Client.data`; the two hooks below see clients come and go."""

    PROGRAM: ClassVar[int]
    VERSION: ClassVar[int]
    NAME: ClassVar[str]
    PROCEDURES: ClassVar[dict[int, Procedure]]

    def client_connected(self, client: Client) -> None:
        """A client connected (called before any of its messages)."""

    def client_closed(self, client: Client) -> None:
        """A client's connection is gone (after its calls were cancelled)."""


# ---------------------------------------------------------------------------
# Errors


def rpc_error(
    code: int,
    info: str | None = None,
    domain: int = ErrorDomain.VIR_FROM_RPC,
) -> LibvirtError:
    """The error ``virReportError(code, "%s", info)`` raises in libvirt code
    whose ``VIR_FROM_THIS`` is ``domain``: the message is libvirt's text for
    ``code`` with ``info``, ``str1`` the format used, ``str2`` the info (None
    without one), both ints -1.  This is what travels in ``remote_error``."""
    info = info if info else None
    return LibvirtError(
        error_message(code, info),
        code=code,
        domain=domain,
        level=ErrorLevel.VIR_ERR_ERROR,
        str1=error_format(code, info is not None),
        str2=info,
        int1=-1,
        int2=-1,
    )


def unsupported(call: Call) -> LibvirtError:
    """What libvirtd answers for a procedure it has no dispatcher for:
    ``VIR_ERR_RPC`` "unknown procedure: N" (libvirt's client turns this into
    ``VIR_ERR_NO_SUPPORT``).  The generated handler defaults raise it."""
    log.info(
        "client %d: %s (procedure %d) is not implemented",
        call.client.id,
        call.procedure.name,
        call.proc,
    )
    return rpc_error(ErrorNumber.VIR_ERR_RPC, f"unknown procedure: {call.proc}")


def _pack_optional_string(out: bytearray, value: str | None) -> None:
    if value is None:
        out += b"\0\0\0\0"
        return
    data = value.encode("utf-8", "replace")[:STRING_MAX]
    out += b"\0\0\0\1"
    out += _U32.pack(len(data))
    out += data
    out += b"\0" * (-len(data) & 3)


def encode_error(error: LibvirtError) -> bytes:
    """The XDR ``remote_error`` (``virNetMessageError``) for ``error``; the
    ``dom`` and ``net`` members are absent, as libvirtd always sends them."""
    out = bytearray()
    out += _II.pack(_s32(int(error.code) & 0xFFFFFFFF), _s32(int(error.domain) & 0xFFFFFFFF))
    _pack_optional_string(out, error.message)
    out += _I32.pack(_s32(int(error.level) & 0xFFFFFFFF))
    out += b"\0\0\0\0"  # dom
    _pack_optional_string(out, error.str1)
    _pack_optional_string(out, error.str2)
    _pack_optional_string(out, error.str3)
    out += _II.pack(_s32(error.int1 & 0xFFFFFFFF), _s32(error.int2 & 0xFFFFFFFF))
    out += b"\0\0\0\0"  # net
    return bytes(out)


def _internal_error(exc: BaseException) -> LibvirtError:
    return rpc_error(ErrorNumber.VIR_ERR_INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


class StreamError(LibvirtError):
    """A stream cannot go on: the client aborted or finished it early, or
    disconnected."""

    default_code = ErrorNumber.VIR_ERR_RPC
    default_domain = ErrorDomain.VIR_FROM_STREAMS


class Hole(NamedTuple):
    """A hole the client sent into a sparse ``@writestream``."""

    length: int
    flags: int


# ---------------------------------------------------------------------------
# Per-connection objects


@dataclass(frozen=True)
class Limits:
    """libvirtd's per-server limits (``libvirtd.conf`` names in brackets)."""

    #: calls (and unconsumed incoming stream packets) in flight per client
    #: before its connection is no longer read [max_client_requests]
    max_client_requests: int = 5
    #: connections beyond this are closed as soon as they are accepted [max_clients]
    max_clients: int = 5000
    #: seconds of silence before the server pings a client that enabled
    #: keepalive; 0 disables [keepalive_interval]
    keepalive_interval: float = 5.0
    #: unanswered pings before such a client is dropped [keepalive_count]
    keepalive_count: int = 5
    #: bytes queued for a client that does not read (events, stream data)
    #: beyond which it is disconnected
    max_output_buffer: int = 64 * 1024 * 1024


@dataclass(slots=True, eq=False)
class Call:
    """One call being served: what a handler method gets besides its args."""

    client: Client
    prog: int
    vers: int
    proc: int
    serial: int
    procedure: Procedure
    #: the data stream of a ``@readstream``/``@writestream`` procedure
    stream: ServerStream | None = None
    #: set by a handler to close the connection once the reply is sent
    #: (what libvirtd does after CONNECT_CLOSE)
    close_after_reply: bool = False


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
            self.abort(_internal_error(exc))
        return None

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send data to the client (a "read" stream), in packets of at most
        256 KiB, waiting while the client does not read."""
        await self._wait_replied()
        view = memoryview(data)
        for start in range(0, len(view), STREAM_CHUNK):
            self._check_open()
            self._send_packet(_STREAM, _CONTINUE, view[start : start + STREAM_CHUNK])
            await self.client._drain()

    async def send_hole(self, length: int, flags: int = 0) -> None:
        """Tell the client that ``length`` bytes of hole follow (sparse streams)."""
        await self._wait_replied()
        self._check_open()
        self._send_packet(_STREAM_HOLE, _CONTINUE, _HOLE.pack(length, flags))
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
                self._send_packet(_STREAM, _CONTINUE, b"")
            await self._client_finished
        else:
            while not (self._rx and self._rx[0] is None):
                item = await self.recv()
                if item == b"":
                    break
        self._check_error()
        self._send_packet(_STREAM, _OK, b"")
        self._close()

    def abort(self, error: LibvirtError | None = None) -> None:
        """Fail the stream: the client gets a STREAM/ERROR with ``error``."""
        if self.closed:
            return
        if error is None:
            error = rpc_error(ErrorNumber.VIR_ERR_RPC, "stream aborted by the server")
        if self._replied.done():
            self._send_packet(_STREAM, _ERROR, encode_error(error))
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

    def _send_packet(self, type_: int, status: int, body: bytes | memoryview) -> None:
        self.client._write(
            encode_message(self.prog, self.vers, self.proc, type_, self.serial, status, body)  # type: ignore[arg-type]
        )

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
        if type_ == _STREAM_HOLE:
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
        if status == _CONTINUE:
            if self.direction != "write":
                error = rpc_error(ErrorNumber.VIR_ERR_RPC, "stream does not accept data")
                self._send_packet(_STREAM, _ERROR, encode_error(error))
                self._fail(error)
                return
            if self._rx and self._rx[-1] is None:
                return  # data after the client's finish: ignored
            self._rx.append(bytes(payload))
            self.client._in_flight += 1
            self._wake()
        elif status == _OK:
            if self.direction == "write":
                if not (self._rx and self._rx[-1] is None):
                    self._rx.append(None)
                self._wake()
            elif self._client_finished is not None and self._eof_sent:
                if not self._client_finished.done():
                    self._client_finished.set_result(None)
            else:
                # The client finished a download early: confirm, stop sending.
                self._send_packet(_STREAM, _OK, b"")
                self._fail(StreamError("stream finished by the client"))
        else:
            # Abort at the client's request: libvirtd confirms with an empty OK.
            self._send_packet(_STREAM, _OK, b"")
            self._fail(StreamError("stream aborted at client request"))


class Client(asyncio.Protocol):
    """One client connection (the asyncio protocol object)."""

    _ids = 0

    def __init__(self, server: Server) -> None:
        Client._ids += 1
        self.id = Client._ids
        self.server = server
        #: per-client state for handlers (libvirtd's client private data)
        self.data: dict[str, Any] = {}
        self.peer: Any = None
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._loop = server._loop
        self._decoder = FrameDecoder()
        self._limit = server.limits.max_client_requests
        self._in_flight = 0
        self._reading = True
        self._processing = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._streams: dict[tuple[int, int, int, int], ServerStream] = {}
        self._keepalive: asyncio.TimerHandle | None = None
        self._last_rx = 0.0
        self._countdown = 0

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.peer!r}>"

    # -- public API ---------------------------------------------------------

    def send_event(
        self, prog: int, vers: int, proc: int, msg: Packable, serial: int = EVENT_SERIAL
    ) -> None:
        """Send an event: a MESSAGE with status OK (serial 1, like libvirtd).

        A client whose unread output passes ``Limits.max_output_buffer`` is
        disconnected rather than allowed to grow the server without bound.
        """
        if self.closed:
            return
        self._write(encode_message(prog, vers, proc, _MESSAGE, serial, _OK, msg))

    def close(self) -> None:
        """Close after sending what is queued; nothing more is read."""
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once (a protocol violation)."""
        if self.transport is not None and not self.transport.is_closing():
            log.warning("client %d: %s; closing the connection", self.id, reason)
            self.transport.abort()

    @property
    def closing(self) -> bool:
        """True once the connection is being closed (or is gone)."""
        return self.closed or self.transport is None or self.transport.is_closing()

    @property
    def in_flight(self) -> int:
        """Calls (and unconsumed stream packets) not yet answered."""
        return self._in_flight

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self._last_rx = self._loop.time()
        if not self.server._add_client(self):
            return
        for handler in self.server._handlers:
            try:
                handler.client_connected(self)
            except Exception:
                log.exception("client %d: client_connected hook failed", self.id)

    def data_received(self, data: bytes) -> None:
        self._last_rx = self._loop.time()
        self._countdown = self.server.limits.keepalive_count
        self._decoder.push(data)
        self._process()

    def eof_received(self) -> bool:
        return False  # close the transport

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        gone = StreamError("client disconnected")
        for stream in list(self._streams.values()):
            stream._fail(gone)
            for task in list(stream._tasks):
                task.cancel()
        for task in list(self._tasks):
            task.cancel()
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(gone)
                waiter.exception()
        self.server._remove_client(self)
        for handler in self.server._handlers:
            try:
                handler.client_closed(self)
            except Exception:
                log.exception("client %d: client_closed hook failed", self.id)

    # -- reading ------------------------------------------------------------

    def _process(self) -> None:
        """Take whole frames while under the limits; then (un)pause reading."""
        if self._processing:
            return  # re-entered from a message being handled: the loop goes on
        self._processing = True
        try:
            while self._in_flight < self._limit and not self._write_paused and not self.closed:
                try:
                    frame = self._decoder.next_frame()
                except ProtocolError as error:
                    self.abort(str(error))
                    return
                if frame is None:
                    break
                try:
                    self._handle(frame)
                except Exception:  # a bug here must not take the server down
                    log.exception("client %d: failed to handle a message", self.id)
                    self.abort("internal error")
                    return
        finally:
            self._processing = False
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        want = self._in_flight < self._limit and not self._write_paused
        if want and not self._reading:
            self._reading = True
            transport.resume_reading()
        elif not want and self._reading:
            self._reading = False
            transport.pause_reading()

    def _release(self, process: bool = True) -> None:
        self._in_flight -= 1
        if process:
            self._process()

    def _handle(self, frame: bytes | bytearray) -> None:
        _, prog, vers, proc, type_, serial, status = FRAME_HEADER.unpack_from(frame, 0)
        if prog == KEEPALIVE_PROGRAM and vers == KEEPALIVE_VERSION and type_ == _MESSAGE:
            # libvirtd's keepalive filter: PING gets a PONG, the rest is dropped.
            if proc == KEEPALIVE_PING:
                self._write(PONG_FRAME)
            return
        calls = self.server._programs.get((prog, vers))
        if calls is None:
            self._reject(prog, vers, proc, serial, f"Cannot find program {_s32(prog)} version {_s32(vers)}")
            return
        payload = memoryview(frame)[HEADER_SIZE:]
        if type_ == _CALL or type_ == _CALL_WITH_FDS:
            if type_ == _CALL_WITH_FDS:
                if len(payload) < 4:
                    self.abort("message with file descriptors lacks their count")
                    return
                (nfds,) = _U32.unpack_from(payload, 0)
                if nfds > MAX_FDS:
                    self.abort(f"{nfds} file descriptors; at most {MAX_FDS}")
                    return
                if nfds:
                    # The descriptors would follow out of band; this server
                    # cannot take them, and the byte stream is now ambiguous.
                    self.abort("file descriptor passing is not supported")
                    return
                payload = payload[4:]
            self._call(calls, prog, vers, proc, serial, status, payload)
        elif type_ == _STREAM or type_ == _STREAM_HOLE:
            stream = self._streams.get((prog, vers, proc, serial))
            if stream is not None:
                stream._incoming(type_, status, payload)
            # else: stream data for no open stream is dropped, as libvirtd does
        # Other types (REPLY, MESSAGE, unknown numbers) get no answer from
        # libvirtd either: it logs and drops them.

    def _call(
        self,
        calls: _Calls,
        prog: int,
        vers: int,
        proc: int,
        serial: int,
        status: int,
        payload: memoryview,
    ) -> None:
        if status != _OK:
            self._reject(prog, vers, proc, serial, f"Unexpected message status {status & 0xFFFFFFFF}")
            return
        entry = calls.get(proc)
        if entry is None:
            self._reject(prog, vers, proc, serial, f"unknown procedure: {proc}")
            return
        procedure, method = entry
        if (
            proc == REMOTE_PROC_CONNECT_SUPPORTS_FEATURE
            and prog == REMOTE_PROGRAM
            and vers == REMOTE_VERSION
            and bytes(payload[:4]) == _I32.pack(VIR_DRV_FEATURE_PROGRAM_KEEPALIVE)
        ):
            self._start_keepalive()
            self._write(encode_message(prog, vers, proc, _REPLY, serial, _OK, _SUPPORTED))
            return
        try:
            if procedure.args is None:
                args = None
            else:
                args = procedure.args.unpack_from(payload, 0)[0]
        except (XdrError, RecursionError, ValueError):
            self._reject(prog, vers, proc, serial, "Unable to decode message payload")
            return
        call = Call(self, prog, vers, proc, serial, procedure)
        if procedure.stream is not None:
            stream = ServerStream(self, call, procedure.stream)
            call.stream = stream
            self._streams[(prog, vers, proc, serial)] = stream
        self._in_flight += 1
        coro = method(call) if args is None else method(call, args)
        task = self._loop.create_task(self._serve(call, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, call: Call, coro: Awaitable[Any]) -> None:
        try:
            result = await coro
        except asyncio.CancelledError:
            raise
        except LibvirtError as error:
            self._reply_error(call, error)
        except Exception as exc:
            log.exception("client %d: %s failed", self.id, call.procedure.name)
            self._reply_error(call, _internal_error(exc))
        else:
            self._reply(call, result)

    def _reply(self, call: Call, result: Any) -> None:
        self._in_flight -= 1
        if self.closed:
            return
        if call.procedure.result is None:
            result = None
        try:
            frame = encode_message(call.prog, call.vers, call.proc, _REPLY, call.serial, _OK, result)
        except (XdrError, AttributeError, TypeError):
            log.exception("client %d: cannot encode the reply of %s", self.id, call.procedure.name)
            self._fail_call(call, rpc_error(ErrorNumber.VIR_ERR_RPC, "Unable to encode message payload"))
            return
        self._write(frame)
        if call.close_after_reply:
            self.close()
            return
        if call.stream is not None:
            call.stream._activate()
        self._process()

    def _reply_error(self, call: Call, error: LibvirtError) -> None:
        self._in_flight -= 1
        if not self.closed:
            self._fail_call(call, error)

    def _fail_call(self, call: Call, error: LibvirtError) -> None:
        """Answer ``call`` (no longer counted in flight) with ``error``."""
        if call.stream is not None:
            call.stream._fail(StreamError("the call failed"))
        self._send_error(call.prog, call.vers, call.proc, call.serial, error)
        if call.close_after_reply:
            self.close()
            return
        self._process()

    # -- writing ------------------------------------------------------------

    def _send_error(self, prog: int, vers: int, proc: int, serial: int, error: LibvirtError) -> None:
        self._write(encode_message(prog, vers, proc, _REPLY, serial, _ERROR, encode_error(error)))

    def _reject(self, prog: int, vers: int, proc: int, serial: int, info: str) -> None:
        """Refuse a call before it runs, as libvirtd does (VIR_ERR_RPC)."""
        self._send_error(prog, vers, proc, serial, rpc_error(ErrorNumber.VIR_ERR_RPC, info))

    def _write(self, frame: bytes | bytearray) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > self.server.limits.max_output_buffer:
            self.abort("the client does not read its messages")

    async def _drain(self) -> None:
        if self.closed:
            raise StreamError("client disconnected")
        if not self._write_paused:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    # -- keepalive ----------------------------------------------------------

    def _start_keepalive(self) -> None:
        limits = self.server.limits
        if self._keepalive is not None or limits.keepalive_interval <= 0:
            return
        self._countdown = limits.keepalive_count
        self._keepalive = self._loop.call_later(limits.keepalive_interval, self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        limits = self.server.limits
        if self.closed:
            return
        idle = self._loop.time() - self._last_rx
        if idle >= limits.keepalive_interval:
            if self._countdown <= 0:
                self.abort(f"no keepalive response for {idle:.0f} s")
                return
            self._countdown -= 1
            self._write(PING_FRAME)
            delay = limits.keepalive_interval
        else:
            delay = limits.keepalive_interval - idle
        self._keepalive = self._loop.call_later(delay, self._keepalive_tick)


# ---------------------------------------------------------------------------
# The server


#: a program's callable procedures: number -> (entry, bound handler method)
_Calls = dict[int, tuple["Procedure", Callable[..., Awaitable[Any]]]]


class Server:
    """Serves the given program handlers on any number of listeners."""

    def __init__(self, handlers: Iterable[ProgramHandler], *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._handlers = list(handlers)
        self._programs: dict[tuple[int, int], _Calls] = {}
        for handler in self._handlers:
            key = (handler.PROGRAM, handler.VERSION)
            if key in self._programs:
                raise ValueError(f"two handlers for program {key[0]:#x} version {key[1]}")
            self._programs[key] = {
                number: (procedure, getattr(handler, procedure.method))
                for number, procedure in handler.PROCEDURES.items()
                if procedure.kind == "call"
            }
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._listeners: list[asyncio.Server] = []
        self._unix_paths: list[str] = []
        self.clients: set[Client] = set()
        self._closed: asyncio.Event | None = None

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._closed = asyncio.Event()
        elif self._loop is not loop:
            raise RuntimeError("a Server belongs to one event loop")

    async def listen_unix(self, path: str | os.PathLike[str], mode: int = 0o777) -> str:
        """Listen on a unix socket (a stale socket file is replaced)."""
        self._bind_loop()
        path = os.fspath(path)
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass
        listener = await self._loop.create_unix_server(lambda: Client(self), path)
        os.chmod(path, mode)
        self._listeners.append(listener)
        self._unix_paths.append(path)
        return path

    async def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on TCP; returns the bound (host, port) (port 0 picks one)."""
        self._bind_loop()
        listener = await self._loop.create_server(
            lambda: Client(self), host, port, reuse_address=True, family=socket.AF_UNSPEC
        )
        self._listeners.append(listener)
        sockname = listener.sockets[0].getsockname()
        return sockname[0], sockname[1]

    def _add_client(self, client: Client) -> bool:
        if len(self.clients) >= self.limits.max_clients:
            log.warning("too many clients (%d); refusing a connection", len(self.clients))
            client.closed = True
            assert client.transport is not None
            client.transport.abort()
            return False
        self.clients.add(client)
        return True

    def _remove_client(self, client: Client) -> None:
        self.clients.discard(client)

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` is called."""
        self._bind_loop()
        assert self._closed is not None
        await self._closed.wait()

    async def close(self) -> None:
        """Stop listening and drop every client."""
        for listener in self._listeners:
            listener.close()
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners.clear()
        for path in self._unix_paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._unix_paths.clear()
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.abort()
        for _ in range(3):  # let connection_lost callbacks run
            await asyncio.sleep(0)
        if self._closed is not None:
            self._closed.set()


# ---------------------------------------------------------------------------
# Running a server from blocking code


class ServerThread:
    """A :class:`Server` on an event loop of its own, in a daemon thread.

    ``unix`` and ``tcp`` (a (host, port) pair; port 0 picks one) choose the
    listeners; after :meth:`start`, :attr:`unix_path` and
    :attr:`tcp_address` tell where they are.  Use :meth:`run` to execute a
    coroutine on the server's loop from another thread.
    """

    def __init__(
        self,
        handlers: Iterable[ProgramHandler],
        *,
        unix: str | os.PathLike[str] | None = None,
        tcp: tuple[str, int] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.server = Server(handlers, limits=limits)
        self._unix = os.fspath(unix) if unix is not None else None
        self._tcp = tcp
        self.unix_path: str | None = None
        self.tcp_address: tuple[str, int] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name="xdrgen-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._amain())
        except BaseException as error:  # reported to start() if it is waiting
            if not self._ready.is_set():
                self._error = error
                self._ready.set()
            else:
                log.exception("server thread failed")

    async def _amain(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            if self._unix is not None:
                self.unix_path = await self.server.listen_unix(self._unix)
            if self._tcp is not None:
                self.tcp_address = await self.server.listen_tcp(*self._tcp)
        except BaseException:
            await self.server.close()
            raise
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        assert self.loop is not None
        future: ConcurrentFuture[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call ``function(*args)`` on the server's loop and return its result."""

        async def wrapper() -> T:
            return function(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        """Close the server and end the thread; safe to call twice."""
        if self.loop is not None and self._stop is not None and self._thread is not None:
            if self._thread.is_alive():
                self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    handlers: Iterable[ProgramHandler],
    *,
    unix: str | os.PathLike[str] | None = None,
    tcp: tuple[str, int] | None = None,
    limits: Limits | None = None,
) -> ServerThread:
    """Start a server in a background thread; stop it with ``.stop()`` (or
    use the returned object as a context manager)."""
    return ServerThread(handlers, unix=unix, tcp=tcp, limits=limits).start()
