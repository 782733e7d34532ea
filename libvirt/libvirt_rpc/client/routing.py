"""What both clients share: how they route what arrives.

Replies go by (prog, vers, proc, serial) (:func:`_reply_key`) to the waiting
call, keepalive PINGs are answered with PONG, MESSAGE events go to the
handlers (decoded by :class:`_Router`), STREAM/STREAM_HOLE packets to the
stream of their call (:class:`_Dispatcher`).  Also shared: a reply's result
or error (:func:`_result`, :func:`decode_error`), libvirt's words for a
failed read, and the keepalive loop's decisions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from xdrgen.runtime.rpc import WithFds
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.descriptors import close_fds
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType
from xdrgen.runtime.xdr import Buffer, XdrError, XdrStruct

from .. import wiretrace
from ..errors import CallTimeoutError, ConnectionClosedError, ErrorNumber, LibvirtError
from .descriptors import close_received, take_received
from .incoming import Incoming
from .throttle import WarningThrottle

log = logging.getLogger("libvirt_rpc.client")

T = TypeVar("T", bound=XdrStruct)


@dataclass(frozen=True)
class Event:
    """An event the server sent (a MESSAGE): its procedure's name and the
    decoded ``_msg`` struct."""

    program: int
    procedure: int
    name: str
    message: XdrStruct


EventHandler = Callable[[Event], None]


def decode_error(payload: memoryview) -> LibvirtError:
    """A ``remote_error`` payload as :class:`LibvirtError`."""
    from libvirt_rpc.virnetprotocol import VirNetMessageError

    try:
        error = VirNetMessageError.decode(payload)
    except XdrError as exc:
        return LibvirtError(f"malformed error reply: {exc}", code=ErrorNumber.VIR_ERR_RPC)
    return LibvirtError.from_remote_error(
        error.code,
        error.domain,
        error.message,
        error.level,
        error.str1,
        error.str2,
        error.str3,
        error.int1,
        error.int2,
    )


def _result(message: Message, result: type[T] | None) -> T | None:
    if message.status == MessageStatus.ERROR:
        raise decode_error(message.payload)
    if result is None:
        return None
    try:
        return result.decode(message.payload)
    except XdrError as exc:
        raise LibvirtError(
            f"cannot decode the reply to procedure {message.proc}: {exc}",
            code=ErrorNumber.VIR_ERR_RPC,
        ) from exc


def _result_with_fds(message: Message, result: type[T] | None) -> WithFds[T | None]:
    """:func:`_result` with the descriptors the reply brought (closed if it
    is an error)."""
    fds = take_received(message)
    try:
        return WithFds(_result(message, result), fds)
    except BaseException:
        close_fds(fds)
        raise


class _Router:
    """Decides what to do with each incoming message; shared by both clients."""

    def __init__(self) -> None:
        self.events: dict[tuple[int, int, int], tuple[str, type[XdrStruct]]] = {}
        self.handlers: list[EventHandler] = []
        #: what the server makes us ignore is logged through this
        self.warnings = WarningThrottle(log)

    def register_events(self, prog: int, vers: int, table: dict[int, tuple[str, type[XdrStruct]]]) -> None:
        for proc, (name, cls) in table.items():
            self.events[(prog, vers, proc)] = (name, cls)

    def event(self, message: Message) -> Event | None:
        entry = self.events.get((message.prog, message.vers, message.proc))
        if entry is None:
            self.warnings.warning(
                "ignoring unknown event: program %#x version %d procedure %d",
                message.prog,
                message.vers,
                message.proc,
            )
            return None
        name, cls = entry
        try:
            decoded = cls.decode(message.payload)
        except XdrError as exc:
            self.warnings.warning("ignoring malformed event %s: %s", name, exc)
            return None
        return Event(message.prog, message.proc, name, decoded)


def _reply_key(message: Message) -> tuple[int, int, int, int]:
    return (message.prog, message.vers, message.proc, message.serial)


class _Dispatcher:
    """What both clients do with an incoming message; they supply how a
    reply is handed to its caller and how a PING is answered."""

    _router: _Router
    _incoming: Incoming
    _streams: dict[int, Any]
    _event_queues: list[Any]  # queue.Queue or asyncio.Queue: both put_nowait
    _trace_id: int  # the connection's number in trace lines (:mod:`..wiretrace`)

    def _answer_ping(self) -> None:
        raise NotImplementedError

    def _settle(self, message: Message) -> bool:
        """Give a reply to the call waiting for it; False if none is."""
        raise NotImplementedError

    def _take_in(self, data: Buffer) -> None:
        """Dispatch every whole message ``data`` completes (one read often
        holds several; none waits in the buffer once its reader has gone)."""
        incoming = self._incoming
        message = incoming.first(data)  # the usual read: one whole reply
        if message is None:
            message = incoming.next()
        while message is not None:
            self._dispatch(message)
            message = incoming.next()

    def _dispatch(self, message: Message) -> None:
        if wiretrace.CLIENT.levels.get(wiretrace.DEBUG) is not False:  # off: one dict look-up
            wiretrace.CLIENT.message(self._trace_id, "<", message)
        kind = message.type
        if kind is MessageType.REPLY or kind is MessageType.REPLY_WITH_FDS:  # the usual case first
            if not self._settle(message):
                close_received(message)
                self._router.warnings.warning("ignoring a reply nobody waits for (serial %d)", message.serial)
        elif _is_keepalive(message):
            if _is_ping(message):
                self._answer_ping()
        elif kind in (MessageType.STREAM, MessageType.STREAM_HOLE):
            stream = self._streams.get(message.serial)
            if stream is None:
                self._router.warnings.warning("ignoring stream data for unknown serial %d", message.serial)
            else:
                stream._deliver(message)
        elif kind == MessageType.MESSAGE:
            event = self._router.event(message)
            if event is not None:
                self._publish(event)
        else:
            close_received(message)  # a CALL_WITH_FDS's
            self._router.warnings.warning("ignoring a %s message from the server", kind.name)

    def _publish(self, event: Event) -> None:
        """Hand an event to the handlers and the ``events()`` iterators."""
        for handler in list(self._router.handlers):
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed")
        for box in list(self._event_queues):
            box.put_nowait(event)


def _read_error(exc: BaseException, errout: str = "") -> LibvirtError:
    """libvirt's words for a connection that failed while reading; with
    what a helper process (ssh, ext) wrote to stderr where libvirt puts it
    ("End of file while reading data: Host key verification failed.: ...")."""
    if isinstance(exc, wire.ProtocolError):
        return ConnectionClosedError(f"internal error: protocol error from server: {exc}")
    said = _helper_said(errout)
    if isinstance(exc, EOFError):
        return ConnectionClosedError(f"internal error: End of file while reading data: {said}Input/output error")
    return ConnectionClosedError(f"internal error: cannot recv data: {said}{exc}")


def _send_error(exc: BaseException, errout: str = "") -> LibvirtError:
    """The words for a connection that failed while sending."""
    return ConnectionClosedError(f"internal error: cannot send data: {_helper_said(errout)}{exc}")


def _send_timeout(what: str, timeout: float | None) -> CallTimeoutError:
    """The words for a send that the server did not take by the deadline."""
    late = "" if timeout is None else f" in {timeout} s"
    return CallTimeoutError(f"Timed out during operation: cannot send {what}{late}: the server stopped reading")


def _half_sent() -> ConnectionClosedError:
    """What closes a connection whose send stopped inside a frame (the next
    frame could not follow it)."""
    return ConnectionClosedError(
        "internal error: connection closed: the server stopped reading in the middle of a message"
    )


def _helper_said(errout: str) -> str:
    """A helper's stderr as libvirt quotes it: its first 1024 bytes, the
    trailing white space stripped, followed by ": "."""
    text = errout.encode()[:1024].decode(errors="ignore").rstrip()
    return f"{text}: " if text else ""


def _keepalive_tick(interval: float) -> float:
    """How often a keepalive loop looks at the connection."""
    return min(interval, 1.0) if interval > 1 else interval


def _keepalive_due(last_received: float, interval: float, count: int) -> LibvirtError | bool:
    """What a keepalive loop does now: the error that closes a connection
    silent for ``count`` intervals after the first, True to send a PING
    (quiet for an interval), False to wait (libvirt's virKeepAliveTimer)."""
    idle = time.monotonic() - last_received
    if idle >= interval * (count + 1):
        return ConnectionClosedError("internal error: connection closed due to keepalive timeout")
    return idle >= interval


def _is_ping(message: Message) -> bool:
    return (
        message.prog == wire.KEEPALIVE_PROGRAM
        and message.type == MessageType.MESSAGE
        and message.proc == wire.KEEPALIVE_PING
    )


def _is_keepalive(message: Message) -> bool:
    return message.prog == wire.KEEPALIVE_PROGRAM
