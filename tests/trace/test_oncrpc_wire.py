"""``python -m xdrgen.trace --framing oncrpc`` against real parts: the
real ``rpcinfo -t`` through the proxy to our ONC RPC server, our clients
through the proxy to the real rpcbind, a rewrite; tcpdump captures of
``rpcinfo`` talking to rpcbind over TCP and UDP read back with names and
XIDs (the XIDs checked against tshark's), and captures of our own client
and server's traffic decoding with nothing left undecodable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_ONC_TESTS = str(Path(__file__).resolve().parent.parent / "oncrpc")
if _ONC_TESTS not in sys.path:
    sys.path.insert(0, _ONC_TESTS)

from onc_support import PACKAGE, onc_lines, use_package  # noqa: E402
from toy import TOY_PROGRAM, Toy, ToyV2, ToyV3AsyncClient, ToyV3Client  # noqa: E402
from trace_support import Tcpdump, TraceProxy, read_capture  # noqa: E402

from daemons import require_binary  # noqa: E402
from xdrgen.runtime import oncrpc  # noqa: E402
from xdrgen.runtime.oncrpc import rpcbind as rpcbind_client  # noqa: E402

ONC = ("xdrgen.trace", "--package", PACKAGE, "--framing", "oncrpc")
SYS = oncrpc.AuthSys(11, "tracer", 1000, 100, (4, 24))
AUTH_TEXT = "auth=sys(uid=1000,gid=100,gids=[4,24],host=tracer)"


@pytest.fixture(scope="module", autouse=True)
def package(tmp_path_factory: pytest.TempPathFactory) -> None:
    use_package(tmp_path_factory.mktemp("oncpkg"))


@pytest.fixture(scope="module")
def toy() -> Iterator[oncrpc.ServerThread]:
    """Our ONC RPC server: the toy program, versions 2 and 3, TCP and UDP."""
    with oncrpc.ServerThread([Toy(), ToyV2()]) as thread:
        yield thread


@pytest.fixture
def onc_proxy(tmp_path: Path) -> Iterator[Callable[..., TraceProxy]]:
    started: list[TraceProxy] = []

    def start(upstream_port: int, *options: str) -> TraceProxy:
        directory = tmp_path / f"proxy{len(started)}"
        directory.mkdir()
        proxy = TraceProxy(directory, f"tcp:127.0.0.1:{upstream_port}", *options, listen="tcp:127.0.0.1:0",
                           generic=True, package=PACKAGE, framing="oncrpc")  # fmt: skip
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def calls_and_replies(lines: list[dict[str, str]]) -> list[str]:
    return [f"{m['dir']}{m['program']}.{m['version']}.{m['procedure']}:{m['type']}:{m['status']}" for m in lines]


def test_real_rpcinfo_through_the_proxy_to_our_server(
    rpcbind: str, toy: oncrpc.ServerThread, onc_proxy: Callable[..., TraceProxy]
) -> None:
    proxy = onc_proxy(toy.tcp_port)
    # rpcbind sends rpcinfo to the proxy's port, the proxy to our server
    programs = [(TOY_PROGRAM, 2), (TOY_PROGRAM, 3)]
    rpcbind_client.register(programs, [("tcp", ("127.0.0.1", proxy.port))])
    try:
        rpcinfo = require_binary("rpcinfo")
        every = subprocess.run([rpcinfo, "-t", "127.0.0.1", str(TOY_PROGRAM)], capture_output=True, text=True, timeout=60)
        missing = subprocess.run([rpcinfo, "-t", "127.0.0.1", str(TOY_PROGRAM), "9"], capture_output=True, text=True, timeout=60)
    finally:
        rpcbind_client.unregister(programs)
    assert every.stdout.splitlines() == [f"program {TOY_PROGRAM} version {v} ready and waiting" for v in (2, 3)], every
    assert "version 9 is not available" in missing.stdout + missing.stderr
    lines = proxy.wait_closed(2)
    messages = onc_lines(lines)
    # rpcinfo asks for version 0 to learn the range, then pings each version
    assert calls_and_replies(messages) == [
        ">toy.0.0:call:ok", "<toy.0.0:reply:prog_mismatch",
        ">toy.2.toyproc_null:call:ok", "<toy.2.toyproc_null:reply:success",
        ">toy.3.toyproc_null:call:ok", "<toy.3.toyproc_null:reply:success",
        ">toy.9.0:call:ok", "<toy.9.0:reply:prog_mismatch",
    ]  # fmt: skip
    assert messages[1]["rest"] == messages[7]["rest"] == " versions=2-3"
    for call, reply in zip(messages[::2], messages[1::2]):
        assert call["xid"] == reply["xid"] and call["conn"] == reply["conn"]
    assert lines[0].split()[2:4] == ["+", lines[0].split()[3]] and lines[0].endswith(f"server=tcp:127.0.0.1:{toy.tcp_port}")


def test_our_clients_through_the_proxy_to_the_real_rpcbind(rpcbind: str, onc_proxy: Callable[..., TraceProxy]) -> None:
    proxy = onc_proxy(111, "--payload")
    with oncrpc.Rpcbind.connect("127.0.0.1") as direct:
        wanted = (direct.dump(), direct.pmap_dump(), direct.getaddr(100000, 4))
    with oncrpc.Rpcbind(oncrpc.TcpChannel.connect("127.0.0.1", proxy.port, auth=SYS), "127.0.0.1", "tcp") as through:
        assert (through.dump(), through.pmap_dump(), through.getaddr(100000, 4)) == wanted
    lines = proxy.wait_closed()
    messages = onc_lines(lines)
    assert calls_and_replies(messages) == [
        ">rpcbind.4.rpcbproc_dump:call:ok", "<rpcbind.4.rpcbproc_dump:reply:success",
        ">rpcbind.2.pmapproc_dump:call:ok", "<rpcbind.2.pmapproc_dump:reply:success",
        ">rpcbind.4.rpcbproc_getaddr:call:ok", "<rpcbind.4.rpcbproc_getaddr:reply:success",
    ]  # fmt: skip
    assert all(m["rest"] == f" {AUTH_TEXT}" for m in messages[::2])
    payloads = [line.strip() for line in lines if line.startswith(" " * 8)]
    assert payloads[0].startswith("[Registration(prog=100000, vers=4, netid=")  # the dump's result
    assert payloads[1].startswith("[PortMapping(prog=100000, vers=")
    assert payloads[2] == "Registration(prog=100000, vers=4, netid='tcp', addr='', owner='')"
    assert payloads[3] == repr(wanted[2])


def test_a_rewrite_and_the_lengths_it_moves(toy: oncrpc.ServerThread, onc_proxy: Callable[..., TraceProxy], tmp_path: Path) -> None:
    rewrite = tmp_path / "rewrite.py"
    rewrite.write_text(
        "def rewrite(message):\n"
        "    if message.procedure_name == 'toyproc_echo' and message.is_reply:\n"
        "        message.payload = message.payload + ' (seen by the proxy)'\n"
        "    if message.procedure_name == 'toyproc_add' and message.is_call:\n"
        "        message.payload = (message.payload[0], 40)\n"
        "    return message\n"
    )
    proxy = onc_proxy(toy.tcp_port, "--rewrite", str(rewrite), "--drop", "toyproc_sleep")
    with ToyV3Client.connect("127.0.0.1", proxy.port, auth=SYS, timeout=2) as client:
        assert client.toyproc_echo("hi") == "HI (seen by the proxy)"
        assert client.toyproc_add(2, 3) == 42
        with pytest.raises(oncrpc.RpcTimeout):
            client.toyproc_sleep(1)  # dropped: no reply comes
        assert client.toyproc_echo("x" * 300) == "X" * 300 + " (seen by the proxy)"
    lines = proxy.wait_closed()
    # 'HI' (8 bytes of XDR) became 'HI (seen by the proxy)' (28): the record's mark follows
    assert any("toyproc_echo(reply, success," in line and "len=52 [rewritten, was len=32]" in line for line in lines)
    assert any("toyproc_sleep(call, ok," in line and "[dropped]" in line for line in lines)
    result = subprocess.run([sys.executable, "-m", *ONC[:1], "proxy", *ONC[1:], "--listen", "tcp:127.0.0.1:0",
                             "--upstream", "tcp:127.0.0.1:1", "--error", "toyproc_echo=no"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "oncrpc has no error messages to change" in result.stderr


def test_a_capture_of_rpcinfo_and_rpcbind_over_tcp_and_udp(rpcbind: str, tmp_path: Path) -> None:
    tcpdump = Tcpdump(tmp_path / "rpcbind.pcap", 111, "port 111")
    rpcinfo = require_binary("rpcinfo")
    listed = subprocess.run([rpcinfo, "-p", "127.0.0.1"], capture_output=True, text=True, timeout=60)
    pinged = subprocess.run([rpcinfo, "-u", "127.0.0.1", "100000", "2"], capture_output=True, text=True, timeout=60)
    with oncrpc.Rpcbind.connect("127.0.0.1", transport="udp") as ours:
        ours.pmap_dump()
    path = tcpdump.stop()
    assert tcpdump.dropped == 0, tcpdump.stderr
    assert "portmapper" in listed.stdout and "version 2 ready and waiting" in pinged.stdout
    result = read_capture(path, entry=ONC)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    messages = onc_lines(lines)
    seen = calls_and_replies(messages)
    for wanted in (">rpcbind.2.pmapproc_dump:call:ok", "<rpcbind.2.pmapproc_dump:reply:success",
                   ">rpcbind.2.pmapproc_null:call:ok", "<rpcbind.2.pmapproc_null:reply:success"):  # fmt: skip
        assert wanted in seen, wanted
    assert any(line.split()[2] == "+" and "client=udp:" in line for line in lines)
    assert any(line.split()[2] == "+" and "client=tcp:" in line for line in lines)
    assert "UDP conversations" in result.stderr
    # every XID and message type as tshark reads them
    tshark = subprocess.run([require_binary("tshark"), "-r", str(path), "-Y", "rpc", "-T", "fields",
                             "-e", "rpc.xid", "-e", "rpc.msgtyp"], capture_output=True, text=True, timeout=120)  # fmt: skip
    theirs = sorted(tuple(line.split("\t")) for line in tshark.stdout.splitlines() if line)
    ours_seen = sorted((m["xid"], "0" if m["type"] == "call" else "1") for m in messages)
    assert theirs and ours_seen == theirs


def test_captures_of_our_own_traffic_decode_completely(toy: oncrpc.ServerThread, tmp_path: Path) -> None:
    ports = f"port {toy.tcp_port} or port {toy.udp_port}"
    tcpdump = Tcpdump(tmp_path / "own.pcap", 0, ports)
    for transport, port in (("tcp", toy.tcp_port), ("udp", toy.udp_port)):
        with ToyV3Client.connect("127.0.0.1", port, transport=transport, auth=SYS) as client:
            assert client.toyproc_add(1, 2) == 3 and client.toyproc_echo("ab") == "AB"
            assert len(client.toyproc_blob(20000)) == 20000
            with pytest.raises(oncrpc.AuthError):
                client.toyproc_fail(5)
            with pytest.raises(oncrpc.ProcedureUnavailable):
                client.toyproc_unimplemented()
    # records of several fragments both ways, and calls in flight together
    with oncrpc.TcpChannel.connect("127.0.0.1", toy.tcp_port, fragment_size=64) as channel:
        assert ToyV3Client(channel).toyproc_sink(bytes(1000)) == 1000

    async def pipelined() -> None:
        async with ToyV3AsyncClient.connect("127.0.0.1", toy.tcp_port) as client:
            assert await asyncio.gather(*(client.toyproc_add(i, i) for i in range(50))) == [2 * i for i in range(50)]

    asyncio.run(pipelined())
    path = tcpdump.stop()
    assert tcpdump.dropped == 0, tcpdump.stderr
    result = read_capture(path, "--payload", entry=ONC)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if "undecodable" in line or "unframed" in line or "lost" in line]
    messages = onc_lines(lines)
    calls = [m for m in messages if m["type"] == "call"]
    replies = [m for m in messages if m["type"] == "reply"]
    assert len(calls) == len(replies) == 2 * 5 + 1 + 50
    assert sorted(m["xid"] for m in calls) == sorted(m["xid"] for m in replies)
    assert sum(m["status"] == "auth_error" for m in replies) == 2 and sum(m["status"] == "proc_unavail" for m in replies) == 2
    assert any("frags=" in m["rest"] for m in calls)
    # every call's arguments shown (toyproc_unimplemented has none)
    shown = [line for line in lines if line.startswith(" " * 8)]
    assert len(shown) == (len(calls) - 2) + (len(replies) - 4)
