"""Trace lines of the messages our own client and server send and receive,
on the logger ``libvirt_rpc.trace`` -- libvirt's ``client_msg_rx``,
``client_msg_tx_queue``, ``server_client_msg_rx`` and
``server_client_msg_tx_queue`` probes, without SystemTAP::

    import logging
    logging.basicConfig(level=logging.DEBUG)   # level=5 ("TRACE"): payloads too

    DEBUG:libvirt_rpc.trace.client:  0.004 1 > remote.1.connect_open(call, ok, 1) len=40
    DEBUG:libvirt_rpc.trace.server:  0.005 3 > remote.1.connect_open(call, ok, 1) len=40

The client logs on ``libvirt_rpc.trace.client``, the server on
``libvirt_rpc.trace.server`` (both children of ``libvirt_rpc.trace``), each
with its own connection numbers; ``>`` is client to server, ``<`` back, as
in ``python -m libvirt_rpc.trace proxy``.  A message is logged when it is
queued for sending and when it has been read whole.

While the logger is off for DEBUG each message costs one dict look-up,
made where the message is sent or received, before any call::

    if wiretrace.CLIENT.levels.get(wiretrace.DEBUG) is not False:
        wiretrace.CLIENT.frame(self._trace_id, ">", frame)

(:attr:`Side.levels` is the logger's memo of ``isEnabledFor``:
:func:`xdrgen.runtime.traceline.level_memo`).  :mod:`xdrgen.trace` (and
the tables naming the procedures) is imported on the first message
logged.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import TYPE_CHECKING

from xdrgen.runtime.traceline import level_memo
from xdrgen.runtime.virnet.framing import Message, encode_message
from xdrgen.runtime.xdr import Buffer

if TYPE_CHECKING:
    from xdrgen.trace.wirelog import WireLog

LOGGER = "libvirt_rpc.trace"
DEBUG = _DEBUG = logging.DEBUG
_START = time.monotonic()  # the lines' times count from here (client and server alike)


class Side:
    """The trace of one side (client or server) of the connections;
    ``levels.get(DEBUG) is False`` while it is off."""

    __slots__ = ("logger", "levels", "_numbers", "_wire")

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)
        self.levels = level_memo(self.logger)
        self._numbers = itertools.count(1)
        self._wire: WireLog | None = None

    def number(self) -> int:
        """A number for a new connection."""
        return next(self._numbers)

    def frame(self, conn: int, direction: str, frame: Buffer) -> None:
        """A whole frame sent or received on connection ``conn``."""
        if self.logger.isEnabledFor(_DEBUG):
            self._log().frame(conn, direction, frame)

    def message(self, conn: int, direction: str, message: Message) -> None:
        """A message received and already decoded (its frame is rebuilt only
        when the line is logged)."""
        if self.logger.isEnabledFor(_DEBUG):
            frame = encode_message(
                message.prog, message.vers, message.proc, message.type, message.serial, message.status,
                message.payload, message.nfds,
            )  # fmt: skip
            self._log().frame(conn, direction, frame)

    def _log(self) -> WireLog:
        if self._wire is None:
            from xdrgen.trace.wirelog import WireLog

            self._wire = WireLog(self.logger, "libvirt_rpc", start=_START)
        return self._wire


CLIENT = Side(LOGGER + ".client")
SERVER = Side(LOGGER + ".server")
