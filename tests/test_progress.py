"""The progress line: on a terminal, for work that takes over a second."""

from __future__ import annotations

import io
import time

from xdrgen.compiler.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_work_on_a_terminal_shows_steps_then_erases_the_line() -> None:
    stream = Terminal()
    with Progress(3, stream, delay=0.05) as progress:
        progress.step("a.x: reading")
        time.sleep(0.3)  # past the delay: the current step is shown
        progress.step("a.x: types")
    text = stream.getvalue()
    assert "xdrgen: 1/3 a.x: reading" in text
    assert text.endswith("xdrgen: 2/3 a.x: types\r\x1b[K")


def test_quick_work_shows_nothing() -> None:
    stream = Terminal()
    with Progress(2, stream, delay=10.0) as progress:
        progress.step("a.x: reading")
        progress.step("a.x: types")
    assert stream.getvalue() == ""


def test_nothing_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(1, stream, delay=0.0) as progress:
        time.sleep(0.05)
        progress.step("a.x: reading")
    assert stream.getvalue() == ""
