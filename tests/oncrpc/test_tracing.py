"""The runtime's own trace lines (logger ``xdrgen.trace.oncrpc``): what our
clients and server send and receive, over TCP and UDP, named after the
generated classes, replies after their calls; payloads at level 5; nothing
parsed while the logger is off."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from toy import TOY_PROGRAM, ToyV3AsyncClient, ToyV3Client

from xdrgen.runtime import oncrpc
from xdrgen.runtime.oncrpc import tracing

LINE = re.compile(r"^\s*\d+\.\d{3} (\d+) ([<>]) (\S+\(\w+, \w+, )(0x[0-9a-f]{8})\) len=(\d+)(.*)$")
SYS = oncrpc.AuthSys(3, "box", 1000, 100, (4,))
AUTH = " auth=sys(uid=1000,gid=100,gids=[4],host=box)"


def traced(records: list[logging.LogRecord], side: str) -> list[tuple[str, str, str, str, str]]:
    """(direction, program.version.procedure(type, status, , XID, length + rest) of one side's lines."""
    out = []
    for record in records:
        if record.name == f"xdrgen.trace.oncrpc.{side}" and record.levelno == logging.DEBUG:
            match = LINE.match(record.getMessage())
            assert match is not None, record.getMessage()
            conn, direction, middle, xid, length, rest = match.groups()
            out.append((direction, middle, xid, length, rest))
    return out


def session(client: ToyV3Client) -> None:
    assert client.toyproc_add(2, 3) == 5
    with pytest.raises(oncrpc.AuthError):
        client.toyproc_fail(5)
    with pytest.raises(oncrpc.ProcedureUnavailable):
        client.toyproc_unimplemented()


EXPECTED = [
    (">", "toy.3.toyproc_add(call, ok, ", "76", AUTH),  # header 24, AUTH_SYS 36, verifier 8, two ints
    ("<", "toy.3.toyproc_add(reply, success, ", "28", ""),
    (">", "toy.3.toyproc_fail(call, ok, ", "72", AUTH),
    ("<", "toy.3.toyproc_fail(reply, auth_error, ", "20", " why=auth_tooweak"),
    (">", "toy.3.toyproc_unimplemented(call, ok, ", "68", AUTH),
    ("<", "toy.3.toyproc_unimplemented(reply, proc_unavail, ", "24", ""),
]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_client_and_server_lines(served: oncrpc.ServerThread, transport: str, caplog: pytest.LogCaptureFixture) -> None:
    port = served.tcp_port if transport == "tcp" else served.udp_port
    with caplog.at_level(logging.DEBUG, logger="xdrgen.trace.oncrpc"):
        with ToyV3Client.connect("127.0.0.1", port, transport=transport, auth=SYS) as client:
            session(client)
    for side in ("client", "server"):
        lines = traced(caplog.records, side)
        assert [(d, m, n, r) for d, m, _xid, n, r in lines] == EXPECTED, side
        assert [line[2] for line in lines[::2]] == [line[2] for line in lines[1::2]]  # replies by XID
    assert [line[2] for line in traced(caplog.records, "client")] == [line[2] for line in traced(caplog.records, "server")]
    assert not [r for r in caplog.records if r.levelno < logging.DEBUG]


def test_the_asyncio_client_and_several_fragments(served: oncrpc.ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    async def calls() -> None:
        async with ToyV3AsyncClient.connect("127.0.0.1", served.tcp_port) as client:
            assert await asyncio.gather(client.toyproc_add(1, 1), client.toyproc_whoami()) == [2, await client.toyproc_whoami()]

    with caplog.at_level(logging.DEBUG, logger="xdrgen.trace.oncrpc.client"):
        asyncio.run(calls())
        with oncrpc.TcpChannel.connect("127.0.0.1", served.tcp_port, fragment_size=16) as channel:
            assert ToyV3Client(channel).toyproc_sink(bytes(100)) == 100
    lines = traced(caplog.records, "client")
    assert [m for _d, m, _x, _n, _r in lines][:4] == [
        "toy.3.toyproc_add(call, ok, ", "toy.3.toyproc_whoami(call, ok, ",
        "toy.3.toyproc_add(reply, success, ", "toy.3.toyproc_whoami(reply, success, ",
    ]  # fmt: skip
    # the message's length, whatever the record marks around its fragments
    assert lines[-2][1:] == ("toy.3.toyproc_sink(call, ok, ", lines[-2][2], "144", "")


def test_payloads_at_level_5(served: oncrpc.ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(tracing.PAYLOAD_LEVEL, logger="xdrgen.trace.oncrpc.client"):
        with ToyV3Client.connect("127.0.0.1", served.tcp_port) as client:
            client.toyproc_add(2, 3)
            client.toyproc_echo("hi")
            client.toyproc_whoami()
    shown = [(r.levelname, r.getMessage().strip()) for r in caplog.records if r.name == "xdrgen.trace.oncrpc.client"]
    assert [text for level, text in shown if level == "TRACE"] == [
        "(2, 3)", "5", "'hi'", "'HI'", "Identity(flavor=0, uid=0, gids=0, machine='tcp 127.0.0.1')",
    ]  # fmt: skip


def test_rpcbind_is_named(rpcbind: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="xdrgen.trace.oncrpc.client"):
        with oncrpc.Rpcbind.connect(rpcbind) as client:
            client.pmap_dump()
            client.getaddr(TOY_PROGRAM, 3)
    assert [m for _d, m, _x, _n, _r in traced(caplog.records, "client")] == [
        "rpcbind.2.pmapproc_dump(call, ok, ", "rpcbind.2.pmapproc_dump(reply, success, ",
        "rpcbind.4.rpcbproc_getaddr(call, ok, ", "rpcbind.4.rpcbproc_getaddr(reply, success, ",
    ]  # fmt: skip


def test_while_off_no_message_is_even_looked_at(
    served: oncrpc.ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def describe(message: object) -> None:
        raise AssertionError("a message was looked at while the trace is off")

    monkeypatch.setattr(tracing, "describe", describe)
    with caplog.at_level(logging.INFO, logger="xdrgen.trace.oncrpc"):
        for transport, port in (("tcp", served.tcp_port), ("udp", served.udp_port)):
            with ToyV3Client.connect("127.0.0.1", port, transport=transport, auth=SYS) as client:
                session(client)
    assert not caplog.records
    # and on again: the same check lets it through
    with caplog.at_level(logging.DEBUG, logger="xdrgen.trace.oncrpc"), pytest.raises(AssertionError, match="looked at"):
        with ToyV3Client.connect("127.0.0.1", served.tcp_port) as client:
            client.toyproc_null()


def test_names_are_the_generated_classes(served: oncrpc.ServerThread) -> None:
    assert tracing.known_procedure(TOY_PROGRAM, 3, 1) is not None
    assert tracing.program_name("MountV3Handler", 3) == "mount"
