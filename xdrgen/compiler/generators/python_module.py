"""One Python module of typed dataclass codecs per .x file.

Constants become module constants, enums ``enum.IntEnum``, structs
``@dataclass(slots=True)`` classes, unions a base class with one dataclass
per arm, typedefs a ``TypeAlias`` with ``pack_x``/``unpack_x`` functions.
The text is rendered from ``templates/python/`` and formatted with black.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from ... import __version__
from .. import ir
from ..errors import XdrgenError
from ..resolve import Protocol
from .python_codec import (
    CodecEmitter,
    Item,
    StructRegistry,
    Writer,
    check_default_discriminant,
    disc_value,
    label_test,
    with_decoder,
)
from ..naming import class_name, field_name, local_name, module_name, snake_case
from .python_shapes import Shape, ShapeBuilder, UnionArmInfo, UnionInfo
from .formatting import format_module
from .render import render


def docstring(text: str | None, fallback: str) -> str:
    """Text safe inside a triple-quoted docstring."""
    text = (text or "").strip()
    text = f"{fallback}\n\n{text}" if text else fallback
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    return text


def comment(text: str | None) -> str | None:
    """Text for ``#:`` comment lines above a field."""
    if not text:
        return None
    return "\n#: ".join(line.rstrip() for line in text.strip().split("\n"))


@dataclass
class _Module:
    blocks: list[str] = field(default_factory=list)
    names: dict[str, ir.Location] = field(default_factory=dict)


class PythonModuleGenerator:
    def __init__(self, protocol: Protocol, package: str | None) -> None:
        self.protocol = protocol
        self.package = package
        self.shapes = ShapeBuilder(protocol)
        self.structs = StructRegistry()
        self.codec = CodecEmitter(self.shapes, self.structs)
        self.module = _Module()
        self.uses_enum = False

    # ---- names
    def _claim(self, name: str, location: ir.Location) -> str:
        previous = self.module.names.get(name)
        if previous is not None:
            raise XdrgenError(
                location,
                f"the Python name '{name}' is generated twice in one module",
                previous,
            )
        self.module.names[name] = location
        return name

    # ---- constants
    def _value_text(self, value: ir.Value) -> str:
        """A constant's value as the .x wrote it: a literal in the same base,
        or the name of a constant this module has already defined."""
        if value.name is not None and value.name in self.module.names:
            return value.name
        if value.literal is not None:
            return integer_literal(value.text)
        return str(value.number)

    def _constants(self) -> None:
        constants = []
        for definition in self.protocol.spec.definitions:
            if isinstance(definition, ir.ConstDef):
                text = self._value_text(definition.value)
                constants.append(
                    {
                        "name": self._claim(definition.name, definition.location),
                        "value": text,
                        "doc": comment(definition.doc),
                    }
                )
            elif isinstance(definition, ir.ProgramDef):
                for name, value, location in _program_constants(definition):
                    text = self._value_text(value)
                    constants.append(
                        {"name": self._claim(name, location), "value": text, "doc": None}
                    )
        for name, value, location in self.protocol.spec.defines:
            if name not in self.module.names:
                constants.append({"name": self._claim(name, location), "value": value, "doc": "#define"})
        for name, value in self.protocol.externals.items():
            if name not in self.module.names and self.protocol.owner.get(name) is None:
                constants.append(
                    {
                        "name": self._claim(name, ir.Location("<command line>", 0, 0)),
                        "value": value,
                        "doc": "Defined outside the .x file (-D).",
                    }
                )
        if constants:
            self.module.blocks.append(render("python/constants.j2", constants=constants))

    # ---- enums
    def _enum(self, name: str, body: ir.EnumBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        self.uses_enum = True
        members = []
        for member in body.members:
            members.append(
                {
                    "name": self._claim(field_name(member.name), member.location),
                    "value": self.protocol.constants[member.name],
                    "doc": comment(member.doc),
                }
            )
        fallback = f"``enum {c_name}``." if c_name else "An anonymous enum."
        self.module.blocks.append(
            render(
                "python/enum.j2",
                enum={"name": self._claim(name, location), "doc": docstring(doc, fallback), "members": members},
            )
        )

    # ---- structs
    def _struct(self, name: str, body: ir.StructBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        fields = []
        items_pack = []
        items_unpack = []
        shapes: list[Shape] = []
        for decl in body.fields:
            assert decl.name is not None
            shape = self.shapes.shape(decl, name + class_name(decl.name))
            shapes.append(shape)
            attribute = field_name(decl.name)
            fields.append({"name": attribute, "hint": shape.hint, "doc": comment(decl.doc)})
            items_pack.append(Item(f"self.{attribute}", f"{name}.{attribute}", shape))
            items_unpack.append(Item(f"obj.{attribute}", f"{name}.{attribute}", shape))
        self.shapes.set_min_size(name, sum(self.shapes.min_size(s) for s in shapes))
        fallback = f"``struct {c_name}``." if c_name else "An anonymous struct."
        data: dict[str, Any] = {
            "name": self._claim(name, location),
            "doc": docstring(doc, fallback),
            "fields": fields,
            "extra": [],
            "custom_eq": False,
        }
        recursive = [
            i
            for i, s in enumerate(shapes)
            if s.kind == "optional" and s.elem is not None and s.elem.cls == name
        ]
        if len(recursive) == 1:
            locals_ = [
                Item(local_name(d.name or ""), i.path, i.shape)
                for d, i in zip(body.fields, items_unpack)
            ]
            self._linked_list(data, items_pack, locals_, recursive[0])
        else:
            pack = Writer()
            self.codec.pack_items(pack, items_pack)
            # Decoding fills a bare instance: no __init__ call per value.
            unpack = Writer()
            unpack("obj = cls.__new__(cls)")
            self.codec.unpack_items(unpack, items_unpack)
            data["pack"] = pack.lines
            data["unpack"] = with_decoder(unpack.lines)
            data["result"] = "obj"
        self.module.blocks.append(render("python/struct.j2", struct=data))

    def _linked_list(self, data: dict[str, Any], items_pack: list[Item], items_unpack: list[Item], index: int) -> None:
        """A struct that points to the next one of its kind (``struct node {
        ...; node *next; }``) is packed and unpacked in a loop, so a long list
        does not recurse once per element."""
        name = data["name"]
        link = items_pack[index]
        attribute = link.expr.removeprefix("self.")
        head_p = [Item(i.expr.replace("self.", "node.", 1), i.path, i.shape) for i in items_pack[:index]]
        tail_p = [Item(i.expr.replace("self.", "node.", 1), i.path, i.shape) for i in items_pack[index + 1 :]]
        w = Writer()
        w(f"node: {name} = self")
        if tail_p:
            w(f"stack: list[{name}] = []")
        w("while True:")
        w.indent()
        self.codec.pack_items(w, head_p)
        if tail_p:
            w("stack.append(node)")
        w(f"following = node.{attribute}")
        w("if following is None:")
        w("    out += xdr.FALSE")
        w("    break")
        w(f"if not isinstance(following, {name}):")
        w(f'    xdr.bad_type("{link.path}", len(out), "{name}", following)')
        w("out += xdr.TRUE")
        w("node = following")
        w.dedent()
        if tail_p:
            w("for node in reversed(stack):")
            w.indent()
            self.codec.pack_items(w, tail_p)
            w.dedent()
        data["pack"] = w.lines

        heads = items_unpack[:index]
        tails = items_unpack[index + 1 :]
        u = Writer()
        u("heads: list[tuple[Any, ...]] = []")
        u("while True:")
        u.indent()
        self.codec.unpack_items(u, heads)
        u(f"heads.append(({''.join(i.expr + ', ' for i in heads)}))")
        u(f'more = xdr.unpack_flag(data, offset, "{link.path}")')
        u("offset += 4")
        u("if not more:")
        u("    break")
        u.dedent()
        u("node: Self | None = None")
        head_names = ", ".join(i.expr for i in heads)
        u(f"for ({head_names}{',' if len(heads) == 1 else ''}) in reversed(heads):" if heads else "for _ in heads:")
        u.indent()
        self.codec.unpack_items(u, tails)
        args = [i.expr for i in heads] + ["node"] + [i.expr for i in tails]
        u(f"node = cls({', '.join(args)})")
        u.dedent()
        u("assert node is not None")
        data["unpack"] = with_decoder(u.lines)
        data["result"] = "node"
        others = [i.expr.removeprefix("self.") for i in items_pack if i is not link]
        extra = Writer()
        extra("def __eq__(self, other: object) -> bool:")
        extra.indent()
        extra(f"mine: {name} | None = self")
        extra("theirs: object = other")
        extra("while mine is not None:")
        extra(f"    if not isinstance(theirs, {name}):")
        extra("        return False")
        if others:
            left = ", ".join(f"mine.{o}" for o in others)
            right = ", ".join(f"theirs.{o}" for o in others)
            extra(f"    if ({left},) != ({right},):")
            extra("        return False")
        extra(f"    mine, theirs = mine.{attribute}, theirs.{attribute}")
        extra("return theirs is None")
        extra.dedent()
        extra("")
        extra("def __repr__(self) -> str:")
        extra.indent()
        extra("parts = []")
        extra(f"node: {name} | None = self")
        extra("while node is not None:")
        fields_repr = "".join(f"{o}={{node.{o}!r}}, " for o in others)
        extra(f'    parts.append(f"{name}({fields_repr}{attribute}=")')
        extra(f"    node = node.{attribute}")
        extra('return "".join(parts) + "None" + ")" * len(parts)')
        extra.dedent()
        data["extra"] = extra.lines
        data["custom_eq"] = True

    # ---- unions
    def _label_literal(self, shape: Shape, value: int) -> str:
        """A case label as the Python value of the discriminant."""
        if shape.is_bool:
            return "True" if value else "False"
        if shape.enum is not None:
            member = self._enum_member_name(shape, value)
            return f"{shape.enum}.{member}"
        return str(value)

    def _enum_member_name(self, shape: Shape, value: int) -> str:
        for definition in [*self.protocol.types.values()]:
            if isinstance(definition, ir.EnumDef) and class_name(definition.name) == shape.enum:
                for member in definition.body.members:
                    if self.protocol.constants[member.name] == value:
                        return field_name(member.name)
        for context, body, _ in self.shapes.inline:
            if context == shape.enum and isinstance(body, ir.EnumBody):
                for member in body.members:
                    if self.protocol.constants[member.name] == value:
                        return field_name(member.name)
        raise AssertionError(f"no member {value} in {shape.enum}")

    def _union(self, name: str, body: ir.UnionBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        self._claim(name, location)
        assert body.discriminant.name is not None
        disc_field = field_name(body.discriminant.name)
        disc_shape = self.shapes.shape(body.discriminant, name + class_name(body.discriminant.name))
        disc_hint = disc_shape.hint
        disc_code = disc_shape.code
        disc_struct = self.structs.name(">" + disc_code)
        arms_data = []
        arm_infos: list[UnionArmInfo] = []
        used: set[str] = set()
        explicit_values = [label.number for arm in body.arms for label in arm.labels]
        min_arm = None
        arms: list[tuple[ir.Declaration, tuple[ir.Value, ...] | None]] = [
            (arm.declaration, arm.labels) for arm in body.arms
        ]
        if body.default is not None:
            arms.append((body.default, None))
        for decl, labels in arms:
            arm_name = self._arm_name(name, decl, labels, used)
            shape = self.shapes.shape(decl, arm_name + "Value")
            size = self.shapes.min_size(shape)
            min_arm = size if min_arm is None else min(min_arm, size)
            arm: dict[str, Any] = {
                "name": self._claim(arm_name, decl.location),
                "test": label_test("_disc", [label.number for label in labels]) if labels else None,
                "fixed_disc": None,
                "field": None,
                "hint": shape.hint,
                "field_doc": comment(decl.doc),
            }
            case_text = (
                " ".join(f"case {label.text}:" for label in labels) if labels else "default:"
            )
            arm["doc"] = docstring(None, f"Arm ``{case_text}`` of ``union {c_name or name}``.")
            pack = Writer()
            path = f"{arm_name}.{disc_field}"
            if labels is not None and len(labels) == 1:
                value = labels[0].number
                arm["fixed_disc"] = self._label_literal(disc_shape, value)
                packed = _packed_literal(disc_code, value)
                pack(f"out += {packed}")
            else:
                if labels is not None:
                    literals = [self._label_literal(disc_shape, label.number) for label in labels]
                    arm["disc_hint"] = f"Literal[{', '.join(literals)}]"
                    pack(f"if {label_test(f'self.{disc_field}', [l.number for l in labels], negate=True)}:")
                    pack(f'    xdr.bad_value("{path}", len(out), "discriminant of this arm", self.{disc_field})')
                else:
                    arm["disc_hint"] = disc_hint
                    if explicit_values:
                        pack(f"if {label_test(f'self.{disc_field}', explicit_values)}:")
                        pack(f'    xdr.bad_value("{path}", len(out), "discriminant of the default arm", self.{disc_field})')
                self.codec.pack_items(pack, [Item(f"self.{disc_field}", path, disc_shape)])
            unpack = Writer()
            args = []
            if arm["fixed_disc"] is None:
                args.append(disc_value(disc_shape, "_disc"))
            if decl.kind is not ir.DeclKind.VOID:
                assert decl.name is not None
                attribute = field_name(decl.name)
                arm["field"] = attribute
                self.codec.pack_items(pack, [Item(f"self.{attribute}", f"{arm_name}.{attribute}", shape)])
                value_name = local_name(decl.name)
                self.codec.unpack_items(unpack, [Item(value_name, f"{arm_name}.{attribute}", shape)])
                args.append(value_name)
            arm_infos.append(
                UnionArmInfo(
                    arm_name,
                    tuple(label.number for label in labels) if labels else (),
                    arm["fixed_disc"] is None,
                    arm["field"],
                    shape if decl.kind is not ir.DeclKind.VOID else None,
                )
            )
            arm["pack"] = pack.lines or ["pass"]
            arm["unpack"] = with_decoder(unpack.lines)
            arm["result"] = f"cls({', '.join(args)})"
            arms_data.append(arm)
        self.shapes.set_min_size(name, 4 + (min_arm or 0))
        self.shapes.unions[name] = UnionInfo(
            name, disc_shape, disc_field, tuple(arm_infos), body.default is not None
        )
        disc_check = Writer()
        if body.default is not None:
            check_default_discriminant(disc_check, disc_shape, name, "_disc", "offset")
        fallback = f"``union {c_name}``." if c_name else "An anonymous union."
        union = {
            "name": name,
            "doc": docstring(doc, fallback + " Decodes to one of its arm classes below."),
            "disc": "_disc",
            "disc_field": disc_field,
            "disc_hint": disc_hint,
            "disc_struct": disc_struct,
            "arms": arms_data,
            "default": arms_data[-1]["name"] if body.default is not None else None,
            "disc_check": disc_check.lines,
        }
        self.module.blocks.append(render("python/union.j2", union=union))

    def _arm_name(self, union: str, decl: ir.Declaration, labels: tuple[ir.Value, ...] | None, used: set[str]) -> str:
        if labels is None:
            stem = "Default"
        elif decl.kind is not ir.DeclKind.VOID and decl.name:
            stem = class_name(decl.name)
        elif labels[0].name is not None:
            stem = class_name(labels[0].name.lower())
        else:
            value = labels[0].number
            stem = f"Case{value}" if value >= 0 else f"CaseMinus{-value}"
        candidate = union + stem
        suffix = 2
        while candidate in used:
            candidate = f"{union}{stem}{suffix}"
            suffix += 1
        used.add(candidate)
        return candidate

    # ---- typedefs
    def _typedef(self, definition: ir.TypedefDef) -> str:
        shape = self.shapes.shape(definition.declaration, class_name(definition.name))
        pack = Writer()
        self.codec.pack_items(pack, [Item("value", class_name(definition.name), shape)])
        unpack = Writer()
        self.codec.unpack_items(unpack, [Item("value", class_name(definition.name), shape)])
        name = class_name(definition.name)
        c_name = snake_case(definition.name)
        self._claim(name, definition.location)
        self._claim(f"pack_{c_name}", definition.location)
        self._claim(f"unpack_{c_name}", definition.location)
        return render(
            "python/typedef.j2",
            typedef={
                "name": name,
                "c_name": c_name,
                "hint": shape.hint,
                "doc": docstring(definition.doc, f"``typedef {definition.name}``."),
                "pack": pack.lines or ["pass"],
                "unpack": with_decoder(unpack.lines),
            },
        )

    # ---- inline types
    def _flush_inline(self, done: int) -> int:
        """Emit classes for anonymous inline types met so far (they are named
        after the parent class and field)."""
        while done < len(self.shapes.inline):
            context, body, location = self.shapes.inline[done]
            done += 1
            if isinstance(body, ir.EnumBody):
                self._enum(context, body, None, None, location)
            elif isinstance(body, ir.StructBody):
                self._struct(context, body, None, None, location)
            else:
                self._union(context, body, None, None, location)
        return done

    # ---- module
    def generate(self) -> str:
        protocol = self.protocol
        self._constants()
        typedef_blocks = []
        done = 0
        for definition in protocol.spec.definitions:
            before = len(self.module.blocks)
            if isinstance(definition, ir.EnumDef):
                self._enum(class_name(definition.name), definition.body, definition.doc, definition.name, definition.location)
            elif isinstance(definition, ir.StructDef):
                self._struct(class_name(definition.name), definition.body, definition.doc, definition.name, definition.location)
            elif isinstance(definition, ir.UnionDef):
                self._union(class_name(definition.name), definition.body, definition.doc, definition.name, definition.location)
            elif isinstance(definition, ir.TypedefDef):
                if protocol.types.get(definition.name) is definition:
                    typedef_blocks.append(self._typedef(definition))
            if len(self.shapes.inline) > done:
                # inline classes go before the class that uses them
                blocks = self.module.blocks[before:]
                del self.module.blocks[before:]
                done = self._flush_inline(done)
                self.module.blocks.extend(blocks)
        self.module.blocks.extend(typedef_blocks)

        text = "\n\n".join(self.module.blocks)
        typing_names = [
            name
            for name, marker in (
                ("Any", "Any"),
                ("ClassVar", "ClassVar["),
                ("Final", "Final"),
                ("Literal", "Literal["),
                ("Self", "Self"),
                ("TypeAlias", "TypeAlias"),
            )
            if re.search(rf"\b{re.escape(marker)}", text)
        ]
        imports = []
        used: dict[str, set[str]] = {}
        for table in (self.shapes.imported, self.shapes.imported_constants):
            for module, names in table.items():
                used.setdefault(module, set()).update(names)
        for module in sorted(used):
            target = f"{self.package}.{module}" if self.package else module
            imports.append((target, sorted(used[module])))
        source = f"{module_name(protocol.path)}.x"
        doc = docstring(protocol.spec.doc, f"XDR types of ``{source}``.")
        code = render(
            "python/module.j2",
            doc=doc,
            version=__version__,
            source=source,
            uses_enum=self.uses_enum,
            typing_names=typing_names,
            imports=imports,
            structs=sorted((name, fmt) for fmt, name in self.structs.formats.items()),
        )
        return format_module(code, self.module.blocks)


def _program_constants(program: ir.ProgramDef) -> list[tuple[str, ir.Value, ir.Location]]:
    out = [(program.name, program.number, program.location)]
    seen = set()
    for version in program.versions:
        out.append((version.name, version.number, version.location))
        for procedure in version.procedures:
            if procedure.name not in seen:
                seen.add(procedure.name)
                out.append((procedure.name, procedure.number, procedure.location))
    return out


def integer_literal(text: str) -> str:
    """A C integer literal of a .x file in Python's spelling (as black
    writes it): hexadecimal digits in upper case, ``0755`` as ``0o755``."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if digits[:2] in ("0x", "0X"):
        return f"{sign}0x{digits[2:].upper()}"
    if len(digits) > 1 and digits.startswith("0"):
        return f"{sign}0o{digits[1:]}"
    return text


def _packed_literal(code: str, value: int) -> str:
    return repr(struct.pack(">" + code, value))


def generate_python(protocol: Protocol, package: str | None = None) -> str:
    """The Python module for one resolved protocol."""
    return PythonModuleGenerator(protocol, package).generate()
