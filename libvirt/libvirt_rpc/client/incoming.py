"""What both clients receive, as whole messages with their descriptors.

libvirt sends the descriptors of a ``*_WITH_FDS`` message after it, each in
a ``sendmsg`` of its own with a one-byte carrier.  :class:`Incoming` takes
the bytes (and, on a unix socket read with ``recvmsg``, the descriptors
that came with them) as they arrive and gives back whole messages: the
carriers never reach the framing, and a message waits for its descriptors
without anyone blocking on them (a reader's deadline still holds).  How a
connection treats descriptors is one of:

:data:`RECEIVE`
    they arrive with the carriers (:meth:`Incoming.add_fds`); each message
    takes its own, in order.
:data:`DROP`
    the reader cannot take them (asyncio's transports read with ``recv``,
    which lets the kernel close them): the carriers are skipped and the
    message comes without them.
:data:`REFUSE`
    the transport cannot carry them (TCP, TLS, ssh): a message announcing
    some is a protocol error, as libvirt's client makes it.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable

from xdrgen.runtime.virnet.framing import FrameDecoder, Message, ProtocolError, parse_frame
from xdrgen.runtime.xdr import Buffer

RECEIVE = "receive"
DROP = "drop"
REFUSE = "refuse"


class Incoming:
    """Bytes and descriptors in, whole messages (with ``fds``) out."""

    def __init__(self, descriptors: str) -> None:
        if descriptors not in (RECEIVE, DROP, REFUSE):
            raise ValueError(f"descriptors: {descriptors!r}")
        self.decoder = FrameDecoder()
        self._descriptors = descriptors
        self._fds: collections.deque[int] = collections.deque()
        self._waiting: Message | None = None  # its descriptors are still to come

    def add_fds(self, fds: Iterable[int]) -> None:
        """Descriptors that came with the bytes of the last read."""
        self._fds.extend(fds)

    def first(self, data: Buffer) -> Message | None:
        """The message ``data`` holds if it is exactly one whole message (the
        usual read of a reply: no copy into the buffer); else None, with
        ``data`` buffered for :meth:`next`."""
        if self._waiting is None:
            frame = self.decoder.take_whole(data)
            if frame is not None:
                message = parse_frame(frame)
                return self._with_fds(message) if message.nfds else message
        else:
            self.decoder.push(data)
        return None

    def next(self) -> Message | None:
        """The next whole message (descriptors taken), or None until more
        has arrived."""
        waiting = self._waiting
        if waiting is not None:
            if not self._fds_in(waiting):
                return None
            self._waiting = None
            return self._take_fds(waiting)
        frame = self.decoder.next_frame()
        if frame is None:
            return None
        message = parse_frame(frame)
        return self._with_fds(message) if message.nfds else message

    def close(self) -> None:
        """Close the descriptors no message has taken."""
        while self._fds:
            os.close(self._fds.popleft())

    def _with_fds(self, message: Message) -> Message | None:
        """``message``, just decoded, with its descriptors; None if it must
        wait for them (:meth:`next` hands it over once they are in)."""
        if self._descriptors == REFUSE:
            raise ProtocolError("Receiving file descriptors is not supported on this socket")
        self.decoder.skip(message.nfds)  # their carriers
        if self._descriptors == DROP:
            return message
        if not self._fds_in(message):
            self._waiting = message
            return None
        return self._take_fds(message)

    def _fds_in(self, message: Message) -> bool:
        """Whether ``message``'s descriptors have all arrived.  They come
        with their carriers: once the carriers are read, a descriptor still
        missing was never sent."""
        carriers_read = self.decoder.skipped()
        if len(self._fds) >= message.nfds:
            return True
        if carriers_read:
            raise ProtocolError(f"{message.nfds} file descriptors announced, {len(self._fds)} received")
        return False

    def _take_fds(self, message: Message) -> Message:
        fds = self._fds
        message.fds = [fds.popleft() for _ in range(message.nfds)]
        return message
