"""Fixtures for the server tests: our test daemon as a real process and a
real libvirtd (test driver) to compare it with.  Nothing here skips: a
missing binary fails with how to install it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from testd_support import Libvirtd, Testd  # noqa: E402


@pytest.fixture(scope="session")
def testd() -> Iterator[Testd]:
    """One ``python -m libvirt_rpc.testd`` for tests that leave its state as
    they found it (the hostile-input tests check it survives them)."""
    daemon = Testd()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def fresh_testd() -> Iterator[Testd]:
    """A daemon of the test's own, for tests that change domains."""
    daemon = Testd()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def real_libvirtd() -> Iterator[Libvirtd]:
    """A private libvirtd whose test:///default driver is the reference."""
    from daemons import DaemonError

    try:
        daemon = Libvirtd()
    except DaemonError as error:
        pytest.fail(f"could not start libvirtd: {error}", pytrace=False)
    with daemon:
        yield daemon
