"""What every channel (a connection that carries calls) shares, blocking or
asyncio: the credentials, the default timeout, XIDs, and building a call
message framed for its transport."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from ..xdr import Buffer, XdrError
from . import messages
from .auth import AUTH_NONE, Auth
from .procedures import Procedure
from .record import MARK_SIZE, check_fragment_size, finish_record

DEFAULT_TIMEOUT = 30.0
MAX_DATAGRAM = 65507  # what a UDP/IPv4 datagram can carry


class Channel:
    """Base of the channels: ``auth`` goes with every call, ``timeout`` is
    the default time a call waits for its reply."""

    reserve = 0  # bytes left free at a message's front for its framing

    def __init__(self, *, auth: Auth | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.auth = auth or AUTH_NONE
        self.timeout = timeout
        self._auth_bytes = self.auth.encode()
        self._xids = itertools.count(random.getrandbits(32))

    def _frame(self, message: bytearray) -> Buffer:
        raise NotImplementedError

    def _encode(self, prog: int, vers: int, procedure: Procedure[Any], args: Sequence[Any]) -> tuple[int, Buffer]:
        """A new call's XID and its message, ready to send."""
        xid = next(self._xids) & 0xFFFFFFFF
        message = messages.start_call(xid, prog, vers, procedure.number, self._auth_bytes, self.reserve)
        procedure.pack_args(args, message)
        return xid, self._frame(message)


class RecordFraming:
    """Stream transports: each message a record (calls larger than
    ``fragment_size`` in several fragments)."""

    reserve = MARK_SIZE
    fragment_size: int | None = None

    def _set_fragment_size(self, fragment_size: int | None) -> None:
        check_fragment_size(fragment_size)
        self.fragment_size = fragment_size

    def _frame(self, message: bytearray) -> Buffer:
        return finish_record(message, self.fragment_size)


class DatagramFraming:
    """UDP: each message one datagram."""

    reserve = 0

    def _frame(self, message: bytearray) -> Buffer:
        if len(message) > MAX_DATAGRAM:
            raise XdrError(
                f"message of {len(message)} bytes exceeds the {MAX_DATAGRAM}-byte UDP limit (use TCP)",
                path="datagram",
            )
        return message
