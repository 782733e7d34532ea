"""The intermediate representation: what a .x file says, as frozen dataclasses.

The parser builds these nodes with ``Value.resolved`` left empty; the resolver
(:mod:`xdrgen.compiler.resolve`) returns copies with every constant expression
evaluated.  Generators read only resolved nodes.  Nothing here holds state
between parses.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Location:
    """Where a node starts in a source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Value:
    """A constant expression as written: a literal or a constant's name.

    ``resolved`` is None until the resolver evaluates it.  ``string`` is set
    (and nothing else) for rpcgen's string constants, ``const K = "...";``.
    """

    text: str
    location: Location
    literal: int | None = None
    name: str | None = None
    resolved: int | None = None
    string: str | None = None

    @property
    def number(self) -> int:
        if self.resolved is None:
            raise ValueError(f"{self.location}: value {self.text!r} is not resolved")
        return self.resolved


class Builtin(str, enum.Enum):
    """The built-in XDR types, with the C spellings of rpcgen's dialect."""

    INT = "int"
    UNSIGNED_INT = "unsigned int"
    HYPER = "hyper"
    UNSIGNED_HYPER = "unsigned hyper"
    FLOAT = "float"
    DOUBLE = "double"
    QUADRUPLE = "quadruple"
    BOOL = "bool"
    CHAR = "char"
    UNSIGNED_CHAR = "unsigned char"
    SHORT = "short"
    UNSIGNED_SHORT = "unsigned short"
    LONG = "long"
    UNSIGNED_LONG = "unsigned long"
    STRING = "string"
    OPAQUE = "opaque"
    VOID = "void"


@dataclass(frozen=True)
class TypeSpec:
    """A type as used in a declaration.

    Exactly one of ``builtin``, ``name`` (a reference to a named type, ``tag``
    says whether it was written ``struct X`` etc.) or ``inline`` (an anonymous
    enum/struct/union body) is set.
    """

    location: Location
    builtin: Builtin | None = None
    name: str | None = None
    tag: str | None = None
    inline: EnumBody | StructBody | UnionBody | None = None

    def describe(self) -> str:
        if self.builtin is not None:
            return self.builtin.value
        if self.name is not None:
            return f"{self.tag} {self.name}" if self.tag else self.name
        return f"anonymous {type(self.inline).__name__.removesuffix('Body').lower()}"


class DeclKind(str, enum.Enum):
    PLAIN = "plain"  # T x
    FIXED_ARRAY = "fixed_array"  # T x[N], opaque x[N]
    VAR_ARRAY = "var_array"  # T x<N>, opaque x<N>, string x<N>
    OPTIONAL = "optional"  # T *x
    VOID = "void"  # void


@dataclass(frozen=True)
class Declaration:
    """``type name`` with its shape; ``bound`` is the array size or maximum.

    For ``VAR_ARRAY`` a missing bound means "no maximum" (``<>``).
    """

    name: str | None
    type: TypeSpec
    kind: DeclKind
    location: Location
    bound: Value | None = None
    doc: str | None = None


@dataclass(frozen=True)
class Annotation:
    """One ``@key: value`` line of a libvirt ``/** ... */`` doc comment."""

    key: str
    value: str


@dataclass(frozen=True)
class EnumMember:
    name: str
    value: Value | None  # None: one more than the previous member (C rules)
    location: Location
    doc: str | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True)
class EnumBody:
    members: tuple[EnumMember, ...]


@dataclass(frozen=True)
class StructBody:
    fields: tuple[Declaration, ...]


@dataclass(frozen=True)
class UnionArm:
    labels: tuple[Value, ...]
    declaration: Declaration
    location: Location


@dataclass(frozen=True)
class UnionBody:
    discriminant: Declaration
    arms: tuple[UnionArm, ...]
    default: Declaration | None  # None: no default arm


@dataclass(frozen=True)
class ConstDef:
    name: str
    value: Value
    location: Location
    doc: str | None = None
    namespace: tuple[str, ...] = ()  # enclosing xdrpp namespaces, outermost first


@dataclass(frozen=True)
class EnumDef:
    name: str
    body: EnumBody
    location: Location
    doc: str | None = None
    namespace: tuple[str, ...] = ()


@dataclass(frozen=True)
class StructDef:
    name: str
    body: StructBody
    location: Location
    doc: str | None = None
    namespace: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnionDef:
    name: str
    body: UnionBody
    location: Location
    doc: str | None = None
    namespace: tuple[str, ...] = ()


@dataclass(frozen=True)
class TypedefDef:
    name: str
    declaration: Declaration
    location: Location
    doc: str | None = None
    namespace: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcedureDef:
    """A procedure of a program version.

    ``arguments`` is empty and ``result`` is ``None`` for ``void``.
    Procedures that come from a libvirt ``enum x_procedure`` carry that enum
    member's annotations (``@generate``, ``@priority``, ``@acl``,
    ``@readstream`` ...); ``message`` is the payload of an event procedure
    (libvirt's ``x_foo_msg``), which the server sends as a MESSAGE, unasked.
    """

    name: str
    number: Value
    arguments: tuple[TypeSpec, ...]
    result: TypeSpec | None
    location: Location
    doc: str | None = None
    annotations: tuple[Annotation, ...] = ()
    message: TypeSpec | None = None

    def annotation(self, key: str) -> str | None:
        for item in self.annotations:
            if item.key == key:
                return item.value
        return None


@dataclass(frozen=True)
class VersionDef:
    name: str
    number: Value
    procedures: tuple[ProcedureDef, ...]
    location: Location
    doc: str | None = None


@dataclass(frozen=True)
class ProgramDef:
    """An RPC program; ``derived`` is set when it was built from libvirt's
    ``X_PROGRAM`` / ``X_PROTOCOL_VERSION`` / ``enum x_procedure`` convention."""

    name: str
    number: Value
    versions: tuple[VersionDef, ...]
    location: Location
    doc: str | None = None
    derived: bool = False
    namespace: tuple[str, ...] = ()


@dataclass(frozen=True)
class PassThrough:
    """A ``%`` line, kept verbatim (without the ``%``)."""

    text: str
    location: Location


@dataclass(frozen=True)
class Pragma:
    """A ``pragma WORD...;`` line of the Linux kernel's xdrgen (``pragma
    header nlm3;``, ``pragma public T;``, ``pragma big_endian T;``,
    ``pragma exclude T;``): hints for its C output, kept in the IR; they do
    not change the wire format or the Python code."""

    words: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Import:
    """``%#include "name.h"`` that maps to ``name.x`` on the include path."""

    header: str
    path: str
    location: Location


Definition = ConstDef | EnumDef | StructDef | UnionDef | TypedefDef | ProgramDef
TypeDefinition = EnumDef | StructDef | UnionDef | TypedefDef


@dataclass(frozen=True)
class Specification:
    """One parsed .x file (with ``#include``d files spliced in).

    ``imports`` are other .x files whose types this one uses (libvirt's
    ``%#include "remote_protocol.h"``); ``defines`` are ``#define``s seen by
    the preprocessor that have an integer value.
    """

    path: str
    definitions: tuple[Definition, ...]
    passthrough: tuple[PassThrough, ...] = ()
    imports: tuple[Import, ...] = ()
    defines: tuple[tuple[str, int, Location], ...] = ()
    doc: str | None = None
    includes: tuple[str, ...] = field(default=())  # files spliced in by #include
    pragmas: tuple[Pragma, ...] = ()


def rebuild(node: Any, visit: Callable[[Any], Any]) -> Any:
    """Rebuild a tree of IR nodes bottom-up, calling ``visit`` on each node
    after its children are rebuilt (tuples are walked through)."""
    if isinstance(node, tuple):
        return tuple(rebuild(item, visit) for item in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for item in dataclasses.fields(node):
        old = getattr(node, item.name)
        new = rebuild(old, visit)
        if new is not old:
            changes[item.name] = new
    if changes:
        node = dataclasses.replace(node, **changes)
    return visit(node)


def iter_nodes(node: Any) -> Iterator[Any]:
    """Every IR node in a tree (tuples are walked through), parents first."""
    if isinstance(node, tuple):
        for item in node:
            yield from iter_nodes(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        yield node
        for item in dataclasses.fields(node):
            yield from iter_nodes(getattr(node, item.name))
