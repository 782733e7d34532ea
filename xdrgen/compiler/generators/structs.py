"""The structs-check file: the C layout that ``rpcgen`` + ``pdwtags`` print for
a .x file, in the format of libvirt's ``*-structs`` files.

What pdwtags shows is the DWARF of the compiled XDR routines: every struct
and enum (typedefs are filtered out by libvirt's script) in declaration
order, a type of an imported file just before the first type that uses it,
and the C enum of libvirt's headers whose constants a union uses as case
labels.  Members are laid out as rpcgen declares them: ``u_int`` for
``unsigned int``, ``int64_t`` for ``hyper``, ``char *`` for strings, a
``{ u_int x_len; T *x_val; }`` struct for variable-length arrays, a nested
``union`` named ``<name>_u`` for a union's arms.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .. import ir
from ..resolve import Protocol
from .render import render

_C_TYPES = {
    ir.Builtin.INT: "int",
    ir.Builtin.UNSIGNED_INT: "u_int",
    ir.Builtin.HYPER: "int64_t",
    ir.Builtin.UNSIGNED_HYPER: "uint64_t",
    ir.Builtin.FLOAT: "float",
    ir.Builtin.DOUBLE: "double",
    ir.Builtin.QUADRUPLE: "long double",
    ir.Builtin.BOOL: "bool_t",
    ir.Builtin.CHAR: "char",
    ir.Builtin.UNSIGNED_CHAR: "u_char",
    ir.Builtin.SHORT: "short",
    ir.Builtin.UNSIGNED_SHORT: "u_short",
    ir.Builtin.LONG: "long",
    ir.Builtin.UNSIGNED_LONG: "u_long",
    ir.Builtin.OPAQUE: "char",
    ir.Builtin.STRING: "char *",
}


@dataclass(frozen=True)
class Field:
    """One member line, or (``children`` set) a nested struct/union block."""

    type: str
    name: str
    children: tuple[Field, ...] | None = None
    members: tuple[tuple[str, int], ...] = ()  # of an inline enum block


@dataclass(frozen=True)
class Item:
    kind: str  # "struct" or "enum"
    name: str | None
    fields: tuple[Field, ...] = ()
    members: tuple[tuple[str, int], ...] = ()


def _c_type(spec: ir.TypeSpec) -> str:
    if spec.builtin is not None:
        return _C_TYPES[spec.builtin]
    assert spec.name is not None
    return spec.name


def _inline_block(spec: ir.TypeSpec, name: str, protocol: Protocol) -> Field:
    body = spec.inline
    if isinstance(body, ir.StructBody):
        return Field("struct", name, _struct_fields(body, protocol))
    if isinstance(body, ir.UnionBody):
        return Field("struct", name, _union_fields(body, name, protocol))
    assert isinstance(body, ir.EnumBody)
    return Field("enum", name, (), _enum_members(body, protocol))


def _enum_members(body: ir.EnumBody, protocol: Protocol) -> tuple[tuple[str, int], ...]:
    return tuple((m.name, protocol.constants[m.name]) for m in body.members)


def _field(decl: ir.Declaration, protocol: Protocol) -> Field | None:
    name = decl.name or ""
    spec = decl.type
    if decl.kind is ir.DeclKind.VOID:
        return None
    if spec.inline is not None and decl.kind is ir.DeclKind.PLAIN:
        return _inline_block(spec, name, protocol)
    c_type = _c_type(spec) if spec.inline is None else "struct"
    if decl.kind is ir.DeclKind.PLAIN:
        return Field(c_type, name)
    if decl.kind is ir.DeclKind.FIXED_ARRAY:
        assert decl.bound is not None
        return Field(c_type, f"{name}[{decl.bound.number}]")
    if decl.kind is ir.DeclKind.OPTIONAL:
        return Field(f"{c_type} *", name)
    if spec.builtin is ir.Builtin.STRING:
        return Field("char *", name)
    return Field(
        "struct",
        name,
        (Field("u_int", f"{name}_len"), Field(f"{c_type} *", f"{name}_val")),
    )


def _struct_fields(body: ir.StructBody, protocol: Protocol) -> tuple[Field, ...]:
    fields = (_field(decl, protocol) for decl in body.fields)
    return tuple(f for f in fields if f is not None)


def _union_fields(
    body: ir.UnionBody, name: str, protocol: Protocol
) -> tuple[Field, ...]:
    discriminant = _field(body.discriminant, protocol)
    assert discriminant is not None
    declarations = [arm.declaration for arm in body.arms]
    if body.default is not None:
        declarations.append(body.default)
    arms = tuple(
        f for f in (_field(d, protocol) for d in declarations) if f is not None
    )
    if not arms:
        return (discriminant,)
    return (discriminant, Field("union", f"{name}_u", arms))


def _item(definition: ir.TypeDefinition, protocol: Protocol) -> Item | None:
    if isinstance(definition, ir.StructDef):
        return Item(
            "struct", definition.name, _struct_fields(definition.body, protocol)
        )
    if isinstance(definition, ir.UnionDef):
        fields = _union_fields(definition.body, definition.name, protocol)
        return Item("struct", definition.name, fields)
    if isinstance(definition, ir.EnumDef):
        members = _enum_members(definition.body, protocol)
        return Item("enum", definition.name, members=members)
    return None


def _referenced(node: object) -> Iterator[str]:
    """Names of the types a definition uses, in the order it uses them."""
    for item in ir.iter_nodes(node):
        if isinstance(item, ir.TypeSpec) and item.name is not None:
            yield item.name


def _external_case_labels(protocol: Protocol) -> tuple[tuple[str, int], ...]:
    """Constants from ``-D`` used as case labels: in libvirt they are the
    members of a C enum (``virTypedParameterType``), which pdwtags prints."""
    labels: dict[str, int] = {}
    for definition in protocol.spec.definitions:
        for node in ir.iter_nodes(definition):
            if isinstance(node, ir.UnionArm):
                for label in node.labels:
                    if label.name is not None and label.name in protocol.externals:
                        labels[label.name] = protocol.externals[label.name]
    return tuple(sorted(labels.items(), key=lambda item: (item[1], item[0])))


def structs_items(protocol: Protocol) -> list[Item]:
    items: list[Item] = []
    external = _external_case_labels(protocol)
    if external:
        items.append(Item("enum", None, members=external))
    emitted: set[str] = set()

    def emit_imported(name: str) -> None:
        if name in emitted or protocol.is_local(name) or name not in protocol.types:
            return
        emitted.add(name)
        definition = protocol.types[name]
        for used in _referenced(definition):
            emit_imported(used)
        item = _item(definition, protocol)
        if item is not None:
            items.append(item)

    for definition in protocol.spec.definitions:
        if isinstance(definition, (ir.ConstDef, ir.ProgramDef)):
            continue
        for used in _referenced(definition):
            emit_imported(used)
        item = _item(definition, protocol)
        if item is not None:
            items.append(item)
    return items


def generate_structs(protocol: Protocol) -> str:
    """The ``*-structs`` text for one resolved protocol."""
    return render("structs/file.j2", items=structs_items(protocol))
