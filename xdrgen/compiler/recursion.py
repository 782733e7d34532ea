"""Types that contain themselves with no way out: no finite value exists.

A struct needs a value of every field; a union needs one of its arms (a
``void`` arm needs nothing); an optional (``*``), a variable-length array
and a ``[0]`` array need nothing.  The types for which no finite value can
be built are found as a fixed point: mark what is finite until nothing
changes.  ``struct node { node next; }`` has no finite value; a union whose
other arms are ``void`` (Stellar's ``SCSpecTypeDef``) has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import ir
from .errors import XdrgenError


def check_finite(types: Mapping[str, ir.TypeDefinition], own: Iterable[str]) -> None:
    """Raise for the first of ``own`` (names of this file's types) that has
    no finite value, naming the cycle of types that makes it so."""
    finite = _finite_types(types)
    for name in own:
        if name in types and name not in finite:
            _raise_cycle(name, types, finite)


def _finite_types(types: Mapping[str, ir.TypeDefinition]) -> set[str]:
    finite: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, definition in types.items():
            if name not in finite and _finite(_body(definition), types, finite):
                finite.add(name)
                changed = True
    return finite


def _body(definition: ir.TypeDefinition) -> Any:
    if isinstance(definition, ir.TypedefDef):
        return definition.declaration
    return definition.body


def _by_value(decl: ir.Declaration) -> bool:
    """Whether a value of ``decl`` must hold a value of its type."""
    if decl.kind is ir.DeclKind.PLAIN:
        return True
    if decl.kind is ir.DeclKind.FIXED_ARRAY:
        return decl.bound is None or decl.bound.resolved != 0
    return False  # optional, variable-length array, void


def _finite(node: Any, types: Mapping[str, ir.TypeDefinition], finite: set[str]) -> bool:
    if isinstance(node, ir.StructBody):
        return all(_finite(field, types, finite) for field in node.fields)
    if isinstance(node, ir.UnionBody):
        arms = [arm.declaration for arm in node.arms]
        arms += [node.default] if node.default is not None else []
        return any(_finite(arm, types, finite) for arm in arms)
    if isinstance(node, ir.Declaration):
        if not _by_value(node):
            return True
        if node.type.inline is not None:
            return _finite(node.type.inline, types, finite)
        name = node.type.name
        return (
            name is None
            or name not in types
            or name in finite
            or isinstance(types[name], ir.EnumDef)
        )
    return True  # an enum body


def _culprit(node: Any, types: Mapping[str, ir.TypeDefinition], finite: set[str]) -> ir.Declaration:
    """A by-value declaration of ``node`` whose type has no finite value."""
    decls: list[ir.Declaration]
    if isinstance(node, ir.StructBody):
        decls = list(node.fields)
    elif isinstance(node, ir.UnionBody):
        decls = [arm.declaration for arm in node.arms]
        decls += [node.default] if node.default is not None else []
    else:
        decls = [node]
    for decl in decls:
        if _finite(decl, types, finite):
            continue
        if decl.type.inline is not None:
            return _culprit(decl.type.inline, types, finite)
        return decl
    raise AssertionError("a type with no finite value has a culprit")


def _raise_cycle(start: str, types: Mapping[str, ir.TypeDefinition], finite: set[str]) -> None:
    path = [start]
    while True:
        decl = _culprit(_body(types[path[-1]]), types, finite)
        child = decl.type.name
        assert child is not None
        if child in path:
            chain = " -> ".join([*path[path.index(child) :], child])
            raise XdrgenError(
                decl.location,
                f"'{child}' contains itself ({chain}) through '{decl.name}': "
                "use an optional ('*') or a variable-length array",
            )
        path.append(child)
