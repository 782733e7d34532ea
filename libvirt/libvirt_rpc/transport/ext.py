"""The ``ext`` transport: runs ``command=`` and talks over its stdin/stdout."""

from __future__ import annotations

from ..uri import LibvirtURI
from .command import CommandTransport

__all__ = ["ExtTransport"]


class ExtTransport(CommandTransport):
    name = "ext"

    def argv(self, uri: LibvirtURI, readonly: bool = False) -> list[str]:
        assert uri.command is not None  # checked when parsing
        return [uri.command]
