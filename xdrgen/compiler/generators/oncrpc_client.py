"""ONC RPC client stubs: for ``foo.x``, ``foo_client.py``.

Per version of each ``program`` block (``version MOUNT_V3``): a table of
its procedures (``MountV3Procedures``: number, name and codecs, which the
server module shares), a blocking client (``MountV3Client``, on
:class:`xdrgen.runtime.oncrpc.Client`) and an asyncio one
(``MountV3AsyncClient``), with one method per procedure
(``mountproc3_mnt(dirpath)``) that takes the arguments positionally and
returns the decoded result.  The module re-exports the runtime's
credential and error classes.
"""

from __future__ import annotations

from ..resolve import Protocol
from .oncrpc_stubs import CLIENT_EXPORTS, OncRpcModel
from .render import render


def generate_oncrpc_client(protocol: Protocol, package: str | None = None) -> str | None:
    """The client module, or None when the file has no ``program`` block."""
    model = OncRpcModel(protocol, package)
    if not model.versions:
        return None
    blocks = []
    classes = []
    for version in model.versions:
        blocks.append(render("python/oncrpc/procedures.j2", version=version))
        classes.append(f"{version.stem}Procedures")
        for flavour in ("", "Async"):
            blocks.append(render("python/oncrpc/client.j2", version=version, flavour=flavour))
            classes.append(f"{version.stem}{flavour}Client")
    return model.render_module("python/oncrpc/client_header.j2", blocks, classes, CLIENT_EXPORTS, codecs=True)
