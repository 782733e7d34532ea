"""Emits the statements of generated ``pack_into`` / ``unpack_from`` bodies.

The output is straight-line code: runs of fixed-size fields become one
precompiled ``struct.Struct`` pack or unpack, variable-size parts call the
small helpers of :mod:`xdrgen.runtime.xdr`, nested types call their class,
typedefs beyond a plain string or number call their ``pack_x``/``unpack_x``
functions, and arrays of structs or unions call one list decoder per element
type.  Inside those list decoders (the hot loops of big replies) small
elements, their strings and their unions are decoded in place instead.

Which statements to emit is decided here; the longer fixed pieces of text
are templates under ``templates/python/codec/``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...runtime.xdr import MAX_UINT
from ..naming import Namespace, list_decoder_name
from .python_shapes import Shape, ShapeBuilder
from .render import render


@dataclass
class Writer:
    """Indented lines of Python, plus a counter for unique temporaries."""

    lines: list[str] = field(default_factory=list)
    level: int = 0
    counter: int = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.level + line)

    def snippet(self, template: str, **context: object) -> None:
        """The lines of ``templates/python/codec/<template>.j2``, indented."""
        for line in render(f"python/codec/{template}.j2", **context).rstrip("\n").split("\n"):
            self(line)

    def temp(self, stem: str) -> str:
        self.counter += 1
        return f"_{stem}{self.counter}"

    def indent(self) -> Writer:
        self.level += 1
        return self

    def dedent(self) -> None:
        self.level -= 1


class StructRegistry:
    """The module's precompiled ``struct.Struct`` objects, named by format
    (names the module's ``namespace`` does not hold yet)."""

    def __init__(self, namespace: Namespace) -> None:
        self.formats: dict[str, str] = {}
        self.namespace = namespace

    def name(self, fmt: str) -> str:
        if fmt not in self.formats:
            self.formats[fmt] = self.namespace.claim("_S_" + fmt.replace(">", ""))
        return self.formats[fmt]


_UNPACKER = re.compile(r"\b(_S_\w+)\.unpack_from\b")
_NEW = re.compile(r"\b(\w+)\.__new__\(\1\)")


def _hoist(w: Writer, lines: list[str]) -> list[str]:
    """Bind what a loop body looks up on every pass (the struct unpackers,
    union arms' ``__new__``, the padding tables, ``len(data)``) to locals
    before the loop; returns the rewritten body.
    Only names a nested loop has not bound already are added."""
    text = "\n".join(lines)
    for name in sorted(set(_UNPACKER.findall(text))):
        local = f"{name}_unpack"
        if f"{local} = " not in text:
            w(f"{local} = {name}.unpack_from")
        text = re.sub(rf"\b{name}\.unpack_from\b", local, text)
    for cls in sorted(set(_NEW.findall(text))):  # union arms decoded inline
        local = f"_new_{cls}"
        if f"{local} = " not in text:
            w(f"{local} = {cls}.__new__")
        text = re.sub(rf"\b{cls}\.__new__\(", f"{local}(", text)
    for table in ("ZEROS", "PAD_MASKS"):
        if f"xdr.{table}" in text:
            if f"{table.lower()} = " not in text:
                w(f"{table.lower()} = xdr.{table}")
            text = text.replace(f"xdr.{table}", table.lower())
    if "len(data)" in text:
        w("size = len(data)")
        text = text.replace("len(data)", "size")
    return text.split("\n")


def reads_fixed(lines: list[str]) -> bool:
    """Whether decoding statements read with a ``struct.Struct`` directly:
    a cut input then raises ``struct.error``, which the decoder turns into
    ``xdr.truncated`` (the runtime's helpers do that themselves)."""
    return any(_UNPACKER.search(line) for line in lines)


DECODER = "_decode = xdr.BYTES_DECODE if data.__class__ is bytes else xdr.decode_utf8"


def with_decoder(lines: list[str]) -> list[str]:
    """An unpack body that decodes strings first picks the fastest decoder
    for the buffer it was given (see ``xdr.BYTES_DECODE``)."""
    if any("_decode(" in line for line in lines):
        return [DECODER, *lines]
    return lines


def check_default_discriminant(w: Writer, disc: Shape, union: str, raw: str, at: str, members: str) -> None:
    """A default arm takes any discriminant the explicit arms do not, but an
    enum's must still be one of its values (``members``: its table) and a
    bool's 0 or 1."""
    if disc.enum is not None:
        w(f"if {raw} not in {members}:")
        w(f'    xdr.bad_value("{union}", {at}, "{disc.enum} value", {raw})')
    elif disc.is_bool:
        w(f"if {raw} > 1:")
        w(f'    xdr.bad_value("{union}", {at}, "bool (0 or 1)", {raw})')


def disc_value(shape: Shape, raw: str, members: str) -> str:
    """A decoded discriminant as the arm class stores it (``members``: the
    table of an enum discriminant)."""
    if shape.is_bool:
        return f"{raw} == 1"
    if shape.enum is not None:
        return f"{members}[{raw}]"
    return raw


def label_test(value: str, labels: Sequence[int], negate: bool = False) -> str:
    """The condition that ``value`` is one of ``labels`` (or none of them)."""
    if len(labels) == 1:
        return f"{value} {'!=' if negate else '=='} {labels[0]}"
    return f"{value} {'not in' if negate else 'in'} ({', '.join(map(str, labels))})"


@dataclass(frozen=True)
class ErrorPath:
    """Where an item is, for error messages, as generated code spells it:
    the field ``name`` of ``owner`` (``self``, ``cls``: the runtime builds
    "Type.name" only when it reports an error, so classes that share code
    report their own names), or, without an owner, ``name`` is the code of
    the whole path (a string literal, or a typedef function's ``path``)."""

    owner: str | None
    name: str

    @property
    def _field(self) -> str:
        # a typedef function passes on the ``path, field`` it was given
        return self.name if self.owner == "path" else f'"{self.name}"'

    @property
    def args(self) -> str:
        """As the trailing arguments of a runtime helper."""
        return f"{self.owner}, {self._field}" if self.owner else self.name

    def args_at(self, offset: str) -> str:
        """As the ``path, offset, field`` arguments of a runtime check."""
        return f"{self.owner}, {offset}, {self._field}" if self.owner else f"{self.name}, {offset}"

    @property
    def text(self) -> str:
        """As one string expression (in code that runs on errors only)."""
        return f"xdr.path_of({self.owner}, {self._field})" if self.owner else self.name

    def element(self) -> ErrorPath:
        """The path of an array's elements (``X.names[]``)."""
        if self.owner == "path":
            return ErrorPath(None, f'{self.text} + "[]"')
        if self.owner is not None:
            return ErrorPath(self.owner, self.name + "[]")
        if self.name.startswith('"'):
            return ErrorPath(None, self.name[:-1] + '[]"')
        return ErrorPath(None, f'{self.name} + "[]"')


def quoted(path: str) -> ErrorPath:
    """A fixed error path (``"RemoteNonnullDomain.name"``)."""
    return ErrorPath(None, f'"{path}"')


def _annotation(target: str, hint: str) -> str:
    """Locals get a type annotation; attribute targets have one already."""
    return "" if "." in target else f": {hint}"


def _tuple_target(names: list[str]) -> str:
    """An assignment target list as black writes it (``(x,)`` for one)."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


@dataclass(frozen=True)
class PadCheck:
    """A padding check left to the next fixed read: where the item's bytes
    end and its padding ends (variables), and its path."""

    end: str
    padded: str
    path: ErrorPath


@dataclass(frozen=True)
class ReadAhead:
    """In an array loop, while ``more`` holds, the last fixed read of an
    element also reads the next element's leading count into ``length``."""

    length: str
    more: str


@dataclass(frozen=True)
class Item:
    """One field to pack or unpack: its Python expression/variable, the path
    used in error messages (as code: a string literal, or a typedef
    function's ``path`` parameter), and its shape."""

    expr: str
    path: ErrorPath
    shape: Shape


def _groupable_pack(shape: Shape) -> bool:
    return shape.kind == "numeric"


def _groupable_unpack(shape: Shape) -> bool:
    return shape.kind == "numeric" or (
        shape.kind == "fixed_opaque" and shape.bound % 4 == 0
    )


def _runs(items: list[Item], groupable) -> list[list[Item]]:  # type: ignore[no-untyped-def]
    """Split items into runs: consecutive groupable items form one run."""
    runs: list[list[Item]] = []
    for item in items:
        if groupable(item.shape) and runs and groupable(runs[-1][-1].shape):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _code(shape: Shape) -> str:
    return f"{shape.bound}s" if shape.kind == "fixed_opaque" else shape.code


class CodecEmitter:
    def __init__(self, shapes: ShapeBuilder, structs: StructRegistry) -> None:
        self.shapes = shapes
        self.structs = structs
        #: element class -> its list decoder's name and the element's shape
        #: (the decoders to emit)
        self.list_decoders: dict[str, tuple[str, Shape]] = {}
        # True while emitting a list decoder's loop: decode in place there
        self.inline = False
        # True while emitting a type that is packed once per array element
        # (checks stay inline there); elsewhere a nested value's type is
        # checked by a helper
        self.hot = True
        # bytes a fixed read has consumed that ``offset`` does not count yet:
        # the next call reads at ``offset + N`` (outside loops only)
        self.advance = 0

    def members(self, shape: Shape) -> str:
        """The value -> member table of an enum shape's class."""
        return self.shapes.members_table(shape.enum or "")

    def list_decoder(self, elem: Shape) -> str:
        """The name of the list decoder of ``elem`` values (emitted later)."""
        assert elem.cls is not None
        if elem.cls not in self.list_decoders:
            name = self.structs.namespace.claim(list_decoder_name(elem.cls))
            self.list_decoders[elem.cls] = (name, elem)
        return self.list_decoders[elem.cls][0]

    def offset(self) -> str:
        """``offset`` as the next decoding call takes it (consumes the
        pending advance)."""
        advance, self.advance = self.advance, 0
        return f"offset + {advance}" if advance else "offset"

    def flush(self, w: Writer) -> None:
        """Make ``offset`` count what fixed reads consumed."""
        if self.advance:
            w(f"offset += {self.advance}")
            self.advance = 0

    # ---------------------------------------------------------------- pack
    def pack_items(self, w: Writer, items: list[Item]) -> None:
        for run in _runs(items, _groupable_pack):
            if len(run) > 1 or _groupable_pack(run[0].shape):
                self._pack_numeric_run(w, run)
            else:
                self.pack_one(w, run[0])

    def _check_numeric(self, w: Writer, item: Item) -> None:
        shape = item.shape
        if shape.is_bool or shape.enum is not None:
            members = self.members(shape) if shape.enum is not None else ""
            w.snippet("check_numeric", item=item, members=members)

    def _pack_numeric_run(self, w: Writer, run: list[Item]) -> None:
        for item in run:
            self._check_numeric(w, item)
        fmt = ">" + "".join(i.shape.code for i in run)
        if len(run) == 1 and not self.hot:
            item = run[0]
            w(f"xdr.pack_number(out, {self.structs.name(fmt)}, {item.expr}, {item.path.args})")
            return
        owners = {i.path.owner for i in run}
        fields = None
        if owners == {run[0].expr.partition(".")[0]} and all(i.expr.count(".") == 1 for i in run):
            # fields of one object: the runtime finds the culprit by name
            fields = (owners.pop(), " ".join(i.path.name for i in run))
        w.snippet(
            "pack_run",
            struct=self.structs.name(fmt),
            args=", ".join(i.expr for i in run),
            fmt=fmt,
            path=run[0].path.text,
            fields=fields,
        )

    def _typedef_call(self, item: Item) -> str | None:
        """Outside the hot loops, a field declared through a typedef of a
        string, opaque data, an optional or an array calls the typedef's
        own functions (the name of the function, or None)."""
        shape = item.shape
        if self.hot or shape.typedef is None or item.path.owner in (None, "path"):
            return None
        if shape.kind in ("numeric", "struct", "union", "void") or _groupable_unpack(shape):
            return None
        return shape.typedef

    def pack_one(self, w: Writer, item: Item) -> None:
        shape, expr, path = item.shape, item.expr, item.path
        kind = shape.kind
        elem = shape.elem
        typedef = self._typedef_call(item)
        if typedef is not None:
            function = self.shapes.typedef_function("pack", typedef)
            w(f"{function}(out, {expr}, {path.args})")
        elif kind == "numeric":
            self._pack_numeric_run(w, [item])
        elif kind == "string":
            w(f"xdr.pack_string(out, {expr}, {shape.bound_text}, {path.args})")
        elif kind == "opaque":
            w(f"xdr.pack_opaque(out, {expr}, {shape.bound_text}, {path.args})")
        elif kind == "fixed_opaque":
            w(f"xdr.pack_fixed_opaque(out, {expr}, {shape.bound_text}, {path.args})")
        elif kind in ("struct", "union") and not self.hot:
            w(f"xdr.pack_value(out, {expr}, {shape.cls}, {path.args})")
        elif kind in ("struct", "union"):
            w(f"if not isinstance({expr}, {shape.cls}):")
            if path.owner is not None and expr == f"{path.owner}.{path.name}":
                w(f'    xdr.bad_field({path.owner}, "{path.name}", len(out), {shape.cls})')
            else:
                w(f'    xdr.bad_type({path.text}, len(out), "{shape.cls}", {expr})')
            w(f"{expr}.pack_into(out)")
        elif kind == "optional" and elem is not None and elem.kind == "string":
            w(f"xdr.pack_optional_string(out, {expr}, {elem.bound_text}, {path.args})")
        elif kind == "optional" and elem is not None and elem.kind in ("struct", "union"):
            w(f"xdr.pack_optional_value(out, {expr}, {elem.cls}, {path.args})")
        elif kind == "optional":
            assert shape.elem is not None
            value = w.temp("v")
            w.snippet("pack_optional", value=value, expr=expr)
            w.indent()
            self.pack_one(w, Item(value, path, shape.elem))
            w.dedent()
        elif kind in ("var_array", "fixed_array"):
            self._pack_array(w, item)
        elif kind == "void":
            pass
        else:  # pragma: no cover - every shape kind is handled above
            raise AssertionError(kind)

    def _pack_array(self, w: Writer, item: Item) -> None:
        shape, path, value = item.shape, item.path, item.expr
        elem = shape.elem
        assert elem is not None
        if shape.kind == "var_array" and elem.kind in ("struct", "union"):
            w(f"xdr.pack_list(out, {value}, {shape.bound_text}, {elem.cls}, {path.args})")
            return
        if "." in value and elem.kind not in ("string", "opaque", "struct", "union"):
            value = w.temp("v")  # read once: the loop below reads it again
            w(f"{value} = {item.expr}")
        if shape.kind == "var_array":
            w(f"xdr.pack_count(out, {value}, {shape.bound_text}, {path.args})")
        else:
            w(f"xdr.check_fixed_array(out, {value}, {shape.bound_text}, {path.args})")
        each_path = path.element()
        if elem.kind == "numeric":
            if elem.is_bool or elem.enum is not None:
                each = w.temp("e")
                w(f"for {each} in {value}:")
                w.indent()
                self._check_numeric(w, Item(each, path, elem))
                w.dedent()
            w(f'xdr.pack_array(out, {value}, "{elem.code}", {path.args})')
        elif elem.kind in ("string", "opaque"):
            helper = "pack_strings" if elem.kind == "string" else "pack_opaques"
            w(f"xdr.{helper}(out, {value}, {elem.bound_text}, {each_path.args})")
        elif elem.kind in ("struct", "union"):
            w(f"xdr.pack_values(out, {value}, {elem.cls}, {each_path.args})")
        else:
            each = w.temp("e")
            w(f"for {each} in {value}:")
            w.indent()
            self.pack_one(w, Item(each, each_path, elem))
            w.dedent()

    # -------------------------------------------------------------- unpack
    def unpack_items(
        self, w: Writer, items: list[Item], first_length: str | None = None, ahead: ReadAhead | None = None
    ) -> None:
        """Assign each item's decoded value to the variable ``item.expr``.
        ``first_length`` holds the first item's count when it was read
        already; ``ahead`` asks for the next element's count at the end
        (both only in list decoders' loops)."""
        runs = _runs(items, _groupable_unpack)
        pad: PadCheck | None = None
        for index, run in enumerate(runs):
            tail = ahead if index == len(runs) - 1 else None
            if len(run) > 1 or _groupable_unpack(run[0].shape):
                self.flush(w)
                self._unpack_fixed_run(w, run, pad, tail)
                tail = None
            elif self.inline and run[0].shape.kind in ("string", "opaque"):
                # What follows reads its first word anyway: it can take the
                # item's last word along and check the padding there.
                following = runs[index + 1] if index + 1 < len(runs) else None
                fuse = following is not None and (
                    len(following) > 1
                    or _groupable_unpack(following[0].shape)
                    or self._inlinable_union(following[0].shape)
                )
                length = first_length if index == 0 else None
                pad = self._unpack_counted_bytes(w, run[0], defer_padding=fuse, length=length)
            elif self._inlinable_union(run[0].shape):
                self._inline_union(w, run[0], pad, tail)
                tail = None
            else:
                self.unpack_one(w, run[0])
            if tail is not None:
                self._read_ahead(w, tail)
            if not (self.inline and run[0].shape.kind in ("string", "opaque")):
                pad = None

    def _read_ahead(self, w: Writer, ahead: ReadAhead) -> None:
        w(f"if {ahead.more}:")
        w(f"    ({ahead.length},) = {self.structs.name('>I')}.unpack_from(data, offset)")

    def _convert_numeric(self, w: Writer, raw: str, item: Item, at: str) -> None:
        """Turn the raw int ``raw`` into the item's value (bool or enum
        member), checking it."""
        shape = item.shape
        member = w.temp("m") if shape.enum is not None else None
        w.snippet(
            "convert_numeric", raw=raw, item=item, at=at, member=member,
            members=self.members(shape) if shape.enum is not None else "",
        )  # fmt: skip

    def _fixed_read(
        self, w: Writer, targets: list[str], fmt: str, pad: PadCheck | None, ahead: ReadAhead | None = None
    ) -> None:
        """``targets = unpack(fmt)`` at ``offset``.  With ``pad``, the padded
        item that ends there is checked on its last word, read along; with
        ``ahead``, the next element's count is read along too."""
        word = w.temp("w") if pad is not None else None
        if word is not None:
            targets = [word, *targets]
            fmt = ">I" + fmt[1:]
        at = "offset - 4" if pad is not None else "offset"

        def read(names: list[str], code: str) -> str:
            return f"{_tuple_target(names)} = {self.structs.name(code)}.unpack_from(data, {at})"

        if ahead is None:
            w(read(targets, fmt))
        else:
            w(f"if {ahead.more}:")
            w(f"    {read([*targets, ahead.length], fmt + 'I')}")
            w("else:")
            w(f"    {read(targets, fmt)}")
        if pad is not None:
            w(f"if {word} & xdr.PAD_MASKS[{pad.padded} - {pad.end}]:")
            w(f"    xdr.bad_padding({pad.path.text}, {pad.end})")

    def _unpack_fixed_run(
        self, w: Writer, run: list[Item], pad: PadCheck | None = None, ahead: ReadAhead | None = None
    ) -> None:
        fmt = ">" + "".join(_code(i.shape) for i in run)
        targets = []
        converts = []
        position = 0
        for item in run:
            shape = item.shape
            if shape.is_bool or shape.enum is not None:
                raw = w.temp("r")
                targets.append(raw)
                converts.append((raw, item, position))
            else:
                targets.append(item.expr)
            position += shape.bound if shape.kind == "fixed_opaque" else shape.size
        self._fixed_read(w, targets, fmt, pad, ahead)
        for raw, item, at in converts:
            self._convert_numeric(w, raw, item, f"offset + {at}" if at else "offset")
        if self.inline or pad is not None or ahead is not None:
            w(f"offset += {position}")
        else:
            self.advance = position

    def unpack_one(self, w: Writer, item: Item) -> None:
        shape, target, path = item.shape, item.expr, item.path
        kind = shape.kind
        elem = shape.elem
        typedef = self._typedef_call(item)
        if typedef is not None:
            function = self.shapes.typedef_function("unpack", typedef)
            w(f"{target}, offset = {function}(data, {self.offset()}, {path.args})")
        elif _groupable_unpack(shape):
            self.flush(w)
            self._unpack_fixed_run(w, [item])
        elif kind in ("string", "opaque") and self.inline:
            self._unpack_counted_bytes(w, item)
        elif kind in ("string", "opaque"):
            helper = "unpack_string" if kind == "string" else "unpack_opaque"
            w(f"{target}, offset = xdr.{helper}(data, {self.offset()}, {shape.bound_text}, {path.args})")
        elif kind == "fixed_opaque":
            at = self.offset()
            w(f"{target}, offset = xdr.unpack_fixed_opaque(data, {at}, {shape.bound_text}, {path.args})")
        elif self._inlinable_union(shape):
            self._inline_union(w, item)
        elif kind in ("struct", "union"):
            w(f"{target}, offset = {shape.cls}.unpack_from(data, {self.offset()})")
        elif kind == "optional" and elem is not None and elem.kind == "string":
            at = self.offset()
            w(f"{target}, offset = xdr.unpack_optional_string(data, {at}, {elem.bound_text}, {path.args})")
        elif kind == "optional" and elem is not None and elem.kind in ("struct", "union"):
            at = self.offset()
            w(f"{target}, offset = xdr.unpack_optional_value(data, {at}, {elem.cls}, {path.args})")
        elif kind == "optional":
            self.flush(w)
            assert shape.elem is not None
            w.snippet("unpack_optional", target=target, annotation=_annotation(target, shape.hint), path=path)
            w.indent()
            self.unpack_one(w, Item(target, path, shape.elem))
            self.flush(w)  # the value's bytes count only when it is there
            w.dedent()
        elif kind in ("var_array", "fixed_array"):
            self._unpack_array(w, item)
        elif kind == "void":
            pass
        else:  # pragma: no cover
            raise AssertionError(kind)

    def unpack_body(self, w: Writer, items: list[Item]) -> str:
        """``unpack_items`` for a method body: returns how the final offset
        is spelled (``offset + 4`` when a fixed read came last)."""
        self.unpack_items(w, items)
        return self.offset()

    def _disc_members(self, disc: Shape) -> str:
        return self.members(disc) if disc.enum is not None else ""

    def _inlinable_union(self, shape: Shape) -> bool:
        """In a list decoder's loop, a union of this module whose arms are
        scalars, strings, opaque data or structs is decoded in place
        (elsewhere it calls ``unpack_from``)."""
        if not self.inline or shape.kind != "union":
            return False
        info = self.shapes.unions.get(shape.cls or "")
        simple = ("numeric", "string", "opaque", "fixed_opaque", "struct")
        return info is not None and all(arm.shape is None or arm.shape.kind in simple for arm in info.arms)

    def _inline_union(
        self, w: Writer, item: Item, pad: PadCheck | None = None, ahead: ReadAhead | None = None
    ) -> None:
        """Decode an inlinable union in place: read the discriminant, pick
        the arm, fill a bare arm instance."""
        info = self.shapes.unions[item.shape.cls or ""]
        disc = w.temp("d")
        self._fixed_read(w, [disc], ">" + info.disc.code, pad)
        w("offset += 4")
        keyword = "if"
        for arm in info.arms:
            if arm.values:
                w(f"{keyword} {label_test(disc, arm.values)}:")
            else:
                w("else:")
            w.indent()
            if not arm.values:
                check_default_discriminant(w, info.disc, info.name, disc, "offset - 4", self._disc_members(info.disc))
            value = w.temp("a")
            w(f"{value} = {arm.cls}.__new__({arm.cls})")
            if arm.disc_stored:
                # (an int read by struct is Any to mypy; an enum member is not)
                ignore = "  # type: ignore[assignment]" if arm.narrowed and info.disc.enum else ""
                w(f"{value}.{info.disc_attribute} = {disc_value(info.disc, disc, self._disc_members(info.disc))}{ignore}")
            if arm.attribute is not None and arm.shape is not None:
                target = Item(f"{value}.{arm.attribute}", quoted(f"{arm.cls}.{arm.attribute}"), arm.shape)
                self.unpack_items(w, [target], ahead=ahead)
            elif ahead is not None:
                self._read_ahead(w, ahead)
            # a local holds the union's type, not the first arm's
            declared = f": {info.name}" if keyword == "if" and "." not in item.expr else ""
            w(f"{item.expr}{declared} = {value}")
            w.dedent()
            keyword = "elif"
        if not info.has_default:
            w("else:")
            w(f'    xdr.bad_value("{info.name}", offset - 4, "discriminant", {disc})')

    def _unpack_counted_bytes(
        self, w: Writer, item: Item, defer_padding: bool = False, length: str | None = None
    ) -> PadCheck | None:
        """A string or variable-length opaque, in place (the hot path of big
        replies): count, bound, room, zero padding, then one slice.  With
        ``defer_padding`` the padding is left to the next fixed read, which
        gets the check it must make."""
        shape = item.shape
        end, padded = w.temp("end"), w.temp("pad")
        read_length = length is None  # else read ahead by the previous element
        if length is None:
            length = w.temp("len")
        w.snippet(
            "unpack_counted", item=item, length=length, read_length=read_length,
            unpack_u32=self.structs.name(">I"), end=end, padded=padded,
            bounded=shape.bound != MAX_UINT, bound=shape.bound_text,
            defer_padding=defer_padding,
        )  # fmt: skip
        return PadCheck(end, padded, item.path) if defer_padding else None

    def _unpack_array(self, w: Writer, item: Item) -> None:
        shape, target, path = item.shape, item.expr, item.path
        elem = shape.elem
        assert elem is not None
        if shape.kind == "var_array" and elem.kind in ("struct", "union"):
            size = self.shapes.min_size(elem)
            decoder = self.list_decoder(elem)
            at = self.offset()
            w(f"{target}, offset = xdr.unpack_list(data, {at}, {shape.bound_text}, {size}, {decoder}, {path.args})")
            return
        self.flush(w)
        count = w.temp("n")
        if shape.kind == "var_array":
            size = self.shapes.min_size(elem)
            w(f"{count} = xdr.unpack_count(data, offset, {shape.bound_text}, {size}, {path.args})")
            w("offset += 4")
        else:
            w(f"{count} = {shape.bound_text}")
        each_path = path.element()
        if elem.kind == "numeric":
            raw = w.temp("raw")
            w(f'{raw}, offset = xdr.unpack_array(data, offset, "{elem.code}", {count}, {elem.size}, {path.args})')
            if elem.is_bool:
                w(f"{target} = xdr.check_bools({raw}, {path.args_at(f'offset - 4 * {count}')})")
            elif elem.enum is not None:
                w(f"{target} = xdr.check_enums({raw}, {self.members(elem)}, {path.args_at(f'offset - 4 * {count}')})")
            else:
                w(f"{target} = list({raw})")
        elif elem.kind in ("string", "opaque"):
            helper = "unpack_strings" if elem.kind == "string" else "unpack_opaques"
            w(f"{target}, offset = xdr.{helper}(data, offset, {count}, {elem.bound_text}, {each_path.args})")
        elif elem.kind in ("struct", "union"):
            w(f"{target}, offset = {self.list_decoder(elem)}(data, offset, {count})")
        else:
            self.unpack_loop(w, target, shape.hint, count, Item("", each_path, elem))

    def unpack_loop(self, w: Writer, target: str, hint: str, count: str, each: Item) -> None:
        """``target`` = a list of ``count`` elements decoded in a loop;
        small structs of this module are decoded in the loop itself."""
        elem = each.shape
        value = w.temp("e")
        items = target if target.isidentifier() else w.temp("items")
        fields = self.shapes.inlinable_fields(elem) if self.inline else None
        # What the loop looks up each time is bound to locals first.
        append = w.temp("append")  # unique: arrays of arrays nest loops
        w(f"{items}: {hint} = []")
        w(f"{append} = {items}.append")
        if fields is not None:
            new = w.temp("new")
            w(f"{new} = {elem.cls}.__new__")
        body = Writer(level=w.level + 1, counter=w.counter)
        loop = "_"
        if fields is None:
            self.unpack_one(body, Item(value, each.path, elem))
            self.flush(body)  # each element's bytes, in the loop
        else:
            # a small struct element is decoded in the loop, without a call
            body(f"{value} = {new}({elem.cls})")
            members = [Item(f"{value}.{name}", quoted(f"{elem.cls}.{name}"), field) for name, field in fields]
            if fields[0][1].kind in ("string", "opaque"):
                # Each element reads the next one's leading count along with
                # its own last fixed read: one unpack call fewer per element.
                loop, last, length = body.temp("i"), body.temp("last"), body.temp("len")
                w(f"{last} = {count} - 1")
                w(f"if {count}:")
                w(f"    ({length},) = {self.structs.name('>I')}.unpack_from(data, offset)")
                self.unpack_items(body, members, length, ReadAhead(length, f"{loop} != {last}"))
            else:
                self.unpack_items(body, members)
        body(f"{append}({value})")
        w.counter = body.counter
        lines = _hoist(w, body.lines)
        w(f"for {loop} in range({count}):")
        w.lines.extend(lines)
        if items != target:
            w(f"{target} = {items}")
