"""Authenticating a fresh connection, before its RPC client exists:
:func:`authenticate` (blocking :class:`~..transport.Stream`) and
:func:`authenticate_async` (asyncio streams) drive :func:`.negotiate.negotiate`.

The exchange is strictly one call, one reply (the server says nothing
unasked before it knows who we are), so a plain read of the next frame is
all it takes; the errors read as the RPC client's would ("End of file
while reading data", "no reply to procedure 66 in 30 s").  What is left is
a SASL session whose security layer must carry all later messages (the
caller wraps the stream in :mod:`..transport.sasl`), or None.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import time
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import MessageType

from libvirt_rpc import remote_protocol as rp

from ..client.routing import _read_error, _result, _send_error, _send_timeout
from ..errors import CallTimeoutError, LibvirtError
from ..transport.base import Stream, writer_error_output
from ..uri import LibvirtURI
from .credentials import ConnectAuth, refused
from .negotiate import AskCredentials, Link, RemoteCall, Request, negotiate

if TYPE_CHECKING:
    import asyncio

    from . import cyrus

__all__ = ["authenticate", "authenticate_async", "link_of"]

# Transports libvirt trusts to protect the connection (``priv->is_secure``);
# ext is not: nobody knows what the command does.
_SECURE = frozenset({"tls", "unix", "ssh", "libssh", "libssh2"})


def _address(name: Any) -> str | None:
    """The form libvirt gives SASL an IP endpoint in: "ADDRESS;PORT"."""
    if isinstance(name, tuple) and len(name) >= 2:
        return f"{name[0]};{name[1]}"
    return None


def link_of(transport: str, sock: Any, cipher: Any) -> Link:
    """The :class:`Link` for a connection of ``transport`` over ``sock``
    (a socket, or None), ``cipher`` being ``SSLSocket.cipher()`` (or None)."""
    local = remote = None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            local, remote = _address(sock.getsockname()), _address(sock.getpeername())
        except OSError:
            pass
    bits = cipher[2] if cipher else 0
    return Link(secure=transport in _SECURE, tls_ssf=bits or 0, local=local, remote=remote)


class _Calls:
    """What the blocking and the asyncio exchange share: the frames of the
    calls and the check of their replies."""

    def __init__(self) -> None:
        self._serials = itertools.count(1)

    def frame(self, call: RemoteCall) -> tuple[bytearray, tuple[int, int, int, int]]:
        serial = next(self._serials)
        key = (rp.REMOTE_PROGRAM, rp.REMOTE_PROTOCOL_VERSION, call.proc, serial)
        return wire.encode_call(*key, call.args), key

    @staticmethod
    def reply(frame: bytes, key: tuple[int, int, int, int], call: RemoteCall, errout: str) -> Any:
        """The decoded reply in ``frame`` (or its error, raised)."""
        try:
            message = wire.parse_frame(frame)
            header = (message.prog, message.vers, message.proc, message.serial)
            if header != key or message.type != MessageType.REPLY:
                raise wire.ProtocolError(
                    f"unexpected message (program {message.prog:#x}, procedure {message.proc}, "
                    f"serial {message.serial}, type {message.type}) while authenticating"
                )
        except wire.ProtocolError as exc:
            raise _read_error(exc, errout) from exc
        return _result(message, call.result)


def _no_reply(call: RemoteCall, timeout: float | None) -> CallTimeoutError:
    return CallTimeoutError(f"Timed out during operation: no reply to procedure {call.proc} in {timeout} s")


def _advance(flow: Generator[Request, Any, Any], reply: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Send the last outcome into ``flow``: (True, its result) when it is
    done, else (False, its next request)."""
    try:
        request = flow.throw(error) if error is not None else flow.send(reply)
    except StopIteration as stop:
        return True, stop.value
    return False, request


def _ask(request: AskCredentials) -> tuple[BaseException | None, Any]:
    """Run the callback: (what went wrong, None) or (None, its return value)."""
    callback = request.auth.callback
    assert callback is not None
    try:
        return None, callback(request.credentials)
    except Exception as exc:  # the caller's code: any failure means "no credentials"
        return exc, None


def _answer(problem: BaseException | None, outcome: object) -> object:
    """What goes back into the flow for an :class:`AskCredentials`: None
    when the callback answered, else what went wrong (False: it refused)."""
    if problem is not None:
        return problem
    return False if refused(outcome) else None


Outcome = tuple[Any, "LibvirtError | None"]  # (the reply, or the error to throw in)


# -- blocking -----------------------------------------------------------------


class _BlockingExchange(_Calls):
    def __init__(self, stream: Stream, timeout: float | None) -> None:
        super().__init__()
        self._stream = stream
        self._timeout = timeout

    def call(self, call: RemoteCall) -> Any:
        frame, key = self.frame(call)
        stream = self._stream
        end = None if self._timeout is None else time.monotonic() + self._timeout

        def wait() -> None:
            stream.settimeout(None if end is None else max(end - time.monotonic(), 1e-6))

        try:
            wait()
            stream.sendall(frame)
        except TimeoutError as exc:
            raise _send_timeout(f"procedure {call.proc}", None) from exc
        except OSError as exc:
            raise _send_error(exc, stream.error_output()) from exc
        try:
            head = self._read(4, wait)
            length = wire.parse_length(head)
            reply = head + self._read(length - 4, wait)
        except TimeoutError as exc:
            raise _no_reply(call, self._timeout) from exc
        except (EOFError, OSError, wire.ProtocolError) as exc:
            raise _read_error(exc, stream.error_output()) from exc
        finally:
            stream.settimeout(None)
        return self.reply(reply, key, call, stream.error_output())

    def _read(self, count: int, wait: Any) -> bytes:
        out = bytearray()
        while len(out) < count:
            wait()
            chunk = self._stream.recv(count - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return bytes(out)


def authenticate(
    stream: Stream, uri: LibvirtURI, auth: ConnectAuth, timeout: float | None
) -> cyrus.ClientSession | None:
    """Authenticate on ``stream`` as libvirt's client does; each call's
    reply is waited for at most ``timeout`` seconds."""
    sock = getattr(stream, "socket", None)
    cipher = getattr(sock, "cipher", None)
    cipher = cipher() if cipher is not None else None
    flow = negotiate(uri, auth, link_of(stream.transport, sock, cipher))
    exchange = _BlockingExchange(stream, timeout)
    with contextlib.closing(flow):
        done, request = _advance(flow, None, None)
        while not done:
            done, request = _advance(flow, *_perform(exchange, request))
        return request  # type: ignore[no-any-return]


def _perform(exchange: _BlockingExchange, request: Request) -> Outcome:
    if isinstance(request, RemoteCall):
        try:
            return exchange.call(request), None
        except LibvirtError as exc:
            return None, exc
    problem, outcome = _ask(request)
    if problem is None and isinstance(outcome, Awaitable):
        _discard(outcome)
        problem = TypeError("a coroutine authentication callback needs libvirt_rpc.open_async")
    return _answer(problem, outcome), None


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # no "never awaited" warning


# -- asyncio ------------------------------------------------------------------


class _AsyncExchange(_Calls):
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None
    ) -> None:
        super().__init__()
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    def _errout(self) -> str:
        return writer_error_output(self._writer)

    async def call(self, call: RemoteCall) -> Any:
        import asyncio  # asyncio only for asyncio's users

        frame, key = self.frame(call)
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    self._writer.write(frame)
                    await self._writer.drain()
                except (OSError, ConnectionError) as exc:
                    raise _send_error(exc, self._errout()) from exc
                try:
                    head = await self._reader.readexactly(4)
                    length = wire.parse_length(head)
                    reply = head + await self._reader.readexactly(length - 4)
                except asyncio.IncompleteReadError as exc:
                    raise _read_error(EOFError(), self._errout()) from exc
                except (OSError, ConnectionError, wire.ProtocolError) as exc:
                    raise _read_error(exc, self._errout()) from exc
        except TimeoutError as exc:
            raise _no_reply(call, self._timeout) from exc
        return self.reply(reply, key, call, self._errout())


async def authenticate_async(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    uri: LibvirtURI,
    auth: ConnectAuth,
    timeout: float | None,
) -> cyrus.ClientSession | None:
    """:func:`authenticate` over asyncio streams; the callback may be a
    coroutine function."""
    link = link_of(uri.transport, writer.get_extra_info("socket"), writer.get_extra_info("cipher"))
    flow = negotiate(uri, auth, link)
    exchange = _AsyncExchange(reader, writer, timeout)
    with contextlib.closing(flow):
        done, request = _advance(flow, None, None)
        while not done:
            done, request = _advance(flow, *await _perform_async(exchange, request))
        return request  # type: ignore[no-any-return]


async def _perform_async(exchange: _AsyncExchange, request: Request) -> Outcome:
    if isinstance(request, RemoteCall):
        try:
            return await exchange.call(request), None
        except LibvirtError as exc:
            return None, exc
    problem, outcome = _ask(request)
    if problem is None and isinstance(outcome, Awaitable):
        try:
            outcome = await outcome
        except Exception as exc:  # the caller's code
            problem = exc
    return _answer(problem, outcome), None
