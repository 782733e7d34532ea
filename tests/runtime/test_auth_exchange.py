"""The authentication exchange with a server that breaks it: a reply that
is not the one asked for, a server that hangs up (the same words as the
RPC client's)."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest

import libvirt_rpc
from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.errors import ConnectionClosedError
from scripted_peer import Peer
from xdrgen.runtime.virnet import framing as wire
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType


def open_blocking_or_async(uri: str, client: str) -> None:
    if client == "blocking":
        libvirt_rpc.open(uri, timeout=10).close()
        return

    async def run() -> None:
        await (await libvirt_rpc.open_async(uri, timeout=10)).close()

    asyncio.run(run())


def _one_answer(path: Path, answer: str) -> threading.Thread:
    """A server at ``path`` that reads the client's first call (AUTH_LIST)
    and then answers it with a reply of another serial, or hangs up."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()

    def serve() -> None:
        with listener, listener.accept()[0] as sock:
            peer = Peer(sock)
            (call,) = peer.take(1)
            if answer == "wrong serial":
                peer.send(
                    bytes(wire.encode_message(call.prog, call.vers, call.proc, MessageType.REPLY, call.serial + 7,
                                              MessageStatus.OK, rp.RemoteAuthListRet([rp.RemoteAuthType.REMOTE_AUTH_NONE]).encode()))
                )  # fmt: skip
                sock.recv(1)  # until the client hangs up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("wrong serial", "internal error: protocol error from server: unexpected message (program 0x20008086, "
                         "procedure 66, serial 8, type 1) while authenticating"),
        ("hang up", "internal error: End of file while reading data: Input/output error"),
    ],
)  # fmt: skip
def test_a_broken_answer_while_authenticating(tmp_path: Path, client: str, answer: str, said: str) -> None:
    thread = _one_answer(tmp_path / "sock", answer)
    with pytest.raises(ConnectionClosedError) as caught:
        open_blocking_or_async(f"test+unix:///default?socket={tmp_path / 'sock'}", client)
    assert str(caught.value) == said
    thread.join(10)
