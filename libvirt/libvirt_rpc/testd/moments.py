"""What snapshots and checkpoints share: a tree of named moments of a
domain, with a current one, as libvirt's virDomainMomentObjList keeps it."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Protocol, TypeVar

from ..errors import ErrorNumber as E
from .base import driver_error

#: The error for a missing moment of each kind.
_NOT_FOUND = {"snapshot": E.VIR_ERR_NO_DOMAIN_SNAPSHOT, "checkpoint": E.VIR_ERR_NO_DOMAIN_CHECKPOINT}


class Moment(Protocol):
    name: str
    parent: str | None


M = TypeVar("M", bound=Moment)


def named(moments: Mapping[str, M], name: str, kind: str) -> M:
    """The ``kind`` ("snapshot", "checkpoint") called ``name``."""
    moment = moments.get(name)
    if moment is None:
        raise driver_error(_NOT_FOUND[kind], f"no domain {kind} with matching name '{name}'")
    return moment


def parent(moments: Mapping[str, M], moment: M, kind: str) -> M:
    if moment.parent is None:
        raise driver_error(_NOT_FOUND[kind], f"{kind} '{moment.name}' does not have a parent")
    return moments[moment.parent]


def children(moments: Mapping[str, M], name: str | None) -> list[M]:
    """The moments whose parent is ``name`` (None: the roots), by name."""
    return sorted((m for m in moments.values() if m.parent == name), key=lambda m: m.name)


def descendants(moments: Mapping[str, M], name: str | None) -> list[M]:
    """Every moment below ``name``, parents before children (libvirt's
    topological order)."""
    out = []
    for child in children(moments, name):
        out.append(child)
        out += descendants(moments, child.name)
    return out


def by_leaves(moments: Mapping[str, M], found: list[M], leaves: bool, no_leaves: bool) -> list[M]:
    """The ``LEAVES``/``NO_LEAVES`` filter: only moments without children,
    only those with, or (neither or both asked) all."""
    if leaves == no_leaves:
        return found
    return [m for m in found if leaves == (not children(moments, m.name))]


def delete(
    moments: MutableMapping[str, M], moment: M, current: str | None, with_children: bool, children_only: bool
) -> str | None:
    """Delete ``moment`` (its children move up to its parent), or with its
    descendants, or only those; the current moment afterwards."""
    if with_children or children_only:
        for descendant in descendants(moments, moment.name):
            del moments[descendant.name]
            if current == descendant.name:
                current = moment.name
    else:
        for child in children(moments, moment.name):
            child.parent = moment.parent
    if not children_only:
        del moments[moment.name]
        if current == moment.name:
            current = moment.parent
    return current
