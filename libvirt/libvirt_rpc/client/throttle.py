"""A budget for the warnings a server can cause at will.

What the client ignores (unknown or malformed events, replies nobody waits
for, stray stream data) is logged, but a server can send such messages as
fast as it likes: one line each wrote 261,000 lines in 8 s.  Per connection,
:class:`WarningThrottle` logs the first :data:`BURST` of each
:data:`INTERVAL` and counts the rest; one line sums them up when the next
interval's first warning comes, or when the connection closes.
"""

from __future__ import annotations

import logging
import time

BURST = 10  # warnings logged per interval
INTERVAL = 60.0  # seconds


class WarningThrottle:
    """Logs at most :data:`BURST` warnings per :data:`INTERVAL` to ``log``."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._ends = 0.0  # when the current interval ends
        self._logged = 0
        self._held = 0  # warnings not logged in the current interval

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now >= self._ends:
            self.flush()
            self._ends = now + INTERVAL
            self._logged = 0
        if self._logged < BURST:
            self._logged += 1
            self._log.warning(message, *args)
        else:
            self._held += 1

    def flush(self) -> None:
        """Log how many warnings were held back, if any."""
        if self._held:
            held, self._held = self._held, 0
            self._log.warning(
                "%d more warnings like these were not logged (at most %d per %.0f s)", held, BURST, INTERVAL
            )
