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
    takes its own, in order (:class:`~xdrgen.runtime.virnet.descriptors.PassedDescriptors`).
:data:`REFUSE`
    the transport cannot carry them (TCP, TLS, ssh): a message announcing
    some is a protocol error, as libvirt's client makes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdrgen.runtime.virnet.descriptors import PassedDescriptors
from xdrgen.runtime.virnet.framing import FrameDecoder, Message, ProtocolError, parse_frame
from xdrgen.runtime.xdr import Buffer

RECEIVE = "receive"
REFUSE = "refuse"


class Incoming:
    """Bytes and descriptors in, whole messages (with ``fds``) out."""

    def __init__(self, descriptors: str) -> None:
        if descriptors not in (RECEIVE, REFUSE):
            raise ValueError(f"descriptors: {descriptors!r}")
        self.decoder = FrameDecoder()
        self._passed = PassedDescriptors(self.decoder) if descriptors == RECEIVE else None
        self._waiting: Message | None = None  # its descriptors are still to come

    def add_fds(self, fds: Iterable[int]) -> None:
        """Descriptors that came with the bytes of the last read."""
        assert self._passed is not None, "descriptors on a connection that cannot carry them"
        self._passed.add(fds)

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
        if self._waiting is not None:
            return self._with_fds(self._waiting)
        frame = self.decoder.next_frame()
        if frame is None:
            return None
        message = parse_frame(frame)
        return self._with_fds(message) if message.nfds else message

    def close(self) -> None:
        """Close the descriptors no message has taken."""
        if self._passed is not None:
            self._passed.close()

    def _with_fds(self, message: Message) -> Message | None:
        """``message`` with its descriptors; None while it waits for them
        (:meth:`next` hands it over once they are in)."""
        passed = self._passed
        if passed is None:
            raise ProtocolError("Receiving file descriptors is not supported on this socket")
        if message is not self._waiting:
            passed.announce(message.nfds)
        fds = passed.take(message.nfds)
        if fds is None:
            self._waiting = message
            return None
        self._waiting = None
        message.fds = fds
        return message
