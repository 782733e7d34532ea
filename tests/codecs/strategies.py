"""Hypothesis strategies of valid Python values for any type of a resolved
protocol, driven by the IR.

:class:`ProtocolStrategies` walks the resolved IR (``xdrgen.compiler.resolve.load``)
with the generator's own :class:`~xdrgen.compiler.generators.python_shapes.ShapeBuilder`
and names (:class:`~xdrgen.compiler.naming.ModuleNames`), so typedefs, bounds,
inline types and union arms are seen exactly as the code generator sees them,
and finds each generated class by name in the module of the file that owns
the type.  Values respect every rule the encoder checks: bounds
(UTF-8 length for strings), enum members, bools, integer ranges per struct
code, float32-exact floats, exact lengths of fixed arrays and opaque data,
the discriminants each union arm allows.  Sizes are kept small (a few
elements and characters even when the bound is huge) and optionals and
variable arrays stop nesting after :data:`MAX_DEPTH` levels, so recursive
types (linked lists) stay short.
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from xdrgen.compiler import ir
from xdrgen.compiler.generators.python_shapes import Shape, ShapeBuilder
from xdrgen.compiler.naming import field_name, union_arms
from xdrgen.compiler.project import load_config
from xdrgen.compiler.resolve import Protocol, load

ROOT = Path(__file__).resolve().parents[2]

#: How deep optionals and variable-length arrays nest before they are
#: always absent / empty.
MAX_DEPTH = 3
#: The most elements of a variable-length array (at nesting depth 0).
MAX_ELEMENTS = 4
#: The most characters of a string and bytes of variable-length opaque data.
MAX_CHARS = 8

INT_RANGES = {
    "i": (-(2**31), 2**31 - 1),
    "I": (0, 2**32 - 1),
    "q": (-(2**63), 2**63 - 1),
    "Q": (0, 2**64 - 1),
}

Body = ir.EnumBody | ir.StructBody | ir.UnionBody


def float32s() -> st.SearchStrategy[float]:
    """Floats that survive a round trip through an XDR ``float`` exactly:
    any 4-byte pattern but NaN (so infinities, subnormals and -0.0 too)."""
    from_bits = (
        st.binary(min_size=4, max_size=4)
        .map(lambda raw: struct.unpack(">f", raw)[0])
        .filter(lambda value: value == value)
    )
    return st.one_of(from_bits, st.floats(width=32, allow_nan=False))


def doubles() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False)


def _fit_utf8(text: str, limit: int) -> str:
    """``text`` cut so that its UTF-8 encoding takes at most ``limit`` bytes."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", "ignore")


def utf8_text(bound: int) -> st.SearchStrategy[str]:
    chars = st.characters(codec="utf-8")
    return st.text(chars, max_size=min(bound, MAX_CHARS)).map(
        lambda text: _fit_utf8(text, bound)
    )


@dataclass(frozen=True)
class Arm:
    """One arm class of a generated union."""

    cls_name: str
    labels: tuple[int, ...] | None  # None: the default arm
    shape: Shape  # the arm's value ("void" for none)


@dataclass(frozen=True)
class UnionInfo:
    disc_field: str
    disc: Shape
    arms: tuple[Arm, ...]

    @property
    def explicit(self) -> frozenset[int]:
        return frozenset(v for arm in self.arms if arm.labels for v in arm.labels)


class ProtocolStrategies:
    """Strategies for the types of one protocol (and those it imports).

    ``modules`` maps a module name (the stem of a ``.x`` file) to the
    imported generated module that holds its classes.
    """

    def __init__(
        self, protocol: Protocol, modules: Callable[[str], ModuleType] | Mapping[str, ModuleType]
    ) -> None:
        self.protocol = protocol
        self._modules = modules
        self.shapes = ShapeBuilder(protocol)
        names = protocol.names
        self.names = names
        self.owner: dict[str, str] = {}  # class name -> module name
        self.bodies: dict[str, Body] = {}  # struct/union/enum class -> body
        self.fields: dict[str, list[tuple[str, Shape]]] = {}
        self.unions: dict[str, UnionInfo] = {}
        self._memo: dict[tuple[str, int], st.SearchStrategy[Any]] = {}
        for name, definition in sorted(protocol.types.items()):
            if isinstance(definition, (ir.EnumDef, ir.StructDef, ir.UnionDef)):
                module, cls = names.classes[name]
                self._register(cls, definition.body, module)
            for node in ir.iter_nodes(definition):
                if isinstance(node, ir.TypeSpec) and node.inline is not None:
                    module, cls = names.inline[node.location]
                    self._register(cls, node.inline, module)
        self.typedefs: dict[str, Shape] = {}
        for definition in protocol.spec.definitions:
            if (
                isinstance(definition, ir.TypedefDef)
                and protocol.types.get(definition.name) is definition
            ):
                self.typedefs[definition.name] = self.shapes.shape(definition.declaration)

    # ---- the IR walk
    def _register(self, name: str, body: Body, owner: str) -> None:
        if name in self.bodies:
            return
        self.bodies[name] = body
        self.owner[name] = owner
        if isinstance(body, ir.StructBody):
            fields = []
            for decl in body.fields:
                assert decl.name is not None
                fields.append((field_name(decl.name), self.shapes.shape(decl)))
            self.fields[name] = fields
        elif isinstance(body, ir.UnionBody):
            discriminant = body.discriminant
            assert discriminant.name is not None
            disc = self.shapes.shape(discriminant)
            arms = []
            for (decl, labels), arm in zip(union_arms(body), self.names.arms[name]):
                self.owner[arm] = owner
                shape = self.shapes.shape(decl)
                numbers = tuple(label.number for label in labels) if labels else None
                arms.append(Arm(arm, numbers, shape))
            self.unions[name] = UnionInfo(field_name(discriminant.name), disc, tuple(arms))

    # ---- classes
    def module(self, name: str) -> ModuleType:
        if callable(self._modules):
            return self._modules(name)
        return self._modules[name]

    def cls(self, name: str) -> Any:
        """The generated class (or enum) called ``name``."""
        return getattr(self.module(self.owner[name]), name)

    def typedef_functions(self, name: str) -> tuple[Callable[..., None], Callable[..., Any]]:
        """The ``pack_x`` and ``unpack_x`` functions of ``typedef name``."""
        module, (pack, unpack, _) = self.names.functions[name]
        return getattr(self.module(module), pack), getattr(self.module(module), unpack)

    def struct_names(self, owner: str | None = None) -> list[str]:
        return sorted(n for n in self.fields if owner is None or self.owner[n] == owner)

    def union_names(self, owner: str | None = None) -> list[str]:
        return sorted(n for n in self.unions if owner is None or self.owner[n] == owner)

    # ---- strategies
    def for_class(self, name: str, depth: int = 0) -> st.SearchStrategy[Any]:
        """Values of the struct or union class ``name`` (a union's values are
        instances of its arm classes)."""
        key = (name, depth)
        strategy = self._memo.get(key)
        if strategy is None:
            strategy = st.deferred(lambda: self._build(name, depth))
            self._memo[key] = strategy
        return strategy

    def for_typedef(self, name: str) -> st.SearchStrategy[Any]:
        """Values of ``typedef name`` (as its ``pack_name`` function takes them)."""
        return self.for_shape(self.typedefs[name], 0)

    def _build(self, name: str, depth: int) -> st.SearchStrategy[Any]:
        cls = self.cls(name)
        if name in self.fields:
            return st.builds(cls, *(self.for_shape(s, depth) for _, s in self.fields[name]))
        info = self.unions[name]
        options = []
        for arm in info.arms:
            args = []
            if arm.labels is None or len(arm.labels) > 1:
                disc = self._discriminants(info, arm.labels)
                if disc is None:
                    continue  # a default arm that no value can select
                args.append(disc)
            if arm.shape.kind != "void":
                args.append(self.for_shape(arm.shape, depth))
            options.append(st.builds(self.cls(arm.cls_name), *args))
        return st.one_of(options)

    def _disc_value(self, shape: Shape, number: int) -> Any:
        """The Python value of a discriminant (what decoding returns)."""
        if shape.is_bool:
            return number == 1
        if shape.enum is not None:
            return self.cls(shape.enum)(number)
        return number

    def _discriminants(
        self, info: UnionInfo, labels: tuple[int, ...] | None
    ) -> st.SearchStrategy[Any] | None:
        shape = info.disc
        if labels is not None:
            return st.sampled_from([self._disc_value(shape, n) for n in labels])
        explicit = info.explicit
        if shape.is_bool:
            free = [v for v in (0, 1) if v not in explicit]
            return st.sampled_from([v == 1 for v in free]) if free else None
        if shape.enum is not None:
            members = [m for m in self.cls(shape.enum) if int(m) not in explicit]
            return st.sampled_from(members) if members else None
        low, high = INT_RANGES[shape.code]
        return st.integers(low, high).filter(lambda v: v not in explicit)

    def for_shape(self, shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
        kind = shape.kind
        if kind == "numeric":
            if shape.is_bool:
                return st.booleans()
            if shape.enum is not None:
                return st.sampled_from(list(self.cls(shape.enum)))
            if shape.code == "f":
                return float32s()
            if shape.code == "d":
                return doubles()
            low, high = INT_RANGES[shape.code]
            return st.integers(low, high)
        if kind == "string":
            return utf8_text(shape.bound)
        if kind == "opaque":
            return st.binary(max_size=min(shape.bound, MAX_CHARS))
        if kind == "fixed_opaque":
            return st.binary(min_size=shape.bound, max_size=shape.bound)
        if kind in ("struct", "union"):
            assert shape.cls is not None
            return self.for_class(shape.cls, depth)
        if kind == "void":
            return st.none()
        assert shape.elem is not None
        if kind == "optional":
            if depth >= MAX_DEPTH:
                return st.none()
            return st.none() | self.for_shape(shape.elem, depth + 1)
        if kind == "fixed_array":
            element = self.for_shape(shape.elem, depth)
            return st.lists(element, min_size=shape.bound, max_size=shape.bound)
        assert kind == "var_array", kind
        limit = min(shape.bound, MAX_ELEMENTS - depth)
        if depth >= MAX_DEPTH or limit <= 0:
            return st.builds(list)
        return st.lists(self.for_shape(shape.elem, depth + 1), max_size=limit)


# ---- the libvirt package ------------------------------------------------------

LIBVIRT_PACKAGE = "libvirt_rpc"


@cache
def libvirt_protocols() -> dict[str, Protocol]:
    """Module name -> resolved protocol, as ``[tool.xdrgen]`` configures them."""
    target = load_config(ROOT / "pyproject.toml")
    out = {}
    for path in target.inputs:
        protocol = load(path, include_dirs=target.include_dirs, defines=target.defines)
        out[protocol.name] = protocol
    return out


def libvirt_module(name: str) -> ModuleType:
    return importlib.import_module(f"{LIBVIRT_PACKAGE}.{name}")


@cache
def libvirt_strategies(name: str) -> ProtocolStrategies:
    return ProtocolStrategies(libvirt_protocols()[name], libvirt_module)


# ---- the demo protocol ------------------------------------------------------

DEMO_X = ROOT / "tests" / "golden" / "demo.x"


@cache
def demo_protocol() -> Protocol:
    return load(DEMO_X)


def import_generated(path: Path, name: str) -> ModuleType:
    """Import the generated module at ``path`` as ``name`` (registered in
    ``sys.modules`` first: dataclasses look their module up there)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def generate_demo(directory: Path, name: str = "demo_codecs") -> ModuleType:
    """Generate demo.x into ``directory`` and import it as ``name``."""
    from xdrgen.compiler.generators.python_module import generate_python

    path = directory / f"{name}.py"
    path.write_text(generate_python(demo_protocol()), encoding="utf-8")
    return import_generated(path, name)
