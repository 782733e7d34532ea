"""ONC RPC server stubs: for ``foo.x``, ``foo_server.py``.

Per version of each ``program`` block: a handler base class
(``MountV3Handler``, on :class:`xdrgen.runtime.oncrpc.Handler`) whose
``PROCEDURES`` come from the client module's table, with an ``async``
method per procedure (``mountproc3_mnt(call, dirpath)``) that answers
PROC_UNAVAIL until a subclass overrides it.  The module re-exports the
runtime's ``Server``, ``ServerThread``, ``Call`` and the errors a handler
may raise.
"""

from __future__ import annotations

from ..resolve import Protocol
from .oncrpc_stubs import SERVER_EXPORTS, OncRpcModel
from .render import render


def generate_oncrpc_server(protocol: Protocol, package: str | None = None) -> str | None:
    """The server module, or None when the file has no ``program`` block."""
    model = OncRpcModel(protocol, package)
    if not model.versions:
        return None
    blocks = [render("python/oncrpc/handler.j2", version=version) for version in model.versions]
    classes = [f"{version.stem}Handler" for version in model.versions]
    return model.render_module("python/oncrpc/server_header.j2", blocks, classes, SERVER_EXPORTS, codecs=False)
