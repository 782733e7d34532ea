"""The shape of a trace line, whoever writes it (``python -m xdrgen.trace``,
a client or server logging its own messages), after libvirt's
``rpc-monitor.stp``::

      2.632 1 > remote.1.connect_open(call, ok, 1) len=40

seconds since the trace started, the connection's number, the direction
(``>`` client to server, ``<`` back), then
program.version.procedure(type, status, serial), the message's length and
what else the protocol shows (``auth=sys(...)``).  ONC RPC's serial is
its XID, in hex.
"""

from __future__ import annotations

import logging

#: Decoded payloads are logged at this level, below DEBUG, named "TRACE"
#: (``logging.basicConfig(level=5)`` shows them), each on a line of its
#: own indented by :data:`PAYLOAD_INDENT`.
PAYLOAD_LEVEL = 5
PAYLOAD_INDENT = " " * 8
logging.addLevelName(PAYLOAD_LEVEL, "TRACE")


def middle(program: str, version: int, procedure: str, type: str, status: str) -> str:
    """``remote.1.connect_open(call, ok, ``: the part that is the same for
    every message of a procedure, type and status."""
    return f"{program}.{version}.{procedure}({type}, {status}, "


def line(time: float, conn: int, direction: str, middle: str, serial: int | str, length: int, extra: str = "") -> str:
    """A whole line; ``extra`` starts with a space when not empty."""
    return f"{time:7.3f} {conn} {direction} {middle}{serial}) len={length}{extra}"


def xid(serial: int) -> str:
    """How an ONC RPC XID is shown: ``0x5c3a1f02``."""
    return f"{serial:#010x}"


def level_memo(logger: logging.Logger) -> dict[int, bool]:
    """The logger's memo of ``isEnabledFor`` by level: CPython's logging
    keeps one (and empties it whenever a level changes), so that
    ``memo.get(logging.DEBUG) is False`` says "off" with one dict look-up
    where ``isEnabledFor`` is a Python call -- what a check on every
    message of a client or server must cost.  Anything but False: ask
    ``isEnabledFor``.  (An empty dict where logging keeps none.)"""
    memo = getattr(logger, "_cache", None)
    return memo if isinstance(memo, dict) else {}
