"""Trace lines on a logger for frames a client or server sees itself: one
cheap check while the logger is off."""

from __future__ import annotations

import logging
import timeit

import pytest

from libvirt_rpc import remote_protocol as rp
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType, encode_message
from xdrgen.trace.wirelog import PAYLOAD_LEVEL, WireLog

OPEN = bytes(encode_message(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_CONNECT_OPEN, MessageType.CALL, 1,
                            MessageStatus.OK, rp.RemoteConnectOpenArgs("test:///default", 0)))  # fmt: skip


def test_off_costs_one_check_and_imports_nothing() -> None:
    logging.getLogger("test.wirelog.off").setLevel(logging.INFO)
    wire = WireLog("test.wirelog.off", "no_such_package")  # never imported while off
    wire.frame(1, ">", OPEN)
    seconds = timeit.timeit(lambda: wire.frame(1, ">", OPEN), number=20000) / 20000
    assert seconds < 5e-6


def test_lines_at_debug_payloads_below(caplog: pytest.LogCaptureFixture) -> None:
    wire = WireLog("test.wirelog.on", "libvirt_rpc")
    with caplog.at_level(logging.DEBUG, logger="test.wirelog.on"):
        wire.frame(3, ">", OPEN)
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage().endswith(" 3 > remote.1.connect_open(call, ok, 1) len=56")
    caplog.clear()
    with caplog.at_level(PAYLOAD_LEVEL, logger="test.wirelog.on"):
        wire.frame(3, ">", OPEN)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, PAYLOAD_LEVEL]
    assert caplog.records[1].getMessage().strip() == "RemoteConnectOpenArgs(name='test:///default', flags=0)"
