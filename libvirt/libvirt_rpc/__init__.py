"""libvirt_rpc: libvirt's RPC protocol in pure Python.

The package has two halves that install as one:

- generated modules, one per libvirt ``.x`` file (``remote_protocol``,
  ``qemu_protocol``, ... and their ``_client``/``_server`` stubs), kept in
  the repository's ``generated/libvirt_rpc/`` and never edited by hand;
- the hand-written library in ``libvirt/libvirt_rpc/`` (this file): URIs,
  transports, the client, the server, errors and the test daemon.

It imports only the standard library and :mod:`xdrgen.runtime`.
"""

from __future__ import annotations

import pkgutil

# In a checkout the generated half sits in another directory on sys.path
# (generated/); in an installed wheel both halves share one directory.
__path__ = pkgutil.extend_path(__path__, __name__)

from .connection import AsyncConnection, Connection, open, open_async  # noqa: E402
from .errors import ErrorDomain, ErrorNumber, LibvirtError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "open",
    "open_async",
    "Connection",
    "AsyncConnection",
    "LibvirtError",
    "ErrorNumber",
    "ErrorDomain",
]
