"""The resolve pass: from parsed specifications to a checked :class:`Protocol`.

It evaluates every constant expression (constants, enum values, bounds, case
labels, program/version/procedure numbers, ``-D`` and ``#define`` values),
binds type names (in this file, in imported files, or in the small prelude
of ``<rpc/types.h>`` types), checks what the grammar cannot (duplicates,
bounds, discriminants, types that contain themselves) and derives libvirt's
programs.  Everything it builds is local to one call.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ir
from .errors import XdrgenError
from .libvirt_programs import derive_programs
from .namespaces import flatten
from .naming import ModuleNames, module_name
from .parser import parse_file
from .recursion import check_finite
from .type_map import prelude

_COMMAND_LINE = "<command line>"

#: RFC 4506 section 4.4 defines bool as ``enum { FALSE = 0, TRUE = 1 }``;
#: rpcgen's files use the names as constants (case labels, values), which C
#: takes from <rpc/types.h>.  A file's own definition wins.
BUILTIN_CONSTANTS = {"FALSE": 0, "TRUE": 1}

_DISCRIMINANT_BUILTINS = {
    ir.Builtin.INT,
    ir.Builtin.UNSIGNED_INT,
    ir.Builtin.BOOL,
    ir.Builtin.CHAR,
    ir.Builtin.UNSIGNED_CHAR,
    ir.Builtin.SHORT,
    ir.Builtin.UNSIGNED_SHORT,
    ir.Builtin.LONG,
    ir.Builtin.UNSIGNED_LONG,
}


@dataclass(frozen=True)
class Protocol:
    """A resolved .x file and everything it can see.

    ``spec`` holds the file's definitions with every ``Value`` resolved.
    ``types`` and ``constants`` map every visible name (own, imported,
    external) to its definition or value; ``owner`` maps a type name to the
    path of the file that defines it.
    """

    spec: ir.Specification
    imports: tuple[Protocol, ...]
    constants: Mapping[str, int]
    types: Mapping[str, ir.TypeDefinition]
    owner: Mapping[str, str]
    programs: tuple[ir.ProgramDef, ...]
    externals: Mapping[str, int]
    #: rpcgen's string constants (``const HEXMODULUS = "d4a0...";``)
    strings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: the constants the file uses that no file defines: TRUE, FALSE and
    #: those of the ONC RPC headers (``AUTH_SYS``), as C has them
    fallbacks: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def name(self) -> str:
        """The Python module the file becomes."""
        return module_name(self.spec.path)

    @functools.cached_property
    def names(self) -> ModuleNames:
        """The Python names of the module (:class:`.naming.ModuleNames`)."""
        return ModuleNames(self)

    def lookup(self, name: str) -> ir.TypeDefinition:
        return self.types[name]

    def is_local(self, name: str) -> bool:
        return self.owner.get(name) == self.spec.path


class _Resolver:
    def __init__(
        self,
        spec: ir.Specification,
        imports: tuple[Protocol, ...],
        externals: Mapping[str, int],
        prelude: ir.Specification | None,
    ) -> None:
        self.spec = dataclasses.replace(
            spec, definitions=_without_repeated_typedefs(spec.definitions)
        )
        self.imports = imports
        self.externals = dict(externals)
        # the prelude's (<rpc/types.h>'s) types and constants by name
        self.prelude_types: dict[str, ir.TypeDefinition] = {}
        self.prelude_constants: dict[str, int | None] = {}
        for definition in prelude.definitions if prelude else ():
            if isinstance(definition, ir.ConstDef):
                self.prelude_constants.setdefault(definition.name, definition.value.literal)
            elif not isinstance(definition, ir.ProgramDef):
                self.prelude_types.setdefault(definition.name, definition)
        # name -> (location, Value expression | int)
        self.constant_exprs: dict[str, tuple[ir.Location, ir.Value | int]] = {}
        self.constant_values: dict[str, int] = {}
        self.types: dict[str, ir.TypeDefinition] = {}
        self.owner: dict[str, str] = {}
        self.locations: dict[str, ir.Location] = {}
        self.resolving: list[str] = []
        self.used_externals: set[str] = set()
        self.strings: dict[str, str] = {}
        self.fallbacks: set[str] = set()

    # ---- collecting names
    def _declare(self, name: str, location: ir.Location) -> None:
        previous = self.locations.get(name)
        if previous is not None:
            raise XdrgenError(location, f"duplicate definition of '{name}'", previous)
        self.locations[name] = location

    def _add_constant(
        self, name: str, location: ir.Location, expr: ir.Value | int
    ) -> None:
        self._declare(name, location)
        self.constant_exprs[name] = (location, expr)

    def _add_enum_members(self, body: ir.EnumBody) -> None:
        previous: ir.Value | int | None = None
        for member in body.members:
            if member.value is not None:
                expr: ir.Value | int = member.value
            elif previous is None:
                expr = 0
            else:
                expr = ("next", previous)  # type: ignore[assignment]
            self._add_constant(member.name, member.location, expr)
            previous = ir.Value(member.name, member.location, name=member.name)

    def collect(self) -> None:
        for imported in self.imports:
            for name, type_definition in imported.types.items():
                if name not in self.types:
                    self.types[name] = type_definition
                    self.owner[name] = imported.owner[name]
                    self.locations[name] = type_definition.location
            self.strings.update(imported.strings)
            for name, value in imported.constants.items():
                if name not in self.constant_exprs and name not in imported.externals:
                    self.constant_exprs[name] = (ir.Location(imported.path, 0, 0), value)
                    self.locations.setdefault(name, ir.Location(imported.path, 0, 0))

        procedure_numbers: dict[str, tuple[ir.Location, ir.Value]] = {}
        for definition in self.spec.definitions:
            if isinstance(definition, ir.ConstDef) and definition.value.string is not None:
                self._declare(definition.name, definition.location)
                self.strings[definition.name] = definition.value.string
            elif isinstance(definition, ir.ConstDef):
                self._add_constant(definition.name, definition.location, definition.value)
            elif isinstance(definition, ir.ProgramDef):
                self._add_constant(definition.name, definition.location, definition.number)
                for version in definition.versions:
                    self._add_constant(version.name, version.location, version.number)
                    for procedure in version.procedures:
                        # The same procedure may appear in several versions
                        # (rpcbind); rpcgen #defines it each time.
                        seen = procedure_numbers.get(procedure.name)
                        if seen is None:
                            procedure_numbers[procedure.name] = (
                                procedure.location,
                                procedure.number,
                            )
                            self._add_constant(
                                procedure.name, procedure.location, procedure.number
                            )
            else:
                if _is_tag_alias(definition):
                    continue
                self._declare(definition.name, definition.location)
                self.types[definition.name] = definition
                self.owner[definition.name] = self.spec.path
            for node in ir.iter_nodes(definition):
                if isinstance(node, ir.EnumBody):
                    self._add_enum_members(node)

        for name, value, location in self.spec.defines:
            if name not in self.locations:
                self._add_constant(name, location, value)
        for name, value in self.externals.items():
            if name not in self.locations:
                self.constant_exprs[name] = (ir.Location(_COMMAND_LINE, 0, 0), value)
        self.procedure_numbers = procedure_numbers

    # ---- names no file defines
    def check_all_defined(self) -> None:
        """Every name the file uses is defined somewhere, or one error lists
        all that are not (each at its first use), with the ways to give them."""
        missing: dict[str, Undefined] = {}
        for node in ir.iter_nodes(self.spec.definitions):
            if isinstance(node, ir.Value) and node.name is not None:
                name, kind = node.name, "constant"
            elif isinstance(node, ir.TypeSpec) and node.name is not None:
                name, kind = node.name, "type"
            else:
                continue
            if name in missing or self._is_defined(name):
                continue
            what = node.describe() if isinstance(node, ir.TypeSpec) else name
            missing[name] = Undefined(kind, what, node.location)
        if missing:
            raise UndefinedNames(sorted(missing.values(), key=lambda u: u.location))

    def _is_defined(self, name: str) -> bool:
        return (
            name in self.locations
            or name in self.constant_exprs
            or name in self.types
            or self._fallback_constant(name) is not None
            or name in self.prelude_types
        )

    # ---- constants
    def constant(self, name: str, location: ir.Location) -> int:
        if name in self.constant_values:
            return self.constant_values[name]
        if name not in self.constant_exprs:
            if name in self.types or name in self.prelude_types:
                raise XdrgenError(
                    location, f"expected a constant, but '{name}' is a type"
                )
            if name in self.strings:
                raise XdrgenError(
                    location, f"expected an integer, but '{name}' is a string constant"
                )
            fallback = self._fallback_constant(name)
            if fallback is not None:
                self.constant_values[name] = fallback
                self.fallbacks.add(name)
                return fallback
            raise XdrgenError(
                location,
                f"undefined constant '{name}' (define it in a .x file or with "
                f"-D {name}=VALUE)",
            )
        if name in self.resolving:
            cycle = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            raise XdrgenError(location, f"constant '{name}' depends on itself ({cycle})")
        if self.constant_exprs[name][0].file == _COMMAND_LINE:
            self.used_externals.add(name)
        self.resolving.append(name)
        try:
            value = self._evaluate(self.constant_exprs[name][1])
        finally:
            self.resolving.pop()
        self.constant_values[name] = value
        return value

    def _evaluate(self, expr: Any) -> int:
        if isinstance(expr, int):
            return expr
        if isinstance(expr, tuple):  # ("next", previous member)
            return self._evaluate(expr[1]) + 1
        if expr.literal is not None:
            return int(expr.literal)
        return self.constant(expr.name, expr.location)

    def value(self, node: ir.Value) -> ir.Value:
        if node.resolved is not None or node.string is not None:
            return node
        return dataclasses.replace(node, resolved=self._evaluate(node))

    def _fallback_constant(self, name: str) -> int | None:
        """TRUE/FALSE, or a constant of the ONC RPC headers (the prelude)."""
        if name in BUILTIN_CONSTANTS:
            return BUILTIN_CONSTANTS[name]
        return self.prelude_constants.get(name)

    # ---- types

    def type_definition(self, spec: ir.TypeSpec) -> ir.TypeDefinition:
        assert spec.name is not None
        definition = self.types.get(spec.name)
        if definition is None:
            definition = self.prelude_types.get(spec.name)
            if definition is None:
                if spec.name in self.constant_exprs:
                    raise XdrgenError(
                        spec.location,
                        f"expected a type, but '{spec.name}' is a constant",
                    )
                raise XdrgenError(spec.location, f"undefined type '{spec.describe()}'")
            self._adopt_prelude(definition)
        if spec.tag is not None:
            kinds = {
                "struct": ir.StructDef,
                "union": ir.UnionDef,
                "enum": ir.EnumDef,
            }
            actual = definition
            if not isinstance(actual, kinds[spec.tag]) and not isinstance(
                actual, ir.TypedefDef
            ):
                raise XdrgenError(
                    spec.location,
                    f"'{spec.name}' is {_kind_name(actual)}, not a {spec.tag}",
                    actual.location,
                )
        return definition

    def _adopt_prelude(self, definition: ir.TypeDefinition) -> None:
        """A type from <rpc/types.h> becomes part of this file, as the header
        would have been part of rpcgen's output."""
        self.types[definition.name] = definition
        self.owner[definition.name] = self.spec.path
        self.adopted.append(definition)
        for node in ir.iter_nodes(definition):
            if isinstance(node, ir.TypeSpec) and node.name is not None:
                self.type_definition(node)

    def check_declaration(self, decl: ir.Declaration, context: str) -> None:
        spec = decl.type
        if decl.kind is ir.DeclKind.VOID:
            if context not in ("arm",):
                raise XdrgenError(
                    decl.location, "'void' is only allowed as a union arm"
                )
            return
        if spec.name is not None:
            self.type_definition(spec)
        if decl.bound is not None:
            bound = decl.bound
            if bound.name is not None and bound.name in self.types:
                raise XdrgenError(
                    bound.location,
                    f"expected a constant bound for '{decl.name}', but "
                    f"'{bound.name}' is a type",
                )
            assert bound.resolved is not None
            if bound.resolved < 0:  # <0> and [0] hold nothing; rpcgen takes them
                raise XdrgenError(
                    bound.location,
                    f"the bound of '{decl.name}' must not be negative, got "
                    f"{bound.text} = {bound.resolved}",
                )
            if bound.resolved > 0xFFFFFFFF:
                raise XdrgenError(
                    bound.location,
                    f"the bound of '{decl.name}' does not fit in 32 bits",
                )
        if spec.builtin is ir.Builtin.VOID:
            raise XdrgenError(decl.location, "'void' cannot be declared with a name")

    def check_union(self, body: ir.UnionBody, name: str) -> None:
        disc = body.discriminant
        if disc.kind is not ir.DeclKind.PLAIN:
            raise XdrgenError(
                disc.location, f"the discriminant of '{name}' must be a plain scalar"
            )
        self.check_declaration(disc, "discriminant")
        enum_values = None
        target = self._underlying(disc.type)
        if target.builtin is not None:
            if target.builtin not in _DISCRIMINANT_BUILTINS:
                raise XdrgenError(
                    disc.location,
                    f"the discriminant of '{name}' must be int, unsigned int, bool "
                    f"or an enum, not {target.builtin.value}",
                )
        elif target.inline is not None or target.name is not None:
            definition = (
                target.inline if target.inline is not None else self.types[target.name]  # type: ignore[index]
            )
            if isinstance(definition, ir.EnumDef):
                definition = definition.body
            if not isinstance(definition, ir.EnumBody):
                raise XdrgenError(
                    disc.location,
                    f"the discriminant of '{name}' must be int, unsigned int, bool "
                    f"or an enum, not {disc.type.describe()}",
                )
            enum_values = {
                self.constant(m.name, m.location): m.name for m in definition.members
            }
        seen: dict[int, ir.Location] = {}
        for arm in body.arms:
            for label in arm.labels:
                assert label.resolved is not None
                if label.resolved in seen:
                    raise XdrgenError(
                        label.location,
                        f"duplicate case label {label.text} (= {label.resolved}) "
                        f"in union '{name}'",
                        seen[label.resolved],
                    )
                if enum_values is not None and label.resolved not in enum_values:
                    raise XdrgenError(
                        label.location,
                        f"case label {label.text} (= {label.resolved}) is not a "
                        f"value of enum {disc.type.describe()}",
                    )
                seen[label.resolved] = label.location
            self.check_declaration(arm.declaration, "arm")
        if body.default is not None:
            self.check_declaration(body.default, "arm")

    def _underlying(self, spec: ir.TypeSpec) -> ir.TypeSpec:
        seen: list[str] = []
        while spec.name is not None:
            if spec.name in seen:
                raise XdrgenError(
                    spec.location,
                    f"typedef '{spec.name}' refers to itself "
                    f"({' -> '.join([*seen, spec.name])})",
                )
            seen.append(spec.name)
            definition = self.type_definition(spec)
            if not isinstance(definition, ir.TypedefDef):
                return spec
            if definition.declaration.kind is not ir.DeclKind.PLAIN:
                return spec
            spec = definition.declaration.type
        return spec

    def check_definitions(self, definitions: tuple[ir.Definition, ...]) -> None:
        for definition in definitions:
            for node in ir.iter_nodes(definition):
                if isinstance(node, ir.StructBody):
                    names: dict[str, ir.Location] = {}
                    for field in node.fields:
                        self.check_declaration(field, "field")
                        assert field.name is not None
                        if field.name in names:
                            raise XdrgenError(
                                field.location,
                                f"duplicate field '{field.name}'",
                                names[field.name],
                            )
                        names[field.name] = field.location
                elif isinstance(node, ir.UnionBody):
                    self.check_union(node, getattr(definition, "name", "?"))
                elif isinstance(node, ir.EnumBody):
                    self._check_enum(node)
                elif isinstance(node, ir.TypedefDef):
                    self.check_declaration(node.declaration, "typedef")
                    self._underlying(ir.TypeSpec(node.location, name=node.name))
                elif isinstance(node, ir.ProcedureDef):
                    for spec in (*node.arguments, node.result):
                        if spec is not None and spec.name is not None:
                            self.type_definition(spec)

    def _check_enum(self, body: ir.EnumBody) -> None:
        # Two members with one value are aliases, as in C (rpcgen takes them;
        # Python's IntEnum makes the second an alias of the first).
        for member in body.members:
            value = self.constant(member.name, member.location)
            if not -(2**31) <= value < 2**31:
                raise XdrgenError(
                    member.location,
                    f"enum value {value} of '{member.name}' does not fit in a "
                    "signed 32-bit int",
                )

    def run(self) -> Protocol:
        self.adopted: list[ir.TypeDefinition] = []
        self.collect()
        self.check_all_defined()
        for name, (location, expr) in list(self.constant_exprs.items()):
            if isinstance(expr, ir.Value) or isinstance(expr, tuple):
                self.constant(name, location)

        def fill(node: Any) -> Any:
            return self.value(node) if isinstance(node, ir.Value) else node

        definitions: tuple[ir.Definition, ...] = ir.rebuild(self.spec.definitions, fill)
        self.check_definitions(definitions)
        if self.adopted:
            adopted = ir.rebuild(tuple(self.adopted), fill)
            self.check_definitions(adopted)
            definitions = (*adopted, *definitions)
            for definition in adopted:
                self.types[definition.name] = definition
        for definition in definitions:
            if isinstance(definition, (ir.EnumDef, ir.StructDef, ir.UnionDef, ir.TypedefDef)):
                if not _is_tag_alias(definition):
                    self.types[definition.name] = definition
        check_finite(
            self.types,
            [d.name for d in self.spec.definitions if self.owner.get(d.name) == self.spec.path],
        )
        self._check_programs(definitions)

        spec = dataclasses.replace(self.spec, definitions=definitions)
        programs = tuple(d for d in definitions if isinstance(d, ir.ProgramDef))
        if not programs:
            programs = derive_programs(spec, self.types, self.constant_values)
        used_externals = {name: self.externals[name] for name in self.used_externals}
        for imported in self.imports:
            used_externals.update(imported.externals)
        used_externals = dict(sorted(used_externals.items()))
        constants = dict(self.constant_values)
        for name, (location, expr) in self.constant_exprs.items():
            if name in constants or not isinstance(expr, int):
                continue
            if location.file != _COMMAND_LINE or name in used_externals:
                constants[name] = expr
        return Protocol(
            spec=spec,
            imports=self.imports,
            constants=constants,
            types=dict(self.types),
            owner=dict(self.owner),
            programs=programs,
            externals=used_externals,
            strings=dict(self.strings),
            fallbacks=tuple(sorted(self.fallbacks)),
        )

    def _check_programs(self, definitions: tuple[ir.Definition, ...]) -> None:
        for program in definitions:
            if not isinstance(program, ir.ProgramDef):
                continue
            versions: dict[int, ir.Location] = {}
            for version in program.versions:
                _claim_number(
                    versions, version.number.number, version.location,
                    f"version number {{}} in program '{program.name}'",
                )  # fmt: skip
                procedures: dict[int, ir.Location] = {}
                for procedure in version.procedures:
                    number = procedure.number.number
                    _claim_number(
                        procedures, number, procedure.location,
                        f"procedure number {{}} in version '{version.name}'",
                    )  # fmt: skip
                    first = self.procedure_numbers[procedure.name]
                    if self._evaluate(first[1]) != number:
                        raise XdrgenError(
                            procedure.location,
                            f"procedure '{procedure.name}' is defined again with a "
                            "different number",
                            first[0],
                        )


@dataclass(frozen=True)
class Undefined:
    """A name that no file defines, at its first use."""

    kind: str  # "constant" or "type"
    what: str  # as written: 'X', 'struct foo'
    location: ir.Location


SUPPLY_ADVICE = (
    "give constants with -D NAME=VALUE or [tool.xdrgen.defines], types with "
    "--type NAME=XDRTYPE or [tool.xdrgen.type-map], the names of another .x "
    "file with --import FILE.x or [tool.xdrgen] imports"
)


class UndefinedNames(XdrgenError):
    """Names that no file defines: all of them, in one error (the first is
    the error's location; ``str()`` has one line for each, then the advice)."""

    def __init__(self, names: list[Undefined]) -> None:
        self.names = names
        first = names[0]
        super().__init__(first.location, f"undefined {first.kind} '{first.what}'")

    def format(self) -> str:
        lines = [f"{u.location}: error: undefined {u.kind} '{u.what}'" for u in self.names]
        count = len(self.names)
        plural = "name is" if count == 1 else "names are"
        lines.append(f"note: {count} {plural} defined by no file: {SUPPLY_ADVICE}")
        return "\n".join(lines)


def _claim_number(
    seen: dict[int, ir.Location], number: int, location: ir.Location, what: str
) -> None:
    """Record a version or procedure number; a repeat is a located error
    (``what`` has a ``{}`` for the number)."""
    if number in seen:
        raise XdrgenError(location, "duplicate " + what.format(number), seen[number])
    seen[number] = location


_NOWHERE = ir.Location("", 0, 0)


def _shape(node: Any) -> Any:
    """``node`` with its locations and doc comments taken out, to compare."""

    def plain(item: Any) -> Any:
        if isinstance(item, ir.Location):
            return _NOWHERE
        if isinstance(item, ir.Declaration) and item.doc is not None:
            return dataclasses.replace(item, doc=None)
        return item

    return ir.rebuild(node, plain)


def _without_repeated_typedefs(
    definitions: tuple[ir.Definition, ...],
) -> tuple[ir.Definition, ...]:
    """C11 lets a typedef be repeated with the same type (NFS-Ganesha's
    nfs4.x defines ``nfs_fh4`` twice); the repeat is dropped.  A repeat with
    another type stays, for the duplicate definition error."""
    first: dict[str, ir.TypedefDef] = {}
    out = []
    for definition in definitions:
        if isinstance(definition, ir.TypedefDef):
            seen = first.setdefault(definition.name, definition)
            if seen is not definition and _shape(seen.declaration) == _shape(
                definition.declaration
            ):
                continue
        out.append(definition)
    return tuple(out)


def _is_tag_alias(definition: ir.Definition) -> bool:
    """``typedef struct foo foo;``: C's way to name a struct, a no-op in XDR."""
    if not isinstance(definition, ir.TypedefDef):
        return False
    decl = definition.declaration
    return (
        decl.kind is ir.DeclKind.PLAIN
        and decl.type.tag is not None
        and decl.type.name == definition.name
    )


def _kind_name(definition: ir.TypeDefinition) -> str:
    return {
        ir.EnumDef: "an enum",
        ir.StructDef: "a struct",
        ir.UnionDef: "a union",
        ir.TypedefDef: "a typedef",
    }[type(definition)]


def parse_defines(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` / ``NAME`` strings from -D options, as cpp takes them."""
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        out[name.strip()] = value.strip() if _ else "1"
    return out


def integer_defines(defines: Mapping[str, str]) -> dict[str, int]:
    """The -D symbols that have an integer value: constants for the resolver."""
    out = {}
    for name, text in defines.items():
        try:
            out[name] = int(text, 0) if not _is_octal(text) else int(text, 8)
        except ValueError:
            continue
    return out


def _is_octal(text: str) -> bool:
    body = text.lstrip("-")
    return len(body) > 1 and body[0] == "0" and body[1].isdigit()


def load(
    path: str | Path,
    *,
    include_dirs: tuple[str, ...] = (),
    defines: Mapping[str, str] | None = None,
    type_map: Mapping[str, str] | None = None,
    imports: Sequence[str | Path] = (),
    cache: dict[str, Protocol] | None = None,
) -> Protocol:
    """Parse and resolve a .x file and the .x files it imports; ``type_map``
    gives the XDR types of names no file defines (see :mod:`.type_map`);
    ``imports`` are .x files whose names the file may use as though it had
    ``%#include "name.h"`` (the names of a C header that another .x makes).
    Loads of several files with the same options may share a ``cache``
    (resolved path -> Protocol), so that a file they all import is read once."""
    defines = dict(defines or {})
    cache = {} if cache is None else cache
    types = prelude(type_map)
    extra = tuple(
        _load(Path(item), include_dirs, defines, cache, (), types) for item in imports
    )
    return _load(Path(path), include_dirs, defines, cache, (), types, extra)


def _load(
    path: Path,
    include_dirs: tuple[str, ...],
    defines: dict[str, str],
    cache: dict[str, Protocol],
    stack: tuple[str, ...],
    prelude: ir.Specification,
    extra: tuple[Protocol, ...] = (),
) -> Protocol:
    key = str(path.resolve())
    if key in cache:
        return cache[key]
    spec = flatten(parse_file(str(path), defines=defines, include_dirs=include_dirs))
    imports = []
    for item in spec.imports:
        target = str(Path(item.path).resolve())
        if target in stack or target == key:
            raise XdrgenError(item.location, f"'{item.header}' imports itself in a cycle")
        imports.append(
            _load(Path(item.path), include_dirs, defines, cache, (*stack, key), prelude)
        )
    imports.extend(item for item in extra if item not in imports)
    protocol = _Resolver(
        spec, tuple(imports), integer_defines(defines), prelude
    ).run()
    cache[key] = protocol
    return protocol
