"""The server over real sockets, with the clients of this package and with
hostile raw sockets: it answers right, stays up, and a bad client only
stalls itself."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from peers import TcpPeer, fragmented, mark, marks, raw_connection, read_record, relay_to
from toy import (
    TOY_PROGRAM,
    TOYPROC_ADD,
    TOYPROC_ECHO,
    TOYPROC_SLEEP,
    Identity,
    Toy,
    ToyV2,
    ToyV2Client,
    ToyV3AsyncClient,
    ToyV3Client,
)

from xdrgen.runtime import oncrpc
from xdrgen.runtime.oncrpc import (
    AsyncTcpChannel,
    AuthError,
    AuthStat,
    AuthSys,
    Call,
    ConnectionClosed,
    GarbageArguments,
    ProcedureUnavailable,
    ProgramMismatch,
    ProgramUnavailable,
    RpcSystemError,
    ServerThread,
    TcpChannel,
    messages,
)
from xdrgen.runtime.oncrpc.server import _TcpConnection

TRANSPORTS = ["tcp", "udp"]


def port_of(served: ServerThread, transport: str) -> int:
    port = served.tcp_port if transport == "tcp" else served.udp_port
    assert port
    return port


def null_call(xid: int = 1, rpcvers: int = 2) -> bytes:
    message = messages.start_call(xid, TOY_PROGRAM, 3, 0, oncrpc.AUTH_NONE.encode())
    message[8:12] = rpcvers.to_bytes(4, "big")
    return bytes(message)


def call_message(xid: int, procedure: oncrpc.Procedure[Any], *args: object) -> bytes:
    message = messages.start_call(xid, TOY_PROGRAM, 3, procedure.number, oncrpc.AUTH_NONE.encode())
    procedure.pack_args(args, message)
    return bytes(message)


def answers_null(served: ServerThread) -> bool:
    with ToyV3Client.connect("127.0.0.1", served.tcp_port, timeout=5) as client:
        client.toyproc_null()
    return True


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_calls_and_results(served: ServerThread, transport: str) -> None:
    with ToyV3Client.connect("127.0.0.1", port_of(served, transport), transport=transport) as client:
        assert client.toyproc_null() is None
        assert client.toyproc_echo("hello") == "HELLO"
        assert client.toyproc_add(-5, 3) == -2
        assert client.toyproc_whoami() == Identity(0, 0, 0, f"{transport} 127.0.0.1")
        assert client.toyproc_blob(1000) == (bytes(range(256)) * 4)[:768] + bytes(232)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_server_sees_auth_sys(served: ServerThread, transport: str) -> None:
    auth = AuthSys(5, "client.example", 1234, 56, (1, 2, 3))
    with ToyV3Client.connect("127.0.0.1", port_of(served, transport), transport=transport, auth=auth) as client:
        assert client.toyproc_whoami() == Identity(1, 1234, 3, "client.example")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_error_reaches_the_caller(served: ServerThread, transport: str) -> None:
    port = port_of(served, transport)
    with ToyV3Client.connect("127.0.0.1", port, transport=transport) as client:
        for how, error in [
            (1, ProgramUnavailable),
            (2, ProcedureUnavailable),
            (3, GarbageArguments),
            (4, RpcSystemError),
            (6, RpcSystemError),
        ]:
            with pytest.raises(error):
                client.toyproc_fail(how)
        with pytest.raises(AuthError) as caught:
            client.toyproc_fail(5)
        assert caught.value.stat is AuthStat.AUTH_TOOWEAK
        with pytest.raises(ProcedureUnavailable):
            client.toyproc_unimplemented()

    class ToyV4Client(ToyV3Client):
        VERSION = 4

    with ToyV4Client.connect("127.0.0.1", port, transport=transport) as v4:
        with pytest.raises(ProgramMismatch) as mismatch:
            v4.toyproc_null()
        assert (mismatch.value.low, mismatch.value.high) == (2, 3)
    with ToyV2Client.connect("127.0.0.1", port, transport=transport) as v2:
        assert v2.toyproc_add(1, 1) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_many_threads_share_one_connection(served: ServerThread, transport: str) -> None:
    with ToyV3Client.connect("127.0.0.1", port_of(served, transport), transport=transport) as client:
        failures: list[BaseException] = []

        def worker(base: int) -> None:
            try:
                for n in range(40):
                    assert client.toyproc_add(base, n) == base + n
                    if n % 10 == 0:
                        assert client.toyproc_sleep(50)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=worker, args=(1000 * k,)) for k in range(16)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        took = time.monotonic() - start
    assert not failures
    assert took < 16 * 4 * 0.050  # the sleeps overlapped: calls were in flight together


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_many_tasks_share_one_connection(served: ServerThread, transport: str) -> None:
    async def scenario() -> float:
        async with ToyV3AsyncClient.connect("127.0.0.1", port_of(served, transport), transport=transport) as client:
            start = time.monotonic()
            sleeps = await asyncio.gather(*(client.toyproc_sleep(200) for _ in range(50)))
            took = time.monotonic() - start
            # (a burst of datagrams beyond the socket buffers would be lost
            # and sent again a second later: fewer at once over UDP)
            count = 2000 if transport == "tcp" else 100
            sums = await asyncio.gather(*(client.toyproc_add(n, n) for n in range(count)))
            assert sums == [2 * n for n in range(count)] and all(sleeps)
            assert (await client.toyproc_whoami()).machine == f"{transport} 127.0.0.1"
            return took

    assert asyncio.run(scenario()) < 2.0  # 50 sleeps of 0.2 s, all in flight


def test_the_alarms_of_finished_calls_do_not_pile_up(served: ServerThread) -> None:
    async def scenario(transport: str) -> int:
        async with ToyV3AsyncClient.connect("127.0.0.1", port_of(served, transport), transport=transport) as client:
            for _ in range(500):  # each ends long before its timeout and retransmission
                await client.toyproc_null()
            return len(client.channel._alarms._heap)

    for transport in TRANSPORTS:
        assert asyncio.run(scenario(transport)) <= 2 + 64


def test_fragments_both_ways() -> None:
    with ServerThread([Toy()], udp=None, fragment_size=1000) as served:
        channel = TcpChannel.connect("127.0.0.1", served.tcp_port, fragment_size=100)
        with ToyV3Client(channel) as client:
            assert client.toyproc_sink(bytes(10_000)) == 10_000
            assert client.toyproc_blob(10_000) == (bytes(range(256)) * 40)[:9984] + bytes(16)


def test_a_call_in_fragments_and_its_reply_in_fragments() -> None:
    with ServerThread([Toy()], udp=None, fragment_size=16) as served, raw_connection(port_of(served, "tcp")) as sock:
        sock.sendall(fragmented(call_message(8, TOYPROC_ECHO, "in pieces"), 7))  # 8 fragments, by hand
        wire = bytearray()
        reply = read_record(sock, wire=wire)
    assert reply is not None and TOYPROC_ECHO.decode_reply(reply) == "IN PIECES"
    assert marks(bytes(wire)) == [(False, 16), (False, 16), (True, 8)]  # a 40-byte reply


def test_the_asyncio_channel_sends_fragments_the_server_joins() -> None:
    sent = bytearray()  # the wire from the client to the server
    with ServerThread([Toy()], udp=None) as served, TcpPeer(relay_to(port_of(served, "tcp"), sent)) as relay:

        async def scenario() -> int:
            channel = await AsyncTcpChannel.connect("127.0.0.1", relay.port, fragment_size=16)
            async with ToyV3AsyncClient(channel) as client:
                return await client.toyproc_add(20, 22)

        assert asyncio.run(scenario()) == 42
    assert marks(bytes(sent)) == [(False, 16), (False, 16), (True, 16)]  # a 48-byte call


# ---- limits and hostile clients -------------------------------------------------


@pytest.fixture
def small() -> Iterator[ServerThread]:
    """A server with small limits, to reach them."""
    with ServerThread([Toy()], max_record=64 * 1024, max_in_flight=4, max_output=256 * 1024) as served:
        yield served


def test_oversized_records_end_only_their_connection(small: ServerThread) -> None:
    with ToyV3Client.connect("127.0.0.1", small.tcp_port) as client:
        with pytest.raises(ConnectionClosed):
            client.toyproc_sink(bytes(70_000))
    with raw_connection(small.tcp_port) as sock:
        sock.sendall(bytes.fromhex("ffffffff"))  # a 2 GiB fragment announced
        assert read_record(sock) is None  # closed, without reading (or allocating) it
    assert answers_null(small)


def test_garbage_gets_no_reply_and_the_connection_goes_on(served: ServerThread) -> None:
    with raw_connection(served.tcp_port) as sock:
        for junk in (b"", b"\x01\x02\x03", b"\xff" * 40, null_call(9)[:20], bytes.fromhex("00000005 00000001") + bytes(16)):
            sock.sendall(mark(junk))
        sock.sendall(mark(null_call(xid=77)))
        reply = read_record(sock)
        assert reply is not None and messages.reply_xid(reply) == 77  # the first reply is to the only call


def test_rpc_version_mismatch_over_the_wire(served: ServerThread) -> None:
    with raw_connection(served.tcp_port) as sock:
        sock.sendall(mark(null_call(xid=5, rpcvers=3)))
        assert read_record(sock) == bytes.fromhex("00000005 00000001 00000001 00000000 00000002 00000002")


def test_truncated_records_and_early_hangups(served: ServerThread) -> None:
    with raw_connection(served.tcp_port) as sock:
        sock.sendall(bytes.fromhex("80000064") + bytes(50))  # 100 bytes announced, 50 sent
    with raw_connection(served.tcp_port) as sock:
        sock.sendall(bytes.fromhex("8000"))  # half a record mark
    with raw_connection(served.tcp_port) as sock:
        sock.sendall(mark(null_call()))  # gone before the reply
    assert answers_null(served)


def test_udp_garbage_gets_no_reply(served: ServerThread) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", served.udp_port))
        sock.settimeout(5)
        for junk in (b"", b"\xff" * 3, b"\xff" * 40, null_call()[:20]):
            sock.send(junk)
        sock.send(null_call(xid=31))
        assert messages.reply_xid(sock.recv(65536)) == 31


def test_a_slow_sender_stalls_only_itself(served: ServerThread) -> None:
    with raw_connection(served.tcp_port) as slow:
        slow.sendall(mark(null_call())[:30])  # and nothing more for now
        start = time.monotonic()
        assert answers_null(served)
        assert time.monotonic() - start < 2
        slow.sendall(mark(null_call())[30:])
        assert read_record(slow) is not None


def connections(served: ServerThread) -> list[_TcpConnection]:
    return [endpoint for endpoint in served.server._endpoints if isinstance(endpoint, _TcpConnection)]


def test_a_client_that_does_not_read_stalls_only_itself(small: ServerThread) -> None:
    """Calls for 64 KiB replies, never read: the server stops reading from
    that connection once a bounded amount waits to be sent."""
    blob = messages.start_call(0, TOY_PROGRAM, 3, 6, oncrpc.AUTH_NONE.encode()) + (65536).to_bytes(4, "big")
    calls = b"".join(mark(bytes(blob[:0]) + i.to_bytes(4, "big") + bytes(blob[4:])) for i in range(2000))
    with raw_connection(small.tcp_port) as greedy:
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.settimeout(0.5)
        try:
            greedy.sendall(calls)  # 100 kB of calls: the server stops taking them
        except TimeoutError:
            pass
        peak = 0
        for _ in range(20):
            time.sleep(0.05)
            for connection in connections(small):
                assert connection._transport is not None
                peak = max(peak, connection._transport.get_write_buffer_size())
        start = time.monotonic()
        assert answers_null(small)  # others are served at once
        assert time.monotonic() - start < 2
    # what waits for the greedy client: at most the output cap, plus the
    # replies of the calls that were running when the cap was reached
    assert 256 * 1024 <= peak <= 256 * 1024 + 4 * (65536 + 100)


def test_calls_in_flight_per_connection_are_limited(small: ServerThread) -> None:
    running = 0
    peak = 0

    class Counting(Toy):
        async def toyproc_sleep(self, call: Call, milliseconds: int) -> bool:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(milliseconds / 1000)
            running -= 1
            return True

    async def scenario(port: int) -> None:
        async with ToyV3AsyncClient.connect("127.0.0.1", port) as client:
            assert all(await asyncio.gather(*(client.toyproc_sleep(20) for _ in range(40))))

    with ServerThread([Counting()], udp=None, max_in_flight=4) as served:
        asyncio.run(scenario(served.tcp_port))
    assert peak == 4


def test_stop_ends_connections() -> None:
    served = ServerThread([Toy()]).start()
    client = ToyV3Client.connect("127.0.0.1", served.tcp_port)
    assert client.toyproc_add(1, 2) == 3
    served.stop()
    with pytest.raises(ConnectionClosed):
        client.toyproc_add(1, 2)
    client.close()


def test_a_server_that_cannot_listen_says_why(served: ServerThread) -> None:
    with pytest.raises(OSError):
        ServerThread([Toy()], tcp=("127.0.0.1", served.tcp_port or 0), udp=None).start()


def test_v2_is_served_alongside(served: ServerThread) -> None:
    assert ToyV2.VERSION == 2
    with ToyV2Client.connect("127.0.0.1", served.udp_port, transport="udp") as client:
        assert client.toyproc_echo("v2") == "V2"


def test_the_asyncio_server_in_a_running_loop() -> None:
    async def scenario() -> None:
        async with oncrpc.Server([Toy()]) as server:
            tcp = await server.listen_tcp("127.0.0.1", 0)
            udp = await server.listen_udp("127.0.0.1", 0)
            assert server.listeners == [("tcp", tcp), ("udp", udp)]
            serving = asyncio.create_task(server.serve_forever())
            for transport, address in server.listeners:
                async with ToyV3AsyncClient.connect("127.0.0.1", address[1], transport=transport) as client:
                    assert await client.toyproc_add(20, 22) == 42
            server.close()
            await asyncio.wait_for(serving, 5)

    asyncio.run(scenario())


def closed_after(sock: socket.socket, limit: float = 5.0) -> float:
    """Seconds until the server closes ``sock`` (sending nothing first)."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        assert sock.recv(65536) == b""
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_idle_connections_are_closed() -> None:
    with ServerThread([Toy()], udp=None, idle_timeout=0.5) as served:
        assert served.tcp_port
        with raw_connection(served.tcp_port) as silent:
            assert 0.45 < closed_after(silent) < 2
        with raw_connection(served.tcp_port) as trickle:
            start = time.monotonic()
            try:
                trickle.sendall(bytes.fromhex("80000064"))  # 100 bytes announced...
                for _ in range(30):  # ...and one every 0.1 s: bytes, but no record
                    time.sleep(0.1)
                    trickle.sendall(b"\0")
            except OSError:
                pass  # closed meanwhile
            closed_after(trickle)
            assert time.monotonic() - start < 2
        with ToyV3Client.connect("127.0.0.1", served.tcp_port) as client:
            for _ in range(8):  # calls, each within the timeout of the one before
                client.toyproc_null()
                time.sleep(0.2)
            time.sleep(1)
            with pytest.raises(ConnectionClosed):
                client.toyproc_null()


def test_a_connection_is_not_idle_while_its_calls_run() -> None:
    """The idle clock starts again when the reply goes out."""
    with ServerThread([Toy()], udp=None, idle_timeout=1.0) as served:
        with ToyV3Client.connect("127.0.0.1", port_of(served, "tcp")) as client:
            # the server looks at 1, 2 and 3 s (the call runs), then at 4 s,
            # 0.6 s after the reply: not idle, as the reply counts (the call
            # itself came 4 s before)
            assert client.toyproc_sleep(3400)
            time.sleep(0.8)
            client.toyproc_null()
            time.sleep(2.5)  # then idle: closed by the next look or the one after
            with pytest.raises(ConnectionClosed):
                client.toyproc_null()


def test_connections_past_max_connections_are_closed_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="xdrgen.runtime.oncrpc.server")
    with ServerThread([Toy()], udp=None, max_connections=2) as served:
        assert served.tcp_port
        with ToyV3Client.connect("127.0.0.1", served.tcp_port) as first, ToyV3Client.connect("127.0.0.1", served.tcp_port) as second:
            first.toyproc_null()
            second.toyproc_null()  # both are open
            for _ in range(5):
                with raw_connection(served.tcp_port) as extra:
                    assert closed_after(extra) < 1
            assert first.toyproc_add(1, 2) == 3 and second.toyproc_add(2, 2) == 4
        refusals = [record for record in caplog.records if "max_connections" in record.getMessage()]
        assert len(refusals) == 1  # a line a second, not one a connection
        deadline = time.monotonic() + 5
        while True:  # the two are closed: there is room again (once the server has seen them go)
            try:
                assert answers_null(served)
                break
            except ConnectionClosed:
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_one_udp_peer_cannot_take_every_slot() -> None:
    with ServerThread([Toy()], tcp=None, udp_max_in_flight=8, max_in_flight=4) as served:
        assert served.udp_port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
            flood.connect(("127.0.0.1", served.udp_port))
            for xid in range(20):  # slow calls, more than the server runs in all
                flood.send(call_message(xid, TOYPROC_SLEEP, 1500))
            time.sleep(0.2)
            with ToyV3Client.connect("127.0.0.1", served.udp_port, transport="udp") as other:
                start = time.monotonic()
                assert other.toyproc_add(1, 2) == 3
                assert time.monotonic() - start < 0.5  # no retransmission was needed
            flood.settimeout(3)
            answered = {messages.reply_xid(flood.recv(65536)) for _ in range(4)}
            assert len(answered) == 4
            flood.settimeout(0.5)
            with pytest.raises(TimeoutError):
                flood.recv(65536)  # the calls past its 4 were dropped
