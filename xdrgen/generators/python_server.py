"""Server dispatch tables and handler base classes (see issue 6)."""

from __future__ import annotations

from ..resolve import Protocol


def generate_server(protocol: Protocol, package: str | None = None) -> str | None:
    """The ``<name>_server.py`` module for a protocol with programs, or None."""
    return None
