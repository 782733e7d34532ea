"""Fixtures that start real daemons (libvirtd, sshd) for integration tests.

Nothing here skips: a missing binary is an error telling how to install it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

# daemons.py sits next to this file; make it importable under any import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from daemons import DaemonError, Libvirtd, Sasl, Sshd  # noqa: E402

T = TypeVar("T", Libvirtd, Sshd)

#: a libvirtd that wants SASL on its read-write unix socket, TCP and TLS
SASL_AUTH = {"auth_unix_rw": "sasl", "auth_tcp": "sasl", "auth_tls": "sasl"}


def _start(factory: Callable[[], T], name: str = "") -> T:
    try:
        return factory()
    except DaemonError as e:
        pytest.fail(f"could not start {name or getattr(factory, '__name__', 'daemon')}: {e}", pytrace=False)


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


@pytest.fixture(scope="session")
def sasl_libvirtd() -> Iterator[Libvirtd]:
    """A libvirtd wanting SASL (SCRAM-SHA-256, DIGEST-MD5) on its read-write
    unix socket, TCP and TLS; one user, alice, password "secret"."""
    daemon = _start(lambda: Libvirtd(auth=SASL_AUTH, sasl=Sasl()), "a SASL libvirtd")
    with daemon:
        yield daemon


@pytest.fixture(scope="session")
def polkit_libvirtd() -> Iterator[Libvirtd]:
    """A libvirtd wanting polkit on its read-write unix socket (there is no
    polkitd here: root is let in without asking, anyone else is refused)."""
    daemon = _start(lambda: Libvirtd(auth={"auth_unix_rw": "polkit"}), "a polkit libvirtd")
    with daemon:
        yield daemon
