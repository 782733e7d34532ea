"""Fixtures for the tracing tests: a real libvirtd (test driver), our test
daemon, and ``python -m libvirt_rpc.trace proxy`` as a process in front of
either.  Nothing here skips: a missing binary fails with how to install it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_HERE = Path(__file__).resolve().parent
for _dir in (_HERE, _HERE.parent / "server", _HERE.parent / "integration"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from daemons import Libvirtd  # noqa: E402
from trace_support import ProxyFactory, TraceProxy  # noqa: E402


def _fixtures_of(conftest: Path, name: str) -> ModuleType:
    """Another directory's conftest, loaded under a name of its own (both
    are called ``conftest``), to share its fixtures."""
    spec = importlib.util.spec_from_file_location(name, conftest)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server = _fixtures_of(_HERE.parent / "server" / "conftest.py", "trace_shares_server_fixtures")
_oncrpc = _fixtures_of(_HERE.parent / "oncrpc" / "conftest.py", "trace_shares_oncrpc_fixtures")
#: A private libvirtd (unix, TCP and TLS listeners; test:///default).
libvirtd = _server.real_libvirtd
#: ``python -m libvirt_rpc.testd`` on a unix socket and a TCP port.
testd = _server.testd
#: A real rpcbind on 127.0.0.1:111 (the machine's, or one started).
rpcbind = _oncrpc.rpcbind




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
