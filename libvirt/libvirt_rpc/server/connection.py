"""One client connection: reading frames, dispatching calls, replying.

Per connection the server

- reads frames one at a time with
  :class:`~xdrgen.runtime.virnet.framing.FrameDecoder`; a length below 28
  bytes or above ``MAX_FRAME`` (32 MiB after the length word) closes that
  connection at once, before anything is buffered, and a large frame costs
  what has arrived, not what it claims (libvirtd does the same);
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
- sends events (``MESSAGE``) and stream data (``STREAM``) for handlers;
- on a unix socket, reads the descriptors a ``CALL_WITH_FDS`` brings (each
  after the message, with a one-byte carrier) into ``call.fds``, and sends
  those a handler returns (``WithFds``) after its ``REPLY_WITH_FDS``, as
  libvirtd does (:class:`~xdrgen.runtime.virnet.asyncio_fds.TransportFds`);
  elsewhere a call announcing descriptors closes the connection, and a
  handler's descriptors get an error reply.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from xdrgen.runtime.rpc import WithFds
from xdrgen.runtime.virnet.asyncio_fds import TransportFds, passes_fds
from xdrgen.runtime.virnet.descriptors import PassedDescriptors, close_fds
from xdrgen.runtime.virnet.framing import (
    FRAME_HEADER,
    HEADER_SIZE,
    KEEPALIVE_PING,
    KEEPALIVE_PROGRAM,
    KEEPALIVE_VERSION,
    MAX_FDS,
    PING_FRAME,
    PONG_FRAME,
    FrameDecoder,
    MessageStatus,
    MessageType,
    Packable,
    ProtocolError,
    encode_message,
    fds_count,
)
from xdrgen.runtime.xdr import XdrError

from .. import wiretrace
from ..errors import ErrorNumber, LibvirtError
from .calls import Call, CallTable
from .errors import StreamError, int32, internal_error, remote_error, rpc_error
from .streams import ServerStream

if TYPE_CHECKING:
    from .listener import Server

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
_REPLY_WITH_FDS = MessageType.REPLY_WITH_FDS
_MESSAGE = MessageType.MESSAGE
_STREAM = MessageType.STREAM
_STREAM_HOLE = MessageType.STREAM_HOLE
_OK = MessageStatus.OK
_ERROR = MessageStatus.ERROR

_I32 = struct.Struct(">i")
_TYPE_AT = 16  # the header's type word: after length, prog, vers, proc
_TYPE_LOW = _TYPE_AT + 3  # its low byte (the word is big-endian)
_SUPPORTED = _I32.pack(1)


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
        #: what reads and writes: the transport, or beside it what passes
        #: descriptors on a unix socket
        self._io: Any = None
        self._fds: TransportFds | None = None
        self._passed: PassedDescriptors | None = None
        self._waiting: tuple[bytes | bytearray, int] | None = None  # a call waiting for its descriptors
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
        self.transport = self._io = transport
        self.peer = transport.get_extra_info("peername")
        self._last_rx = self._loop.time()
        if not self.server._add_client(self):
            return
        if passes_fds(transport):
            self._io = self._fds = TransportFds(transport, self._received, self._read_ended)
            self._passed = PassedDescriptors(self._decoder)
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

    def _received(self, data: bytes, fds: list[int]) -> None:
        """What :class:`TransportFds` read: bytes and the descriptors that
        came with them."""
        if fds:
            assert self._passed is not None
            self._passed.add(fds)
        self.data_received(data)

    def _read_ended(self, error: OSError | None) -> None:
        """The end of what :class:`TransportFds` reads (as the transport
        ends on the client's EOF or a failed read)."""
        assert self.transport is not None
        if error is None or isinstance(error, ConnectionError):
            self.transport.close()
        else:
            self.abort(f"cannot read: {error}")

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
        if self._fds is not None:
            self._fds.close()  # the same connection as the transport's
        if self._passed is not None:
            self._passed.close()
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
                    item = self._next_message()
                except ProtocolError as error:
                    self.abort(str(error))
                    return
                if item is None:
                    break
                frame, fds = item
                try:
                    self._handle(frame, fds)
                except Exception:  # a bug here must not take the server down
                    log.exception("client %d: failed to handle a message", self.id)
                    self.abort("internal error")
                    return
                finally:
                    if fds:
                        close_fds(fds)  # those no call took
        finally:
            self._processing = False
        self._update_reading()

    def _next_message(self) -> tuple[bytes | bytearray, list[int] | None] | None:
        """The next whole message and the descriptors it brought, or None
        until more has arrived (a call announcing descriptors waits for
        them, as libvirtd's reader does)."""
        waiting = self._waiting
        if waiting is None:
            frame = self._decoder.next_frame()
            if frame is None:
                return None
            if frame[_TYPE_LOW] != _CALL_WITH_FDS:  # the usual case: a look at one byte
                return frame, None
            count = _announced_fds(frame)
            if not count:
                return frame, None
            if self._passed is None:
                raise ProtocolError("Receiving file descriptors is not supported on this socket")
            self._passed.announce(count)
            waiting = self._waiting = (frame, count)
        assert self._passed is not None
        fds = self._passed.take(waiting[1])
        if fds is None:
            return None
        self._waiting = None
        return waiting[0], fds

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        want = self._in_flight < self._limit and not self._write_paused
        if want and not self._reading:
            self._reading = True
            self._io.resume_reading()
        elif not want and self._reading:
            self._reading = False
            self._io.pause_reading()

    def _release(self, process: bool = True) -> None:
        self._in_flight -= 1
        if process:
            self._process()

    def _handle(self, frame: bytes | bytearray, fds: list[int] | None) -> None:
        if wiretrace.SERVER.levels.get(wiretrace.DEBUG) is not False:  # off: one dict look-up
            wiretrace.SERVER.frame(self.id, ">", frame)
        _, prog, vers, proc, type_, serial, status = FRAME_HEADER.unpack_from(frame, 0)
        if prog == KEEPALIVE_PROGRAM and vers == KEEPALIVE_VERSION and type_ == _MESSAGE:
            # libvirtd's keepalive filter: PING gets a PONG, the rest is dropped.
            if proc == KEEPALIVE_PING:
                self._write(PONG_FRAME)
            return
        calls = self.server._programs.get((prog, vers))
        if calls is None:
            self._reject(prog, vers, proc, serial, f"Cannot find program {int32(prog)} version {int32(vers)}")
            return
        payload = memoryview(frame)[HEADER_SIZE:]
        if type_ == _CALL or type_ == _CALL_WITH_FDS:
            if type_ == _CALL_WITH_FDS:
                payload = payload[4:]  # the count (see _announced_fds)
            self._call(calls, prog, vers, proc, serial, status, payload, fds)
        elif type_ == _STREAM or type_ == _STREAM_HOLE:
            stream = self._streams.get((prog, vers, proc, serial))
            if stream is not None:
                stream._incoming(type_, status, payload)
            # else: stream data for no open stream is dropped, as libvirtd does
        # Other types (REPLY, MESSAGE, unknown numbers) get no answer from
        # libvirtd either: it logs and drops them.

    def _call(
        self,
        calls: CallTable,
        prog: int,
        vers: int,
        proc: int,
        serial: int,
        status: int,
        payload: memoryview,
        fds: list[int] | None,
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
        if fds:
            call.fds = fds.copy()  # the call's now
            fds.clear()
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
            if call.fds:
                close_fds(call.fds)
            raise
        except LibvirtError as error:
            failure: LibvirtError | None = error
        except Exception as exc:
            log.exception("client %d: %s failed", self.id, call.procedure.name)
            failure = internal_error(exc)
        else:
            failure = None
        if call.fds:  # those the handler did not take: closed before the reply, as libvirtd
            close_fds(call.fds)
        if failure is not None:
            self._reply_error(call, failure)
        elif isinstance(result, WithFds) and result.fds:
            await self._reply_with_fds(call, result)
        else:
            self._reply(call, result.result if isinstance(result, WithFds) else result)

    def _reply(self, call: Call, result: Any) -> None:
        self._in_flight -= 1
        if self.closed:
            return
        frame = self._reply_frame(call, result)
        if frame is not None:
            self._write(frame)
            self._replied(call)

    async def _reply_with_fds(self, call: Call, reply: WithFds[Any]) -> None:
        """Reply with descriptors: a REPLY_WITH_FDS, each descriptor after
        it (libvirtd's way); ``reply``'s descriptors are closed once sent."""
        if self._fds is None or len(reply.fds) > MAX_FDS:
            detail = (
                "Sending file descriptors is not supported on this socket"
                if self._fds is None
                else f"Too many FDs to send {len(reply.fds)}, expected {MAX_FDS} maximum"
            )
            reply.close()
            self._reply_error(call, rpc_error(ErrorNumber.VIR_ERR_INTERNAL_ERROR, detail))
            return
        with reply:
            self._in_flight -= 1
            if self.closed:
                return
            frame = self._reply_frame(call, reply.result, len(reply.fds))
            if frame is None:
                return
            try:
                await self._fds.send(frame, reply.fds)
            except OSError as error:
                self.abort(f"cannot send file descriptors: {error}")
                return
            self._replied(call)

    def _reply_frame(self, call: Call, result: Any, nfds: int = 0) -> bytearray | None:
        """The reply to ``call`` carrying ``result`` (announcing ``nfds``
        descriptors); None if it cannot be encoded, after answering with
        libvirtd's error for that."""
        if call.procedure.result is None:
            result = None
        kind = _REPLY_WITH_FDS if nfds else _REPLY
        try:
            return encode_message(call.prog, call.vers, call.proc, kind, call.serial, _OK, result, nfds)
        except (XdrError, AttributeError, TypeError):
            log.exception("client %d: cannot encode the reply of %s", self.id, call.procedure.name)
            self._fail_call(call, rpc_error(ErrorNumber.VIR_ERR_RPC, "Unable to encode message payload"))
            return None

    def _replied(self, call: Call) -> None:
        """What follows a reply: the close a handler asked for, the call's
        stream, the next calls."""
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
        self._write(encode_message(prog, vers, proc, _REPLY, serial, _ERROR, remote_error(error)))

    def _reject(self, prog: int, vers: int, proc: int, serial: int, info: str) -> None:
        """Refuse a call before it runs, as libvirtd does (VIR_ERR_RPC)."""
        self._send_error(prog, vers, proc, serial, rpc_error(ErrorNumber.VIR_ERR_RPC, info))

    def _write(self, frame: bytes | bytearray) -> None:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        if wiretrace.SERVER.levels.get(wiretrace.DEBUG) is not False:  # off: one dict look-up
            wiretrace.SERVER.frame(self.id, "<", frame)
        out = self._io
        out.write(frame)
        if out.get_write_buffer_size() > self.server.limits.max_output_buffer:
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


def _announced_fds(frame: bytes | bytearray) -> int:
    """How many descriptors follow ``frame`` on the stream: a CALL_WITH_FDS's
    count (libvirtd reads no other message's).  :class:`ProtocolError`
    for a count that is missing or above libvirt's limit."""
    if _I32.unpack_from(frame, _TYPE_AT)[0] != _CALL_WITH_FDS:
        return 0
    return fds_count(frame)
