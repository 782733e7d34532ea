"""The object kinds the daemon serves, each declared by its own module.

An :class:`ObjectKind` names a kind, its procedures (a mixin of
:class:`~.base.ProceduresBase`) and, if it keeps objects, how to make its
state in a new :class:`~.model.Hypervisor` (its table with the test
driver's default objects).  :func:`register` adds a kind;
:class:`~.model.Hypervisor` makes the state of every registered kind and
:class:`~.handler.TestDaemon` joins their procedures into one class.  The
built-in kinds are the modules of :mod:`.kinds`, each registering itself
when imported; :func:`registered` imports them all before it answers.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from .base import ProceduresBase

S = TypeVar("S")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


@dataclasses.dataclass(frozen=True, eq=False)
class ObjectKind(Generic[S]):
    """One kind of object: its procedures and, for a kind that keeps
    objects, what a new hypervisor starts with (``hv[kind]`` is then that
    hypervisor's :attr:`state`)."""

    name: str
    procedures: type[ProceduresBase]
    state: Callable[[], S] | None = None


def by_name(defaults: Callable[[], Iterable[N]]) -> Callable[[], dict[str, N]]:
    """The state of most kinds: a table of objects by name, starting with
    the test driver's ``defaults()``."""
    return lambda: {obj.name: obj for obj in defaults()}


#: The registered kinds by name, in the order they were registered.
_KINDS: dict[str, ObjectKind[Any]] = {}
_builtins = "unloaded"


def _methods(kind: ObjectKind[Any]) -> set[str]:
    return {name for name in vars(kind.procedures) if not name.startswith("__")}


def register(kind: ObjectKind[S]) -> ObjectKind[S]:
    """Add ``kind`` to the kinds every new hypervisor and daemon get.  Its
    procedures and helpers must not share a name with another kind's: all
    kinds end up in one class, where one would hide the other."""
    _load_builtins()
    if kind.name in _KINDS:
        raise ValueError(f"an object kind named {kind.name!r} is registered already")
    for other in _KINDS.values():
        shared = _methods(kind) & _methods(other)
        if shared:
            raise ValueError(
                f"object kind {kind.name!r} defines {', '.join(sorted(shared))}, as {other.name!r} does"
            )
    _KINDS[kind.name] = kind
    return kind


def unregister(kind: ObjectKind[Any]) -> None:
    """Take ``kind`` back: daemons and hypervisors made later lack it."""
    if _KINDS.get(kind.name) is not kind:
        raise ValueError(f"object kind {kind.name!r} is not registered")
    del _KINDS[kind.name]


def registered() -> tuple[ObjectKind[Any], ...]:
    """Every registered kind, the built-in ones (the modules of
    :mod:`.kinds`) included."""
    _load_builtins()
    return tuple(_KINDS.values())


def _load_builtins() -> None:
    """Import the modules of :mod:`.kinds` (which register their kinds)
    once, before the first kind from elsewhere is registered or any is
    asked for."""
    global _builtins
    if _builtins != "unloaded":  # loaded, or loading: a module registering
        return
    from . import kinds

    _builtins = "loading"
    try:
        for module in pkgutil.iter_modules(kinds.__path__):
            importlib.import_module(f"{kinds.__name__}.{module.name}")
    except BaseException:
        _builtins = "unloaded"
        raise
    _builtins = "loaded"
