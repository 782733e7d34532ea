"""Trace lines on a logger, for a client or server that sees its own frames
(libvirt's ``client_msg_rx``/``client_msg_tx_queue`` and
``server_client_msg_*`` probes).

A client or server keeps one :class:`WireLog` and hands it each whole
frame it sends or receives; while the logger is not enabled for DEBUG that
costs one ``isEnabledFor`` check, and the generated package's tables are
not even imported.  Lines go out at DEBUG, decoded payloads at
:data:`PAYLOAD_LEVEL` (below DEBUG, named "TRACE":
``logging.basicConfig(level=5)``)::

    _wire = WireLog("libvirt_rpc.trace", "libvirt_rpc")
    ...
    _wire.frame(self.number, ">", frame)   # on every frame sent

(A library that must not import this package while tracing is off, as
libvirt_rpc's client and server, checks its logger itself and makes the
WireLog on first use: :mod:`libvirt_rpc.wiretrace`.)
"""

from __future__ import annotations

import logging
import time

from ..runtime.traceline import PAYLOAD_LEVEL
from ..runtime.xdr import Buffer
from .catalog import Catalog
from .framing import Framing, FramingSession
from .lines import LineFormatter, payload_text
from .message import Codecs
from .tracer import Tracer
from .virnet import LibvirtFraming

__all__ = ["PAYLOAD_LEVEL", "WireLog"]


class _LoggerOutput:
    """The tracer's output as log records, one per line."""

    pending = False

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def line(self, text: str) -> None:
        self._logger.debug("%s", text)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class WireLog:
    """``start``: the ``time.monotonic()`` the lines count from (default:
    now); WireLogs that share it print times that compare."""

    def __init__(
        self, logger: str | logging.Logger, package: str, framing: Framing | None = None, start: float | None = None
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._package = package
        self._framing = framing or LibvirtFraming()
        self._start = time.monotonic() if start is None else start
        self._tracer: Tracer | None = None
        self._session: FramingSession | None = None

    def frame(self, conn: int, direction: str, frame: Buffer) -> None:
        """Log one whole frame that went out (``>`` from a client, ``<``
        from a server) or came in."""
        if not self.logger.isEnabledFor(logging.DEBUG):
            return
        tracer, session = self._ready()
        now = time.monotonic() - self._start
        payloads = self.logger.isEnabledFor(PAYLOAD_LEVEL)
        for piece in session.splitter(direction, keep=True).feed(frame):
            if piece.header is None or not payloads:
                tracer.piece(conn, direction, now, piece)  # the line alone: nothing decoded
                continue
            message = tracer.codecs.message(conn, direction, now, piece.header, piece.data)
            tracer.message(message)
            shown = payload_text(message)
            if shown is not None:
                self.logger.log(PAYLOAD_LEVEL, "%s", shown)

    def _ready(self) -> tuple[Tracer, FramingSession]:
        """The tracer, made on first use (importing the package's tables)."""
        if self._tracer is None or self._session is None:
            codecs = Codecs(Catalog.from_package(self._package), self._framing)
            self._tracer = Tracer(codecs, LineFormatter(), _LoggerOutput(self.logger))
            self._session = self._framing.session(codecs.catalog.knows)
        return self._tracer, self._session
