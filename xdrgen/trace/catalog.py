"""Names and payload types of a generated package's programs, for the tracer.

The package is imported by name at run time.  Its ``*_server`` modules hold
one handler class per program version with a ``PROCEDURES`` table (number
-> procedure: ``method``, ``args``, ``result``, ``kind``, ``stream``); its
``*_client`` modules hold the stub classes, whose ``EVENTS`` table names
the events as the stubs spell them.  A program's name is its class's stem
without the version, lower-cased: ``RemoteHandler`` -> ``remote``,
``MountV3Handler`` -> ``mount``
(:func:`xdrgen.runtime.oncrpc.tracing.program_name`).  A procedure's name
is the handler's method name (``connect_open``), an event's the name in
``EVENTS`` (``domain_event_lifecycle``).

ONC RPC handlers (:class:`xdrgen.runtime.oncrpc.Handler`) list
:class:`~xdrgen.runtime.oncrpc.Procedure` objects, whose arguments are
several codecs in order: their payload is one value, a tuple of values or
None (:class:`~xdrgen.runtime.oncrpc.tracing.Arguments`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..runtime.oncrpc.procedures import Procedure
from ..runtime.oncrpc.tracing import Arguments, Result, program_name


class CatalogError(Exception):
    """The package cannot be imported or holds no program tables."""


@dataclass(frozen=True, slots=True)
class ProcedureInfo:
    number: int
    name: str
    # the codecs (``decode(bytes)``; a generated class, or an ONC RPC
    # procedure's Arguments and Result) of a call's arguments or an
    # event's message, and of a reply's result
    args: Any = None
    result: Any = None
    kind: str = "call"  # "call" or "event"
    stream: str | None = None  # "read" or "write" for stream procedures


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    number: int
    version: int
    name: str
    procedures: dict[int, ProcedureInfo] = field(default_factory=dict)


class Catalog:
    """Programs by (number, version), procedures by number; names cached
    for the trace line's hot path."""

    def __init__(self, programs: Iterable[ProgramInfo], package: ModuleType | None = None) -> None:
        self._programs = {(p.number, p.version): p for p in programs}
        # a version the package lacks still has its program's name
        self._program_names = {p.number: p.name for p in self._programs.values()}
        self._package = package
        self._names: dict[tuple[int, int, int], tuple[str, str]] = {}

    @classmethod
    def from_package(cls, name: str) -> Catalog:
        try:
            package = importlib.import_module(name)
        except ImportError as error:
            raise CatalogError(f"cannot import the generated package {name!r}: {error}") from error
        events: dict[tuple[int, int], dict[int, str]] = {}
        handlers: list[type[Any]] = []
        for module in _modules(package):
            classes: list[Any] = [v for v in vars(module).values() if isinstance(v, type)]
            for value in classes:
                if value.__module__ != module.__name__:
                    continue
                if isinstance(getattr(value, "PROCEDURES", None), dict) and hasattr(value, "PROGRAM"):
                    handlers.append(value)
                elif isinstance(getattr(value, "EVENTS", None), dict) and hasattr(value, "PROGRAM"):
                    table = {number: entry[0] for number, entry in value.EVENTS.items()}
                    events.setdefault((value.PROGRAM, value.VERSION), {}).update(table)
        if not handlers:
            raise CatalogError(f"{name!r} has no *_server module with a PROCEDURES table")
        return cls((_program(h, events.get((h.PROGRAM, h.VERSION), {})) for h in handlers), package)

    def program(self, number: int, version: int) -> ProgramInfo | None:
        return self._programs.get((number, version))

    def knows(self, number: int, version: int) -> bool:
        return (number, version) in self._programs

    @property
    def programs(self) -> list[ProgramInfo]:
        return list(self._programs.values())

    def procedure(self, number: int, version: int, procedure: int) -> ProcedureInfo | None:
        program = self._programs.get((number, version))
        return None if program is None else program.procedures.get(procedure)

    def names(self, number: int, version: int, procedure: int) -> tuple[str, str]:
        """(program name, procedure name); numbers for what is unknown
        (``0x20008086``, ``9999``)."""
        key = (number, version, procedure)
        names = self._names.get(key)
        if names is None:
            program = self._programs.get((number, version))
            if program is None:
                names = (self._program_names.get(number, f"{number:#x}"), str(procedure))
            else:
                info = program.procedures.get(procedure)
                names = (program.name, str(procedure) if info is None else info.name)
            if len(self._names) < 65536:  # a hostile peer cannot grow it forever
                self._names[key] = names
        return names

    def type_named(self, where: tuple[str, str] | None) -> Any:
        """The class ``where`` = (module, class) of the package, or None."""
        if where is None or self._package is None:
            return None
        module_name, class_name = where
        try:
            module = importlib.import_module(f"{self._package.__name__}.{module_name}")
        except ImportError:
            return None
        return getattr(module, class_name, None)


def _modules(package: ModuleType) -> Iterable[ModuleType]:
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if info.name.endswith(("_server", "_client")):
            yield importlib.import_module(f"{package.__name__}.{info.name}")


def _program(handler: type[Any], events: dict[int, str]) -> ProgramInfo:
    procedures = {}
    for number, entry in handler.PROCEDURES.items():
        kind = getattr(entry, "kind", "call")
        name = events.get(number) or entry.method.removeprefix("send_" if kind == "event" else "")
        if isinstance(entry, Procedure):  # ONC RPC
            args, result = Arguments(entry), Result(entry)
        else:
            args, result = entry.args, entry.result
        procedures[number] = ProcedureInfo(
            number=number, name=name, args=args, result=result, kind=kind, stream=getattr(entry, "stream", None)
        )
    return ProgramInfo(handler.PROGRAM, handler.VERSION, program_name(handler.__name__, handler.VERSION), procedures)
