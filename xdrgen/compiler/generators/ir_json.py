"""The resolved IR as plain JSON data (``xdrgen parse --json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import ir
from ..resolve import Protocol


def _location(location: ir.Location) -> str:
    return str(location)


def _value(value: ir.Value | None) -> Any:
    if value is None:
        return None
    return {"expression": value.text, "value": value.resolved}


def _annotations(items: tuple[ir.Annotation, ...]) -> list[dict[str, str]]:
    return [{"key": a.key, "value": a.value} for a in items]


def _type(spec: ir.TypeSpec | None, protocol: Protocol) -> Any:
    if spec is None:
        return None
    if spec.builtin is not None:
        return {"builtin": spec.builtin.value}
    if spec.name is not None:
        owner = protocol.owner.get(spec.name, protocol.path)
        out: dict[str, Any] = {"name": spec.name}
        if owner != protocol.path:
            out["file"] = Path(owner).name
        return out
    return {"inline": _body(spec.inline, protocol)}


def _declaration(decl: ir.Declaration | None, protocol: Protocol) -> Any:
    if decl is None:
        return None
    return {
        "name": decl.name,
        "kind": decl.kind.value,
        "type": _type(decl.type, protocol),
        "bound": _value(decl.bound),
        "doc": decl.doc,
        "location": _location(decl.location),
    }


def _body(body: Any, protocol: Protocol) -> dict[str, Any]:
    if isinstance(body, ir.EnumBody):
        return {
            "members": [
                {
                    "name": m.name,
                    "value": protocol.constants[m.name],
                    "doc": m.doc,
                    "annotations": _annotations(m.annotations),
                    "location": _location(m.location),
                }
                for m in body.members
            ]
        }
    if isinstance(body, ir.StructBody):
        return {"fields": [_declaration(f, protocol) for f in body.fields]}
    assert isinstance(body, ir.UnionBody)
    return {
        "discriminant": _declaration(body.discriminant, protocol),
        "arms": [
            {
                "labels": [_value(label) for label in arm.labels],
                "declaration": _declaration(arm.declaration, protocol),
            }
            for arm in body.arms
        ],
        "default": _declaration(body.default, protocol),
    }


def _procedure(procedure: ir.ProcedureDef, protocol: Protocol) -> dict[str, Any]:
    return {
        "name": procedure.name,
        "number": procedure.number.number,
        "arguments": [_type(a, protocol) for a in procedure.arguments],
        "result": _type(procedure.result, protocol),
        "message": _type(procedure.message, protocol),
        "annotations": _annotations(procedure.annotations),
        "doc": procedure.doc,
        "location": _location(procedure.location),
    }


def _program(program: ir.ProgramDef, protocol: Protocol) -> dict[str, Any]:
    return {
        "name": program.name,
        "number": program.number.number,
        "derived": program.derived,
        "location": _location(program.location),
        "versions": [
            {
                "name": version.name,
                "number": version.number.number,
                "procedures": [_procedure(p, protocol) for p in version.procedures],
            }
            for version in program.versions
        ],
    }


def _definition(definition: ir.Definition, protocol: Protocol) -> dict[str, Any] | None:
    common = {
        "name": definition.name,
        "doc": definition.doc,
        "location": _location(definition.location),
    }
    if isinstance(definition, ir.ConstDef):
        return {"kind": "const", **common, **_value(definition.value)}
    if isinstance(definition, ir.TypedefDef):
        return {
            "kind": "typedef",
            **common,
            "declaration": _declaration(definition.declaration, protocol),
        }
    if isinstance(definition, ir.ProgramDef):
        return None  # listed under "programs"
    kind = {ir.EnumDef: "enum", ir.StructDef: "struct", ir.UnionDef: "union"}
    return {"kind": kind[type(definition)], **common, **_body(definition.body, protocol)}


def protocol_json(protocol: Protocol) -> dict[str, Any]:
    """Everything a generator knows about one file, as JSON-ready data."""
    definitions = [_definition(d, protocol) for d in protocol.spec.definitions]
    return {
        "file": protocol.path,
        "doc": protocol.spec.doc,
        "imports": [Path(p.path).name for p in protocol.imports],
        "externals": dict(protocol.externals),
        "constants": {
            name: protocol.constants[name]
            for name in sorted(protocol.constants)
            if protocol.constants[name] is not None
        },
        "definitions": [d for d in definitions if d is not None],
        "programs": [_program(p, protocol) for p in protocol.programs],
        "passthrough": [
            {"text": p.text, "location": _location(p.location)}
            for p in protocol.spec.passthrough
        ],
    }
