"""The warning budget: the first few warnings of each interval are logged,
the rest counted and summed up in one line when the next interval begins."""

from __future__ import annotations

import logging

import pytest

from libvirt_rpc.client import throttle


def test_each_interval_logs_a_burst_and_then_sums_up(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    log = logging.getLogger("test.throttle")
    caplog.set_level(logging.WARNING, logger="test.throttle")
    budget = throttle.WarningThrottle(log)
    for i in range(100):
        budget.warning("warning %d", i)
    assert [r.getMessage() for r in caplog.records] == [f"warning {i}" for i in range(throttle.BURST)]
    caplog.clear()
    now[0] += throttle.INTERVAL
    budget.warning("next interval")
    assert [r.getMessage() for r in caplog.records] == [
        f"{100 - throttle.BURST} more warnings like these were not logged (at most 10 per 60 s)",
        "next interval",
    ]
    caplog.clear()
    budget.flush()  # nothing held back: nothing to say
    assert caplog.records == []
