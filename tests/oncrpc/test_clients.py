"""The clients against scripted peers: retransmission, timeouts, XID
matching, peers that hang up, never answer or answer out of order."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import pytest
from peers import TcpPeer, UdpPeer, fragmented, mark, reply_to
from toy import TOY_PROGRAM, TOYPROC_ADD, TOYPROC_NULL

from xdrgen.runtime.oncrpc import (
    AsyncTcpChannel,
    AsyncUdpChannel,
    ConnectionClosed,
    RpcTimeout,
    TcpChannel,
    UdpChannel,
)
from xdrgen.runtime.xdr import XdrError

SEVEN = bytes.fromhex("00000007")


def add(channel: TcpChannel | UdpChannel, a: int = 3, b: int = 4, timeout: float | None = None) -> int:
    return channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (a, b), timeout=timeout)


def elapsed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    try:
        action()
    except Exception:
        pass
    return time.monotonic() - start


# ---- UDP ---------------------------------------------------------------------


def test_udp_retransmits_with_doubling_intervals_until_answered() -> None:
    def drop_three(sock: socket.socket, data: bytes, address: tuple[str, int]) -> None:
        if len(peer.arrivals) > 3:
            sock.sendto(reply_to(data, SEVEN), address)

    with UdpPeer(drop_three) as peer, UdpChannel.connect("127.0.0.1", peer.port, retransmit=0.2, timeout=10) as channel:
        assert add(channel) == 7
    times = [when for when, _ in peer.arrivals]
    assert len(times) == 4 and len({data for _, data in peer.arrivals}) == 1  # the same call, sent again
    gaps = [b - a for a, b in zip(times, times[1:])]  # 0.2, 0.4, 0.8 s, each maybe a little late
    assert 0.19 < gaps[0] < 0.6
    for shorter, longer in zip(gaps, gaps[1:]):
        assert 1.3 < longer / shorter < 3, gaps


def test_udp_honours_the_total_timeout() -> None:
    with UdpPeer(lambda *_: None) as peer, UdpChannel.connect("127.0.0.1", peer.port, retransmit=0.1, timeout=1.0) as channel:
        start = time.monotonic()
        with pytest.raises(RpcTimeout):
            add(channel)
        took = time.monotonic() - start
    assert 0.95 < took < 1.6
    assert len(peer.arrivals) == 4  # at 0, 0.1, 0.3, 0.7 s; the next would be at 1.5


def noisy(sock: socket.socket, data: bytes, address: tuple[str, int]) -> None:
    """Answers 7, after a stray reply and garbage, and before a duplicate."""
    stray = bytearray(reply_to(data, bytes.fromhex("00000063")))
    stray[0] ^= 0xFF  # another xid
    sock.sendto(bytes(stray), address)
    sock.sendto(b"\x01\x02", address)  # too short to be a reply
    sock.sendto(data, address)  # a call, not a reply
    sock.sendto(reply_to(data, SEVEN), address)
    sock.sendto(reply_to(data, bytes.fromhex("00000063")), address)  # a duplicate, late and different


def test_udp_ignores_strays_duplicates_and_garbage() -> None:
    with UdpPeer(noisy) as peer, UdpChannel.connect("127.0.0.1", peer.port, retransmit=5) as channel:
        assert add(channel) == 7
        assert add(channel) == 7  # the late duplicate of the first call is not taken for the second


def test_async_udp_ignores_strays_duplicates_and_garbage() -> None:
    async def scenario(port: int) -> list[int]:
        async with await AsyncUdpChannel.connect("127.0.0.1", port, retransmit=5) as channel:
            return [await channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (3, 4)) for _ in range(2)]

    with UdpPeer(noisy) as peer:
        assert asyncio.run(scenario(peer.port)) == [7, 7]


def test_udp_to_a_closed_port_fails_at_once() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with UdpChannel.connect("127.0.0.1", port, retransmit=0.2, timeout=10) as channel:
        assert elapsed(lambda: pytest.raises(ConnectionClosed, add, channel)) < 2


def test_async_udp_retransmits_and_honours_the_timeout() -> None:
    answering = threading.Event()
    answering.set()

    def drop_two(sock: socket.socket, data: bytes, address: tuple[str, int]) -> None:
        if answering.is_set() and len(peer.arrivals) > 2:
            sock.sendto(reply_to(data, SEVEN), address)

    async def scenario() -> tuple[list[float], list[float], float]:
        async with await AsyncUdpChannel.connect("127.0.0.1", peer.port, retransmit=0.1, timeout=0.5) as channel:
            assert await channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (3, 4)) == 7
            answered = [when for when, _ in peer.arrivals]
            peer.arrivals.clear()
            answering.clear()
            start = time.monotonic()
            with pytest.raises(RpcTimeout):
                await channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (3, 4))
            took = time.monotonic() - start
            await asyncio.sleep(0.3)  # nothing more is sent once the call is over
            return answered, [when for when, _ in peer.arrivals], took

    with UdpPeer(drop_two) as peer:
        answered, unanswered, took = asyncio.run(scenario())
    assert len(answered) == 3
    gaps = [b - a for a, b in zip(answered, answered[1:])]
    assert 1.5 < gaps[1] / gaps[0] < 3, gaps
    assert 0.45 < took < 1.0
    assert len(unanswered) == 3  # at 0, 0.1 and 0.3 s; the next (0.7 s) is past the timeout


def test_async_udp_to_a_closed_port_fails_at_once() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def scenario() -> None:
        async with await AsyncUdpChannel.connect("127.0.0.1", port, timeout=10) as channel:
            with pytest.raises(ConnectionClosed):
                await channel.call(TOY_PROGRAM, 3, TOYPROC_NULL)

    assert elapsed(lambda: asyncio.run(scenario())) < 2


# ---- TCP ---------------------------------------------------------------------


def test_tcp_timeout_against_a_peer_that_never_answers() -> None:
    done = threading.Event()
    with TcpPeer(lambda connection, records: done.wait(10)) as peer:
        with TcpChannel.connect("127.0.0.1", peer.port, timeout=0.3) as channel:
            took = elapsed(lambda: pytest.raises(RpcTimeout, add, channel))
            assert 0.29 < took < 1.0
            # a per-call timeout overrides the channel's
            took = elapsed(lambda: pytest.raises(RpcTimeout, add, channel, timeout=0.1))
            assert 0.09 < took < 0.6
        done.set()


def test_async_tcp_timeout_against_a_peer_that_never_answers() -> None:
    done = threading.Event()

    async def scenario(port: int) -> float:
        async with await AsyncTcpChannel.connect("127.0.0.1", port, timeout=0.3) as channel:
            start = time.monotonic()
            with pytest.raises(RpcTimeout):
                await channel.call(TOY_PROGRAM, 3, TOYPROC_NULL)
            return time.monotonic() - start

    with TcpPeer(lambda connection, records: done.wait(10)) as peer:
        assert 0.29 < asyncio.run(scenario(peer.port)) < 1.0
        done.set()


def hang_up_after(count: int) -> Callable[[socket.socket, Callable[[int], list[bytes]]], None]:
    def script(connection: socket.socket, records: Callable[[int], list[bytes]]) -> None:
        records(count)
        connection.shutdown(socket.SHUT_RDWR)
        connection.close()

    return script


def test_a_dead_peer_fails_every_pending_call_at_once() -> None:
    with TcpPeer(hang_up_after(8)) as peer, TcpChannel.connect("127.0.0.1", peer.port, timeout=30) as channel:
        outcomes: list[tuple[type[BaseException], float]] = []
        start = time.monotonic()

        def caller() -> None:
            try:
                add(channel)
            except Exception as error:
                outcomes.append((type(error), time.monotonic() - start))

        threads = [threading.Thread(target=caller) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert [kind for kind, _ in outcomes] == [ConnectionClosed] * 8
        assert max(took for _, took in outcomes) < 5
        with pytest.raises(ConnectionClosed):
            add(channel)  # and later calls too


def test_async_dead_peer_fails_every_pending_call_at_once() -> None:
    async def scenario(port: int) -> list[BaseException | int]:
        async with await AsyncTcpChannel.connect("127.0.0.1", port, timeout=30) as channel:
            calls = [channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (1, 2)) for _ in range(8)]
            return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 10)

    with TcpPeer(hang_up_after(8)) as peer:
        outcomes = asyncio.run(scenario(peer.port))
    assert [type(outcome) for outcome in outcomes] == [ConnectionClosed] * 8


def reverse_in_pieces(connection: socket.socket, records: Callable[[int], list[bytes]]) -> None:
    """Answers four calls in reverse order, each reply split in fragments,
    all sent in 3-byte pieces."""
    calls = records(4)
    stream = b"".join(fragmented(reply_to(call, index.to_bytes(4, "big")), 5) for index, call in reversed(list(enumerate(calls))))
    for start in range(0, len(stream), 3):
        connection.sendall(stream[start : start + 3])
    records(1)  # wait for the client to go


def test_replies_out_of_order_and_in_pieces_reach_their_callers() -> None:
    with TcpPeer(reverse_in_pieces) as peer, TcpChannel.connect("127.0.0.1", peer.port, timeout=10) as channel:
        results: dict[int, int] = {}

        def caller(index: int) -> None:
            results[index] = add(channel, index, 0)

        threads = []
        for index in range(4):
            threads.append(threading.Thread(target=caller, args=(index,)))
            threads[-1].start()
            time.sleep(0.05)  # the calls leave in this order
        for thread in threads:
            thread.join(10)
    assert results == {0: 0, 1: 1, 2: 2, 3: 3}


def test_async_replies_out_of_order_reach_their_callers() -> None:
    async def scenario(port: int) -> list[int]:
        async with await AsyncTcpChannel.connect("127.0.0.1", port, timeout=10) as channel:
            return await asyncio.gather(*(channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (0, 0)) for _ in range(4)))

    with TcpPeer(reverse_in_pieces) as peer:
        assert sorted(asyncio.run(scenario(peer.port))) == [0, 1, 2, 3]


def huge(connection: socket.socket, records: Callable[[int], list[bytes]]) -> None:
    """Answers with a reply of over 2000 bytes."""
    (call,) = records(1)
    connection.sendall(mark(reply_to(call, bytes(2000))))
    records(1)


def test_a_reply_over_the_record_limit_ends_the_connection() -> None:
    with TcpPeer(huge) as peer, TcpChannel.connect("127.0.0.1", peer.port, max_record=1000) as channel:
        with pytest.raises(ConnectionClosed) as caught:
            add(channel)
    assert isinstance(caught.value.__cause__, XdrError)


def test_async_reply_over_the_record_limit_ends_the_connection() -> None:
    async def scenario(port: int) -> ConnectionClosed:
        async with await AsyncTcpChannel.connect("127.0.0.1", port, max_record=1000) as channel:
            with pytest.raises(ConnectionClosed) as caught:
                await channel.call(TOY_PROGRAM, 3, TOYPROC_ADD, (3, 4))
            assert channel.closed
            return caught.value

    with TcpPeer(huge) as peer:
        assert isinstance(asyncio.run(scenario(peer.port)).__cause__, XdrError)


def test_a_malformed_reply_fails_only_its_call() -> None:
    def sloppy(connection: socket.socket, records: Callable[[int], list[bytes]]) -> None:
        for extra in (b"\0\0\0\7\0\0\0\0", SEVEN):  # a trailing word, then right
            (call,) = records(1)
            connection.sendall(mark(reply_to(call, extra)))
        records(1)

    with TcpPeer(sloppy) as peer, TcpChannel.connect("127.0.0.1", peer.port) as channel:
        with pytest.raises(XdrError, match="trailing"):
            add(channel)
        assert add(channel) == 7


def test_close_fails_calls_pending_in_other_threads() -> None:
    done = threading.Event()
    with TcpPeer(lambda connection, records: done.wait(10)) as peer:
        channel = TcpChannel.connect("127.0.0.1", peer.port, timeout=30)
        outcome: list[BaseException] = []
        thread = threading.Thread(target=lambda: outcome.append(pytest.raises(ConnectionClosed, add, channel).value))
        thread.start()
        time.sleep(0.2)
        channel.close()
        thread.join(5)
        assert not thread.is_alive() and outcome
        assert channel.closed
        done.set()


def test_calls_larger_than_a_datagram_are_refused_over_udp() -> None:
    from toy import TOYPROC_SINK

    with UdpPeer(lambda *_: None) as peer, UdpChannel.connect("127.0.0.1", peer.port) as channel:
        with pytest.raises(XdrError, match="UDP limit"):
            channel.call(TOY_PROGRAM, 3, TOYPROC_SINK, (bytes(70000),))


def test_async_timeouts_in_any_order_are_each_honoured() -> None:
    """A short per-call timeout after long ones, and the other way round."""
    done = threading.Event()

    async def scenario(port: int) -> None:
        async with await AsyncTcpChannel.connect("127.0.0.1", port, timeout=0.6) as channel:

            async def timed(timeout: float | None) -> float:
                start = time.monotonic()
                with pytest.raises(RpcTimeout):
                    await channel.call(TOY_PROGRAM, 3, TOYPROC_NULL, timeout=timeout)
                return time.monotonic() - start

            long, short, default = await asyncio.gather(timed(1.0), timed(0.2), timed(None))
            assert 0.99 < long < 1.4 and 0.19 < short < 0.5 and 0.59 < default < 1.0

    with TcpPeer(lambda connection, records: done.wait(10)) as peer:
        asyncio.run(scenario(peer.port))
        done.set()


def test_a_call_that_cannot_be_sent_in_time() -> None:
    """The peer does not read: a large call times out halfway through
    sending, and the connection -- with half a record on the wire -- is lost."""
    from toy import TOYPROC_SINK

    done = threading.Event()
    with TcpPeer(lambda connection, records: done.wait(10)) as peer:
        with TcpChannel.connect("127.0.0.1", peer.port, timeout=0.5) as channel:
            took = elapsed(lambda: pytest.raises(RpcTimeout, channel.call, TOY_PROGRAM, 3, TOYPROC_SINK, (bytes(32 << 20),)))
            assert 0.49 < took < 1.5
            assert channel.closed
            with pytest.raises(ConnectionClosed):
                add(channel)
        done.set()
