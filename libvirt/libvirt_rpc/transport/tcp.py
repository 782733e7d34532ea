"""The ``tcp`` transport: plain TCP to host:port (default 16509), each
resolved address tried in turn.  :mod:`.tls` connects the same way.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any

from ..errors import ErrorNumber, LibvirtError
from ..uri import LibvirtURI
from .base import Deadline, SocketStream, Stream, Transport, rpc_error, system_error, timeout_error

if TYPE_CHECKING:
    import asyncio

__all__ = ["TcpTransport", "connect_tcp", "open_async_tcp", "HANDSHAKE_FAILURES"]

# How a failed TLS handshake shows in asyncio.open_connection (a peer that
# refuses us may just reset the connection).
HANDSHAKE_FAILURES = (ssl.SSLError, ConnectionResetError)


def _resolve_error(host: str, port: object, exc: socket.gaierror) -> LibvirtError:
    return rpc_error(
        ErrorNumber.VIR_ERR_SYSTEM_ERROR,
        f"Unable to resolve address '{host}' service '{port}': {exc.strerror}",
    )


def _connect_error(host: str, port: object, exc: OSError | None) -> LibvirtError:
    return system_error(f"unable to connect to server at '{host}:{port}'", exc)


def connect_tcp(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A connected TCP socket (virNetSocketNewConnectTCP)."""
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG
        )
    except socket.gaierror as exc:
        raise _resolve_error(host, port, exc) from exc
    last: OSError | None = None
    # Try each address in turn, as virNetSocketNewConnectTCP does.
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise timeout_error(f"unable to connect to server at '{host}:{port}'") from exc
        except OSError as exc:
            sock.close()
            last = exc
    raise _connect_error(host, port, last) from last


async def open_async_tcp(
    uri: LibvirtURI, limit: int, **tls: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` to the daemon with libvirt's errors.

    ``tls`` are ``open_connection``'s TLS arguments; with them, the
    :data:`HANDSHAKE_FAILURES` pass through for :mod:`.tls` to word.
    Timeouts pass through for the caller.
    """
    import asyncio  # asyncio only for asyncio's users

    host = uri.connect_host
    port = uri.port
    try:
        return await asyncio.open_connection(host, port, limit=limit, **tls)
    except socket.gaierror as exc:
        raise _resolve_error(host, port, exc) from exc
    except OSError as exc:
        if isinstance(exc, TimeoutError) or (tls and isinstance(exc, HANDSHAKE_FAILURES)):
            raise
        raise _connect_error(host, port, exc) from exc


class TcpTransport(Transport):
    name = "tcp"

    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> Stream:
        assert uri.port is not None
        return SocketStream(connect_tcp(uri.connect_host, uri.port, deadline), self.name)

    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await open_async_tcp(uri, limit)
