"""A SASL security layer under the RPC messages, both ways: once a SASL
negotiation has agreed on one (DIGEST-MD5 with ``auth-conf`` on plain
TCP), every byte travels inside its packets -- a 4-byte big-endian length
and what the layer made of up to ``max_out`` bytes of messages
(``virNetSocketReadSASL`` / ``virNetSocketWriteSASL``).

The clients never see it: :class:`SaslStream` wraps a blocking
:class:`~.base.Stream`, :func:`.sasl_async.wrap_async` the asyncio streams, and both
hand on the messages' bytes.  The layer itself (:class:`SecurityLayer`,
e.g. :class:`~..auth.cyrus.ClientSession`) encodes and decodes whole
packets.

How the pieces keep the clients' rules:

- reading stops at the end of a packet (plus the next length word), so
  nothing decoded waits here unseen while ``poll`` says the socket is
  quiet -- a packet's data is at most ``max_in`` (64 KiB), less than a
  client reads at once;
- :meth:`SaslStream.send` turns a part of the data into one packet; if the
  socket takes only part of the packet, the data's last byte is reported
  as not yet sent, and the caller, offering it again, gets the rest of
  the packet out first (libvirt's way) -- so a sender that gives up
  knows that the stream was left in the middle of something.
"""

from __future__ import annotations

import errno
import ssl
import struct
from typing import TYPE_CHECKING, Protocol

from .base import Stream

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["SecurityLayer", "SaslStream", "PacketReader"]

_LENGTH = struct.Struct(">I")
# what a non-blocking stream raises when it cannot take anything now
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class SecurityLayer(Protocol):
    """What carries the messages: whole packets, length words included."""

    #: the most message bytes one packet may carry
    max_out: int

    @property
    def max_in(self) -> int:
        """The longest packet (after its length word) the peer may send."""

    def encode(self, data: bytes) -> bytes: ...

    def decode(self, packet: bytes) -> bytes: ...

    def close(self) -> None: ...


class PacketReader:
    """Cuts a byte stream into the layer's packets and decodes each; what
    a caller must read next is :meth:`wanted` bytes at most."""

    def __init__(self, layer: SecurityLayer) -> None:
        self._layer = layer
        self._buffer = bytearray()
        self._need = 0  # the packet's length with its length word, 0 until known

    def wanted(self) -> int:
        """Bytes to read now: the rest of this packet and the next length
        word (never a whole packet more)."""
        if self._need:
            return self._need - len(self._buffer) + _LENGTH.size
        return _LENGTH.size - len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The data of the packets ``data`` completes; OSError for a packet
        the layer rejects or too long to accept."""
        self._buffer += data
        out: list[bytes] = []
        while True:
            if not self._need:
                if len(self._buffer) < _LENGTH.size:
                    return out
                (length,) = _LENGTH.unpack_from(self._buffer)
                if not 0 < length <= self._layer.max_in:
                    raise OSError(
                        errno.EBADMSG, f"SASL data length {length} too long, max {self._layer.max_in}"
                    )
                self._need = _LENGTH.size + length
            if len(self._buffer) < self._need:
                return out
            packet = bytes(self._buffer[: self._need])
            del self._buffer[: self._need]
            self._need = 0
            decoded = self._layer.decode(packet)
            if decoded:
                out.append(decoded)


class SaslStream(Stream):
    """A blocking :class:`~.base.Stream` whose bytes travel inside the
    packets of ``layer`` over ``inner``.  Timeouts, non-blocking mode and
    closing are ``inner``'s; it cannot pass descriptors."""

    supports_fds = False

    def __init__(self, inner: Stream, layer: SecurityLayer) -> None:
        self._inner = inner
        self._layer = layer
        self.transport = inner.transport
        self._packets = PacketReader(layer)
        self._raw = bytearray(layer.max_in + 2 * _LENGTH.size)
        self._plain = b""  # decoded, not yet read (only if a reader asks for less)
        self._out: memoryview | None = None  # the rest of a packet partly sent
        self._owed = 0  # message bytes reported unsent until _out has gone

    # -- reading --------------------------------------------------------------

    def pending(self) -> int:
        """Decoded bytes waiting here (only after a read smaller than a
        packet's data): ``poll`` does not see them."""
        return len(self._plain)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0) -> int:
        with memoryview(buffer) as view:
            target = view.cast("B")
            limit = min(nbytes, len(target)) if nbytes else len(target)
            while not self._plain:
                if not self._read_packets():
                    return 0  # end of file
            count = min(limit, len(self._plain))
            target[:count] = self._plain[:count]
            self._plain = self._plain[count:]
            return count

    def _read_packets(self) -> bool:
        """One read from ``inner`` (it may raise BlockingIOError, like a
        socket); False at end of file."""
        with memoryview(self._raw) as view:
            count = self._inner.recv_into(view[: self._packets.wanted()])
            if not count:
                return False
            self._plain = b"".join(self._packets.feed(bytes(view[:count])))
        return True

    def recv(self, bufsize: int) -> bytes:
        buffer = bytearray(bufsize)
        return bytes(buffer[: self.recv_into(buffer)])

    def recv_into_with_fds(self, buffer: WriteableBuffer) -> tuple[int, list[int]]:
        return self.recv_into(buffer), []

    # -- sending --------------------------------------------------------------

    def send(self, data: ReadableBuffer) -> int:
        if self._out is not None:
            # the caller offers the owed bytes again: finish their packet
            self._out = self._write_some(self._out)
            if self._out is not None:
                raise BlockingIOError(errno.EAGAIN, "the rest of a SASL packet is waiting to be sent")
            owed, self._owed = self._owed, 0
            return owed
        with memoryview(data) as view:
            chunk = bytes(view[: self._layer.max_out])
        if not chunk:
            return 0
        packet = memoryview(self._layer.encode(chunk))
        try:
            rest = self._write_some(packet)
        except _WOULD_BLOCK:
            rest = packet
        if rest is None:
            return len(chunk)
        # Part of the packet (or none of it) is out, but the packet is made:
        # its last message byte stays unsent until the rest has gone.
        self._out, self._owed = rest, 1
        return len(chunk) - 1

    def _write_some(self, packet: memoryview) -> memoryview | None:
        sent = self._inner.send(packet)
        return None if sent >= len(packet) else packet[sent:]

    def sendall(self, data: ReadableBuffer) -> None:
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                done += self.send(view[done:])

    # -- the rest is inner's ----------------------------------------------------

    def fileno(self) -> int:
        return self._inner.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._inner.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._inner.gettimeout()

    def close(self) -> None:
        self._inner.close()
        self._layer.close()

    @property
    def closed(self) -> bool:
        return self._inner.closed

    def error_output(self) -> str:
        return self._inner.error_output()

    def __repr__(self) -> str:
        return f"<SaslStream over {self._inner!r}>"
