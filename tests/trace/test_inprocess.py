"""Trace lines from our own libvirt client and server, on the logger
``libvirt_rpc.trace`` (libvirt's ``client_msg_*`` and
``server_client_msg_*`` probes): the blocking and the asyncio client
against our server in this process, with the lines of
``rpc-monitor.stp``; payloads at level 5; nothing of xdrgen.trace loaded
while the logger is off."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.client import AsyncRpcClient, RpcClient
from libvirt_rpc.errors import LibvirtError
from libvirt_rpc.server.thread import ServerThread
from libvirt_rpc.testd.handler import TestDaemon
from libvirt_rpc.transport import UnixStream
from xdrgen.trace.wirelog import PAYLOAD_LEVEL

ROOT = Path(__file__).resolve().parent.parent.parent
# time, connection, direction, then what rpc-monitor.stp prints after "msg="
LINE = re.compile(r"^\s*\d+\.\d{3} (\d+) ([<>]) (.*)$")
OPEN = rp.RemoteConnectOpenArgs(name="", flags=0)
LOOKUP_NOSUCH = rp.RemoteDomainLookupByNameArgs(name="nosuch")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "testd.sock")
    with ServerThread([TestDaemon()], unix=path).start():
        yield path


def connected(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def traced(records: list[logging.LogRecord], side: str) -> list[tuple[str, str]]:
    """(direction, message) of one side's lines, in order."""
    out = []
    for record in records:
        if record.name == f"libvirt_rpc.trace.{side}" and record.levelno == logging.DEBUG:
            match = LINE.match(record.getMessage())
            assert match is not None, record.getMessage()
            out.append((match.group(2), match.group(3)))
    return out


def blocking_session(path: str) -> None:
    """Our blocking client: connect_open, then a lookup that fails."""
    client = RpcClient(UnixStream(connected(path)), timeout=10)
    try:
        client.call_void(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_CONNECT_OPEN, OPEN)
        with pytest.raises(LibvirtError, match="Domain not found"):
            client.call(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, LOOKUP_NOSUCH,
                        rp.RemoteDomainLookupByNameRet)  # fmt: skip
    finally:
        client.close()


EXPECTED = [
    (">", "remote.1.connect_open(call, ok, 1) len=40"),
    ("<", "remote.1.connect_open(reply, ok, 1) len=28"),
    (">", "remote.1.domain_lookup_by_name(call, ok, 2) len=40"),
    ("<", "remote.1.domain_lookup_by_name(reply, error, 2) len=112"),
]


def test_the_blocking_client_and_the_server_log_rpc_monitor_lines(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="libvirt_rpc.trace"):
        blocking_session(server)
    assert traced(caplog.records, "client") == EXPECTED
    # the server sees the same messages (its lines come from its own thread)
    assert sorted(traced(caplog.records, "server")) == sorted(EXPECTED)
    # no payloads at DEBUG
    assert not [r for r in caplog.records if r.levelno < logging.DEBUG]


def test_the_asyncio_client_logs_the_same_lines(server: str, caplog: pytest.LogCaptureFixture) -> None:
    async def session() -> None:
        reader, writer = await asyncio.open_unix_connection(sock=connected(server))
        client = AsyncRpcClient(reader, writer, timeout=10)
        try:
            await client.call_void(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_CONNECT_OPEN, OPEN)
            with pytest.raises(LibvirtError, match="Domain not found"):
                await client.call(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, LOOKUP_NOSUCH,
                                  rp.RemoteDomainLookupByNameRet)  # fmt: skip
        finally:
            await client.close()

    with caplog.at_level(logging.DEBUG, logger="libvirt_rpc.trace"):
        asyncio.run(session())
    assert traced(caplog.records, "client") == EXPECTED


def test_payloads_at_level_5(server: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(PAYLOAD_LEVEL, logger="libvirt_rpc.trace"):
        blocking_session(server)
    mine = [r for r in caplog.records if r.name == "libvirt_rpc.trace.client"]
    shown = [(r.levelname, r.getMessage().strip()) for r in mine]
    assert shown[0][1].endswith("> remote.1.connect_open(call, ok, 1) len=40")
    assert shown[1] == ("TRACE", "RemoteConnectOpenArgs(name='', flags=0)")
    # a void reply has no payload line; the error's is the decoded remote_error
    assert shown[2][1].endswith("< remote.1.connect_open(reply, ok, 1) len=28") and shown[3][0] == "DEBUG"
    assert shown[-1][0] == "TRACE" and shown[-1][1].startswith("VirNetMessageError(code=42, domain=12, message='Domain not found")


def test_while_off_nothing_of_the_tracer_is_loaded(server: str) -> None:
    probe = (
        "import logging, socket, sys\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from libvirt_rpc import remote_protocol as rp\n"
        "from libvirt_rpc.client import RpcClient\n"
        "from libvirt_rpc.transport import UnixStream\n"
        "sock = socket.socket(socket.AF_UNIX); sock.connect(sys.argv[1])\n"
        "client = RpcClient(UnixStream(sock), timeout=10)\n"
        "client.call_void(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_CONNECT_OPEN, rp.RemoteConnectOpenArgs('', 0))\n"
        "client.close()\n"
        "print(sorted(m for m in sys.modules if m.startswith('xdrgen.trace')))\n"
    )
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-c", probe, server], capture_output=True, text=True, timeout=60,
                            cwd=ROOT, env=env, check=True)  # fmt: skip
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    assert "remote.1" not in result.stderr


def test_while_off_the_hooks_call_nothing(server: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Off, a message costs the hook's one dict look-up: not even a call
    (once the first message after a change of levels has asked the logger,
    as the real hooks do: here the test asks)."""
    from libvirt_rpc import wiretrace

    def called(*args: object) -> None:
        raise AssertionError("a trace hook was called while the trace is off")

    for side in (wiretrace.CLIENT, wiretrace.SERVER):
        monkeypatch.setattr(type(side), "frame", called)
        monkeypatch.setattr(type(side), "message", called)
    with caplog.at_level(logging.INFO, logger="libvirt_rpc.trace"):
        assert not any(side.logger.isEnabledFor(logging.DEBUG) for side in (wiretrace.CLIENT, wiretrace.SERVER))
        blocking_session(server)
    assert not caplog.records
    # on again, the same look-up lets the call through
    with caplog.at_level(logging.DEBUG, logger="libvirt_rpc.trace.client"), pytest.raises(AssertionError, match="hook"):
        wiretrace.CLIENT.levels.get(wiretrace.DEBUG) is not False and wiretrace.CLIENT.frame(1, ">", b"")
