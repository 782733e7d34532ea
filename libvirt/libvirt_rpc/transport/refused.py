"""``libssh`` and ``libssh2``: libvirt's in-process SSH transports.  They
need an SSH library in the process, so they are refused (both ways) with
VIR_ERR_NO_SUPPORT pointing at ``+ssh``, which does the same job with the
``ssh`` binary.
"""

from __future__ import annotations

from typing import NoReturn

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from ..uri import LibvirtURI
from .base import Deadline, Transport

__all__ = ["RefusedTransport", "unsupported"]


def unsupported(uri: LibvirtURI) -> LibvirtError:
    """The error for a transport we cannot open."""
    return LibvirtError.from_code(
        ErrorNumber.VIR_ERR_NO_SUPPORT,
        f"transport '{uri.transport}' needs an in-process SSH library; use '+ssh'",
        domain=ErrorDomain.VIR_FROM_REMOTE,
    )


class RefusedTransport(Transport):
    def __init__(self, name: str) -> None:
        self.name = name

    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> NoReturn:
        raise unsupported(uri)

    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> NoReturn:
        raise unsupported(uri)
