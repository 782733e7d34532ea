"""What each declaration looks like on the wire and in Python, with typedefs
resolved: the input of the codec code emitter.

A :class:`Shape` is built once per declaration by :class:`ShapeBuilder`, which
takes the Python names from the module's naming pass
(:class:`..naming.ModuleNames`) and remembers which come from other modules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .. import ir
from ..errors import XdrgenError
from ..resolve import Protocol
from ...runtime.xdr import MAX_UINT


# struct codes and Python hints of the numeric primitives
_NUMERIC = {
    ir.Builtin.INT: ("i", "int"),
    ir.Builtin.CHAR: ("i", "int"),
    ir.Builtin.SHORT: ("i", "int"),
    ir.Builtin.LONG: ("i", "int"),
    ir.Builtin.UNSIGNED_INT: ("I", "int"),
    ir.Builtin.UNSIGNED_CHAR: ("I", "int"),
    ir.Builtin.UNSIGNED_SHORT: ("I", "int"),
    ir.Builtin.UNSIGNED_LONG: ("I", "int"),
    ir.Builtin.HYPER: ("q", "int"),
    ir.Builtin.UNSIGNED_HYPER: ("Q", "int"),
    ir.Builtin.FLOAT: ("f", "float"),
    ir.Builtin.DOUBLE: ("d", "float"),
    ir.Builtin.BOOL: ("I", "bool"),
}

# An array element with more strings or opaque fields than this is decoded
# by its own ``unpack_from`` rather than in the list decoder's loop.
INLINE_COUNTED = 1


@dataclass(frozen=True)
class Shape:
    """kind is one of: numeric, string, opaque, fixed_opaque, var_array,
    fixed_array, optional, struct, union, void.

    numeric: ``code`` is the struct code, ``enum`` the IntEnum class for enum
    types, ``is_bool`` for bool.  ``bound`` is the maximum (variable) or the
    length (fixed).  ``cls`` names the class of struct/union shapes.
    """

    kind: str
    hint: str
    code: str = ""
    enum: str | None = None
    is_bool: bool = False
    bound: int = MAX_UINT
    elem: Shape | None = None
    cls: str | None = None
    #: the constant the bound was written as (``REMOTE_STRING_MAX``), if any
    bound_name: str | None = None
    #: the typedef this shape was declared through (``remote_string``), if any
    typedef: str | None = None

    @property
    def size(self) -> int:
        """Bytes of a numeric primitive."""
        return 8 if self.code in ("q", "Q", "d") else 4

    @property
    def bound_text(self) -> str:
        """The bound as generated code spells it: the constant's name when
        the .x used one, ``xdr.MAX_UINT`` for "no maximum" (``<>``)."""
        if self.bound_name is not None:
            return self.bound_name
        return "xdr.MAX_UINT" if self.bound == MAX_UINT else str(self.bound)


@dataclass(frozen=True)
class UnionArmInfo:
    cls: str
    values: tuple[int, ...]  # empty for the default arm
    disc_stored: bool  # the arm class has a discriminant field
    attribute: str | None  # None for void
    shape: Shape | None
    #: the arm's discriminant hint is narrower (a Literal of its labels)
    #: than the type its decoder reads
    narrowed: bool = False


@dataclass(frozen=True)
class UnionInfo:
    """What decoding a union inline needs: discriminant and arms."""

    name: str
    disc: Shape
    disc_attribute: str
    arms: tuple[UnionArmInfo, ...]
    has_default: bool


class ShapeBuilder:
    """Shapes and class names for one protocol (and the ones it imports)."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.names = protocol.names
        self.imported: dict[str, set[str]] = {}  # module -> class names used
        # module -> constants (and enum member tables) that another module defines
        self.imported_constants: dict[str, set[str]] = {}
        #: the inline types of this module met so far: (class, body, location)
        self.inline: list[tuple[str, ir.EnumBody | ir.StructBody | ir.UnionBody, ir.Location]] = []
        self._inline_classes: set[str] = set()
        self._min_sizes: dict[str, int] = {}
        self._structs: dict[str, ir.StructBody] = {}  # local struct classes
        #: enum class -> its body (to name a member by its value)
        self.enums: dict[str, ir.EnumBody] = {}
        # local unions already generated: class -> how to decode them inline
        self.unions: dict[str, UnionInfo] = {}

    # ---- naming
    def _use(self, entry: tuple[str, str], table: dict[str, set[str]] | None = None) -> str:
        """The Python name of ``(module, name)``, imported if the module is
        another one."""
        module, name = entry
        if module != self.names.module:
            (self.imported if table is None else table).setdefault(module, set()).add(name)
        return name

    def typedef_function(self, role: str, typedef: str) -> str:
        """A typedef's ``pack_x``/``unpack_x`` function (``role`` "pack" or
        "unpack"), imported if the typedef lives in another module."""
        module, functions = self.names.functions[typedef]
        return self._use((module, functions[0 if role == "pack" else 1]))

    def type_class(self, name: str) -> str:
        """The Python class for a named type, importing it if it lives in
        another module."""
        return self._use(self.names.classes[name])

    def constant(self, name: str) -> str | None:
        """The Python name of a constant this module defines or imports
        (imported when another module defines it), None for any other."""
        entry = self.names.constants.get(name)
        return None if entry is None else self._use(entry, self.imported_constants)

    def members_table(self, enum: str) -> str:
        """The value -> member table of an enum class, imported with it."""
        return self._use(self.names.members[enum], self.imported_constants)

    def bound_name(self, value: ir.Value | None) -> str | None:
        """The constant a bound was written as, imported when another module
        defines it; None for a literal."""
        if value is None or value.name is None:
            return None
        return self.constant(value.name)

    # ---- shapes
    def shape(self, decl: ir.Declaration, context: str | None = None) -> Shape:
        """The shape of a declaration.  (``context`` is not used: the naming
        pass names inline types.)"""
        if decl.kind is ir.DeclKind.VOID:
            return Shape("void", "None")
        spec = decl.type
        bound = decl.bound.number if decl.bound is not None else MAX_UINT
        name = self.bound_name(decl.bound)
        if spec.builtin is ir.Builtin.STRING:
            return Shape("string", "str", bound=bound, bound_name=name)
        if spec.builtin is ir.Builtin.OPAQUE:
            if decl.kind is ir.DeclKind.FIXED_ARRAY:
                return Shape("fixed_opaque", "bytes", bound=bound, bound_name=name)
            return Shape("opaque", "bytes", bound=bound, bound_name=name)
        base = self.type_shape(spec)
        if decl.kind is ir.DeclKind.PLAIN:
            return base
        if decl.kind is ir.DeclKind.OPTIONAL:
            return Shape("optional", f"{base.hint} | None", elem=base)
        kind = "fixed_array" if decl.kind is ir.DeclKind.FIXED_ARRAY else "var_array"
        return Shape(kind, f"list[{base.hint}]", elem=base, bound=bound, bound_name=name)

    def type_shape(self, spec: ir.TypeSpec, context: str | None = None) -> Shape:
        if spec.builtin is not None:
            if spec.builtin is ir.Builtin.QUADRUPLE:
                # No Python type holds a 128-bit float: keep its 16 bytes.
                return Shape("fixed_opaque", "bytes", bound=16)
            if spec.builtin not in _NUMERIC:
                raise XdrgenError(spec.location, f"'{spec.builtin.value}' cannot be used here")
            code, hint = _NUMERIC[spec.builtin]
            return Shape("numeric", hint, code=code, is_bool=spec.builtin is ir.Builtin.BOOL)
        if spec.inline is not None:
            module, cls = self.names.inline[spec.location]
            if module != self.names.module:
                self._use((module, cls))
            elif cls not in self._inline_classes:
                self._inline_classes.add(cls)
                self.inline.append((cls, spec.inline, spec.location))
            if isinstance(spec.inline, ir.EnumBody):
                self.enums[cls] = spec.inline
                return Shape("numeric", cls, code="i", enum=cls)
            kind = "struct" if isinstance(spec.inline, ir.StructBody) else "union"
            return Shape(kind, cls, cls=cls)
        assert spec.name is not None
        definition = self.protocol.types[spec.name]
        if isinstance(definition, ir.TypedefDef):
            shape = self.shape(definition.declaration)
            return dataclasses.replace(shape, typedef=spec.name)
        cls = self.type_class(spec.name)
        if isinstance(definition, ir.EnumDef):
            self.enums[cls] = definition.body
            return Shape("numeric", cls, code="i", enum=cls)
        if isinstance(definition, ir.StructDef) and self.protocol.is_local(spec.name):
            self._structs[cls] = definition.body
        kind = "struct" if isinstance(definition, ir.StructDef) else "union"
        return Shape(kind, cls, cls=cls)

    # ---- sizes
    def min_size(self, shape: Shape) -> int:
        """The fewest bytes a value of this shape can take on the wire: an
        upper bound for how many elements the remaining bytes can hold."""
        if shape.kind == "numeric":
            return shape.size
        if shape.kind in ("string", "opaque", "var_array", "optional"):
            return 4
        if shape.kind == "fixed_opaque":
            return (shape.bound + 3) & ~3
        if shape.kind == "fixed_array":
            assert shape.elem is not None
            return shape.bound * self.min_size(shape.elem)
        if shape.kind == "void":
            return 0
        assert shape.cls is not None
        return self._min_sizes.get(shape.cls, 4)

    def inlinable_fields(self, shape: Shape) -> list[tuple[str, Shape]] | None:
        """The fields of a small struct of this module, whose decoding is
        inlined where an array decodes its elements: scalars, at most one
        string or opaque item, and nested structs/unions (which decode
        themselves).  Bigger elements call their own ``unpack_from``."""
        if shape.kind != "struct" or shape.cls not in self._structs:
            return None
        fields = []
        for decl, attribute in zip(self._structs[shape.cls].fields, self.names.fields[shape.cls]):
            field = self.shape(decl)
            if field.kind not in ("numeric", "string", "opaque", "fixed_opaque", "struct", "union"):
                return None
            if field.cls == shape.cls:
                return None
            fields.append((attribute, field))
        if sum(f.kind in ("string", "opaque") for _, f in fields) > INLINE_COUNTED:
            return None
        return fields

    def set_min_size(self, cls: str, size: int) -> None:
        self._min_sizes[cls] = max(size, 4)
