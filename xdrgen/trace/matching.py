"""Which messages a filter shows or a rule changes.

A selector is ``[PROGRAM.]PROCEDURE[:TYPE]``: names as the trace prints
them (``remote.domain_lookup_by_name``, ``keepalive.ping``,
``domain_get_info:reply``), shell-style patterns allowed
(``domain_*``), a procedure also by number (``remote.1``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .framing import Header


class SelectorError(ValueError):
    """A selector or filter that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Selector:
    program: str = "*"
    procedure: str = "*"
    type: str = "*"

    @classmethod
    def parse(cls, text: str) -> Selector:
        body, _, type_ = text.partition(":")
        program, dot, procedure = body.rpartition(".")
        if not procedure or (dot and not program):
            raise SelectorError(f"{text!r}: expected [PROGRAM.]PROCEDURE[:TYPE]")
        return cls(program or "*", procedure, type_ or "*")

    def matches(self, program: str, procedure: str, header: Header) -> bool:
        return (
            _match(self.program, program)
            and (_match(self.procedure, procedure) or self.procedure == str(header.procedure))
            and _match(self.type, header.type)
        )


def _match(pattern: str, name: str) -> bool:
    return pattern == "*" or pattern == name or fnmatchcase(name, pattern)


class Filter:
    """What the trace shows: messages whose program, procedure and type
    each match one of the given patterns (no patterns: all).  Decisions are
    cached per (program, version, procedure, type)."""

    def __init__(
        self, programs: Iterable[str] = (), procedures: Iterable[str] = (), types: Iterable[str] = ()
    ) -> None:
        self._programs = tuple(programs)
        self._procedures = tuple(procedures)
        self._types = tuple(types)
        self.everything = not (self._programs or self._procedures or self._types)
        self._cache: dict[tuple[int, int, int, str], bool] = {}

    def shows(self, program: str, procedure: str, header: Header) -> bool:
        if self.everything:
            return True
        key = (header.program, header.version, header.procedure, header.type)
        shown = self._cache.get(key)
        if shown is None:
            shown = (
                _any(self._programs, program)
                and (_any(self._procedures, procedure) or str(header.procedure) in self._procedures)
                and _any(self._types, header.type)
            )
            if len(self._cache) < 65536:
                self._cache[key] = shown
        return shown


def _any(patterns: tuple[str, ...], name: str) -> bool:
    return not patterns or any(_match(p, name) for p in patterns)
