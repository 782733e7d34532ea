"""A scripted libvirt server for the client-reading tests: it reads the
client's calls and sends whatever frames a test writes."""

from __future__ import annotations

import logging
import socket

import pytest

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


class Flood:
    """A flood of events of a procedure nobody registered, which a server
    can send as fast as it likes, and what the client logged of it: the
    first few warnings, then one line that counts the rest."""

    COUNT = 20_000
    LOGGER = "libvirt_rpc.client"

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        caplog.set_level(logging.WARNING, logger=self.LOGGER)
        unknown = wire.encode_message(PROG, VERS, EVENT + 1, MessageType.MESSAGE, 0, MessageStatus.OK)
        self.frames = bytes(unknown) * self.COUNT

    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.caplog.records if record.name == self.LOGGER]

    def check_read(self) -> None:
        """Once the client has read the flood: a few warnings only."""
        lines = self.lines()
        assert 1 <= len(lines) <= 10, lines[:3]
        assert "ignoring unknown event" in lines[0], lines[0]

    def check_closed(self) -> None:
        """Once the client has closed: what was held back is summed up."""
        lines = self.lines()
        assert len(lines) <= 11, lines[:3]
        assert f"{self.COUNT - len(lines) + 1} more warnings like these were not logged" in lines[-1], lines[-1]
