"""A one-line progress display for commands that run longer than a second.

Shown only on a terminal (on a pipe or in CI nothing is written): a command
that finishes within ``delay`` seconds prints nothing either.  The line is
rewritten in place (``xdrgen: 5/27 remote_protocol.x: client stubs``) and
erased when the work is done, so what the command prints itself stays clean.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.done = 0
        self.label = ""
        self.shown = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(delay, self._show) if self.enabled else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def step(self, label: str) -> None:
        """A new step starts (``label`` says what it does)."""
        with self._lock:
            self.done += 1
            self.label = label
            if self.shown:
                self._render()

    def _show(self) -> None:
        with self._lock:
            self.shown = True
            self._render()

    def _render(self) -> None:
        self.stream.write(f"\r\x1b[Kxdrgen: {self.done}/{self.total} {self.label}")
        self.stream.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            self.shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
