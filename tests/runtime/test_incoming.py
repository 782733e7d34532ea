"""The clients' receive side: whole messages with their descriptors, the
one-byte carriers kept out of the framing, for each way a connection treats
descriptors."""

from __future__ import annotations

import os

import pytest

from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType, ProtocolError
from libvirt_rpc.client.incoming import RECEIVE, REFUSE, Incoming


def reply(serial: int, nfds: int = 0) -> bytes:
    kind = MessageType.REPLY_WITH_FDS if nfds else MessageType.REPLY
    return bytes(wire.encode_message(1, 1, 1, kind, serial, MessageStatus.OK, b"", nfds))


def messages(incoming: Incoming, data: bytes) -> list[tuple[int, int]]:
    """(serial, descriptors taken) of what ``data`` completes (the
    descriptors are closed)."""
    out = []
    message = incoming.first(data)
    while message is not None or (message := incoming.next()) is not None:
        out.append((message.serial, len(message.fds)))
        for fd in message.fds:
            os.close(fd)
        message = None
    return out


def test_a_message_waits_for_its_descriptors() -> None:
    incoming = Incoming(RECEIVE)
    assert messages(incoming, reply(1, nfds=2)) == []  # read alone, before its carriers
    read_end, write_end = os.pipe()
    incoming.add_fds([read_end, write_end])
    assert messages(incoming, b"\0\0" + reply(2)) == [(1, 2), (2, 0)]


def test_carriers_without_descriptors_are_a_protocol_error() -> None:
    incoming = Incoming(RECEIVE)
    with pytest.raises(ProtocolError, match="2 file descriptors announced, 0 received"):
        messages(incoming, reply(1, nfds=2) + b"\0\0" + reply(2))


def test_refuse_makes_descriptors_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not supported on this socket"):
        messages(Incoming(REFUSE), reply(1, nfds=1))
    assert messages(Incoming(REFUSE), reply(1)) == [(1, 0)]


def test_close_closes_what_no_message_took() -> None:
    incoming = Incoming(RECEIVE)
    read_end, write_end = os.pipe()
    incoming.add_fds([read_end])
    incoming.close()
    with pytest.raises(OSError):
        os.fstat(read_end)
    os.close(write_end)
