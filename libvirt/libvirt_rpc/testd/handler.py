"""The daemon's handler of libvirt's remote program: the procedures of
every registered object kind (:mod:`.registry`), joined over one
:class:`~.model.Hypervisor`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import ProceduresBase
from .model import Hypervisor
from .registry import ObjectKind, registered

#: Which kinds a daemon joins: None, every registered one.
Kinds = Iterable[ObjectKind[Any]] | None


class TestDaemon(ProceduresBase):
    """The remote program over a :class:`Hypervisor`, like libvirtd's test
    driver behind its remote dispatcher.

    ``TestDaemon()`` (or a subclass's) is an instance of a class made from
    this one and the procedures of ``kinds`` (by default every kind
    registered then; a given ``hypervisor`` must keep their state).
    Procedures no kind implements answer as libvirtd does for an API the
    test driver lacks (:mod:`.api`)."""

    __test__ = False  # not a pytest test class, whatever its name

    #: the kinds this daemon's class joins
    kinds: tuple[ObjectKind[Any], ...] = ()
    _joined = False

    def __new__(cls, hypervisor: Hypervisor | None = None, kinds: Kinds = None) -> TestDaemon:
        return super().__new__(_joined(cls, registered() if kinds is None else tuple(kinds)))

    def __init__(self, hypervisor: Hypervisor | None = None, kinds: Kinds = None) -> None:
        self.hv = hypervisor or Hypervisor(self.kinds)
        missing = [kind.name for kind in self.kinds if not self.hv.has(kind)]
        if missing:
            raise ValueError(f"the hypervisor was made without the object kinds {', '.join(missing)}")
        self.hv.handler = self  # the hypervisor sends its events through us


#: The classes made so far: one per daemon class and kinds.
_JOINED: dict[tuple[type[TestDaemon], tuple[ObjectKind[Any], ...]], type[TestDaemon]] = {}


def _joined(cls: type[TestDaemon], kinds: tuple[ObjectKind[Any], ...]) -> type[TestDaemon]:
    """``cls`` with the procedures of ``kinds`` (theirs after its own, so
    that a subclass's methods come first)."""
    if cls._joined:  # a joined class (or its subclass) has its kinds
        return cls
    joined = _JOINED.get((cls, kinds))
    if joined is None:
        bases = (cls, *(kind.procedures for kind in kinds))
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "kinds": kinds, "_joined": True}
        joined = _JOINED[(cls, kinds)] = type(cls.__name__, bases, namespace)
    return joined
