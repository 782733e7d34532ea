"""The SASL security layer under the messages (transport/sasl.py) with a
stand-in layer whose packets are easy to check: a socket that takes part
of a packet, packets that arrive a byte at a time, a reader that asks for
less than a packet holds, a packet too long to accept; blocking and asyncio.
(With libsasl2's DIGEST-MD5 against libvirtd: tests/integration/test_auth.py.)"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import threading

import pytest

from libvirt_rpc.transport import SocketStream
from libvirt_rpc.transport.sasl import PacketReader, SaslStream
from libvirt_rpc.transport.sasl_async import wrap_async


class XorLayer:
    """A packet: length word, then the data XORed with 0x5A."""

    def __init__(self, max_out: int = 1000) -> None:
        self.max_out = max_out
        self.closed = False

    @property
    def max_in(self) -> int:
        return self.max_out

    def encode(self, data: bytes) -> bytes:
        assert 0 < len(data) <= self.max_out
        return struct.pack(">I", len(data)) + bytes(b ^ 0x5A for b in data)

    def decode(self, packet: bytes) -> bytes:
        (length,) = struct.unpack_from(">I", packet)
        assert length == len(packet) - 4
        return bytes(b ^ 0x5A for b in packet[4:])

    def close(self) -> None:
        self.closed = True


def packets_of(data: bytes, layer: XorLayer) -> bytes:
    return b"".join(layer.encode(data[i : i + layer.max_out]) for i in range(0, len(data), layer.max_out))


def decoded(raw: bytes, layer: XorLayer) -> bytes:
    return b"".join(PacketReader(layer).feed(raw))


@pytest.fixture
def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_messages_go_out_in_packets_and_come_back(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    layer = XorLayer()
    stream = SaslStream(SocketStream(ours), layer)
    data = os.urandom(10_000)
    stream.sendall(data)
    raw = b""
    while len(raw) < len(packets_of(data, layer)):
        raw += peer.recv(1 << 16)
    assert raw == packets_of(data, layer)
    # the peer's packets, a byte at a time: reads stop at packet ends
    reply = os.urandom(2500)
    sender = threading.Thread(target=lambda: [peer.send(bytes([b])) for b in packets_of(reply, layer)])
    sender.start()
    got = b""
    while len(got) < len(reply):
        got += stream.recv(1 << 16)
    sender.join()
    assert got == reply
    stream.close()
    assert layer.closed


def test_a_reader_asking_for_less_gets_the_rest_next(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    layer = XorLayer()
    stream = SaslStream(SocketStream(ours), layer)
    peer.sendall(layer.encode(b"0123456789"))
    assert stream.recv(4) == b"0123"
    assert stream.pending() == 6  # poll would not see these
    assert stream.recv(100) == b"456789" and stream.pending() == 0
    peer.close()
    assert stream.recv(100) == b""  # end of file


def test_nothing_whole_yet_reads_as_would_block(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    layer = XorLayer()
    stream = SaslStream(SocketStream(ours), layer)
    stream.settimeout(0.0)
    packet = layer.encode(b"abc")
    peer.sendall(packet[:5])
    with pytest.raises(BlockingIOError):
        stream.recv(100)
    peer.sendall(packet[5:])
    assert stream.recv(100) == b"abc"


@pytest.mark.parametrize("length", [0, 1001])
def test_a_packet_length_out_of_bounds_ends_the_stream(
    pair: tuple[socket.socket, socket.socket], length: int
) -> None:
    ours, peer = pair
    stream = SaslStream(SocketStream(ours), XorLayer())
    peer.sendall(struct.pack(">I", length) + bytes(8))
    with pytest.raises(OSError) as caught:
        stream.recv(100)
    assert caught.value.errno == errno.EBADMSG
    assert str(caught.value) == f"[Errno {errno.EBADMSG}] SASL data length {length} too long, max 1000"


def test_a_packet_sent_in_part_holds_back_the_datas_last_byte(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A socket that takes part of a packet: the data's last byte is
    reported unsent; offering it again sends the rest of the packet first,
    and only then counts it.  So the peer gets every packet whole and once,
    and a sender that gives up knows it left a packet half sent."""
    ours, peer = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    layer = XorLayer(max_out=60_000)
    stream = SaslStream(SocketStream(ours), layer)
    stream.settimeout(0.0)
    data = os.urandom(60_000)
    sent = stream.send(data)
    assert sent == len(data) - 1  # the packet did not fit
    with pytest.raises(BlockingIOError):
        stream.send(data[sent:])  # the rest of the packet cannot go yet
    received = bytearray()
    reader = threading.Thread(target=lambda: received.extend(_read_all(peer, len(layer.encode(data)))))
    reader.start()
    while True:
        try:
            assert stream.send(data[sent:]) == 1
            break
        except BlockingIOError:
            threading.Event().wait(0.001)  # while the reader drains the socket
    reader.join()
    assert decoded(bytes(received), layer) == data


def _read_all(sock: socket.socket, count: int) -> bytes:
    out = b""
    while len(out) < count:
        out += sock.recv(count - len(out))
    return out


def test_asyncio_streams_over_the_layer(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, peer = pair
    layer = XorLayer()
    data = os.urandom(5000)

    async def main() -> None:
        reader, writer = await asyncio.open_connection(sock=ours)
        reader, writer = wrap_async(writer, layer)
        writer.write(data)  # 5 packets
        await writer.drain()
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(None, _read_all, peer, len(packets_of(data, layer)))
        assert decoded(raw, layer) == data
        reply = packets_of(b"hello, world", layer)
        await loop.run_in_executor(None, lambda: [peer.send(bytes([b])) for b in reply])
        assert await reader.readexactly(12) == b"hello, world"
        peer.sendall(struct.pack(">I", 5000))  # too long: the connection ends with that error
        with pytest.raises(OSError, match="SASL data length 5000 too long, max 1000"):
            await reader.read(100)
        writer.close()
        with pytest.raises(OSError, match="too long"):  # asyncio's way: the error that ended it
            await writer.wait_closed()
        assert layer.closed

    asyncio.run(main())
