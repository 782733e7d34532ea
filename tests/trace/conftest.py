"""Fixtures for the tracing tests: a real libvirtd (test driver), our test
daemon, and ``python -m libvirt_rpc.trace proxy`` as a process in front of
either.  Nothing here skips: a missing binary fails with how to install it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _dir in (_HERE, _HERE.parent / "server", _HERE.parent / "integration"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from daemons import DaemonError, Libvirtd  # noqa: E402
from testd_support import Testd  # noqa: E402
from trace_support import TraceProxy  # noqa: E402


@pytest.fixture(scope="session")
def libvirtd() -> Iterator[Libvirtd]:
    """A private libvirtd: unix, TCP and TLS listeners, test:///default."""
    try:
        daemon = Libvirtd()
    except DaemonError as error:
        pytest.fail(f"could not start libvirtd: {error}", pytrace=False)
    with daemon:
        yield daemon


@pytest.fixture(scope="session")
def testd() -> Iterator[Testd]:
    daemon = Testd()
    try:
        yield daemon
    finally:
        daemon.stop()


ProxyFactory = Callable[..., TraceProxy]


@pytest.fixture
def trace_proxy(tmp_path: Path, libvirtd: Libvirtd) -> Iterator[ProxyFactory]:
    """Start proxies: ``trace_proxy(*options, upstream=..., listen=...,
    generic=...)`` (by default ``python -m libvirt_rpc.trace`` in front of
    libvirtd's unix socket, listening on a unix socket of the test's own;
    ``generic``: ``python -m xdrgen.trace`` with the package and framing
    named); all are stopped at the end."""
    started: list[TraceProxy] = []

    def start(*options: str, upstream: str | None = None, listen: str | None = None, generic: bool = False) -> TraceProxy:
        directory = tmp_path / f"proxy{len(started)}"
        directory.mkdir()
        upstream = upstream or f"unix:{libvirtd.socket_path}"
        proxy = TraceProxy(directory, upstream, *options, listen=listen, generic=generic)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
