"""What every transport shares: the :class:`Stream` interface, the socket
stream most transports return, the connect deadline, libvirt's error wording,
and :class:`Transport`, the interface one entry of the registry implements
(see :mod:`.registry`).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from ..errors import (
    CallTimeoutError,
    ErrorDomain,
    ErrorNumber,
    LibvirtError,
    error_message,
)
from ..uri import LibvirtURI

if TYPE_CHECKING:
    import asyncio

    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = [
    "Stream",
    "SocketStream",
    "Transport",
    "Deadline",
    "system_error",
    "rpc_error",
    "timeout_error",
    "writer_error_output",
]

# -- errors ----------------------------------------------------------------


def writer_error_output(writer: asyncio.StreamWriter) -> str:
    """What a helper process (ssh, ext) behind an asyncio ``writer`` wrote
    to stderr (its writer has ``error_output``, as :meth:`Stream.error_output`);
    "" for sockets."""
    error_output = getattr(writer, "error_output", None)
    return error_output() if error_output is not None else ""


def system_error(detail: str, exc: BaseException | None = None, err: int | None = None) -> LibvirtError:
    """virReportSystemError: "<detail>: <strerror>", VIR_ERR_SYSTEM_ERROR."""
    if err is None and isinstance(exc, OSError):
        err = exc.errno
    if err:
        text = f"{detail}: {os.strerror(err)}"
    elif exc is not None:
        text = f"{detail}: {exc}"
    else:
        text = detail
    return LibvirtError(
        error_message(ErrorNumber.VIR_ERR_SYSTEM_ERROR, text),
        code=ErrorNumber.VIR_ERR_SYSTEM_ERROR,
        domain=ErrorDomain.VIR_FROM_RPC,
        str2=text,
        int1=err or 0,
    )


def rpc_error(code: ErrorNumber, detail: str) -> LibvirtError:
    """virReportError(code, "%s", detail) from the RPC layer."""
    return LibvirtError.from_code(code, detail, domain=ErrorDomain.VIR_FROM_RPC)


def timeout_error(detail: str) -> CallTimeoutError:
    return CallTimeoutError(
        error_message(ErrorNumber.VIR_ERR_OPERATION_TIMEOUT, detail), str2=detail
    )


# -- streams ---------------------------------------------------------------


class Stream:
    """A connected, blocking byte stream to libvirtd.

    Behaves like a stream socket: :meth:`recv_into` and :meth:`recv` return
    0 / ``b""`` at end of file; errors are ``OSError`` (``TimeoutError`` after
    :meth:`settimeout`).  Use as a context manager to close it.  An
    :class:`~..client.RpcClient` makes it non-blocking (``settimeout(0)``:
    what cannot go on at once raises ``BlockingIOError``, or for tls
    ``ssl.SSLWantReadError``/``SSLWantWriteError``) and waits in ``poll``
    itself, so that no call outlives its timeout.
    """

    #: The transport name ("unix", "tcp", "tls", "ssh", "ext").
    transport: str = ""
    #: Whether :meth:`send_fds` / :meth:`recv_fds` work (unix only).
    supports_fds: bool = False

    def sendall(self, data: ReadableBuffer) -> None:
        """Send all of ``data``."""
        raise NotImplementedError

    def send(self, data: ReadableBuffer) -> int:
        """Send what the stream takes of ``data`` in one go; the count sent.
        After ``settimeout(0)`` it waits for nothing (``socket.send``):
        ``BlockingIOError`` (``ssl.SSLWantWriteError`` for tls) when nothing
        can be sent now."""
        raise NotImplementedError

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int:
        """Read into ``buffer`` (at most ``nbytes`` if given); 0 means EOF."""
        raise NotImplementedError

    def recv(self, bufsize: int) -> bytes:
        """Read up to ``bufsize`` bytes; ``b""`` means EOF."""
        raise NotImplementedError

    def fileno(self) -> int:
        """The descriptor to wait on (select/poll/selectors)."""
        raise NotImplementedError

    def settimeout(self, timeout: float | None) -> None:
        """Timeout for each blocking operation, as ``socket.settimeout``."""
        raise NotImplementedError

    def gettimeout(self) -> float | None:
        """The current timeout (``None``: block forever)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the stream (and end any helper process).  Idempotent."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        raise NotImplementedError

    def send_fds(self, data: ReadableBuffer, fds: list[int] | tuple[int, ...]) -> None:
        """Send ``data``, then each descriptor in ``fds`` (unix only)."""
        raise rpc_error(
            ErrorNumber.VIR_ERR_INTERNAL_ERROR,
            "Sending file descriptors is not supported on this socket",
        )

    def recv_fds(self, count: int) -> list[int]:
        """Receive ``count`` descriptors (unix only; close-on-exec is set).

        Like the other reads this raises ``OSError`` on failure (here
        ``EOPNOTSUPP`` for transports that can't carry descriptors) and
        ``EOFError`` if the peer closes first.
        """
        raise OSError(
            errno.EOPNOTSUPP, "Receiving file descriptors is not supported on this socket"
        )

    def recv_into_with_fds(self, buffer: WriteableBuffer) -> tuple[int, list[int]]:
        """Read into ``buffer`` like :meth:`recv_into`, also returning the
        descriptors that arrived with the data (always none here)."""
        return self.recv_into(buffer), []

    def error_output(self) -> str:
        """What a helper process (ssh, ext) wrote to stderr; "" for sockets."""
        return ""

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SocketStream(Stream):
    """A :class:`Stream` over a connected socket (tcp, or tls as ``ssl.SSLSocket``)."""

    def __init__(self, sock: socket.socket, transport: str = "tcp") -> None:
        self._sock = sock
        self._closed = False
        self.transport = transport

    @property
    def socket(self) -> socket.socket:
        """The underlying socket (an ``ssl.SSLSocket`` for tls)."""
        return self._sock

    def sendall(self, data: ReadableBuffer) -> None:
        self._sock.sendall(data)

    def send(self, data: ReadableBuffer) -> int:
        return self._sock.send(data)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int:
        return self._sock.recv_into(buffer, nbytes)

    def recv(self, bufsize: int) -> bytes:
        return self._sock.recv(bufsize)

    def fileno(self) -> int:
        return self._sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # shutdown first: a thread blocked reading this socket wakes up with
        # EOF, which close() alone does not guarantee
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._sock.fileno()}"
        return f"<{type(self).__name__} {self.transport} {state}>"


# -- opening ---------------------------------------------------------------


class Deadline:
    """Remaining time of an overall timeout (None: no limit)."""

    def __init__(self, timeout: float | None) -> None:
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        if self._end is None:
            return None
        # A zero timeout would make the socket non-blocking; keep it tiny instead.
        return max(self._end - time.monotonic(), 1e-6)


class Transport(ABC):
    """How to reach libvirtd one way, for both clients.

    One instance per transport name sits in :data:`.registry.REGISTRY`, whose
    docstring is the checklist for adding a transport.  While connecting,
    failures raise :class:`~..errors.LibvirtError` in libvirt's wording (use
    :func:`system_error`, :func:`rpc_error`, :func:`timeout_error`).
    """

    #: The name in the URI scheme (``qemu+NAME://``): the registry's key and
    #: the :attr:`Stream.transport` of what :meth:`open` returns.
    name: str
    #: Whether descriptors can travel to the daemon (libvirt passes them on
    #: unix sockets only; ssh and ext talk to a helper process, which would
    #: not pass them on, over a socket pair that could).
    passes_fds: bool = False

    @abstractmethod
    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> Stream:
        """Connect and return a blocking :class:`Stream`; no step may wait
        longer than ``deadline.remaining()`` (the caller clears the stream's
        timeout afterwards)."""

    @abstractmethod
    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect with asyncio.  The caller bounds the whole connect by
        ``timeout``; it is passed on for steps asyncio times itself (the TLS
        handshake).  ``limit`` is the ``StreamReader``'s buffer limit."""

    def timeout_target(self, uri: LibvirtURI, readonly: bool) -> str:
        """What the asyncio timeout error names ("connecting to '...'")."""
        return f"{uri.connect_host}:{uri.port}"
