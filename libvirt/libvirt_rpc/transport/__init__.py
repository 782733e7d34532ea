"""Byte streams to libvirtd for a :class:`~..uri.LibvirtURI`, sync and asyncio.

Transports, as libvirt's client opens them (``src/rpc/virnetsocket.c``,
``virnetclient.c``, ``virnettlscontext.c``), one module each:

- ``unix`` (:mod:`.unix`): ``AF_UNIX`` stream socket to ``uri.socket``
  (``@name`` is an abstract socket).  The only one that can pass file
  descriptors.
- ``tcp`` (:mod:`.tcp`): plain TCP to host:port (default 16509).
- ``tls`` (:mod:`.tls`): TCP + TLS (default 16514) with the client
  certificate, CA check and host name check (unless ``no_verify=1``).  After
  the handshake the daemon checks *our* certificate and address and then
  sends one byte, ``\\x01``, inside the TLS session; anything else (or EOF)
  means it refused us.
- ``ssh`` (:mod:`.ssh`): runs ``ssh ... -- host 'sh -c ...'`` whose remote
  command bridges to the daemon's socket with ``virt-ssh-helper`` or ``nc``;
  the command line is built exactly as libvirt 9.x builds it.
- ``ext`` (:mod:`.ext`): runs ``command=`` and talks over its stdin/stdout.

Like libvirt, ``ssh`` and ``ext`` talk to the child over one end of a
``socketpair`` (its stdin and stdout), so every stream has a single file
descriptor and socket timeouts work the same way for all transports
(:mod:`.command`).  The child's stderr is collected for error messages
(:meth:`Stream.error_output`).

``libssh`` and ``libssh2`` need an in-process SSH library, so they are
refused (:mod:`.refused`).

:mod:`.sasl` is no transport of its own: when a SASL negotiation agrees on
a security layer (DIGEST-MD5 on plain TCP), it carries the messages inside
the layer's packets over whichever stream was opened, for both clients.

:mod:`.registry` holds one entry per transport name, each opening its
transport both ways, and :func:`open_stream` / :func:`open_async_stream`,
which use it; its docstring is the checklist for adding a transport.
:mod:`.base` has what they all share.

Failures while connecting raise :class:`~..errors.LibvirtError` (timeouts
:class:`~..errors.CallTimeoutError`) with libvirt's wording; once connected,
the stream methods raise plain ``OSError`` like a socket does (and
``recv_fds`` ``EOFError`` when the peer has gone).

Only the standard library is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdrgen.runtime.virnet.framing import MAX_FDS

from .base import SocketStream, Stream, Transport
from .command import CommandStream
from .registry import REGISTRY, command_argv, open_async_stream, open_stream
from .ssh import ssh_argv, ssh_remote_command
from .tls import TLS_CONFIRMATION, create_tls_context
from .unix import UnixStream

if TYPE_CHECKING:
    from .command_async import CommandStreamWriter

__all__ = [
    "TLS_CONFIRMATION",
    "MAX_FDS",
    "Stream",
    "SocketStream",
    "UnixStream",
    "CommandStream",
    "CommandStreamWriter",
    "Transport",
    "REGISTRY",
    "open_stream",
    "open_async_stream",
    "create_tls_context",
    "ssh_argv",
    "ssh_remote_command",
    "command_argv",
]


def __getattr__(name: str) -> Any:
    # asyncio's classes load on first use: blocking users never import asyncio
    if name == "CommandStreamWriter":
        from .command_async import CommandStreamWriter

        return CommandStreamWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
