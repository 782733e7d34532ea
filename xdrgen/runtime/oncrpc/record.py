"""Record marking: RPC messages over a byte stream (RFC 5531 section 11).

A record is one or more fragments, each a 4-byte header (the high bit
marks the last fragment, the other 31 bits give the length) and that many
bytes.  No I/O here: :func:`finish_record` frames an outgoing message,
:class:`RecordReader` cuts incoming bytes into records.
"""

from __future__ import annotations

from .. import xdr
from ..xdr import Buffer, XdrError

MARK_SIZE = 4  # the bytes a message leaves free at its front for its mark
LAST_FRAGMENT = 0x80000000
MAX_FRAGMENT = 0x7FFFFFFF

# The largest record a reader accepts unless told otherwise: a client takes
# big replies (NFS READs, long listings), a server bounds what one call may
# make it hold.
CLIENT_MAX_RECORD = 64 * 1024 * 1024
SERVER_MAX_RECORD = 4 * 1024 * 1024

_U32 = xdr.U32


def finish_record(message: bytearray, fragment_size: int | None = None) -> bytearray:
    """Frame ``message``, whose first 4 bytes were left free for the mark.

    Without ``fragment_size`` (or when the message fits in one) the mark is
    written in place and ``message`` itself is returned; otherwise a copy
    split into fragments of at most ``fragment_size`` bytes."""
    length = len(message) - MARK_SIZE
    limit = MAX_FRAGMENT if fragment_size is None else fragment_size
    if length <= limit:
        _U32.pack_into(message, 0, LAST_FRAGMENT | length)
        return message
    check_fragment_size(limit)
    out = bytearray()
    view = memoryview(message)[MARK_SIZE:]
    for start in range(0, length, limit):
        piece = view[start : start + limit]
        last = LAST_FRAGMENT if start + limit >= length else 0
        out += _U32.pack(last | len(piece))
        out += piece
    return out


def check_fragment_size(fragment_size: int | None) -> None:
    if fragment_size is not None and not 0 < fragment_size <= MAX_FRAGMENT:
        raise ValueError(f"a fragment holds 1 to {MAX_FRAGMENT} bytes, not {fragment_size}")


class RecordReader:
    """Cuts a byte stream into records.

    Each fragment header is checked against ``max_record`` as soon as it
    arrives, before the bytes it announces; what is held grows only with
    what has arrived.  A record over the limit raises XdrError: the stream
    cannot be resynchronised, so its connection must end."""

    __slots__ = ("max_record", "_pending", "_parts", "_size")

    def __init__(self, max_record: int = CLIENT_MAX_RECORD) -> None:
        self.max_record = max_record
        self._pending = bytearray()  # bytes of the fragment being received
        self._parts: list[bytes] = []  # earlier fragments of the record
        self._size = 0  # their total length

    @property
    def buffered(self) -> int:
        """Bytes held for records not complete yet."""
        return len(self._pending) + self._size

    def feed(self, data: Buffer) -> list[bytes]:
        """Take bytes that arrived; return the records they complete."""
        if self._pending:
            self._pending += data
            data = self._pending
        records: list[bytes] = []
        size = len(data)
        offset = 0
        while size - offset >= MARK_SIZE:
            (mark,) = _U32.unpack_from(data, offset)
            length = mark & MAX_FRAGMENT
            if self._size + length > self.max_record:
                raise XdrError(
                    f"record of more than {self.max_record} bytes ({self._size} + fragment of {length})",
                    path="record",
                    offset=offset,
                )
            end = offset + MARK_SIZE + length
            if end > size:
                break
            fragment = bytes(data[offset + MARK_SIZE : end])
            offset = end
            if mark & LAST_FRAGMENT:
                if self._parts:
                    self._parts.append(fragment)
                    fragment = b"".join(self._parts)
                    self._parts = []
                    self._size = 0
                records.append(fragment)
            else:
                self._parts.append(fragment)
                self._size += length
        if data is self._pending:
            del self._pending[:offset]
        elif offset < size:
            self._pending = bytearray(data[offset:])
        return records
