"""How the blocking client sends: one thread at a time, within a deadline.

A thread that wants to send while another one is sending leaves its frame
in the outbox: the sending thread sends it with its own, in the same system
call (fewer sends, and fewer threads fighting over the GIL around them).

The stream is non-blocking, so a peer that stops reading cannot hold a
sender past its deadline: the sender waits for room in ``poll`` and gives
up at the deadline (:class:`Stalled`).  If nothing of what it was sending
went out, the connection is as it was; otherwise the byte stream ends in
the middle of a frame and the connection cannot go on.

A frame may take file descriptors along (libvirt's ``*_WITH_FDS``): they
follow it on the stream, each with its one-byte carrier
(``stream.send_fd``), before any other frame.  The sender owns them and
closes them once sent, or dropped.
"""

from __future__ import annotations

import os
import select
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any

from xdrgen.runtime.virnet.descriptors import close_fds

#: what a non-blocking stream raises when it cannot go on now
WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class Stalled(Exception):
    """Sending did not finish by its deadline; ``broken`` when part of it
    (or of other threads' frames) went out or was dropped."""

    def __init__(self, broken: bool) -> None:
        super().__init__("the peer stopped reading")
        self.broken = broken


class Sender:
    """Sends frames on a non-blocking stream for any number of threads."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # guards the outbox, never held while sending
        # frames to send, each followed by the descriptors it takes along
        self._outbox: list[bytes | bytearray | int] = []
        self._queued_fds = 0  # descriptors in the outbox
        self._sending = False  # a thread is sending the outbox
        self._room = select.poll()
        self._room.register(stream.fileno(), select.POLLOUT)

    def send(self, frame: bytes | bytearray, deadline: float | None, fds: Sequence[int] = ()) -> None:
        """Send ``frame`` (and then ``fds``, which the sender now owns), or
        queue them for the thread that is sending (which then sends them).
        Raises ``OSError`` if the stream fails and :class:`Stalled` if
        ``deadline`` (``time.monotonic()``; None: no limit) passes first."""
        outbox = self._outbox
        with self._lock:
            if self._sending:
                outbox.append(frame)
                if fds:
                    outbox.extend(fds)
                    self._queued_fds += len(fds)
                return
            self._sending = True
        data = frame
        carriers = list(fds) if fds else None
        stream = self._stream
        sent = 0
        try:
            while True:
                try:
                    sent = stream.send(data)
                except WOULD_BLOCK:
                    sent = 0
                if sent < len(data):  # the usual case sends all at once
                    sent = self._send_rest(data, sent, deadline)
                    if sent < len(data):
                        break
                if carriers and not self._send_carriers(carriers, deadline):
                    break
                with self._lock:
                    if not outbox:
                        self._sending = False
                        return
                    if self._queued_fds:
                        data, carriers = self._next_batch()
                    else:
                        data = outbox[0] if len(outbox) == 1 else b"".join(outbox)  # type: ignore[assignment,arg-type]
                        outbox.clear()
        except BaseException:
            with self._lock:
                self._sending = False
                self._drop_outbox()
            if carriers:
                close_fds(carriers)
            raise
        with self._lock:
            self._sending = False
            # Untouched and alone: the stream is as it was.  Anything else
            # leaves half a frame behind, or others' frames unsent.
            broken = sent > 0 or data is not frame or bool(outbox)  # (carriers follow a frame sent whole)
            self._drop_outbox()
        if carriers:
            close_fds(carriers)
        raise Stalled(broken)

    def _next_batch(self) -> tuple[bytes | bytearray, list[int] | None]:
        """The next frames to send from the outbox (``self._lock`` held): the
        frames up to the first descriptors, joined, and those descriptors."""
        outbox = self._outbox
        frames: list[bytes | bytearray] = []
        carriers: list[int] = []
        while outbox:
            item = outbox[0]
            if isinstance(item, int):
                carriers.append(item)
            elif carriers:
                break  # the next frame, after these descriptors
            else:
                frames.append(item)
            del outbox[0]
        self._queued_fds -= len(carriers)
        return (frames[0] if len(frames) == 1 else b"".join(frames)), carriers

    def _drop_outbox(self) -> None:
        """Forget what is queued (``self._lock`` held), closing its descriptors."""
        if self._queued_fds:
            close_fds([item for item in self._outbox if isinstance(item, int)])
            self._queued_fds = 0
        self._outbox.clear()

    def _send_carriers(self, fds: list[int], deadline: float | None) -> bool:
        """Send each descriptor of ``fds`` with its carrier, closing it once
        sent (what is left in ``fds`` was not sent); False if ``deadline``
        passed first."""
        stream = self._stream
        while fds:
            try:
                stream.send_fd(fds[0])
            except WOULD_BLOCK:
                if not self._wait_for_room(deadline):
                    return False
                continue
            os.close(fds.pop(0))  # sent: the peer has its own now
        return True

    def _wait_for_room(self, deadline: float | None) -> bool:
        """Wait until the stream takes more; False once ``deadline`` passed."""
        if deadline is None:
            self._room.poll()
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self._room.poll(int(left * 1000) + 1)
        return True

    def _send_rest(self, data: bytes | bytearray, sent: int, deadline: float | None) -> int:
        """Send the rest of ``data`` after its first ``sent`` bytes, waiting
        for room until ``deadline``; the count sent in all (all of it unless
        time ran out)."""
        stream = self._stream
        with memoryview(data) as view:
            while sent < len(view):
                if not self._wait_for_room(deadline):
                    break
                try:
                    sent += stream.send(view[sent:])
                except ssl.SSLWantReadError:
                    time.sleep(0.001)  # TLS renegotiation: the reader moves it on
                except WOULD_BLOCK:
                    pass
        return sent
