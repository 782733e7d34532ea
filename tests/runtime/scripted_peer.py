"""A scripted libvirt server for the client-reading tests: it reads the
client's calls and sends whatever frames a test writes."""

from __future__ import annotations

import socket

from libvirt_rpc.remote_protocol import RemoteConnectGetHostnameRet
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import FrameDecoder, Message, MessageStatus, MessageType

PROG, VERS, HOSTNAME = 0x20008086, 1, 59
EVENT = 4000  # a procedure number the tests register as an event


class Blob:
    """Call arguments of any size (zeros): more than a socket buffer holds."""

    def __init__(self, size: int) -> None:
        self.size = size

    def pack_into(self, out: bytearray) -> None:
        out += bytes(self.size)


class Peer:
    """The server side: reads calls, sends whatever frames a test scripts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.received: list[Message] = []

    def take(self, count: int, timeout: float = 10) -> list[Message]:
        """The next ``count`` messages from the client (calls, PONGs)."""
        self.sock.settimeout(timeout)
        while len(self.received) < count:
            data = self.sock.recv(65536)
            assert data, "the client closed the connection"
            self.received += self.decoder.feed(data)
        taken, self.received = self.received[:count], self.received[count:]
        return taken

    @staticmethod
    def reply(call: Message, text: str | None = None) -> bytes:
        body = RemoteConnectGetHostnameRet(text or f"host{call.serial}").encode()
        return bytes(
            wire.encode_message(call.prog, call.vers, call.proc, MessageType.REPLY, call.serial, MessageStatus.OK, body)
        )

    @staticmethod
    def packet(
        call: Message,
        kind: MessageType = MessageType.STREAM,
        status: MessageStatus = MessageStatus.CONTINUE,
        body: bytes = b"",
    ) -> bytes:
        """A STREAM/STREAM_HOLE packet of the stream ``call`` opened."""
        return bytes(wire.encode_message(call.prog, call.vers, call.proc, kind, call.serial, status, body))

    @staticmethod
    def event(text: str) -> bytes:
        body = RemoteConnectGetHostnameRet(text).encode()
        return bytes(wire.encode_message(PROG, VERS, EVENT, MessageType.MESSAGE, 0, MessageStatus.OK, body))

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    @staticmethod
    def reply_with_fds(call: Message, nfds: int, text: str = "with fds") -> bytes:
        """A REPLY_WITH_FDS announcing ``nfds`` descriptors (sent apart)."""
        body = RemoteConnectGetHostnameRet(text).encode()
        return bytes(
            wire.encode_message(
                call.prog, call.vers, call.proc, MessageType.REPLY_WITH_FDS, call.serial, MessageStatus.OK, body, nfds
            )
        )
