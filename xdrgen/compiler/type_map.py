"""The type map: names that ``.x`` files use as types without defining them.

rpcgen passes such names (``u_int``, ``uint64_t``, ``bool_t``, a type of
the program's own C headers) through to the C compiler.  xdrgen needs to
know their XDR encoding; the type map gives it, as an XDR declaration
without the name: ``u_int32 = "unsigned int"``, ``uuid_t = "opaque[16]"``,
``name_t = "string<255>"``, ``fattr = "struct fattr3"``.

The default map is ``grammars/rpc_prelude.x`` (the C library's types);
``--type NAME=XDRTYPE`` and ``[tool.xdrgen.type-map]`` add entries or
replace default ones.  An entry is used only when no ``.x`` file defines the
name; a used entry becomes a typedef of the file that uses it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from . import ir
from .errors import XdrgenError
from .parser import parse_file, parse_text
from .resources import prelude_path

COMMAND_LINE = "<type map>"
# The array shape after the type (and after an inline body's closing brace)
_SHAPE = re.compile(r"^(?P<base>(?:[^\[<{]|\{.*\})*?)\s*(?P<shape>[\[<][^}]*)?$", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_type_options(items: Iterable[str]) -> dict[str, str]:
    """``NAME=XDRTYPE`` strings from ``--type`` options."""
    out = {}
    for item in items:
        name, equals, xdr_type = item.partition("=")
        if not equals:
            raise XdrgenError(
                ir.Location(COMMAND_LINE, 0, 0),
                f'--type {item!r}: expected NAME=XDRTYPE, e.g. u_int32="unsigned int"',
            )
        out[name.strip()] = xdr_type.strip()
    return out


def entry_definition(name: str, xdr_type: str) -> ir.TypeDefinition:
    """``typedef XDRTYPE NAME;`` for one entry (``opaque[16]`` puts the name
    before the shape: ``typedef opaque NAME[16];``)."""
    where = ir.Location(COMMAND_LINE, 0, 0)
    if _NAME.fullmatch(name) is None:
        raise XdrgenError(where, f"type map: {name!r} is not an identifier")
    match = _SHAPE.match(xdr_type.strip())
    assert match is not None  # the pattern matches any text
    text = f"typedef {match['base']} {name}{match['shape'] or ''};"
    try:
        spec = parse_text(text, f"{COMMAND_LINE} {name}")
    except XdrgenError as error:
        raise XdrgenError(
            where,
            f"type map: {name} = {xdr_type!r} is not an XDR type "
            f'(such as "unsigned int", "opaque[16]", "string<>"): {error.message}',
        ) from None
    (definition,) = spec.definitions
    assert isinstance(definition, ir.TypedefDef)
    return _named_body(definition)


def _named_body(definition: ir.TypedefDef) -> ir.TypeDefinition:
    """``typedef struct { ... } NAME;`` is ``struct NAME { ... };`` in XDR:
    an entry with a plain inline body becomes that definition itself."""
    decl = definition.declaration
    body = decl.type.inline
    if decl.kind is not ir.DeclKind.PLAIN or body is None:
        return definition
    kinds: dict[type, type] = {
        ir.StructBody: ir.StructDef, ir.UnionBody: ir.UnionDef, ir.EnumBody: ir.EnumDef,
    }  # fmt: skip
    made: ir.TypeDefinition = kinds[type(body)](definition.name, body, definition.location)
    return made


def prelude(type_map: Mapping[str, str] | None = None) -> ir.Specification:
    """The default type map with the user's entries in front of it."""
    default = parse_file(prelude_path())
    own = [entry_definition(name, xdr_type) for name, xdr_type in (type_map or {}).items()]
    replaced = {definition.name for definition in own}
    kept = [d for d in default.definitions if getattr(d, "name", None) not in replaced]
    return dataclasses.replace(default, definitions=(*own, *kept))
