"""The transports, one entry per name, and opening the one a URI names.

Every entry of :data:`REGISTRY` is a :class:`~.base.Transport` that opens its
transport both ways: :meth:`~.base.Transport.open` for the blocking client,
:meth:`~.base.Transport.open_async` for the asyncio one.  :func:`open_stream`
and :func:`open_async_stream` look ``uri.transport`` up here and add what all
transports share (the overall deadline, the returned stream's timeout, the
asyncio timeout error).

Adding a transport
------------------

1. The URI: add the name to ``uri.TRANSPORTS`` (and its default port, if
   any, to ``LibvirtURI.parse``) so that ``driver+NAME://...`` parses.
2. One module, ``transport/NAME.py``, with a :class:`~.base.Transport`
   subclass whose ``name`` is ``"NAME"``, implementing

   - ``open(uri, readonly, deadline)``: connect and return a blocking
     :class:`~.base.Stream` (a :class:`~.base.SocketStream` when there is a
     socket); no blocking step may wait past ``deadline.remaining()``;
   - ``open_async(uri, readonly, timeout, limit)``: the same with asyncio,
     returning ``(StreamReader, StreamWriter)``;
   - ``timeout_target(uri, readonly)`` only if the asyncio timeout message
     should name something other than ``host:port`` (unix names its socket).

   A transport that runs a child process and talks over its stdin/stdout
   subclasses :class:`~.command.CommandTransport` instead and implements only
   ``argv(uri, readonly)`` (see ``ssh.py``, ``ext.py``).  Word every failure
   as libvirt does, with :func:`~.base.system_error`, :func:`~.base.rpc_error`
   and :func:`~.base.timeout_error`: tests compare the messages with virsh's.
3. One line in ``_ENTRIES`` below; re-export the module's public names from
   the package's ``__init__.py`` if users need them.
4. Tests:

   - ``tests/runtime/test_transport.py``: a round trip through
     ``open_stream`` and through ``open_async_stream`` against a real local
     endpoint; libvirt's error for an endpoint that is missing or refuses us;
     a connect that hangs ends in ``CallTimeoutError`` within its timeout.
     ``test_registry_covers_every_uri_transport`` fails until steps 1 and 3
     agree.
   - ``tests/integration/``: the transport's URI in ``uris()``
     (test_client.py, blocking and asyncio clients) and in ``TRANSPORTS``
     (test_daemons.py, the real virsh), against the real libvirtd the
     fixtures in ``daemons.py`` start (give them a listener for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..uri import LibvirtURI
from .base import Deadline, Stream, Transport, timeout_error
from .command import CommandTransport
from .ext import ExtTransport
from .refused import RefusedTransport, unsupported
from .ssh import SshTransport
from .tcp import TcpTransport
from .tls import TlsTransport
from .unix import UnixTransport

if TYPE_CHECKING:
    import asyncio

__all__ = ["REGISTRY", "transport_for", "open_stream", "open_async_stream", "command_argv"]

_ENTRIES: tuple[Transport, ...] = (
    UnixTransport(),
    TcpTransport(),
    TlsTransport(),
    SshTransport(),
    ExtTransport(),
    RefusedTransport("libssh"),
    RefusedTransport("libssh2"),
)

#: Transport name -> the :class:`~.base.Transport` that opens it.
REGISTRY: Mapping[str, Transport] = MappingProxyType({entry.name: entry for entry in _ENTRIES})


def transport_for(uri: LibvirtURI) -> Transport:
    """The registry's entry for ``uri.transport`` (refused if there is none)."""
    entry = REGISTRY.get(uri.transport)
    if entry is None:
        raise unsupported(uri)
    return entry


def open_stream(
    uri: LibvirtURI | str, timeout: float | None = None, *, readonly: bool = False
) -> Stream:
    """Connect to the daemon ``uri`` names and return a blocking :class:`Stream`.

    ``timeout`` bounds connecting as a whole (TCP connect, TLS handshake and
    the confirmation byte); the returned stream has no timeout (call
    :meth:`Stream.settimeout`).  ``readonly`` picks the read-only socket, as
    ``virConnectOpenReadOnly`` does.  For ssh/ext the child is started and the
    stream returned at once; a failing child shows up as EOF on the first read
    (see :meth:`Stream.error_output`).

    A TLS server that drops us without confirming gives "Unable to read TLS
    confirmation: Input/output error", one that closes cleanly or sends a
    wrong byte "server verification (of our certificate or IP address)
    failed" -- libvirt's two messages.
    """
    if isinstance(uri, str):
        uri = LibvirtURI.parse(uri)
    stream = transport_for(uri).open(uri, readonly, Deadline(timeout))
    stream.settimeout(None)
    return stream


async def open_async_stream(
    uri: LibvirtURI | str,
    timeout: float | None = None,
    *,
    readonly: bool = False,
    limit: int = 2**16,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect like :func:`open_stream`, returning asyncio streams.

    unix/tcp/tls give asyncio's own reader and writer (TLS confirmation byte
    already consumed); ssh/ext give a :class:`CommandStreamWriter` that also
    ends the child.  ``timeout`` bounds the whole connect; expiry raises
    :class:`~.errors.CallTimeoutError`.  Descriptor passing is not offered
    here (use :func:`open_stream`).  asyncio cannot tell an abrupt TLS close
    from a clean one, so a refusing TLS server always gives "server
    verification (of our certificate or IP address) failed" here.
    """
    if isinstance(uri, str):
        uri = LibvirtURI.parse(uri)
    import asyncio  # asyncio only for asyncio's users

    entry = transport_for(uri)
    what = entry.timeout_target(uri, readonly)
    try:
        async with asyncio.timeout(timeout):
            return await entry.open_async(uri, readonly, timeout, limit)
    except TimeoutError as exc:
        raise timeout_error(f"connecting to '{what}'") from exc


def command_argv(uri: LibvirtURI, readonly: bool = False) -> list[str]:
    """The child process a transport like ssh or ext runs (without a shell)."""
    entry = REGISTRY.get(uri.transport)
    if not isinstance(entry, CommandTransport):
        raise ValueError(f"transport {uri.transport!r} does not run a command")
    return entry.argv(uri, readonly)
