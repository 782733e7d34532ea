"""The sans-IO wire format: building frames, splitting a byte stream into
frames whatever the chunking, and refusing bad lengths before buffering."""

from __future__ import annotations

import pytest

from libvirt_rpc.virnetprotocol import VirNetMessageHeader, VirNetMessageStatus, VirNetMessageType
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import FrameDecoder, MessageStatus, MessageType, ProtocolError
from xdrgen.runtime.xdr import XdrError


def frame(serial: int, payload: bytes = b"", kind: MessageType = MessageType.CALL) -> bytes:
    return bytes(
        wire.encode_message(0x20008086, 1, 16, kind, serial, MessageStatus.OK, payload)
    )


def test_frame_header_matches_the_generated_header_type() -> None:
    data = frame(7, b"\0\0\0\1")
    header = VirNetMessageHeader(
        0x20008086, 1, 16, VirNetMessageType.VIR_NET_CALL, 7, VirNetMessageStatus.VIR_NET_OK
    )
    assert data[:4] == (4 + 24 + 4).to_bytes(4, "big")
    assert data[4:28] == header.encode()
    assert data[28:] == b"\0\0\0\1"


def test_take_whole_takes_only_a_lone_whole_frame() -> None:
    one, two = frame(1, b"\0\0\0\1"), frame(2)
    decoder = FrameDecoder()
    assert decoder.take_whole(memoryview(one)) == one  # exactly one frame: no buffering
    assert decoder.pending == 0
    assert decoder.take_whole(memoryview(one + two)) is None  # more: buffered
    assert decoder.take_whole(memoryview(two)) is None  # something is buffered already
    frames = []
    while (whole := decoder.next_frame()) is not None:
        frames.append(wire.parse_frame(whole).serial)
    assert frames == [1, 2, 2]


def test_encode_call_is_encode_message_for_calls() -> None:
    from libvirt_rpc.remote_protocol import RemoteConnectGetHostnameRet

    body = RemoteConnectGetHostnameRet("host")
    for args in (body, None):
        assert wire.encode_call(0x20008086, 1, 59, 9, args) == wire.encode_message(
            0x20008086, 1, 59, MessageType.CALL, 9, MessageStatus.OK, args
        )


class _Huge:
    def pack_into(self, out: bytearray) -> None:
        out += bytes(wire.MAX_MESSAGE)  # plus the 28-byte header: over the limit


def test_oversize_messages_are_refused_when_built() -> None:
    with pytest.raises(XdrError, match="exceeds the 33554436-byte limit"):
        wire.encode_call(1, 1, 1, 1, _Huge())
    with pytest.raises(XdrError, match="exceeds the 33554436-byte limit"):
        wire.encode_message(1, 1, 1, MessageType.REPLY, 1, MessageStatus.OK, _Huge())


def test_the_largest_frame_libvirt_allows_is_built_and_read() -> None:
    """libvirt's rule (virNetMessageDecodeLength): the length word counts
    itself, and what follows it may be VIR_NET_MESSAGE_MAX bytes."""
    largest = wire.encode_message(1, 1, 1, MessageType.STREAM, 1, MessageStatus.CONTINUE, bytes(wire.MAX_MESSAGE - 24))
    assert len(largest) == wire.MAX_MESSAGE + 4 == wire.MAX_FRAME
    (message,) = FrameDecoder().feed(largest)
    assert len(message.payload) == wire.MAX_MESSAGE - 24
    with pytest.raises(XdrError):
        wire.encode_message(1, 1, 1, MessageType.STREAM, 1, MessageStatus.CONTINUE, bytes(wire.MAX_MESSAGE - 23))


@pytest.mark.parametrize("length", range(wire.MAX_MESSAGE + 1, wire.MAX_MESSAGE + 5))
def test_lengths_libvirt_accepts_above_32_mib_are_accepted(length: int) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(length.to_bytes(4, "big")) == []
    assert decoder.wanted() == length - 4


@pytest.mark.parametrize("chunk", [1, 3, 4096, 1 << 20])
def test_any_chunking_gives_the_same_messages(chunk: int) -> None:
    large = bytes(range(256)) * 4096  # 1 MiB payload: the exact-size path
    stream = frame(1, b"abcd") + frame(2, large) + frame(3) + frame(4, b"wxyz")
    decoder = FrameDecoder()
    messages = []
    for start in range(0, len(stream), chunk):
        messages += decoder.feed(stream[start : start + chunk])
    assert [m.serial for m in messages] == [1, 2, 3, 4]
    assert bytes(messages[1].payload) == large
    assert bytes(messages[3].payload) == b"wxyz"
    assert decoder.pending == 0 and decoder.wanted() == 4


def test_a_partial_frame_takes_the_memory_of_what_has_arrived() -> None:
    """8 MiB of a frame that claims 32 MiB: the decoder holds about 8 MiB
    (libvirtd's too), not the 32 MiB claimed."""
    import tracemalloc

    piece = bytes(256 * 1024)
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        decoder.push(wire.MAX_MESSAGE.to_bytes(4, "big") + piece[4:])
        assert decoder.next_frame() is None
        for _ in range(31):
            decoder.push(piece)
            assert decoder.next_frame() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoder.pending == 8 << 20
    assert peak < 10 << 20, f"{peak / 2**20:.1f} MiB held for 8 MiB received"


def test_a_large_frame_that_completes_is_handed_over_without_a_copy() -> None:
    """The last piece of a large frame completes the buffer that becomes the
    frame (it is not copied once more), and what follows it stays queued."""
    large = frame(1, bytes(1 << 20))
    after = frame(2, b"next")
    decoder = FrameDecoder()
    decoder.push(large[:300_000])
    assert decoder.next_frame() is None
    decoder.push(large[300_000:] + after[:10])
    whole = decoder.next_frame()
    assert isinstance(whole, bytearray) and whole == large
    assert decoder.next_frame() is None
    decoder.push(after[10:])
    assert decoder.next_frame() == after


@pytest.mark.parametrize("length", [0, 27, wire.MAX_MESSAGE + 5, 0xFFFFFFFF])
def test_bad_lengths_are_refused_before_buffering(length: int) -> None:
    decoder = FrameDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed(length.to_bytes(4, "big"))


def test_unknown_type_and_status_are_refused() -> None:
    data = bytearray(frame(1))
    data[16:20] = (9).to_bytes(4, "big")  # type
    with pytest.raises(ProtocolError, match="unknown message type 9"):
        FrameDecoder().feed(bytes(data))
    data = bytearray(frame(1))
    data[24:28] = (7).to_bytes(4, "big")  # status
    with pytest.raises(ProtocolError, match="unknown message status 7"):
        FrameDecoder().feed(bytes(data))


def test_fd_count_is_read_and_bounded() -> None:
    data = bytes(
        wire.encode_message(1, 1, 1, MessageType.CALL_WITH_FDS, 1, MessageStatus.OK, b"xy\0\0", nfds=2)
    )
    (message,) = FrameDecoder().feed(data)
    assert message.nfds == 2 and bytes(message.payload) == b"xy\0\0"
    with pytest.raises(ProtocolError):
        wire.encode_message(1, 1, 1, MessageType.CALL_WITH_FDS, 1, MessageStatus.OK, None, nfds=33)


def test_client_stays_in_step_after_a_reply_with_descriptors() -> None:
    """A REPLY_WITH_FDS is followed by one carrier byte per descriptor; the
    buffered reader must take the descriptors and drop the carriers."""
    import os
    import socket
    import threading

    from libvirt_rpc.remote_protocol import RemoteConnectGetHostnameRet
    from libvirt_rpc.client import RpcClient
    from libvirt_rpc.transport import UnixStream

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    server = UnixStream(theirs)

    def serve() -> None:
        decoder = FrameDecoder()
        answered = 0
        while answered < 2:
            for call in decoder.feed(server.recv(65536)):
                body = RemoteConnectGetHostnameRet(f"host{call.serial}").encode()
                kind = MessageType.REPLY_WITH_FDS if call.serial == 1 else MessageType.REPLY
                reply = wire.encode_message(
                    call.prog, call.vers, call.proc, kind, call.serial, MessageStatus.OK,
                    body, nfds=1 if call.serial == 1 else 0,
                )
                if call.serial == 1:
                    read_end, write_end = os.pipe()
                    server.send_fds(bytes(reply), [read_end])
                    os.close(read_end)
                    os.close(write_end)
                else:
                    server.sendall(bytes(reply))
                answered += 1

    thread = threading.Thread(target=serve)
    thread.start()
    client = RpcClient(UnixStream(ours), timeout=10)
    try:
        first = client.call(0x20008086, 1, 59, None, RemoteConnectGetHostnameRet)
        second = client.call(0x20008086, 1, 59, None, RemoteConnectGetHostnameRet)
        assert (first.hostname, second.hostname) == ("host1", "host2")
    finally:
        thread.join(10)
        client.close()
        server.close()
