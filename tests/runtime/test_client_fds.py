"""Both clients pass file descriptors: the generated stubs' ``files=`` go
with the call (copies: the caller's stay open), a reply's come back as
``WithFds`` (the caller's to close), and every other path closes them: an
error reply, a reply nobody waits for, a reply to a call that expects
none.  Against our server on a unix socket (and TCP, which cannot carry
them), and against a scripted peer for replies our server never sends.
Each test runs with the blocking and with the asyncio client; the asyncio
one runs on a loop of its own, behind the same blocking calls."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.client import AsyncRpcClient, RpcClient
from libvirt_rpc.errors import CallTimeoutError, ConnectionClosedError, ErrorNumber, LibvirtError
from libvirt_rpc.remote_protocol_client import AsyncRemoteClient, RemoteClient
from libvirt_rpc.remote_protocol_server import RemoteHandler
from libvirt_rpc.server import Call, ServerThread, WithFds, start_in_thread
from libvirt_rpc.transport import UnixStream
from libvirt_rpc.transport.base import SocketStream
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType

from scripted_peer import Blob, Peer

DOM = rp.RemoteNonnullDomain("test", bytes(16), 1)
PROC_OPEN_GRAPHICS_FD = rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD


def open_fds(expected: int | None = None) -> int:
    """This process's open descriptors; given the count ``expected``, a
    moment to reach it (the server in this process closes its own just
    after it replies)."""
    for _ in range(200):
        count = len(os.listdir("/proc/self/fd"))
        if expected is None or count == expected:
            break
        time.sleep(0.01)
    return count


def pipe_with(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (its write end closed)."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as file:
        return file.read()


class Handler(RemoteHandler):
    """Reads what each descriptor of a call holds; hands out pipes."""

    async def domain_create_xml_with_files(
        self, call: Call, args: rp.RemoteDomainCreateXmlWithFilesArgs
    ) -> rp.RemoteDomainCreateXmlWithFilesRet:
        name = "+".join(_content(fd) for fd in call.fds) or args.xml_desc
        return rp.RemoteDomainCreateXmlWithFilesRet(rp.RemoteNonnullDomain(name, bytes(16), len(call.fds)))

    async def domain_open_graphics_fd(self, call: Call, args: rp.RemoteDomainOpenGraphicsFdArgs) -> WithFds[None]:
        return WithFds(None, [pipe_with(f"fd{i}".encode()) for i in range(args.idx)])

    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        return rp.RemoteConnectGetHostnameRet("fd-host")


def _content(fd: int) -> str:
    """What ``fd`` holds, read without moving a file's offset (the caller
    shares it) or waiting for an empty pipe ("?")."""
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return os.pread(fd, 100, 0).decode()
    if not select.select([fd], [], [], 0)[0]:
        return "?"
    return os.read(fd, 100).decode()


class LoopThread:
    """An event loop in a thread of its own, for the asyncio client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Blocking:
    """The asyncio client's coroutines behind blocking calls."""

    def __init__(self, target: Any, loop: LoopThread) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute
        return lambda *args, **kwargs: self._loop.run(attribute(*args, **kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
        else:
            setattr(self._target, name, value)  # (the timeout)


class Clients:
    """Connects either client over a socket: ``conn`` (the remote program's
    stubs) and ``rpc`` (the channel), both with blocking calls."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._loop = LoopThread() if kind == "asyncio" else None
        self._closers: list[Callable[[], None]] = []

    def connect(self, sock: socket.socket, timeout: float = 10) -> tuple[Any, Any]:
        if self._loop is None:
            stream = UnixStream(sock) if sock.family == socket.AF_UNIX else SocketStream(sock)
            client = RpcClient(stream, timeout=timeout)
            self._closers.append(client.close)
            return RemoteClient(client), client
        loop = self._loop

        async def make() -> AsyncRpcClient:
            reader, writer = await asyncio.open_connection(sock=sock)
            return AsyncRpcClient(reader, writer, timeout=timeout)

        aclient = loop.run(make())
        self._closers.append(lambda: loop.run(aclient.close()))
        return Blocking(AsyncRemoteClient(aclient), loop), Blocking(aclient, loop)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        if self._loop is not None:
            self._loop.stop()


@pytest.fixture(params=["blocking", "asyncio"])
def clients(request: pytest.FixtureRequest) -> Iterator[Clients]:
    made = Clients(request.param)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("fds") / "sock"
    with start_in_thread([Handler()], unix=path, tcp=("127.0.0.1", 0)) as thread:
        yield thread


def unix_socket(server: ServerThread) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    assert server.unix_path is not None
    sock.connect(server.unix_path)
    return sock


def test_descriptors_go_with_the_call_and_stay_the_callers(
    clients: Clients, server: ServerThread, tmp_path: Path
) -> None:
    conn, _ = clients.connect(unix_socket(server))
    first, second = pipe_with(b"one"), pipe_with(b"two")
    (tmp_path / "three").write_bytes(b"three")
    with open(tmp_path / "three", "rb") as third:  # an object with fileno()
        ret = conn.domain_create_xml_with_files(xml_desc="<domain/>", files=[first, second, third])
        assert (ret.dom.name, ret.dom.id) == ("one+two+three", 3)  # in order, each its own
        assert not third.closed
    for fd in (first, second):
        os.fstat(fd)  # the caller's own are still open
        os.close(fd)
    assert conn.domain_create_xml_with_files(xml_desc="none").dom.name == "none"  # files=(): a plain call


def test_descriptors_come_with_the_reply_and_are_the_callers(clients: Clients, server: ServerThread) -> None:
    conn, _ = clients.connect(unix_socket(server))
    conn.connect_get_hostname()  # (the server's end of the connection is open by now)
    before = open_fds()
    with conn.domain_open_graphics_fd(dom=DOM, idx=3) as reply:
        assert reply.result is None
        assert [read_all(os.dup(fd)) for fd in reply.fds] == [b"fd0", b"fd1", b"fd2"]
    assert reply.fds == [] and open_fds(before) == before  # closed by the with
    assert conn.connect_get_hostname().hostname == "fd-host"  # in step after them


def test_more_than_32_are_refused_before_anything_is_sent(clients: Clients, server: ServerThread) -> None:
    conn, _ = clients.connect(unix_socket(server))
    conn.connect_get_hostname()
    read_end, write_end = os.pipe()
    before = open_fds()
    with pytest.raises(LibvirtError, match="Too many FDs to send 33, expected 32 maximum") as raised:
        conn.domain_create_xml_with_files(xml_desc="x", files=[read_end] * 33)
    assert raised.value.code == ErrorNumber.VIR_ERR_RPC
    assert open_fds(before) == before
    assert conn.domain_create_xml_with_files(xml_desc="x", files=[read_end] * 32).dom.id == 32  # the limit itself
    os.close(read_end)
    os.close(write_end)


def test_a_transport_that_cannot_carry_descriptors_refuses_them(clients: Clients, server: ServerThread) -> None:
    assert server.tcp_address is not None
    conn, _ = clients.connect(socket.create_connection(server.tcp_address))
    read_end, write_end = os.pipe()
    with pytest.raises(LibvirtError, match="Sending file descriptors is not supported on this socket"):
        conn.domain_create_xml_with_files(xml_desc="x", files=[read_end])
    assert conn.connect_get_hostname().hostname == "fd-host"  # nothing was sent: the connection goes on
    os.close(read_end)
    os.close(write_end)


def test_no_descriptor_leaks_over_many_calls(clients: Clients, server: ServerThread) -> None:
    conn, _ = clients.connect(unix_socket(server))
    conn.connect_get_hostname()
    read_end, write_end = os.pipe()
    before = open_fds()
    for _ in range(50):
        assert conn.domain_create_xml_with_files(xml_desc="x", files=[read_end, write_end]).dom.id == 2
        conn.domain_open_graphics_fd(dom=DOM, idx=2).close()
    assert open_fds(before) == before
    os.close(read_end)
    os.close(write_end)


def test_calls_with_descriptors_from_many_threads_keep_their_own(clients: Clients, server: ServerThread) -> None:
    # The blocking client's senders queue frames for each other: each
    # frame's descriptors must follow it, before anyone else's frame.
    conn, _ = clients.connect(unix_socket(server))
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            for round_ in range(20):
                fds = [pipe_with(f"{number}.{round_}.{i}".encode()) for i in range(number % 3 + 1)]
                expected = "+".join(f"{number}.{round_}.{i}" for i in range(len(fds)))
                assert conn.domain_create_xml_with_files(xml_desc="x", files=fds).dom.name == expected
                for fd in fds:
                    os.close(fd)
                with conn.domain_open_graphics_fd(dom=DOM, idx=1) as reply:
                    assert read_all(os.dup(reply.fds[0])) == b"fd0"
                assert conn.connect_get_hostname().hostname == "fd-host"
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


# ---- replies our server never sends: a scripted peer ----------------------


@pytest.fixture
def scripted(clients: Clients) -> Iterator[tuple[Any, Any, Peer]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    conn, rpc = clients.connect(ours)
    try:
        yield conn, rpc, Peer(theirs)
    finally:
        theirs.close()


def in_background(function: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def send_reply(peer: Peer, call: Message, status: MessageStatus, body: bytes, fds: list[int]) -> None:
    frame = wire.encode_message(
        call.prog, call.vers, call.proc, MessageType.REPLY_WITH_FDS, call.serial, status, body, len(fds)
    )
    UnixStream(peer.sock).send_fds(bytes(frame), fds)


def error_body(text: str) -> bytes:
    from libvirt_rpc.virnetprotocol import VirNetMessageError

    return VirNetMessageError(1, 10, text, 2, None, text, None, None, -1, -1, None).encode()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (MessageStatus.ERROR, error_body("it failed"), "it failed"),
        (MessageStatus.OK, b"\xff", "cannot decode the reply"),  # a _ret that does not decode
    ],
)
def test_a_failing_call_closes_the_descriptors_its_reply_brought(
    scripted: tuple[Any, Any, Peer], status: MessageStatus, body: bytes, message: str
) -> None:
    _, rpc, peer = scripted
    before = open_fds()
    thread, outcome = in_background(
        lambda: rpc.call_receiving_fds(
            rp.REMOTE_PROGRAM, 1, PROC_OPEN_GRAPHICS_FD, None, rp.RemoteConnectGetHostnameRet
        )
    )
    (call,) = peer.take(1)
    fds = [pipe_with(b"a"), pipe_with(b"b")]
    send_reply(peer, call, status, body, fds)
    for fd in fds:
        os.close(fd)
    thread.join(20)
    assert isinstance(outcome.get("error"), LibvirtError) and message in str(outcome["error"])
    assert open_fds(before) == before


def test_descriptors_a_call_does_not_expect_are_closed(scripted: tuple[Any, Any, Peer]) -> None:
    _, rpc, peer = scripted
    before = open_fds()
    thread, outcome = in_background(
        lambda: rpc.call(rp.REMOTE_PROGRAM, 1, 59, None, rp.RemoteConnectGetHostnameRet)
    )
    (call,) = peer.take(1)
    fds = [pipe_with(b"a")]
    send_reply(peer, call, MessageStatus.OK, rp.RemoteConnectGetHostnameRet("h").encode(), fds)
    os.close(fds[0])
    thread.join(20)
    assert outcome == {"value": rp.RemoteConnectGetHostnameRet("h")}
    assert open_fds(before) == before


def test_a_reply_with_descriptors_after_the_timeout_leaks_none(scripted: tuple[Any, Any, Peer]) -> None:
    _, rpc, peer = scripted
    rpc.timeout = 0.3
    before = open_fds()
    with pytest.raises(CallTimeoutError):
        rpc.call_receiving_fds(rp.REMOTE_PROGRAM, 1, PROC_OPEN_GRAPHICS_FD, None, None)
    (late,) = peer.take(1)
    fds = [pipe_with(b"late")]
    send_reply(peer, late, MessageStatus.OK, b"", fds)
    os.close(fds[0])
    rpc.timeout = 10
    thread, outcome = in_background(lambda: rpc.call(rp.REMOTE_PROGRAM, 1, 59, None, rp.RemoteConnectGetHostnameRet))
    (call,) = peer.take(1)
    peer.send(peer.reply(call, "after"))
    thread.join(20)
    assert outcome == {"value": rp.RemoteConnectGetHostnameRet("after")}
    assert open_fds(before) == before  # the late reply's descriptor was closed


def test_more_than_32_received_end_the_connection(scripted: tuple[Any, Any, Peer]) -> None:
    _, rpc, peer = scripted
    thread, outcome = in_background(
        lambda: rpc.call_receiving_fds(rp.REMOTE_PROGRAM, 1, PROC_OPEN_GRAPHICS_FD, None, None)
    )
    (call,) = peer.take(1)
    header = wire.FRAME_HEADER.pack(
        wire.HEADER_SIZE + 4, call.prog, call.vers, call.proc, MessageType.REPLY_WITH_FDS, call.serial, 0
    )
    peer.send(header + (33).to_bytes(4, "big"))
    thread.join(20)
    assert isinstance(outcome.get("error"), ConnectionClosedError)
    assert "33 file descriptors; at most 32" in str(outcome["error"])


def test_a_peer_that_reads_nothing_ends_a_call_with_descriptors_by_its_timeout(
    scripted: tuple[Any, Any, Peer],
) -> None:
    # A large argument fills the socket buffers: neither the frame nor its
    # descriptors can go; the call ends at its timeout, its copies closed.
    _, rpc, _peer = scripted
    rpc.timeout = 0.5
    read_end, write_end = os.pipe()
    started = time.monotonic()
    with pytest.raises(CallTimeoutError):
        rpc.call_void(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_DOMAIN_FD_ASSOCIATE, Blob(8 << 20), [read_end, write_end])
    assert time.monotonic() - started < 3
    assert copies_of(read_end) == 2  # the pipe's two ends, ours alone again
    os.close(read_end)
    os.close(write_end)


def copies_of(fd: int) -> int:
    """How many of this process's descriptors share ``fd``'s file."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    found = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{name}") == target
        except OSError:
            pass  # (the listing's own descriptor)
    return found
