"""The server's side of file descriptor passing, as libvirtd's: a call's
descriptors reach its handler as ``call.fds`` and are closed before the
reply unless the handler takes them; a handler's ``WithFds`` go after its
REPLY_WITH_FDS, before anything written meanwhile; where they cannot go
(TCP, more than 32) the call gets an error reply.  Against a server in a
thread, with a raw socket that reads with ``recvmsg``."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.client.incoming import RECEIVE, Incoming
from libvirt_rpc.remote_protocol_server import RemoteHandler
from libvirt_rpc.server import Call, ServerThread, WithFds, start_in_thread
from libvirt_rpc.transport import UnixStream
from testd_support import REMOTE, raw_frame
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import Message, MessageStatus, MessageType

OK, ERROR = MessageStatus.OK, MessageStatus.ERROR
DOM = rp.RemoteNonnullDomain("test", bytes(16), 1)
EVENT_PROC = rp.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE


class Blob:
    def __init__(self, size: int) -> None:
        self.size = size

    def pack_into(self, out: bytearray) -> None:
        out += bytes(self.size)


class Handler(RemoteHandler):
    def __init__(self) -> None:
        self.kept: list[int] = []

    async def domain_fd_associate(self, call: Call, args: rp.RemoteDomainFdAssociateArgs) -> None:
        if args.name == "keep":
            self.kept += call.take_fds()

    async def domain_open_graphics_fd(self, call: Call, args: rp.RemoteDomainOpenGraphicsFdArgs) -> WithFds[None]:
        if args.flags:  # a large event first: the reply waits behind it
            call.client.send_event(REMOTE, 1, EVENT_PROC, Blob(args.flags))
        read_ends = []
        for number in range(args.idx):
            read_end, write_end = os.pipe()
            os.write(write_end, b"%d" % number)
            os.close(write_end)
            read_ends.append(read_end)
        return WithFds(None, read_ends)

    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        return rp.RemoteConnectGetHostnameRet("host")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerThread, Handler]]:
    handler = Handler()
    with start_in_thread([handler], unix=tmp_path / "sock", tcp=("127.0.0.1", 0)) as thread:
        yield thread, handler
    for fd in handler.kept:
        os.close(fd)


class Peer:
    """A raw client that reads whole messages with their descriptors."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(20)  # hang guard
        self.stream = UnixStream(sock) if sock.family == socket.AF_UNIX else None
        self.incoming = Incoming(RECEIVE)
        self._buffer = memoryview(bytearray(1 << 16))

    def call(self, proc: int, serial: int, args: object = None, fds: list[int] | None = None) -> None:
        if fds:
            assert self.stream is not None
            frame = wire.encode_message(REMOTE, 1, proc, MessageType.CALL_WITH_FDS, serial, OK, args, len(fds))  # type: ignore[arg-type]
            self.stream.send_fds(bytes(frame), fds)
        else:
            self.sock.sendall(wire.encode_message(REMOTE, 1, proc, MessageType.CALL, serial, OK, args))  # type: ignore[arg-type]

    def messages(self, count: int) -> list[Message]:
        out: list[Message] = []
        while len(out) < count:
            message = self.incoming.next()
            if message is not None:
                out.append(message)
                continue
            if self.stream is not None:
                got, fds = self.stream.recv_into_with_fds(self._buffer)
                self.incoming.add_fds(fds)
            else:
                got = self.sock.recv_into(self._buffer)
            assert got, "the server closed the connection"
            self.incoming.decoder.push(self._buffer[:got])
        return out


def unix_peer(thread: ServerThread) -> Peer:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    assert thread.unix_path is not None
    sock.connect(thread.unix_path)
    return Peer(sock)


def ends_within(fd: int, seconds: float) -> bool:
    """Whether the pipe ``fd`` reads from sees its end within ``seconds``."""
    deadline = time.monotonic() + seconds
    os.set_blocking(fd, False)
    while True:
        try:
            return os.read(fd, 1) == b""
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def associate(peer: Peer, serial: int, name: str, fds: list[int]) -> Message:
    peer.call(rp.REMOTE_PROC_DOMAIN_FD_ASSOCIATE, serial, rp.RemoteDomainFdAssociateArgs(DOM, name, 0), fds)
    (reply,) = peer.messages(1)
    return reply


def test_a_calls_descriptors_are_closed_before_its_reply(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    read_end, write_end = os.pipe()
    reply = associate(peer, 1, "drop", [write_end])
    assert (reply.type, reply.status) == (MessageType.REPLY, OK)
    os.close(write_end)
    assert ends_within(read_end, 0)  # the server's copy is gone already
    os.close(read_end)


def test_a_handler_that_takes_them_keeps_them(served: tuple[ServerThread, Handler]) -> None:
    thread, handler = served
    peer = unix_peer(thread)
    read_end, write_end = os.pipe()
    associate(peer, 1, "keep", [write_end, write_end])
    os.close(write_end)
    assert not ends_within(read_end, 0.2)
    assert len(handler.kept) == 2
    for fd in thread.call(lambda: [handler.kept.pop() for _ in range(2)]):
        os.close(fd)
    assert ends_within(read_end, 5)
    os.close(read_end)


def test_a_handlers_descriptors_follow_its_reply(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 7, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 3, 0))
    (reply,) = peer.messages(1)
    assert (reply.type, reply.serial, reply.nfds) == (MessageType.REPLY_WITH_FDS, 7, 3)
    assert [os.read(fd, 10) for fd in reply.fds] == [b"0", b"1", b"2"]
    for fd in reply.fds:
        os.close(fd)
    # none: a plain REPLY, as libvirtd sends when a dispatcher adds none
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 8, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 0, 0))
    (reply,) = peer.messages(1)
    assert (reply.type, reply.nfds) == (MessageType.REPLY, 0)


def test_what_is_written_meanwhile_waits_behind_the_descriptors(served: tuple[ServerThread, Handler]) -> None:
    # The reply with descriptors waits for a 4 MiB event the peer has not
    # read yet; the next call's reply, written meanwhile, must come after
    # the reply and its descriptors, not between them.
    thread, _ = served
    peer = unix_peer(thread)
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 1, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 2, 4 << 20))
    peer.call(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, 2)
    time.sleep(0.3)  # both answered (or waiting) before anything is read
    event, with_fds, plain = peer.messages(3)
    assert (event.type, event.proc) == (MessageType.MESSAGE, EVENT_PROC)
    assert (with_fds.serial, with_fds.type, len(with_fds.fds)) == (1, MessageType.REPLY_WITH_FDS, 2)
    assert [os.read(fd, 10) for fd in with_fds.fds] == [b"0", b"1"]
    for fd in with_fds.fds:
        os.close(fd)
    assert (plain.serial, rp.RemoteConnectGetHostnameRet.decode(plain.payload).hostname) == (2, "host")


def error_text(message: Message) -> str:
    assert message.status == ERROR
    return rp.RemoteError.decode(message.payload).message or ""


def test_over_tcp_a_handlers_descriptors_get_an_error_reply(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    assert thread.tcp_address is not None
    peer = Peer(socket.create_connection(thread.tcp_address))
    peer.call(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, 9)
    peer.messages(1)  # (the server's end is open by now)
    before = len(os.listdir("/proc/self/fd"))
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 1, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 2, 0))
    (reply,) = peer.messages(1)
    assert reply.type == MessageType.REPLY
    assert error_text(reply) == "internal error: Sending file descriptors is not supported on this socket"
    assert len(os.listdir("/proc/self/fd")) == before  # the handler's pipes were closed


def test_more_than_32_from_a_handler_get_an_error_reply(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 1, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 33, 0))
    (reply,) = peer.messages(1)
    assert error_text(reply) == "internal error: Too many FDs to send 33, expected 32 maximum"
    peer.call(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, 2)
    assert peer.messages(1)[0].serial == 2


def test_descriptors_of_a_call_nobody_serves_are_closed(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    read_end, write_end = os.pipe()
    assert peer.stream is not None
    for serial, (prog, proc) in enumerate([(0x12345, 1), (REMOTE, 9999)], start=1):
        frame = raw_frame(prog, 1, proc, MessageType.CALL_WITH_FDS, serial, OK, struct.pack(">I", 1))
        peer.stream.send_fds(frame, [write_end])
        (reply,) = peer.messages(1)
        assert reply.serial == serial and reply.status == ERROR
    os.close(write_end)
    assert ends_within(read_end, 5)
    os.close(read_end)


def test_more_than_32_announced_close_the_connection(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    peer.sock.sendall(raw_frame(REMOTE, 1, 59, MessageType.CALL_WITH_FDS, 1, OK, struct.pack(">I", 33)))
    assert peer.sock.recv(100) == b""  # as libvirtd: no reply, the connection closed


def test_a_call_with_fds_lacking_their_count_closes_the_connection(served: tuple[ServerThread, Handler]) -> None:
    thread, _ = served
    peer = unix_peer(thread)
    peer.sock.sendall(raw_frame(REMOTE, 1, 59, MessageType.CALL_WITH_FDS, 1, OK, b""))
    assert peer.sock.recv(100) == b""


def open_fds_reach(expected: int) -> bool:
    """Whether this process (client and server alike) is back to ``expected``
    open descriptors within a few seconds."""
    for _ in range(500):
        if len(os.listdir("/proc/self/fd")) == expected:
            return True
        time.sleep(0.01)
    return False


def test_a_client_gone_while_descriptors_wait_leaks_none(served: tuple[ServerThread, Handler]) -> None:
    # The reply with descriptors waits behind a large event the client never
    # reads; the client goes: the server's send fails, the descriptors and
    # the connection's own are closed, and the server goes on serving.
    thread, _ = served
    before = len(os.listdir("/proc/self/fd"))
    peer = unix_peer(thread)
    peer.call(rp.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD, 1, rp.RemoteDomainOpenGraphicsFdArgs(DOM, 2, 8 << 20))
    time.sleep(0.3)
    peer.sock.close()
    assert open_fds_reach(before)
    other = unix_peer(thread)
    other.call(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, 1)
    assert other.messages(1)[0].serial == 1
    other.sock.close()
