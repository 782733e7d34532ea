"""libvirt_rpc: libvirt's RPC protocol in pure Python.

The package has two halves that install as one:

- generated modules, one per libvirt ``.x`` file (``remote_protocol``,
  ``qemu_protocol``, ... and their ``_client``/``_server`` stubs), kept in
  the repository's ``generated/libvirt_rpc/`` and never edited by hand;
- the hand-written library in ``libvirt/libvirt_rpc/`` (this file): URIs,
  transports, the client, the server, errors and the test daemon.

It imports only the standard library and :mod:`xdrgen.runtime`.  The names
below are imported when first used (``libvirt_rpc.open`` loads the client and
the remote program's types and stubs), so that ``import libvirt_rpc`` or a
script that needs only the types (``from libvirt_rpc import remote_protocol``)
does not pay for the client's imports.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

# In a checkout the generated half sits in another directory on sys.path
# (generated/); in an installed wheel both halves share one directory.
__path__ = pkgutil.extend_path(__path__, __name__)

if TYPE_CHECKING:  # what __getattr__ gives, for type checkers
    from .connection import AsyncConnection, Connection, open, open_async  # noqa: F401
    from .errors import ErrorDomain, ErrorNumber, LibvirtError  # noqa: F401

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "open": "connection",
    "open_async": "connection",
    "Connection": "connection",
    "AsyncConnection": "connection",
    "LibvirtError": "errors",
    "ErrorNumber": "errors",
    "ErrorDomain": "errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
