"""How the blocking client sends: one thread at a time, within a deadline.

A thread that wants to send while another one is sending leaves its frame
in the outbox: the sending thread sends it with its own, in the same system
call (fewer sends, and fewer threads fighting over the GIL around them).

The stream is non-blocking, so a peer that stops reading cannot hold a
sender past its deadline: the sender waits for room in ``poll`` and gives
up at the deadline (:class:`Stalled`).  If nothing of what it was sending
went out, the connection is as it was; otherwise the byte stream ends in
the middle of a frame and the connection cannot go on.
"""

from __future__ import annotations

import select
import ssl
import threading
import time
from typing import Any

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
        self._outbox: list[bytes | bytearray] = []
        self._sending = False  # a thread is sending the outbox
        self._room = select.poll()
        self._room.register(stream.fileno(), select.POLLOUT)

    def send(self, frame: bytes | bytearray, deadline: float | None) -> None:
        """Send ``frame``, or queue it for the thread that is sending (which
        then sends it).  Raises ``OSError`` if the stream fails and
        :class:`Stalled` if ``deadline`` (``time.monotonic()``; None: no
        limit) passes first."""
        outbox = self._outbox
        with self._lock:
            if self._sending:
                outbox.append(frame)
                return
            self._sending = True
        data = frame
        stream = self._stream
        try:
            while True:
                try:
                    sent: int = stream.send(data)
                except WOULD_BLOCK:
                    sent = 0
                if sent < len(data):  # the usual case sends all at once
                    sent = self._send_rest(data, sent, deadline)
                    if sent < len(data):
                        break
                with self._lock:
                    if not outbox:
                        self._sending = False
                        return
                    data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
                    outbox.clear()
        except BaseException:
            with self._lock:
                self._sending = False
                outbox.clear()
            raise
        with self._lock:
            self._sending = False
            # Untouched and alone: the stream is as it was.  Anything else
            # leaves half a frame behind, or others' frames unsent.
            broken = sent > 0 or data is not frame or bool(outbox)
            outbox.clear()
        raise Stalled(broken)

    def _send_rest(self, data: bytes | bytearray, sent: int, deadline: float | None) -> int:
        """Send the rest of ``data`` after its first ``sent`` bytes, waiting
        for room until ``deadline``; the count sent in all (all of it unless
        time ran out)."""
        stream = self._stream
        with memoryview(data) as view:
            while sent < len(view):
                if deadline is None:
                    self._room.poll()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._room.poll(int(left * 1000) + 1)
                try:
                    sent += stream.send(view[sent:])
                except ssl.SSLWantReadError:
                    time.sleep(0.001)  # TLS renegotiation: the reader moves it on
                except WOULD_BLOCK:
                    pass
        return sent
