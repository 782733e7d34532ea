"""One Python module of typed codecs per .x file.

Constants become module constants, enums ``xdr.XdrEnum`` (an ``IntEnum``)
classes, structs classes written the way ``@dataclass(slots=True)`` would
make them (``__slots__``, ``__init__``, ``__match_args__``; equality, repr and
the :mod:`dataclasses` field table come from the runtime base class), unions
a base class with one such class per arm, typedefs a ``TypeAlias`` with
``pack_x``/``unpack_x`` functions and a codec object.  The text comes from
``templates/python/<construct>/<role>.j2``; :mod:`.layout` lays each block
out as black would.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import __version__
from .. import ir
from ..errors import XdrgenError
from ..naming import field_name, shared_struct_name, union_arms
from ..resolve import Protocol
from . import layout
from .python_codec import (
    CodecEmitter,
    ErrorPath,
    Item,
    StructRegistry,
    Writer,
    check_default_discriminant,
    disc_value,
    label_test,
    quoted,
    reads_fixed,
    with_decoder,
)
from .python_shapes import Shape, ShapeBuilder, UnionArmInfo, UnionInfo
from .render import render


def docstring(text: str | None, fallback: str) -> str:
    """A docstring's text: the fallback line, then the .x comment."""
    text = (text or "").strip()
    return f"{fallback}\n\n{text}" if text else fallback


@dataclass
class _Module:
    blocks: list[str] = field(default_factory=list)
    names: dict[str, ir.Location] = field(default_factory=dict)


def _slots(names: list[str]) -> str:
    """``("a", "b")`` / ``("a",)`` / ``()``."""
    if len(names) == 1:
        return f'("{names[0]}",)'
    return "(" + ", ".join(f'"{n}"' for n in names) + ")"


def _fields(fields: list[tuple[str, str, str | None]], indent: str = "    ") -> list[dict[str, Any]]:
    """(name, hint, .x comment) -> what the class templates list."""
    return [
        {"name": name, "hint": hint, "comment": layout.comment_lines(doc, indent)}
        for name, hint, doc in fields
    ]


class PythonModuleGenerator:
    def __init__(self, protocol: Protocol, package: str | None) -> None:
        self.protocol = protocol
        self.package = package
        self.shapes = ShapeBuilder(protocol)
        self.names = protocol.names
        # the private helpers (struct objects, list decoders, shared bases)
        # take names the naming pass left free
        self.namespace = self.names.namespace.copy()
        self.structs = StructRegistry(self.namespace)
        self.codec = CodecEmitter(self.shapes, self.structs)
        self.module = _Module()
        # structs that have the same fields share a base class with them
        self.field_sets = _field_sets(protocol)
        self.elements = _element_types(protocol)
        self.bases: dict[tuple[tuple[str, Shape], ...], str] = {}

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

    def _block(self, template: str, **context: Any) -> None:
        self.module.blocks.append(render(f"python/{template}.j2", **context))

    # ---- constants
    def _constant(self, name: str) -> str:
        return self.names.constants[name][1]

    def _value_text(self, value: ir.Value) -> str:
        """A constant's value as the .x wrote it: a literal in the same base,
        or the name of a constant this module has already defined."""
        if value.string is not None:
            return layout.string_literal(value.string)
        if value.name is not None:
            entry = self.names.constants.get(value.name)
            if entry is not None and entry[1] in self.module.names:
                return entry[1]
        if value.literal is not None:
            return layout.integer_literal(value.text)
        return str(value.number)

    def _constants(self) -> None:
        constants = []

        def add(name: str, location: ir.Location, value: str, doc: str | None) -> None:
            comment = layout.comment_lines(doc, "")
            constants.append({"name": self._claim(self._constant(name), location), "value": value, "comment": comment})

        for definition in self.protocol.spec.definitions:
            if isinstance(definition, ir.ConstDef):
                add(definition.name, definition.location, self._value_text(definition.value), definition.doc)
            elif isinstance(definition, ir.ProgramDef):
                for name, value, location in _program_constants(definition):
                    add(name, location, self._value_text(value), None)
        for name, number, location in self.protocol.spec.defines:
            if self._constant(name) not in self.module.names:
                add(name, location, str(number), "#define")
        for name, number in self.protocol.externals.items():
            if self.names.own(self.names.constants[name]) and self._constant(name) not in self.module.names:
                location = ir.Location("<command line>", 0, 0)
                add(name, location, str(number), "Defined outside the .x file (-D).")
        for name in _onc_rpc_constants(self.protocol):
            if self._constant(name) not in self.module.names:
                location = ir.Location("<rpc/types.h>", 0, 0)
                add(name, location, str(self.protocol.constants[name]), ONC_RPC_CONSTANT)
        if constants:
            self._block("module/constants", constants=constants)

    # ---- enums
    def _enum(self, name: str, body: ir.EnumBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        self._claim(name, location)
        members = []
        values = set()
        for member in body.members:
            value = self.protocol.constants[member.name]
            members.append(
                {
                    "name": field_name(member.name),
                    "constant": self._claim(self._constant(member.name), member.location),
                    "value": value,
                    "comment": layout.comment_lines(member.doc, "    "),
                }
            )
            values.add(value)
        fallback = f"``enum {c_name}``." if c_name else "An anonymous enum."
        self._block(
            "enum/class",
            name=name,
            doc=layout.docstring(docstring(doc, fallback), "    "),
            members=members,
            table=self.names.members[name][1],
            aliases=len(values) < len(members),
        )

    # ---- structs
    def _struct(self, name: str, body: ir.StructBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        self.codec.hot = c_name is None or c_name in self.elements
        fields = []
        items_pack = []
        items_unpack = []
        shapes: list[Shape] = []
        for decl, attribute in zip(body.fields, self.names.fields[name]):
            shape = self.shapes.shape(decl)
            shapes.append(shape)
            fields.append((attribute, shape.hint, decl.doc))
            items_pack.append(Item(f"self.{attribute}", ErrorPath("self", attribute), shape))
            items_unpack.append(Item(f"obj.{attribute}", ErrorPath("cls", attribute), shape))
        self.shapes.set_min_size(name, sum(self.shapes.min_size(s) for s in shapes))
        fallback = f"``struct {c_name}``." if c_name else "An anonymous struct."
        names = [f[0] for f in fields]
        key = tuple(zip(names, shapes))
        if c_name is not None and self.field_sets.get(key, 0) > 1:
            doc_text = layout.docstring(docstring(doc, fallback), "    ")
            self._block(
                "struct/shared", name=self._claim(name, location), doc=doc_text,
                base=self._base(key, items_pack, items_unpack, location),
                fields=_fields(fields),
            )  # fmt: skip
            return
        context: dict[str, Any] = {
            "name": self._claim(name, location),
            "doc": layout.docstring(docstring(doc, fallback), "    "),
            "slots": _slots(names),
            "fields": _fields(fields),
            "self_name": "self_" if "self" in names else "self",
            "classvar": None,
        }
        recursive = [
            i
            for i, s in enumerate(shapes)
            if s.kind == "optional" and s.elem is not None and s.elem.cls == name
        ]
        if len(recursive) == 1:
            heads = [
                Item(self.names.local(d.name or ""), i.path, i.shape)
                for d, i in zip(body.fields, items_unpack)
            ]
            self._block("struct/linked_list", **context, **self._linked_list(name, items_pack, heads, recursive[0]))
            return
        pack = Writer()
        self.codec.pack_items(pack, items_pack)
        # Decoding fills a bare instance: no __init__ call per value.
        unpack = Writer()
        unpack("obj = cls.__new__(cls)")
        end = self.codec.unpack_body(unpack, items_unpack)
        self._block(
            "struct/class", **context, pack=pack.lines, unpack=with_decoder(unpack.lines),
            guarded=reads_fixed(unpack.lines), end=end,
        )  # fmt: skip

    def _base(
        self,
        key: tuple[tuple[str, Shape], ...],
        items_pack: list[Item],
        items_unpack: list[Item],
        location: ir.Location,
    ) -> str:
        """The base class of the structs with these fields: their slots,
        ``__init__`` and codec, written once."""
        base = self.bases.get(key)
        if base is not None:
            return base
        names = [name for name, _ in key]
        base = self.namespace.claim(shared_struct_name(names))
        self.bases[key] = self._claim(base, location)
        pack = Writer()
        self.codec.pack_items(pack, items_pack)
        unpack = Writer()
        unpack("obj = cls.__new__(cls)")
        end = self.codec.unpack_body(unpack, items_unpack)
        listed = ", ".join(f"``{name}``" for name in names)
        self._block(
            "struct/class",
            name=base,
            doc=layout.docstring(
                f"The fields {listed} and their codec, shared by the structs below that have them.",
                "    ",
            ),
            slots=_slots(names),
            fields=_fields([(name, shape.hint, None) for name, shape in key]),
            self_name="self_" if "self" in names else "self",
            classvar=None,
            pack=pack.lines,
            unpack=with_decoder(unpack.lines),
            guarded=reads_fixed(unpack.lines),
            end=end,
        )
        return base

    def _linked_list(self, name: str, items_pack: list[Item], items_unpack: list[Item], index: int) -> dict[str, Any]:
        """A struct that points to the next one of its kind (``struct node {
        ...; node *next; }``) is packed and unpacked in a loop, so a long list
        does not recurse once per element; equality and repr loop too."""
        link = items_pack[index]
        attribute = link.expr.removeprefix("self.")

        def packed(items: list[Item]) -> list[str]:
            w = Writer()
            nodes = [Item(f"node.{i.path.name}", ErrorPath("node", i.path.name), i.shape) for i in items]
            self.codec.pack_items(w, nodes)
            return w.lines

        def unpacked(items: list[Item]) -> list[str]:
            w = Writer()
            self.codec.unpack_items(w, items)
            self.codec.flush(w)
            return w.lines

        heads = items_unpack[:index]
        tails = items_unpack[index + 1 :]
        head_names = [i.expr for i in heads]
        others = [i.expr.removeprefix("self.") for i in items_pack if i is not link]
        return {
            "link": attribute,
            "head_pack": packed(items_pack[:index]),
            "tail_pack": packed(items_pack[index + 1 :]),
            "head_unpack": with_decoder(unpacked(heads)),
            "tail_unpack": unpacked(tails),
            "heads_tuple": _tuple_expression(head_names),
            "heads_target": _for_target(head_names),
            "args": ", ".join([*head_names, "node", *(i.expr for i in tails)]),
            "others": others,
            "mine_fields": _tuple_expression([f"mine.{o}" for o in others]),
            "their_fields": _tuple_expression([f"theirs.{o}" for o in others]),
        }

    # ---- unions
    def _label_literal(self, shape: Shape, label: ir.Value) -> str:
        """A case label as the Python value of the discriminant."""
        value = label.number
        if shape.is_bool:
            return "True" if value else "False"
        if shape.enum is not None:
            member = self._enum_member_name(shape, value)
            return f"{shape.enum}.{member}"
        if label.name is not None:
            constant = self._visible_constant(label.name)
            if constant is not None:
                return constant
        return str(value)

    def _labels_hint(self, shape: Shape, labels: tuple[ir.Value, ...]) -> str:
        """The hint of an arm's discriminant that several labels select:
        ``Literal[...]`` of them, or the discriminant's type when they are
        all its values."""
        values = {label.number for label in labels}
        if shape.is_bool:
            every: set[int] | None = {0, 1}
        elif shape.enum is not None:
            every = {self.protocol.constants[m.name] for m in self.shapes.enums[shape.enum].members}
        else:
            every = None
        if every is not None and every <= values:
            return shape.hint
        literals = [str(label.number) if shape.enum is None and not shape.is_bool else self._label_literal(shape, label) for label in labels]
        return f"Literal[{', '.join(literals)}]"

    def _visible_constant(self, name: str) -> str | None:
        """The Python name of a constant this module defines (so far) or
        imports, else None."""
        entry = self.names.constants.get(name)
        if entry is None or (self.names.own(entry) and entry[1] not in self.module.names):
            return None
        return self.shapes.constant(name)

    def _enum_member_name(self, shape: Shape, value: int) -> str:
        for member in self.shapes.enums[shape.enum or ""].members:
            if self.protocol.constants[member.name] == value:
                return field_name(member.name)
        raise AssertionError(f"no member {value} in {shape.enum}")

    def _union(self, name: str, body: ir.UnionBody, doc: str | None, c_name: str | None, location: ir.Location) -> None:
        self.codec.hot = c_name is None or c_name in self.elements
        self._claim(name, location)
        disc_field = self.names.fields[self.names.arms[name][0]][0]
        disc_shape = self.shapes.shape(body.discriminant)
        self._enum_before(disc_shape)
        members = self.codec.members(disc_shape) if disc_shape.enum is not None else ""
        arms_data = []
        arm_infos: list[UnionArmInfo] = []
        explicit_values = [label.number for arm in body.arms for label in arm.labels]
        min_arm = None
        for (decl, labels), arm_name in zip(union_arms(body), self.names.arms[name]):
            shape = self.shapes.shape(decl)
            size = self.shapes.min_size(shape)
            min_arm = size if min_arm is None else min(min_arm, size)
            case_text = (
                " ".join(f"case {label.text}:" for label in labels) if labels else "default:"
            )
            arm: dict[str, Any] = {
                "name": self._claim(arm_name, decl.location),
                "union": name,
                "doc": layout.docstring(f"Arm ``{case_text}`` of ``union {c_name or name}``.", "    "),
                "test": label_test("_disc", [label.number for label in labels]) if labels else None,
                "classvar": None,
            }
            fields: list[tuple[str, str, str | None]] = []
            pack = Writer()
            path = ErrorPath("self", disc_field)
            if labels is not None and len(labels) == 1:
                fixed = self._label_literal(disc_shape, labels[0])
                arm["classvar"] = f"{disc_field}: ClassVar[{disc_shape.hint}] = {fixed}"
                pack(f"out += {layout.bytes_literal(struct.pack('>' + disc_shape.code, labels[0].number))}")
            else:
                if labels is not None:
                    fields.append((disc_field, self._labels_hint(disc_shape, labels), None))
                    test = label_test(f"self.{disc_field}", [label.number for label in labels], negate=True)
                    pack(f"if {test}:")
                    pack(f'    xdr.bad_value({path.text}, len(out), "discriminant of this arm", self.{disc_field})')
                else:
                    fields.append((disc_field, disc_shape.hint, None))
                    if explicit_values:
                        pack(f"if {label_test(f'self.{disc_field}', explicit_values)}:")
                        pack(f'    xdr.bad_value({path.text}, len(out), "discriminant of the default arm", self.{disc_field})')
                self.codec.pack_items(pack, [Item(f"self.{disc_field}", path, disc_shape)])
            unpack = Writer()
            end = "offset"
            args = []
            if arm["classvar"] is None:
                args.append(disc_value(disc_shape, "_disc", members))
            attribute = None
            if decl.kind is not ir.DeclKind.VOID:
                assert decl.name is not None
                attribute = self.names.fields[arm_name][1]
                fields.append((attribute, shape.hint, decl.doc))
                self.codec.pack_items(pack, [Item(f"self.{attribute}", ErrorPath("self", attribute), shape)])
                value_name = self.names.local(decl.name)
                end = self.codec.unpack_body(unpack, [Item(value_name, ErrorPath("cls", attribute), shape)])
                args.append(value_name)
            # The decoder passes what the discriminant's type holds; that it is
            # one of the arm's labels (its Literal hint) mypy cannot know.
            narrowed = fields[0][1].startswith("Literal[") if fields else False
            arm_infos.append(
                UnionArmInfo(
                    arm_name,
                    tuple(label.number for label in labels) if labels else (),
                    arm["classvar"] is None,
                    attribute,
                    shape if decl.kind is not ir.DeclKind.VOID else None,
                    narrowed,
                )
            )
            names = [f[0] for f in fields]
            arm.update(
                slots=_slots(names),
                fields=_fields(fields),
                self_name="self_" if "self" in names else "self",
                pack=pack.lines or ["pass"],
                unpack=with_decoder(unpack.lines),
                guarded=reads_fixed(unpack.lines),
                result=f"cls({', '.join(args)})",
                ignore="  # type: ignore[arg-type]" if narrowed else "",
                end=end,
            )
            arms_data.append(arm)
        self.shapes.set_min_size(name, 4 + (min_arm or 0))
        self.shapes.unions[name] = UnionInfo(
            name, disc_shape, disc_field, tuple(arm_infos), body.default is not None
        )
        disc_check = Writer()
        if body.default is not None:
            check_default_discriminant(disc_check, disc_shape, name, "_disc", "offset", members)
        fallback = f"``union {c_name}``." if c_name else "An anonymous union."
        self._block(
            "union/base",
            name=name,
            doc=layout.docstring(docstring(doc, fallback + " Decodes to one of its arm classes below."), "    "),
            disc_struct=self.structs.name(">" + disc_shape.code),
            arms=arms_data,
            default=arms_data[-1]["name"] if body.default is not None else None,
            disc_check=disc_check.lines,
        )
        for arm in arms_data:
            self._block("union/arm", **arm)

    def _enum_before(self, shape: Shape) -> None:
        """An enum of this file that a union's case labels name (as class
        attributes, evaluated on import) is emitted before the union, even
        when the file defines it later."""
        for definition in self.protocol.spec.definitions:
            if (
                isinstance(definition, ir.EnumDef)
                and shape.enum == self.names.classes.get(definition.name, ("", ""))[1]
                and self.names.own(self.names.classes[definition.name])
                and shape.enum not in self.module.names
            ):
                self._enum(shape.enum, definition.body, definition.doc, definition.name, definition.location)

    # ---- typedefs
    def _typedef(self, definition: ir.TypedefDef) -> str:
        name = self.names.classes[definition.name][1]
        shape = self.shapes.shape(definition.declaration)
        self.codec.hot = True  # the typedef's own code: no call to itself
        pack = Writer()
        self.codec.pack_items(pack, [Item("value", ErrorPath("path", "field"), shape)])
        unpack = Writer()
        end = self.codec.unpack_body(unpack, [Item("value", ErrorPath("path", "field"), shape)])
        _, functions = self.names.functions[definition.name]
        for claimed in (name, *functions):
            self._claim(claimed, definition.location)
        return render(
            "python/typedef/functions.j2",
            name=name,
            pack_function=functions[0],
            unpack_function=functions[1],
            codec=functions[2],
            hint=shape.hint,
            doc=layout.docstring(docstring(definition.doc, f"``typedef {definition.name}``."), ""),
            pack=pack.lines or ["pass"],
            unpack=with_decoder(unpack.lines),
            guarded=reads_fixed(unpack.lines),
            end=end,
        )

    # ---- list decoders
    def _list_decoders(self) -> list[str]:
        """One decoder per element type that arrays of this module hold: the
        loop (with small elements decoded in place) is written once."""
        blocks = []
        done: set[str] = set()
        self.codec.inline = True
        while len(done) < len(self.codec.list_decoders):
            for cls, (name, shape) in sorted(self.codec.list_decoders.items()):
                if cls in done:
                    continue
                done.add(cls)
                w = Writer()
                self.codec.unpack_loop(w, "items", f"list[{cls}]", "count", Item("", quoted(f"{cls}[]"), shape))
                function = self._claim(name, ir.Location(self.protocol.path, 0, 0))
                blocks.append(
                    render("python/list/decoder.j2", function=function, cls=cls, body=with_decoder(w.lines))
                )
        self.codec.inline = False
        return blocks

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
            if isinstance(definition, ir.TypedefDef):
                if protocol.types.get(definition.name) is definition:
                    typedef_blocks.append(self._typedef(definition))
            elif isinstance(definition, (ir.EnumDef, ir.StructDef, ir.UnionDef)):
                name = self.names.classes[definition.name][1]
                if name in self.module.names:
                    continue  # an enum emitted before a union that needed it
                emit = {ir.EnumDef: self._enum, ir.StructDef: self._struct, ir.UnionDef: self._union}
                emit[type(definition)](name, definition.body, definition.doc, definition.name, definition.location)  # type: ignore[operator]
            if len(self.shapes.inline) > done:
                # inline classes go before the class that uses them
                blocks = self.module.blocks[before:]
                del self.module.blocks[before:]
                done = self._flush_inline(done)
                self.module.blocks.extend(blocks)
        self.module.blocks.extend(typedef_blocks)
        self.module.blocks.extend(self._list_decoders())

        text = "\n".join(self.module.blocks)
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
        source = Path(protocol.path).name
        header = render(
            "python/module/header.j2",
            doc=layout.docstring(docstring(protocol.spec.doc, f"XDR types of ``{source}``."), ""),
            version=__version__,
            source=source,
            typing_names=typing_names,
            imports=imports,
            structs=sorted((name, fmt) for fmt, name in self.structs.formats.items()),
        )
        return layout.join_module(
            layout.fit_block(header), (layout.fit_block(block) for block in self.module.blocks)
        )


def _element_types(protocol: Protocol) -> set[str]:
    """The structs and unions packed once per element of some array: the
    arrays' element types and, through their fields and arms, what those
    contain."""
    found: set[str] = set()
    pending: list[str] = []

    def underlying(spec: ir.TypeSpec) -> str | None:
        while spec.name is not None:
            definition = protocol.types.get(spec.name)
            if not isinstance(definition, ir.TypedefDef):
                return spec.name
            spec = definition.declaration.type
        return None

    for node in ir.iter_nodes(protocol.spec.definitions):
        if isinstance(node, ir.Declaration) and node.kind in (ir.DeclKind.VAR_ARRAY, ir.DeclKind.FIXED_ARRAY):
            pending.append(underlying(node.type) or "")
        elif isinstance(node, ir.TypedefDef) and node.declaration.kind in (ir.DeclKind.VAR_ARRAY, ir.DeclKind.FIXED_ARRAY):
            pending.append(underlying(node.declaration.type) or "")
    while pending:
        name = pending.pop()
        if name in found or name not in protocol.types:
            continue
        found.add(name)
        for node in ir.iter_nodes(protocol.types[name]):
            if isinstance(node, ir.TypeSpec) and node.name is not None:
                pending.append(underlying(node) or "")
    return found


def _field_sets(protocol: Protocol) -> dict[tuple[tuple[str, Shape], ...], int]:
    """How many structs of the file have each list of (field, shape)."""
    shapes = ShapeBuilder(protocol)  # a scratch one: shapes register imports
    counts: dict[tuple[tuple[str, Shape], ...], int] = {}
    for definition in protocol.spec.definitions:
        if isinstance(definition, ir.StructDef):
            attributes = protocol.names.fields[protocol.names.classes[definition.name][1]]
            key = tuple(zip(attributes, (shapes.shape(d) for d in definition.body.fields)))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _tuple_expression(names: list[str]) -> str:
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _for_target(names: list[str]) -> str:
    """A ``for`` loop's target list as black writes it."""
    if not names:
        return "_"
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


#: The comment of a constant that the .x file uses but C takes from a header.
ONC_RPC_CONSTANT = "Not defined in the .x file: ONC RPC's own (<rpc/types.h>, <rpc/auth.h>; TRUE and FALSE: RFC 4506's bool)."


def _onc_rpc_constants(protocol: Protocol) -> list[str]:
    """The constants the file uses that no file defines (``TRUE``,
    ``FALSE``, the prelude's) and that this module defines for it."""
    names = protocol.names
    return [name for name in protocol.fallbacks if names.own(names.constants[name])]


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


def generate_python(protocol: Protocol, package: str | None = None) -> str:
    """The Python module for one resolved protocol."""
    return PythonModuleGenerator(protocol, package).generate()
