"""Timing shared by the codec benchmarks (``codec.py``, ``stellar.py``):
``time.perf_counter`` around a loop of N calls, N calibrated so that one
loop takes about ``min_time``; every candidate measured once per round,
rounds interleaved, the best round kept."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def time_loop(fn: Callable[[], Any], number: int) -> float:
    """Seconds that ``number`` calls of ``fn`` take."""
    loop = range(number)
    start = time.perf_counter()
    for _ in loop:
        fn()
    return time.perf_counter() - start


def calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """Loop count for which one timed loop takes about ``min_time``
    (estimated from loops of a tenth of that, to keep calibration short)."""
    probe = min_time / 10
    number = 1
    while True:
        elapsed = time_loop(fn, number)
        if elapsed >= probe:
            return max(1, round(number * min_time / elapsed))
        number *= 10 if elapsed <= probe / 10 else 2


def best_interleaved(calls: Mapping[K, Callable[[], Any]], repeat: int, min_time: float) -> dict[K, float]:
    """Best-of-``repeat`` seconds per call of each of ``calls``, measured
    one after the other in every round (so that a slow moment of the
    machine hits all of them alike)."""
    numbers = {key: calibrate(fn, min_time) for key, fn in calls.items()}
    best = {key: float("inf") for key in calls}
    for _ in range(repeat):
        for key, fn in calls.items():
            best[key] = min(best[key], time_loop(fn, numbers[key]) / numbers[key])
    return best
