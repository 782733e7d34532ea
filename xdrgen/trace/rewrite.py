"""Changing messages on their way: ``--error``, ``--drop``, ``--delay`` and
``--rewrite FILE.py``.

A changed message is encoded again with the generated codecs and framed
again, so every string length, its padding and the frame's length word
come out right (changing an error text by hand breaks the message as soon
as its length moves past the padding: libvirt-users, December 2017).  A
message that cannot be decoded passes untouched, marked in the trace.

A rewrite file defines ``rewrite(message)``; it receives each message as a
:class:`~xdrgen.trace.message.TraceMessage` (header + decoded payload) and
returns it (changed or not), a replacement, several messages (a list), or
None to drop it.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .framing import FramingSession
from .matching import Selector
from .message import Codecs, TraceMessage

RewriteFunction = Callable[[TraceMessage], Any]


class RuleError(ValueError):
    """A rule that cannot be understood (bad selector, delay, file)."""


@dataclass(slots=True)
class Rules:
    errors: list[tuple[Selector, str]] = field(default_factory=list)
    drops: list[Selector] = field(default_factory=list)
    delays: list[tuple[Selector, float]] = field(default_factory=list)
    function: RewriteFunction | None = None

    def __bool__(self) -> bool:
        return bool(self.errors or self.drops or self.delays or self.function)

    @classmethod
    def parse(
        cls,
        errors: Iterable[str] = (),
        drops: Iterable[str] = (),
        delays: Iterable[str] = (),
        rewrite_file: str | None = None,
    ) -> Rules:
        rules = cls()
        for text in errors:
            selector, message = _assignment(text, "--error PROC=TEXT")
            rules.errors.append((selector, message))
        rules.drops.extend(Selector.parse(text) for text in drops)
        for text in delays:
            selector, seconds = _assignment(text, "--delay PROC=SECONDS")
            try:
                delay = float(seconds)
            except ValueError:
                delay = -1.0
            if not 0 <= delay < 86400:
                raise RuleError(f"{text!r}: the delay must be a number of seconds")
            rules.delays.append((selector, delay))
        if rewrite_file is not None:
            rules.function = load_function(rewrite_file)
        return rules


def _assignment(text: str, usage: str) -> tuple[Selector, str]:
    name, equals, value = text.partition("=")
    if not equals:
        raise RuleError(f"{text!r}: expected {usage}")
    return Selector.parse(name), value


def load_function(path: str) -> RewriteFunction:
    """The ``rewrite`` function a Python file defines."""
    try:
        namespace = runpy.run_path(path)
    except (OSError, SyntaxError) as error:
        raise RuleError(f"cannot load {path}: {error}") from error
    function = namespace.get("rewrite")
    if not callable(function):
        raise RuleError(f"{path} defines no function rewrite(message)")
    return function  # type: ignore[no-any-return]


@dataclass(slots=True)
class Outgoing:
    """What goes out for one message that came in: frames (with the
    messages they carry, for the trace), how long to hold them, and what
    happened (for the trace's notes)."""

    frames: list[tuple[bytes, TraceMessage]]
    delay: float = 0.0
    notes: list[str] = field(default_factory=list)


class Rewriter:
    def __init__(self, rules: Rules, codecs: Codecs) -> None:
        self.rules = rules
        self.codecs = codecs

    def apply(self, session: FramingSession, message: TraceMessage) -> Outgoing:
        """Decide the fate of one whole message (``message.frame`` set,
        payload not decoded yet)."""
        frame = message.frame
        assert frame is not None
        unchanged = Outgoing([(frame, message)])
        header = message.header
        if header.problem is not None:
            message.undecodable = header.problem
            return unchanged
        names = (message.program_name, message.procedure_name, header)
        if any(s.matches(*names) for s in self.rules.drops):
            return Outgoing([], notes=["dropped"])
        out = unchanged
        texts = [text for selector, text in self.rules.errors if message.is_error and selector.matches(*names)]
        if texts or self.rules.function is not None:
            out = self._rewrite(session, message, texts[-1] if texts else None)
        for selector, seconds in self.rules.delays:
            if selector.matches(*names):
                out.delay = max(out.delay, seconds)
        if out.delay:
            out.notes.append(f"delayed {out.delay:g}s")
        return out

    def _rewrite(self, session: FramingSession, message: TraceMessage, error_text: str | None) -> Outgoing:
        frame = message.frame
        assert frame is not None
        message.payload, message.undecodable = self.codecs.decode(message.header, frame)
        if message.undecodable is not None:
            return Outgoing([(frame, message)])
        original_header = replace(message.header)
        original_payload, _ = self.codecs.decode(message.header, frame)  # a copy to compare with
        if error_text is not None and hasattr(message.payload, "message"):
            message.payload.message = error_text
        results: Iterable[Any] = [message]
        if self.rules.function is not None:
            try:
                result = self.rules.function(message)
            except Exception as error:  # the user's code: report, pass the message on
                print(f"xdrgen.trace: rewrite() failed: {error!r}", file=sys.stderr)
                return Outgoing([(frame, message)], notes=[f"rewrite failed: {type(error).__name__}"])
            if result is None:
                return Outgoing([], notes=["dropped"])
            results = result if isinstance(result, (list, tuple)) else [result]
        out = Outgoing([])
        for item in results:
            if not isinstance(item, TraceMessage):
                out.notes.append(f"rewrite() returned {type(item).__name__}, passed on unchanged")
                return Outgoing([(frame, message)], notes=out.notes)
            if item.header == original_header and item.payload == original_payload:
                out.frames.append((frame, item))
                continue
            try:
                data = self.codecs.encode(session, item)
            except (ValueError, TypeError, OverflowError, AttributeError) as error:
                print(f"xdrgen.trace: cannot encode the rewritten message: {error}", file=sys.stderr)
                return Outgoing([(frame, message)], notes=[f"rewrite not encodable: {type(error).__name__}"])
            item.header.length = session.length(data)
            out.frames.append((data, item))
        if len(out.frames) != 1 or out.frames[0][0] is not frame:
            out.notes.append(f"rewritten, was len={original_header.length}")
        return out
