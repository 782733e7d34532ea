"""Fixtures that start real daemons (libvirtd, sshd) for integration tests.

Nothing here skips: a missing binary is an error telling how to install it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

# daemons.py sits next to this file; make it importable under any import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from daemons import DaemonError, Libvirtd, Sshd  # noqa: E402

T = TypeVar("T", Libvirtd, Sshd)


def _start(factory: type[T]) -> T:
    try:
        return factory()
    except DaemonError as e:
        pytest.fail(f"could not start {factory.__name__}: {e}", pytrace=False)


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[Libvirtd]:
    """One private libvirtd for the whole session: unix, TCP and TLS listeners."""
    daemon = _start(Libvirtd)
    with daemon:
        yield daemon


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """One private sshd on loopback; pair with ``sshd.uri_ssh(libvirtd)``."""
    daemon = _start(Sshd)
    with daemon:
        yield daemon


@pytest.fixture
def fresh_libvirtd() -> Iterator[Libvirtd]:
    """A libvirtd of the test's own, for tests that stop or kill it."""
    daemon = _start(Libvirtd)
    with daemon:
        yield daemon
