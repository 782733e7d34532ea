"""Timed events of the calls of one asyncio channel (timeouts,
retransmissions) under a single event-loop timer.

A timer per call costs an event-loop handle and heap operations on the
loop's own heap, a good part of a pipelined call's CPU; here a call adds a
tuple to a heap.  Events of calls that ended stay in the heap until due,
so the heap is compacted whenever it holds more than twice the calls in
flight.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Mapping
from typing import Any

# (when, xid, kind, payload); xids are unique among the calls in flight
Alarm = tuple[float, int, int, Any]


class Alarms:
    """Calls ``ring(xid, kind, payload)`` for each event when it is due,
    for the calls still in ``live`` (a dict by xid)."""

    __slots__ = ("_loop", "_ring", "_live", "_heap", "_timer", "_timer_when")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, ring: Callable[[int, int, Any], None], live: Mapping[int, object]
    ) -> None:
        self._loop = loop
        self._ring = ring
        self._live = live
        self._heap: list[Alarm] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0

    def add(self, delay: float, xid: int, kind: int, payload: Any = None) -> None:
        when = self._loop.time() + delay
        heap = self._heap
        heapq.heappush(heap, (when, xid, kind, payload))
        if self._timer is None or when < self._timer_when:
            self._arm(when)
        live = self._live
        if len(heap) > 2 * len(live) + 64:
            self._heap = [alarm for alarm in heap if alarm[1] in live]
            heapq.heapify(self._heap)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._due)
        self._timer_when = when

    def _due(self) -> None:
        self._timer = None
        heap = self._heap
        live = self._live
        now = self._loop.time()
        while heap and heap[0][0] <= now:
            _when, xid, kind, payload = heapq.heappop(heap)
            if xid in live:
                self._ring(xid, kind, payload)
        if heap and self._timer is None:
            self._arm(heap[0][0])

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
