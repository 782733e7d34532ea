"""Property tests: every struct and union of the generated libvirt_rpc
package, and every type of tests/golden/demo.x, survives encode -> decode ->
encode unchanged, also when decoded from inside a larger buffer or a
memoryview."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from xdrgen.compiler import ir
from xdrgen.runtime import xdr

from roundtrip_checks import check_typedef, check_value
from strategies import (
    ProtocolStrategies,
    demo_protocol,
    generate_demo,
    libvirt_module,
    libvirt_protocols,
    libvirt_strategies,
)

EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The ~800 libvirt types: no shrinking, so that a codec bug that breaks many
# types fails fast (the failing example is still printed) instead of
# shrinking each one for minutes.
LIBVIRT_EXAMPLES = settings(EXAMPLES, phases=[Phase.explicit, Phase.generate])

MODULES = sorted(libvirt_protocols())
TYPES = [
    (module, name)
    for module in MODULES
    for name in (
        libvirt_strategies(module).struct_names(module)
        + libvirt_strategies(module).union_names(module)
    )
]
TYPEDEFS = [(module, name) for module in MODULES for name in libvirt_strategies(module).typedefs]


# ---- libvirt_rpc --------------------------------------------------------------


def test_every_generated_class_is_covered() -> None:
    """The IR walk finds exactly the struct, union and arm classes that each
    generated module defines, under the generator's names."""
    assert len(MODULES) == 9
    total = 0
    for module_name in MODULES:
        module = libvirt_module(module_name)
        strategies = libvirt_strategies(module_name)
        defined = {
            name
            for name, obj in vars(module).items()
            if isinstance(obj, type)
            and obj.__module__ == module.__name__
            and issubclass(obj, (xdr.XdrStruct, xdr.XdrUnion))
            and not name.startswith("_")  # the bases that structs share
        }
        expected = set(strategies.struct_names(module_name))
        for union in strategies.union_names(module_name):
            expected.add(union)
            for arm in strategies.unions[union].arms:
                expected.add(arm.cls_name)
                assert issubclass(getattr(module, arm.cls_name), getattr(module, union))
        assert defined == expected, module_name
        total += len(strategies.struct_names(module_name)) + len(
            strategies.union_names(module_name)
        )
    assert total == len(TYPES) > 700


@pytest.mark.parametrize(("module_name", "type_name"), TYPES)
def test_libvirt_roundtrip(module_name: str, type_name: str) -> None:
    strategies = libvirt_strategies(module_name)
    cls = strategies.cls(type_name)
    assert cls.__module__ == f"libvirt_rpc.{module_name}"

    @LIBVIRT_EXAMPLES
    @given(strategies.for_class(type_name))
    def roundtrip(value: Any) -> None:
        check_value(cls, value)

    roundtrip()


@pytest.mark.parametrize(("module_name", "typedef"), TYPEDEFS)
def test_libvirt_typedef_roundtrip(module_name: str, typedef: str) -> None:
    strategies = libvirt_strategies(module_name)

    @LIBVIRT_EXAMPLES
    @given(strategies.for_typedef(typedef))
    def roundtrip(value: Any) -> None:
        check_typedef(*strategies.typedef_functions(typedef), value)

    roundtrip()


# ---- demo.x -----------------------------------------------------------------

DEMO = demo_protocol()
DEMO_TYPES = [
    class_name
    for class_name in sorted(
        ProtocolStrategies(DEMO, {}).fields.keys() | ProtocolStrategies(DEMO, {}).unions.keys()
    )
]
DEMO_TYPEDEFS = [
    d.name for d in DEMO.spec.definitions if isinstance(d, ir.TypedefDef)
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ProtocolStrategies]:
    module = generate_demo(tmp_path_factory.mktemp("demo_roundtrip"), "demo_roundtrip")
    return module, ProtocolStrategies(DEMO, {"demo": module})


def test_demo_types_are_all_there(demo: tuple[ModuleType, ProtocolStrategies]) -> None:
    assert DEMO_TYPES == [
        "DemoAllTypes",
        "DemoFlag",
        "DemoNested",
        "DemoNestedChoice",
        "DemoNestedInner",
        "DemoNode",
        "DemoNumber",
        "DemoPoint",
        "DemoResult",
    ]
    assert DEMO_TYPEDEFS == [
        "demo_uuid",
        "demo_name",
        "demo_optional_name",
        "demo_int_list",
        "demo_point_alias",
    ]


@pytest.mark.parametrize("type_name", DEMO_TYPES)
def test_demo_roundtrip(demo: tuple[ModuleType, ProtocolStrategies], type_name: str) -> None:
    module, strategies = demo
    cls = getattr(module, type_name)

    @settings(EXAMPLES, max_examples=60)
    @given(strategies.for_class(type_name))
    def roundtrip(value: Any) -> None:
        check_value(cls, value)

    roundtrip()


@pytest.mark.parametrize("typedef", DEMO_TYPEDEFS)
def test_demo_typedef_roundtrip(
    demo: tuple[ModuleType, ProtocolStrategies], typedef: str
) -> None:
    _, strategies = demo

    @settings(EXAMPLES, max_examples=40)
    @given(strategies.for_typedef(typedef))
    def roundtrip(value: Any) -> None:
        check_typedef(*strategies.typedef_functions(typedef), value)

    roundtrip()


def test_demo_union_arms_all_drawn(demo: tuple[ModuleType, ProtocolStrategies]) -> None:
    """The strategies reach every arm, with only the discriminants it allows."""
    module, strategies = demo
    seen: dict[str, set[Any]] = {}

    @settings(EXAMPLES, max_examples=300)
    @given(
        st.one_of(
            strategies.for_class("DemoResult"),
            strategies.for_class("DemoNumber"),
            strategies.for_class("DemoFlag"),
            strategies.for_class("DemoNestedChoice"),
        )
    )
    def collect(value: Any) -> None:
        disc = next(
            getattr(value, f) for f in ("colour", "kind", "set", "which") if hasattr(value, f)
        )
        seen.setdefault(type(value).__name__, set()).add(disc)

    collect()
    assert set(seen) == {
        "DemoResultValue",
        "DemoResultPoint",
        "DemoResultDemoBlack",
        "DemoNumberBig",
        "DemoNumberReal",
        "DemoNumberDefault",
        "DemoFlagValue",
        "DemoFlagFalse",
        "DemoNestedChoiceZero",
        "DemoNestedChoiceDefault",
    }
    assert seen["DemoResultValue"] <= {module.DEMO_RED, module.DEMO_GREEN}
    assert 1 not in seen["DemoNumberDefault"] and -1 not in seen["DemoNumberDefault"]
    assert 0 not in seen["DemoNestedChoiceDefault"]


def test_float_strategy_is_float32_exact() -> None:
    import struct

    from strategies import float32s

    @settings(EXAMPLES, max_examples=200)
    @given(float32s())
    def exact(value: float) -> None:
        assert value == value
        assert struct.unpack(">f", struct.pack(">f", value))[0] == value

    exact()
