"""How the asyncio client reads: the transport hands it what arrives (its own
protocol takes over from asyncio's stream protocol), replies settle the
awaiting calls in any order and in any pieces, and whatever the stream
reader held before the takeover is read first.  Against a scripted peer on
a socketpair (the peer's blocking reads run in a worker thread)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import AsyncIterator

import pytest

from libvirt_rpc.remote_protocol import RemoteConnectGetHostnameRet
from xdrgen.runtime.virnet import framing as wire
from libvirt_rpc.client import AsyncRpcClient, Event
from libvirt_rpc.errors import CallTimeoutError, ConnectionClosedError
from libvirt_rpc.transport import UnixStream

from scripted_peer import EVENT, HOSTNAME, PROG, VERS, Blob, Flood, Peer


async def hostname(client: AsyncRpcClient) -> str:
    return (await client.call(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet)).hostname


async def connect(ours: socket.socket) -> AsyncRpcClient:
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    client = AsyncRpcClient(reader, writer, timeout=10)
    client.register_events(PROG, VERS, {EVENT: ("test_event", RemoteConnectGetHostnameRet)})
    return client


@contextlib.asynccontextmanager
async def paired() -> AsyncIterator[tuple[AsyncRpcClient, Peer]]:
    """A client and the scripted peer at the other end of a socketpair."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client = await connect(ours)
    try:
        yield client, Peer(theirs)
    finally:
        await asyncio.wait_for(client.close(), 10)
        theirs.close()


def run(test: object) -> None:
    asyncio.run(test)  # type: ignore[arg-type]


def test_replies_in_random_order_and_pieces_reach_their_callers() -> None:
    async def scenario() -> None:
        seen: list[str] = []
        rng = random.Random(5531)
        async with paired() as (client, peer):
            client.add_event_handler(lambda event: seen.append(event.message.hostname))  # type: ignore[attr-defined]
            tasks = [asyncio.create_task(hostname(client)) for _ in range(16)]
            calls = await asyncio.to_thread(peer.take, 16)
            frames = [peer.reply(call) for call in calls] + [peer.event(f"e{i}") for i in range(3)]
            rng.shuffle(frames)
            data = b"".join(frames)
            cuts = sorted(rng.sample(range(1, len(data)), 12))
            for start, end in zip([0, *cuts], [*cuts, len(data)]):
                peer.send(data[start:end])
                await asyncio.sleep(0.001)
            results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert sorted(results) == sorted(f"host{call.serial}" for call in calls)
        assert sorted(seen) == ["e0", "e1", "e2"]

    run(scenario())


def test_what_the_stream_reader_held_before_the_takeover_is_read_first() -> None:
    # The peer speaks before the client exists: a PING and an event wait in
    # asyncio's StreamReader.  The client takes them over, in order, before
    # anything that arrives later.
    async def scenario() -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        peer = Peer(theirs)
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        peer.send(wire.PING_FRAME, peer.event("early"))
        for _ in range(2000):  # until the reader has buffered both frames (10 s at most)
            if len(reader._buffer) == len(wire.PING_FRAME) + len(peer.event("early")):
                break
            await asyncio.sleep(0.005)
        else:
            pytest.fail("the stream reader never buffered the early frames")
        client = AsyncRpcClient(reader, writer, timeout=10)
        client.register_events(PROG, VERS, {EVENT: ("test_event", RemoteConnectGetHostnameRet)})
        events: list[Event] = []
        client.add_event_handler(events.append)
        # bytes the transport delivers before the takeover task has run
        # (a read callback queued behind it in the same loop turn) wait
        writer.transport.get_protocol().data_received(peer.event("late"))  # type: ignore[attr-defined]
        try:
            (pong,) = await asyncio.to_thread(peer.take, 1)
            task = asyncio.create_task(hostname(client))
            (call,) = await asyncio.to_thread(peer.take, 1)
            peer.send(peer.reply(call))
            assert await asyncio.wait_for(task, 10) == f"host{call.serial}"
        finally:
            await client.close()
            theirs.close()
        assert (pong.prog, pong.proc) == (wire.KEEPALIVE_PROGRAM, wire.KEEPALIVE_PONG)
        assert [event.message.hostname for event in events] == ["early", "late"]  # type: ignore[attr-defined]

    run(scenario())


def test_a_dropped_connection_fails_pending_and_later_calls() -> None:
    async def scenario() -> None:
        async with paired() as (client, peer):
            tasks = [asyncio.create_task(hostname(client)) for _ in range(4)]
            await asyncio.to_thread(peer.take, 4)
            peer.sock.close()
            outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
            assert all(isinstance(outcome, ConnectionClosedError) for outcome in outcomes)
            assert "End of file" in str(outcomes[0])
            assert client.closed
            with pytest.raises(ConnectionClosedError):
                await hostname(client)

    run(scenario())


def test_a_broken_frame_closes_the_connection_with_a_protocol_error() -> None:
    async def scenario() -> None:
        async with paired() as (client, peer):
            task = asyncio.create_task(hostname(client))
            await asyncio.to_thread(peer.take, 1)
            peer.send((wire.MAX_FRAME + 1).to_bytes(4, "big"))
            with pytest.raises(ConnectionClosedError, match="protocol error"):
                await asyncio.wait_for(task, 5)
        assert client._writer.transport.is_closing()

    run(scenario())


def test_a_call_to_a_peer_that_stops_reading_ends_by_its_timeout() -> None:
    async def scenario() -> None:
        async with paired() as (client, peer):
            client.timeout = 1.0
            started = time.monotonic()
            large = asyncio.create_task(client.call(PROG, VERS, HOSTNAME, Blob(16 << 20), RemoteConnectGetHostnameRet))
            await asyncio.sleep(0.1)
            small = asyncio.create_task(hostname(client))
            outcomes = await asyncio.wait_for(asyncio.gather(large, small, return_exceptions=True), 5)
            assert all(isinstance(outcome, CallTimeoutError) for outcome in outcomes), outcomes
            assert time.monotonic() - started < 2.5

    run(scenario())


def test_keepalive_ends_a_connection_whose_peer_stops_reading() -> None:
    # No call timeout: keepalive alone must notice the peer has gone quiet,
    # although its PING cannot be sent either.
    async def scenario() -> None:
        async with paired() as (client, peer):
            client.timeout = None
            client.start_keepalive(interval=0.2, count=2)
            started = time.monotonic()
            large = asyncio.create_task(client.call(PROG, VERS, HOSTNAME, Blob(16 << 20), RemoteConnectGetHostnameRet))
            with pytest.raises(ConnectionClosedError, match="keepalive timeout"):
                await asyncio.wait_for(large, 5)
            assert time.monotonic() - started < 2.5

    run(scenario())


def test_a_reply_with_a_real_descriptor_keeps_the_framing() -> None:
    # libvirt sends each descriptor after the message with a one-byte
    # carrier; the asyncio client must not read the carrier as a frame.
    async def scenario() -> None:
        async with paired() as (client, peer):
            first = asyncio.create_task(hostname(client))
            (call,) = await asyncio.to_thread(peer.take, 1)
            read_end, write_end = os.pipe()
            try:
                UnixStream(peer.sock).send_fds(peer.reply_with_fds(call, 1, "first"), [read_end])
            finally:
                os.close(read_end)
                os.close(write_end)
            assert await asyncio.wait_for(first, 5) == "first"
            second = asyncio.create_task(hostname(client))
            (call,) = await asyncio.to_thread(peer.take, 1)
            peer.send(peer.reply(call))
            assert await asyncio.wait_for(second, 5) == f"host{call.serial}"

    run(scenario())


def test_a_flood_of_unknown_events_is_logged_in_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        flood = Flood(caplog)
        async with paired() as (client, peer):
            call = asyncio.create_task(hostname(client))
            (message,) = await asyncio.to_thread(peer.take, 1)
            # more than a socket buffer: sent from a thread while the loop reads
            await asyncio.to_thread(peer.send, flood.frames, peer.reply(message))
            assert await asyncio.wait_for(call, 10) == f"host{message.serial}"  # read after the flood
            flood.check_read()
        flood.check_closed()

    run(scenario())


def test_a_stream_write_to_a_peer_that_stops_reading_ends_by_its_timeout() -> None:
    async def scenario() -> None:
        async with paired() as (client, peer):
            opening = asyncio.create_task(
                client.call_stream(PROG, VERS, HOSTNAME, None, RemoteConnectGetHostnameRet, "write")
            )
            (call,) = await asyncio.to_thread(peer.take, 1)
            peer.send(peer.reply(call))
            stream = await asyncio.wait_for(opening, 5)
            client.timeout = 1.0
            started = time.monotonic()
            with pytest.raises(CallTimeoutError):
                await asyncio.wait_for(stream.write(bytes(64 * wire.STREAM_CHUNK)), 5)
            assert time.monotonic() - started < 2.5

    run(scenario())
