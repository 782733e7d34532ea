"""The blocking client's sender with descriptors: each frame's descriptors
follow it on the stream (one carrier each) before any other frame, whoever
sends them; a carrier that finds no room waits for it, until the deadline;
the sender closes the descriptors it was given, sent or dropped."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator

import pytest

from libvirt_rpc.client.sending import Sender, Stalled


class Recording:
    """A stream over a real (writable) socket that records what is sent;
    ``send`` and ``send_fd`` can be made to find no room, or to wait on
    a gate, for a while."""

    def __init__(self) -> None:
        self._ours, self._theirs = socket.socketpair()
        self.sent: list[bytes | str] = []  # bytes, and "fd:<what the pipe holds>"
        self.full_for_fds = 0  # send_fd calls that find no room
        self.gate: threading.Event | None = None  # held by the next send

    def fileno(self) -> int:
        return self._ours.fileno()

    def send(self, data: bytes) -> int:
        gate, self.gate = self.gate, None
        if gate is not None:
            gate.wait(10)
        self.sent.append(bytes(data))
        return len(data)

    def send_fd(self, fd: int) -> None:
        if self.full_for_fds:
            self.full_for_fds -= 1
            raise BlockingIOError
        self.sent.append("fd:" + os.pread(fd, 10, 0).decode() if _is_file(fd) else "fd:?")

    def close(self) -> None:
        self._ours.close()
        self._theirs.close()


def _is_file(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


@pytest.fixture
def stream() -> Iterator[Recording]:
    made = Recording()
    yield made
    made.close()


def descriptor(tmp_path_factory: pytest.TempPathFactory, text: str) -> int:
    path = tmp_path_factory.mktemp("fd") / text
    path.write_text(text)
    return os.open(path, os.O_RDONLY)


def closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_carriers_follow_their_frame_and_wait_for_room(
    stream: Recording, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fds = [descriptor(tmp_path_factory, "a"), descriptor(tmp_path_factory, "b")]
    stream.full_for_fds = 3  # the socket is full for a moment
    Sender(stream).send(b"FRAME", time.monotonic() + 5, fds)
    assert stream.sent == [b"FRAME", "fd:a", "fd:b"]
    assert all(closed(fd) for fd in fds)  # the sender's to close


def test_no_room_until_the_deadline_is_a_broken_stream(
    stream: Recording, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fds = [descriptor(tmp_path_factory, "a")]
    stream.full_for_fds = 10**9
    with pytest.raises(Stalled) as stalled:
        Sender(stream).send(b"FRAME", time.monotonic() + 0.2, fds)
    assert stalled.value.broken  # the frame went, its descriptor did not
    assert stream.sent == [b"FRAME"] and closed(fds[0])


def test_frames_queued_meanwhile_keep_their_descriptors_next_to_them(
    stream: Recording, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A sends while B and C queue theirs: B's frame, its descriptors, then
    # C's frame, never C's frame between B's and its descriptors.
    sender = Sender(stream)
    stream.gate = gate = threading.Event()
    first = threading.Thread(target=sender.send, args=(b"A", None))
    first.start()
    while not sender._sending:
        time.sleep(0.001)
    fds = [descriptor(tmp_path_factory, "b1"), descriptor(tmp_path_factory, "b2")]
    sender.send(b"B", None, fds)  # queued for A's thread
    sender.send(b"C", None)
    gate.set()
    first.join(10)
    assert stream.sent == [b"A", b"B", "fd:b1", "fd:b2", b"C"]
    assert all(closed(fd) for fd in fds)
