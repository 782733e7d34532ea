"""The server runtime in-process (a server thread, a raw socket client):
dispatch, error replies, limits, keepalive, events, streams."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.remote_protocol_server import RemoteHandler
from testd_support import REMOTE, RawConnection, raw_frame
from libvirt_rpc.errors import ErrorDomain, ErrorNumber, LibvirtError
from libvirt_rpc.virnetprotocol import VIR_NET_MESSAGE_STRING_MAX, VirNetMessageError
from xdrgen.runtime.virnet.framing import (
    KEEPALIVE_PING,
    KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM,
    STREAM_CHUNK,
    MessageStatus,
    MessageType,
    encode_message,
)
from libvirt_rpc.server import (
    Call,
    Hole,
    Limits,
    Server,
    ServerThread,
    StreamError,
    rpc_error,
    start_in_thread,
)
from libvirt_rpc.server.errors import remote_error

CALL, REPLY, MESSAGE, STREAM = MessageType.CALL, MessageType.REPLY, MessageType.MESSAGE, MessageType.STREAM
OK, ERROR, CONTINUE = MessageStatus.OK, MessageStatus.ERROR, MessageStatus.CONTINUE
VOL = rp.RemoteNonnullStorageVol("pool", "vol", "key")
DOM = rp.RemoteNonnullDomain("dom", bytes(range(16)), 7)
DOWNLOAD = bytes(i % 251 for i in range(2 * STREAM_CHUNK + 1000))


class Handler(RemoteHandler):
    """A handful of procedures with behaviours the tests need."""

    def __init__(self) -> None:
        self.gate: asyncio.Event | None = None
        self.running = 0
        self.max_running = 0
        self.started = 0
        self.five_started = threading.Event()
        self.uploaded = bytearray()
        self.holes: list[Hole] = []
        self.upload_error: BaseException | None = None
        self.upload_done = threading.Event()
        self.clients: list[object] = []
        self.closed: list[object] = []

    def client_connected(self, client: object) -> None:
        self.clients.append(client)

    def client_closed(self, client: object) -> None:
        self.closed.append(client)

    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        return rp.RemoteConnectGetHostnameRet("unit-host")

    async def domain_lookup_by_name(
        self, call: Call, args: rp.RemoteDomainLookupByNameArgs
    ) -> rp.RemoteDomainLookupByNameRet:
        if args.name == "error":
            raise rpc_error(ErrorNumber.VIR_ERR_NO_DOMAIN, "no 'error' here", ErrorDomain.VIR_FROM_TEST)
        if args.name == "crash":
            raise RuntimeError("kaboom")
        if args.name == "garbage":
            return "not an XDR value"  # type: ignore[return-value]
        if args.name == "block":
            if self.gate is None:
                self.gate = asyncio.Event()
            self.started += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            if self.started == 5:
                self.five_started.set()
            await self.gate.wait()
            self.running -= 1
        return rp.RemoteDomainLookupByNameRet(rp.RemoteNonnullDomain(args.name, bytes(16), 1))

    async def storage_vol_download(self, call: Call, args: rp.RemoteStorageVolDownloadArgs) -> None:
        stream = call.stream
        assert stream is not None and stream.direction == "read"

        async def transfer() -> None:
            await stream.send(DOWNLOAD)
            await stream.finish()

        stream.run(transfer())

    async def storage_vol_upload(self, call: Call, args: rp.RemoteStorageVolUploadArgs) -> None:
        stream = call.stream
        assert stream is not None and stream.direction == "write"
        stream.allow_holes = bool(args.flags & 1)

        async def transfer() -> None:
            try:
                async for item in stream:
                    if isinstance(item, Hole):
                        self.holes.append(item)
                    else:
                        self.uploaded += item
                await stream.finish()
            except StreamError as error:
                self.upload_error = error
            finally:
                self.upload_done.set()

        stream.run(transfer())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerThread, Handler]]:
    handler = Handler()
    with start_in_thread([handler], unix=tmp_path / "sock", tcp=("127.0.0.1", 0)) as thread:
        yield thread, handler


def connect(thread: ServerThread) -> RawConnection:
    assert thread.unix_path is not None
    return RawConnection(thread.unix_path)


def wait_until(thread: ServerThread, predicate: object) -> None:
    """Poll ``predicate()`` on the server's loop until it holds (hang guard:
    20 s; nothing is timed)."""
    for _ in range(2000):
        if thread.call(predicate):  # type: ignore[arg-type]
            return
        threading.Event().wait(0.01)
    raise AssertionError("condition never held")


def error_of(message: object) -> rp.RemoteError:
    assert message.status == ERROR  # type: ignore[attr-defined]
    return rp.RemoteError.decode(message.payload)  # type: ignore[attr-defined]


def test_call_reply_over_unix_and_tcp(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    assert thread.tcp_address is not None and thread.tcp_address[0] == "127.0.0.1"
    for address in (thread.unix_path, thread.tcp_address):
        assert address is not None
        with RawConnection(address) as conn:
            reply = conn.call(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME)
            expected = encode_message(REMOTE, 1, 59, REPLY, reply.serial, OK, rp.RemoteConnectGetHostnameRet("unit-host"))
            assert reply.type == REPLY and reply.status == OK
            assert bytes(reply.payload) == bytes(expected[28:])


def test_handler_errors_travel_as_remote_error(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        error = error_of(conn.call(23, rp.RemoteDomainLookupByNameArgs("error")))
        assert error == rp.RemoteError(
            code=ErrorNumber.VIR_ERR_NO_DOMAIN,
            domain=ErrorDomain.VIR_FROM_TEST,
            message="Domain not found: no 'error' here",
            level=2,
            dom=None,
            str1="Domain not found: %s",
            str2="no 'error' here",
            str3=None,
            int1=-1,
            int2=-1,
            net=None,
        )
        # A bug in a handler is an internal error for that call only.
        error = error_of(conn.call(23, rp.RemoteDomainLookupByNameArgs("crash")))
        assert (error.code, error.domain) == (ErrorNumber.VIR_ERR_INTERNAL_ERROR, ErrorDomain.VIR_FROM_RPC)
        assert error.message == "internal error: RuntimeError: kaboom"
        error = error_of(conn.call(23, rp.RemoteDomainLookupByNameArgs("garbage")))
        assert (error.code, error.message) == (ErrorNumber.VIR_ERR_RPC, "Unable to encode message payload")
        assert conn.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"


def test_remote_error_wire_format() -> None:
    error = LibvirtError("m", code=ErrorNumber.VIR_ERR_RPC, domain=ErrorDomain.VIR_FROM_RPC, str2="ab", int1=-1, int2=2)
    assert remote_error(error).encode() == bytes.fromhex(
        "00000027 00000007"  # code (VIR_ERR_RPC), domain (VIR_FROM_RPC)
        "00000001 00000001 6d000000"  # message "m"
        "00000002 00000000"  # level, no dom
        "00000000 00000001 00000002 61620000 00000000"  # str1 absent, str2 "ab", str3 absent
        "ffffffff 00000002 00000000"  # int1, int2, no net
    )


def test_remote_error_carries_what_a_c_int_and_the_string_limit_allow() -> None:
    """Whatever a handler puts in its error, the reply goes out: numbers keep
    their low 32 bits (as a C int would), text UTF-8 cannot carry becomes
    "?", and strings are cut at the protocol's 4 MiB limit (before a
    character the cut would split)."""
    limit = VIR_NET_MESSAGE_STRING_MAX
    error = LibvirtError(
        "x" * (limit + 10), code=2**32 + 5, domain=2**31, level=2**40 + 7,
        str1="lone \ud800 surrogate", str2="x" + "é" * (limit // 2), str3="", int1=-(2**31) - 1, int2=2**64 - 1,
    )  # fmt: skip
    decoded = VirNetMessageError.decode(remote_error(error).encode())
    assert (decoded.code, decoded.domain, decoded.level) == (5, -(2**31), 7)
    assert (decoded.int1, decoded.int2) == (2**31 - 1, -1)
    assert decoded.message == "x" * limit
    assert decoded.str1 == "lone ? surrogate"
    assert decoded.str2 == "x" + "é" * (limit // 2 - 1)
    assert decoded.str3 == ""
    assert decoded.dom is None and decoded.net is None


def test_unimplemented_and_event_procedures_are_unknown(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        for proc in (rp.REMOTE_PROC_CONNECT_GET_CAPABILITIES, rp.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, 0, 100000, -1):
            error = error_of(conn.call(proc))
            assert (error.code, error.domain) == (ErrorNumber.VIR_ERR_RPC, ErrorDomain.VIR_FROM_RPC)
            assert error.message == f"unknown procedure: {proc}"
            assert (error.str1, error.str2, error.int1, error.int2) == ("%s", error.message, -1, -1)


def test_header_errors(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        conn.send(raw_frame(0x12345678, 1, 1, CALL, 1, OK))
        reply = conn.recv()
        assert (reply.prog, reply.vers, reply.proc, reply.type, reply.serial) == (0x12345678, 1, 1, REPLY, 1)
        assert error_of(reply).message == "Cannot find program 305419896 version 1"
        conn.send(raw_frame(REMOTE, 0xFFFFFFFF, 1, CALL, 2, OK))
        assert error_of(conn.recv()).message == "Cannot find program 536903814 version -1"
        conn.send(raw_frame(REMOTE, 1, 59, CALL, 3, 7))
        assert error_of(conn.recv()).message == "Unexpected message status 7"
        # Replies, events, unknown types and stray stream data get no answer.
        for type_ in (REPLY, MESSAGE, STREAM, MessageType.STREAM_HOLE, 9):
            conn.send(raw_frame(REMOTE, 1, 59, type_, 4, OK))
        conn.send(raw_frame(REMOTE, 1, 23, CALL, 5, OK, b"\xff\xff\xff\xff"))
        reply = conn.recv()
        assert reply.serial == 5 and error_of(reply).message == "Unable to decode message payload"
        assert conn.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"


def test_calls_with_fds(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        conn.send(raw_frame(REMOTE, 1, 59, MessageType.CALL_WITH_FDS, 9, OK, struct.pack(">I", 0)))
        reply = conn.recv()
        assert (reply.type, reply.serial, reply.status) == (REPLY, 9, OK)
    assert thread.tcp_address is not None
    with RawConnection(thread.tcp_address) as conn:  # TCP cannot carry descriptors: the stream is lost
        conn.send(raw_frame(REMOTE, 1, 59, MessageType.CALL_WITH_FDS, 9, OK, struct.pack(">I", 1)))
        assert conn.closed_by_server()
    with connect(thread) as conn:  # a carrier without its descriptor: the stream is lost
        conn.send(raw_frame(REMOTE, 1, 59, MessageType.CALL_WITH_FDS, 9, OK, struct.pack(">I", 1)) + b"\0")
        assert conn.closed_by_server()


def test_at_most_five_calls_in_flight(served: tuple[ServerThread, Handler]) -> None:
    """Ten pipelined calls that block: five run, the connection is no longer
    read; when they finish the other five run; all ten are answered."""
    thread, handler = served
    with connect(thread) as conn:
        for serial in range(1, 11):
            conn.send(encode_message(REMOTE, 1, 23, CALL, serial, OK, rp.RemoteDomainLookupByNameArgs("block")))
        assert handler.five_started.wait(20)
        (client,) = thread.server.clients
        assert thread.call(lambda: (client.in_flight, client._reading)) == (5, False)
        assert handler.started == 5
        # Other connections are served meanwhile.
        with connect(thread) as other:
            assert other.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"
        assert handler.gate is not None
        thread.call(handler.gate.set)
        serials = [conn.recv().serial for _ in range(10)]
        assert sorted(serials) == list(range(1, 11))
        assert handler.started == 10 and handler.max_running == 5


def test_unread_replies_pause_reading_and_nothing_is_dropped(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    count = 20000
    call = bytes(encode_message(REMOTE, 1, 59, CALL, 1, OK))
    with connect(thread) as conn:
        sender = threading.Thread(target=conn.send, args=(call * count,))
        sender.start()
        wait_until(thread, lambda: len(thread.server.clients) == 1)
        (client,) = thread.server.clients
        wait_until(thread, lambda: not client._reading and client._write_paused)
        # What the server holds for this client stays small: one socket read
        # of input and the transport's high-water mark of output.
        held = thread.call(lambda: client.transport.get_write_buffer_size() + client._decoder.pending)
        assert held < 1024 * 1024
        replies = 0
        while replies < count:
            message = conn.recv()
            assert (message.serial, message.status) == (1, OK)
            replies += 1
        sender.join()


def test_keepalive(tmp_path: Path) -> None:
    handler = Handler()
    limits = Limits(keepalive_interval=0.05, keepalive_count=2)
    with start_in_thread([handler], unix=tmp_path / "sock", limits=limits) as thread:
        with connect(thread) as conn:
            conn.send(encode_message(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PING, MESSAGE, 0, OK))
            pong = conn.recv()
            assert (pong.prog, pong.proc, pong.type, pong.serial, pong.status) == (KEEPALIVE_PROGRAM, KEEPALIVE_PONG, MESSAGE, 0, OK)
            # The keepalive feature is answered before CONNECT_OPEN and
            # makes the server ping an idle client ...
            reply = conn.call(60, rp.RemoteConnectSupportsFeatureArgs(10), result=rp.RemoteConnectSupportsFeatureRet)
            assert reply.supported == 1
            for _ in range(3):
                ping = conn.recv()
                assert (ping.prog, ping.proc, ping.type) == (KEEPALIVE_PROGRAM, KEEPALIVE_PING, MESSAGE)
                conn.send(encode_message(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PONG, MESSAGE, 0, OK))
            assert conn.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"
            # ... and drop it when it stops answering.
            while True:
                try:
                    message = conn.recv()
                except EOFError:
                    break
                assert message.proc == KEEPALIVE_PING
        assert len(handler.closed) == 1


def test_events_reach_the_client(served: tuple[ServerThread, Handler]) -> None:
    thread, handler = served
    with connect(thread) as conn:
        conn.call(59)
        (client,) = thread.server.clients
        msg = rp.RemoteDomainEventCallbackLifecycleMsg(3, rp.RemoteDomainEventLifecycleMsg(DOM, 5, 1))
        thread.call(handler.send_domain_event_callback_lifecycle, client, msg)
        event = conn.recv()
        assert (event.prog, event.proc, event.type, event.serial, event.status) == (REMOTE, 318, MESSAGE, 1, OK)
        assert rp.RemoteDomainEventCallbackLifecycleMsg.decode(event.payload) == msg


def test_a_client_that_does_not_read_its_events_is_dropped(tmp_path: Path) -> None:
    handler = Handler()
    limits = Limits(max_output_buffer=256 * 1024)
    with start_in_thread([handler], unix=tmp_path / "sock", limits=limits) as thread:
        with connect(thread) as conn, connect(thread) as other:
            conn.call(59)
            other.call(59)
            client = next(c for c in thread.server.clients if c.id == min(x.id for x in thread.server.clients))
            msg = rp.RemoteDomainEventCallbackLifecycleMsg(3, rp.RemoteDomainEventLifecycleMsg(DOM, 5, 1))

            def flood() -> int:
                sent = 0
                while not client.closing and sent < 10**6:
                    handler.send_domain_event_callback_lifecycle(client, msg)
                    sent += 1
                return sent

            assert thread.call(flood) < 10**6
            assert other.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"


def test_read_stream(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        reply = conn.call(209, rp.RemoteStorageVolDownloadArgs(VOL, 0, 0, 0))
        assert reply.status == OK
        data = bytearray()
        sizes = []
        while True:
            packet = conn.recv()
            assert (packet.type, packet.proc, packet.serial, packet.status) == (STREAM, 209, reply.serial, CONTINUE)
            if not packet.payload:
                break
            sizes.append(len(packet.payload))
            data += packet.payload
        assert bytes(data) == DOWNLOAD and max(sizes) == STREAM_CHUNK
        conn.send(encode_message(REMOTE, 1, 209, STREAM, reply.serial, OK))
        confirm = conn.recv()
        assert (confirm.type, confirm.status, bytes(confirm.payload)) == (STREAM, OK, b"")


def test_write_stream_with_holes(served: tuple[ServerThread, Handler]) -> None:
    thread, handler = served
    with connect(thread) as conn:
        reply = conn.call(208, rp.RemoteStorageVolUploadArgs(VOL, 0, 0, 1))
        assert reply.status == OK
        serial = reply.serial
        for chunk in (b"abc", b"x" * 300000, b"end"):
            conn.send(encode_message(REMOTE, 1, 208, STREAM, serial, CONTINUE, chunk))
        conn.send(encode_message(REMOTE, 1, 208, MessageType.STREAM_HOLE, serial, CONTINUE, struct.pack(">qI", 4096, 0)))
        conn.send(encode_message(REMOTE, 1, 208, STREAM, serial, OK))
        confirm = conn.recv()
        assert (confirm.type, confirm.proc, confirm.serial, confirm.status) == (STREAM, 208, serial, OK)
        assert handler.upload_done.wait(20)
        assert bytes(handler.uploaded) == b"abc" + b"x" * 300000 + b"end"
        assert handler.holes == [Hole(4096, 0)] and handler.upload_error is None


def test_write_stream_aborted_by_the_client(served: tuple[ServerThread, Handler]) -> None:
    thread, handler = served
    with connect(thread) as conn:
        serial = conn.call(208, rp.RemoteStorageVolUploadArgs(VOL, 0, 0, 0)).serial
        conn.send(encode_message(REMOTE, 1, 208, STREAM, serial, CONTINUE, b"partial"))
        abort = remote_error(rpc_error(ErrorNumber.VIR_ERR_OPERATION_ABORTED, "stop"))
        conn.send(encode_message(REMOTE, 1, 208, STREAM, serial, ERROR, abort))
        confirm = conn.recv()
        assert (confirm.type, confirm.status, bytes(confirm.payload)) == (STREAM, OK, b"")
        assert handler.upload_done.wait(20)
        assert isinstance(handler.upload_error, StreamError)
        assert "aborted at client request" in str(handler.upload_error)
        assert conn.call(59, result=rp.RemoteConnectGetHostnameRet).hostname == "unit-host"


def test_hole_on_a_stream_that_takes_none_closes_the_connection(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    with connect(thread) as conn:
        serial = conn.call(208, rp.RemoteStorageVolUploadArgs(VOL, 0, 0, 0)).serial
        conn.send(encode_message(REMOTE, 1, 208, MessageType.STREAM_HOLE, serial, CONTINUE, struct.pack(">qI", 1, 0)))
        assert conn.closed_by_server()


def test_client_hooks_and_max_clients(tmp_path: Path) -> None:
    handler = Handler()
    with start_in_thread([handler], unix=tmp_path / "sock", limits=Limits(max_clients=2)) as thread:
        with connect(thread) as a, connect(thread) as b:
            a.call(59)
            b.call(59)
            with connect(thread) as c:
                assert c.closed_by_server()
            assert a.call(59).status == OK
        assert len(handler.clients) == 2
    assert len(handler.closed) == 2


def test_two_handlers_for_one_program_are_refused() -> None:
    with pytest.raises(ValueError, match="two handlers"):
        Server([Handler(), Handler()])


def test_server_thread_reports_listen_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        start_in_thread([Handler()], unix=tmp_path / "no" / "such" / "dir" / "sock")
    thread = ServerThread([Handler()], unix=tmp_path / "sock")
    thread.stop()  # never started: nothing to do
