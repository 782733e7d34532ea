"""An asyncio server for libvirt's RPC protocol, driven by generated tables.

Generated ``<name>_server.py`` modules hold, per program version, a handler
base class (a :class:`ProgramHandler`) whose ``PROCEDURES`` table maps
procedure numbers to :class:`Procedure` entries.  :class:`Server` takes
instances of subclasses, listens on unix and TCP sockets and serves each
connection as libvirtd does (:mod:`.connection` tells how).

Everything runs on one event loop: a handler that blocks the loop blocks
every client, so handlers must await rather than block.  A slow or hostile
client only ever stalls its own connection.  :func:`start_in_thread` runs a
server on a loop of its own in a background thread, for use from blocking
code and tests.

File descriptors pass on unix sockets as libvirtd passes them: those a
call brings are in ``call.fds``; a handler returns ``WithFds(result, fds)``
to send some with its reply (a ``REPLY_WITH_FDS``; the server closes them
once sent).

The modules: :mod:`.errors` (the error replies), :mod:`.calls` (a call
being served), :mod:`.streams` (its data stream), :mod:`.connection` (one
client), :mod:`.listener` (the server and its limits), :mod:`.thread` (a
server run from blocking code).  The tables' types come from
:mod:`xdrgen.runtime.dispatch`.
"""

from __future__ import annotations

from xdrgen.runtime.dispatch import Procedure, ProgramHandler
from xdrgen.runtime.rpc import WithFds

from .calls import Call
from .connection import Client
from .errors import StreamError, rpc_error, unsupported
from .listener import Limits, Server
from .streams import Hole, ServerStream
from .thread import ServerThread, start_in_thread

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
    "WithFds",
]
