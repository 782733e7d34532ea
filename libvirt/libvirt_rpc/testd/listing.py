"""What the object kinds share: the ``connect_list_all_*`` filters (groups
of alternative flags, each group filtering only when one of its flags is
given, as libvirt's ``*_FILTERS_*`` macros), and names and UUIDs taken from
a definition."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

T = TypeVar("T")

#: Per group, the flag and the test an object passes for it.
Groups = tuple[tuple[tuple[int, Callable[[T], bool]], ...], ...]


def select(objects: Iterable[T], flags: int, groups: Groups[T]) -> list[T]:
    """The objects that pass every group that ``flags`` names."""
    out = []
    for obj in objects:
        for group in groups:
            tests = [test for flag, test in group if flags & flag]
            if tests and not any(test(obj) for test in tests):
                break
        else:
            out.append(obj)
    return out


class _Definition(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def uuid(self) -> bytes: ...


class Defined:
    """An object around its definition (a domain, network or pool): its
    name and UUID are the definition's."""

    definition: _Definition

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def uuid(self) -> bytes:
        return self.definition.uuid
