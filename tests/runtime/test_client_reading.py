"""How the blocking client reads: callers read their own replies and pass the
reading on, a background thread reads while nobody calls, event handlers run
on that thread.  Against a scripted peer on a socketpair, with both watches
(epoll and the portable poll one)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from libvirt_rpc.remote_protocol import RemoteConnectGetHostnameRet
from xdrgen.runtime.virnet import framing as wire
from libvirt_rpc.client import DataStream, Event, RpcClient, idle_watch
from libvirt_rpc.errors import CallTimeoutError, ConnectionClosedError, LibvirtError
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType
from libvirt_rpc.transport import UnixStream

from scripted_peer import EVENT, HOSTNAME, PROG, VERS, Blob, Flood, Peer

@pytest.fixture(params=["epoll", "poll"])
def pair(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RpcClient, Peer]]:
    if request.param == "poll":
        monkeypatch.setattr(idle_watch, "watch", idle_watch.PollWatch)
    elif not hasattr(idle_watch.select, "epoll"):
        pytest.fail("no epoll on this platform")  # CI runs Linux: both must be tested
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client = RpcClient(UnixStream(ours), timeout=10)
    client.register_events(PROG, VERS, {EVENT: ("test_event", RemoteConnectGetHostnameRet)})
    expected = idle_watch.PollWatch if request.param == "poll" else idle_watch.EpollWatch
    assert type(client._watch) is expected
    try:
        yield client, Peer(theirs)
    finally:
        client.close()
        theirs.close()


def hostname(client: RpcClient) -> str:
    return client.call(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet).hostname


def in_threads(count: int, target: Callable[[], object]) -> tuple[list[threading.Thread], dict[int, object]]:
    results: dict[int, object] = {}

    def run(i: int) -> None:
        try:
            results[i] = target()
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def one_call(client: RpcClient, peer: Peer, *before: bytes) -> None:
    """One call from another thread, answered after the frames ``before``."""
    threads, results = in_threads(1, lambda: hostname(client))
    (call,) = peer.take(1)
    peer.send(*before, peer.reply(call))
    threads[0].join(10)
    assert results == {0: f"host{call.serial}"}


def test_replies_in_any_order_reach_their_callers(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    threads, results = in_threads(8, lambda: hostname(client))
    calls = peer.take(8)
    peer.send(*(peer.reply(call) for call in reversed(calls)))
    for thread in threads:
        thread.join(10)
    assert sorted(results.values()) == sorted(f"host{call.serial}" for call in calls)


def test_callers_take_turns_reading(pair: tuple[RpcClient, Peer]) -> None:
    # Replies come one by one, the first for the last caller: whoever reads
    # must hand the others theirs, and hand on the reading when done.
    client, peer = pair
    threads, results = in_threads(4, lambda: hostname(client))
    calls = peer.take(4)
    for call in reversed(calls):
        peer.send(peer.reply(call))
        time.sleep(0.02)
    for thread in threads:
        thread.join(10)
    assert sorted(results.values()) == sorted(f"host{call.serial}" for call in calls)
    # and the connection is idle again: the background thread reads
    seen: list[str] = []
    arrived = threading.Event()
    client.add_event_handler(lambda event: (seen.append(event.message.hostname), arrived.set()))  # type: ignore[attr-defined]
    peer.send(peer.event("idle"))
    assert arrived.wait(10) and seen == ["idle"]


def test_events_run_on_the_reader_thread_even_when_a_caller_reads_them(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    seen: list[tuple[str, str]] = []
    arrived = threading.Event()

    def handler(event: Event) -> None:
        seen.append((event.message.hostname, threading.current_thread().name))  # type: ignore[attr-defined]
        if len(seen) == 2:
            arrived.set()

    client.add_event_handler(handler)
    threads, results = in_threads(1, lambda: hostname(client))
    (call,) = peer.take(1)
    # the event before the reply is read by the caller; the one after it
    # arrives in the same read and is left for the background thread
    peer.send(peer.event("before"), peer.reply(call), peer.event("after"))
    threads[0].join(10)
    assert results == {0: f"host{call.serial}"}
    assert arrived.wait(10)
    assert seen == [("before", "libvirt-rpc-reader"), ("after", "libvirt-rpc-reader")]


def test_events_iterator_sees_events_read_by_callers(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    events = client.events(timeout=10)
    one_call(client, peer, peer.event("first"))
    peer.send(peer.event("second"))
    assert [next(events).message.hostname for _ in range(2)] == ["first", "second"]  # type: ignore[attr-defined]


def test_a_handler_may_call_back(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    answers: list[str] = []
    done = threading.Event()

    def handler(event: Event) -> None:
        answers.append(hostname(client))
        done.set()

    client.add_event_handler(handler)
    peer.send(peer.event("call me"))
    (call,) = peer.take(1)
    peer.send(peer.reply(call, "called back"))
    assert done.wait(10) and answers == ["called back"]


def test_a_timed_out_call_leaves_the_connection_usable(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    client.timeout = 0.3
    started = time.monotonic()
    with pytest.raises(CallTimeoutError):
        hostname(client)
    assert time.monotonic() - started < 5
    (late,) = peer.take(1)
    client.timeout = 10
    one_call(client, peer, peer.reply(late, "too late"))  # the late one is dropped


def test_a_waiting_caller_times_out_while_another_reads(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    client.timeout = 0.5
    threads, results = in_threads(2, lambda: hostname(client))
    first, second = peer.take(2)
    time.sleep(1.0)  # both time out: the reader and the one waiting for its turn
    for thread in threads:
        thread.join(10)
    assert all(isinstance(result, CallTimeoutError) for result in results.values()), results
    client.timeout = 10
    one_call(client, peer)


def test_pings_are_answered_idle_and_mid_call(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    ping = wire.PING_FRAME
    peer.send(ping)
    (pong,) = peer.take(1)
    assert (pong.prog, pong.proc) == (wire.KEEPALIVE_PROGRAM, wire.KEEPALIVE_PONG)
    threads, results = in_threads(1, lambda: hostname(client))
    (call,) = peer.take(1)
    peer.send(ping)
    (pong,) = peer.take(1)  # answered by the caller, which is reading
    assert (pong.prog, pong.proc) == (wire.KEEPALIVE_PROGRAM, wire.KEEPALIVE_PONG)
    peer.send(peer.reply(call))
    threads[0].join(10)
    assert results == {0: f"host{call.serial}"}


def test_a_dropped_connection_fails_every_caller_at_once(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    threads, results = in_threads(4, lambda: hostname(client))
    peer.take(4)
    started = time.monotonic()
    peer.sock.shutdown(socket.SHUT_RDWR)
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 5
    assert all(isinstance(result, ConnectionClosedError) for result in results.values()), results
    with pytest.raises(ConnectionClosedError):
        hostname(client)
    client._reader.join(5)
    assert not client._reader.is_alive()


def test_a_handler_may_read_a_stream(pair: tuple[RpcClient, Peer]) -> None:
    # The handler runs on the background thread, the one that reads while
    # nobody calls: its stream must read for itself, not wait for that thread.
    client, peer = pair
    got: list[bytes] = []
    done = threading.Event()

    def handler(event: Event) -> None:
        stream = client.call_stream(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet, "read")
        got.append(stream.read())
        done.set()

    client.add_event_handler(handler)
    peer.send(peer.event("download"))
    (call,) = peer.take(1)
    data = bytes(
        wire.encode_message(call.prog, call.vers, call.proc, MessageType.STREAM, call.serial, MessageStatus.CONTINUE, b"data")
    )
    end = bytes(wire.encode_message(call.prog, call.vers, call.proc, MessageType.STREAM, call.serial, MessageStatus.OK))
    peer.send(peer.reply(call))
    time.sleep(0.05)
    peer.send(data)
    time.sleep(0.05)
    peer.send(end)
    assert done.wait(10) and got == [b"data"]


def test_many_callers_replies_in_random_order_and_pieces(pair: tuple[RpcClient, Peer]) -> None:
    # Replies in a shuffled order, cut at random places (frames split across
    # reads, several in one read), events in between: every caller gets its
    # own answer and the handler sees every event, in order, on one thread.
    import random

    client, peer = pair
    rng = random.Random(4506)
    threads_n, rounds = 8, 25
    seen: list[tuple[str, str]] = []
    all_seen = threading.Event()
    total_events = threads_n * rounds

    def handler(event: Event) -> None:
        seen.append((event.message.hostname, threading.current_thread().name))  # type: ignore[attr-defined]
        if len(seen) == total_events:
            all_seen.set()

    client.add_event_handler(handler)

    def work() -> list[str]:
        return [hostname(client) for _ in range(rounds)]

    threads, results = in_threads(threads_n, work)
    sent_events = 0
    answered = 0
    while answered < threads_n * rounds:
        calls = peer.take(1)
        calls += peer.take(min(len(peer.received), 7))  # and what else has come
        rng.shuffle(calls)
        stream = b""
        for call in calls:
            stream += peer.event(f"event{sent_events}") + peer.reply(call)
            sent_events += 1
        while stream:
            cut = rng.randint(1, len(stream))
            peer.send(stream[:cut])
            stream = stream[cut:]
        answered += len(calls)
    for thread in threads:
        thread.join(20)
    for i in range(threads_n):
        answers = results[i]
        assert isinstance(answers, list) and len(answers) == rounds, answers
        assert all(answer.startswith("host") for answer in answers)
    serials = sorted(int(answer[4:]) for i in range(threads_n) for answer in results[i])  # type: ignore[union-attr]
    assert serials == list(range(1, threads_n * rounds + 1))
    assert all_seen.wait(10), len(seen)
    assert [name for name, _ in seen] == [f"event{i}" for i in range(total_events)]
    assert {thread for _, thread in seen} == {"libvirt-rpc-reader"}


def test_what_arrives_after_the_last_call_is_read(pair: tuple[RpcClient, Peer]) -> None:
    # A call leaves the background thread's watch off (the next call would
    # turn it off again); the thread turns it back on once calls stop.
    client, peer = pair
    arrived = threading.Event()
    client.add_event_handler(lambda event: arrived.set())
    for _ in range(3):
        one_call(client, peer)
    started = time.monotonic()
    peer.send(peer.event("after the calls"))
    assert arrived.wait(5)
    ping = wire.PING_FRAME
    peer.send(ping)
    (pong,) = peer.take(1, timeout=5)
    assert pong.proc == wire.KEEPALIVE_PONG
    assert time.monotonic() - started < 2


def test_a_reply_read_whole_before_its_descriptor_arrives(pair: tuple[RpcClient, Peer]) -> None:
    # The reply comes alone in one read (the client's fast path), its
    # descriptor a moment later: the client waits for it and stays in step.
    import os

    client, peer = pair
    threads, results = in_threads(1, lambda: hostname(client))
    (call,) = peer.take(1)
    body = RemoteConnectGetHostnameRet("with fd").encode()
    reply = wire.encode_message(
        call.prog, call.vers, call.proc, MessageType.REPLY_WITH_FDS, call.serial, MessageStatus.OK, body, nfds=1
    )
    peer.send(bytes(reply))
    time.sleep(0.05)
    read_end, write_end = os.pipe()
    UnixStream(peer.sock).send_fd(read_end)
    os.close(read_end)
    threads[0].join(10)
    assert results == {0: "with fd"}
    os.close(write_end)
    one_call(client, peer)


def test_the_largest_frame_libvirt_allows_is_read(pair: tuple[RpcClient, Peer]) -> None:
    # 32 MiB after the length word, as libvirt allows (an event of a
    # procedure nobody registered: read and dropped)
    client, peer = pair
    body = bytes(wire.MAX_FRAME - wire.HEADER_SIZE)
    peer.send(bytes(wire.encode_message(PROG, VERS, EVENT + 1, MessageType.MESSAGE, 0, MessageStatus.OK, body)))
    one_call(client, peer)
    assert not client.closed


@pytest.mark.parametrize("body", [b"\0\0\0\1", (-1).to_bytes(8, "big", signed=True) + bytes(4)], ids=["short", "negative"])
def test_a_malformed_hole_is_a_libvirt_error(pair: tuple[RpcClient, Peer], body: bytes) -> None:
    client, peer = pair
    threads, results = in_threads(
        1, lambda: client.call_stream(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet, "read")
    )
    (call,) = peer.take(1)
    hole = peer.packet(call, MessageType.STREAM_HOLE, body=body)
    peer.send(peer.reply(call), hole, peer.packet(call, body=b"data"), peer.packet(call, status=MessageStatus.OK))
    threads[0].join(10)
    stream = results[0]
    assert isinstance(stream, DataStream)
    with pytest.raises(LibvirtError, match="^internal error: Malformed stream hole packet$"):
        stream.read()
    assert stream.read() == b"data"  # the packet is dropped; the stream goes on
    one_call(client, peer)


def test_a_flood_of_unknown_events_is_logged_in_a_few_lines(
    pair: tuple[RpcClient, Peer], caplog: pytest.LogCaptureFixture
) -> None:
    client, peer = pair
    flood = Flood(caplog)
    peer.send(flood.frames)
    one_call(client, peer)  # the flood has been read before the reply
    flood.check_read()
    client.close()
    flood.check_closed()


def test_a_reply_whose_descriptor_never_comes_times_out(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    client.timeout = 0.5
    threads, results = in_threads(1, lambda: hostname(client))
    (call,) = peer.take(1)
    started = time.monotonic()
    peer.send(peer.reply_with_fds(call, 1))  # and never the descriptor
    threads[0].join(5)
    assert isinstance(results.get(0), CallTimeoutError), results
    assert time.monotonic() - started < 2


def test_a_call_to_a_peer_that_stops_reading_ends_by_its_timeout(pair: tuple[RpcClient, Peer]) -> None:
    # The peer reads nothing: the large call cannot be sent, a small one
    # waits behind it.  Both end by their timeout; the connection, with half
    # a frame in it, is closed.
    client, peer = pair
    client.timeout = 1.0
    started = time.monotonic()
    large, results = in_threads(1, lambda: client.call(PROG, VERS, HOSTNAME, Blob(16 << 20), RemoteConnectGetHostnameRet))
    time.sleep(0.2)
    small, more = in_threads(1, lambda: hostname(client))
    for thread in large + small:
        thread.join(5)
    assert time.monotonic() - started < 3
    assert isinstance(results.get(0), CallTimeoutError), results
    assert isinstance(more.get(0), (CallTimeoutError, ConnectionClosedError)), more
    assert str(results[0]) == f"Timed out during operation: cannot send procedure {HOSTNAME} in 1.0 s: the server stopped reading"
    with pytest.raises(ConnectionClosedError):
        hostname(client)


def test_a_stream_write_to_a_peer_that_stops_reading_ends_by_its_timeout(pair: tuple[RpcClient, Peer]) -> None:
    client, peer = pair
    threads, results = in_threads(
        1, lambda: client.call_stream(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet, "write")
    )
    (call,) = peer.take(1)
    peer.send(peer.reply(call))
    threads[0].join(10)
    stream = results[0]
    assert isinstance(stream, DataStream)
    client.timeout = 1.0
    started = time.monotonic()

    def write() -> None:
        for _ in range(64):
            stream.write(bytes(wire.STREAM_CHUNK))

    writer, outcome = in_threads(1, write)
    writer[0].join(5)
    assert isinstance(outcome.get(0), CallTimeoutError), outcome
    assert time.monotonic() - started < 3


def test_keepalive_ends_a_connection_whose_peer_stops_reading(pair: tuple[RpcClient, Peer]) -> None:
    # No call timeout: keepalive alone ends the call, although its PINGs
    # cannot be sent either.
    client, peer = pair
    client.timeout = None
    client.start_keepalive(interval=0.2, count=2)
    started = time.monotonic()
    large, results = in_threads(1, lambda: client.call(PROG, VERS, HOSTNAME, Blob(16 << 20), RemoteConnectGetHostnameRet))
    large[0].join(5)
    assert isinstance(results.get(0), ConnectionClosedError), results
    assert "keepalive timeout" in str(results[0])
    assert time.monotonic() - started < 2.5
