"""What the codecs refuse, on both sides: every rejection is an
``xdrgen.runtime.xdr.XdrError`` (a ValueError) that names the type and field
(``.path``) and the byte position (``.offset``) -- never another exception,
never a silently wrong value, and never a huge allocation driven by a count
read from the input."""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vn
from xdrgen.runtime.xdr import XdrError

from strategies import generate_demo, libvirt_strategies

UUID = bytes(range(16))
MiB = 1 << 20


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def rejects(action: Callable[[], Any], path: str, offset: int | None, reason: str = "") -> XdrError:
    """``action()`` raises XdrError with this path and offset (and ``reason``
    in its message)."""
    with pytest.raises(XdrError) as info:
        action()
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.path, error.offset) == (path, offset), str(error)
    assert reason in str(error)
    return error


def encoding_of(value: Any) -> bytes:
    return bytes(value.encode())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generate_demo(tmp_path_factory.mktemp("demo_rejections"), "demo_rejections")


def header(**changes: Any) -> vn.VirNetMessageHeader:
    fields: dict[str, Any] = dict(
        prog=0x20008086,
        vers=1,
        proc=16,
        type=vn.VIR_NET_CALL,
        serial=7,
        status=vn.VIR_NET_OK,
    )
    fields.update(changes)
    return vn.VirNetMessageHeader(**fields)


def all_types(demo: ModuleType, **changes: Any) -> Any:
    fields: dict[str, Any] = dict(
        i=1, ui=2, u=3, h=4, uh=5, f=0.5, d=0.25, b=False, c=6, uc=7, s=8, us=9, l=10, ul=11,
        colour=demo.DEMO_RED, uuid=UUID, name="n", anything="any", fixed_bytes=b"abc",
        some_bytes=b"\x01\x02", any_bytes=b"", fixed_ints=[1, 2, 3, 4], some_hypers=[1, 2],
        names=["x", "yz"], maybe_name="m", maybe_point=demo.DemoPoint(1, 2),
    )  # fmt: skip
    fields.update(changes)
    return demo.DemoAllTypes(**fields)


# ---- decoding: truncated input ----------------------------------------------------


def check_every_prefix(cls: Any, data: bytes) -> None:
    for end in range(len(data)):
        prefix = data[:end]
        with pytest.raises(XdrError) as info:
            cls.decode(prefix)
        assert info.value.offset is not None and 0 <= info.value.offset <= end
        with pytest.raises(XdrError):
            cls.unpack_from(memoryview(b"\0\0\0" + prefix), 3)
    assert cls.decode(data) is not None


def test_truncated_prefixes_libvirt() -> None:
    check_every_prefix(vn.VirNetMessageHeader, encoding_of(header()))
    error = rp.RemoteError(
        1, 2, "message", 3, rp.RemoteNonnullDomain("dom", UUID, 4), None, "s2", "s3", 5, 6,
        rp.RemoteNonnullNetwork("net", UUID),
    )  # fmt: skip
    check_every_prefix(rp.RemoteError, encoding_of(error))
    param = rp.RemoteTypedParam("field", rp.RemoteTypedParamValueS("value"))
    check_every_prefix(rp.RemoteTypedParam, encoding_of(param))
    check_every_prefix(rp.RemoteTypedParamValue, encoding_of(rp.RemoteTypedParamValueD(1.0)))
    domains = rp.RemoteConnectListAllDomainsRet(
        [rp.RemoteNonnullDomain("a", UUID, 1), rp.RemoteNonnullDomain("bcdef", UUID, 2)], 2
    )
    check_every_prefix(rp.RemoteConnectListAllDomainsRet, encoding_of(domains))
    check_every_prefix(
        rp.RemoteNodeGetCellsFreeMemoryRet,
        encoding_of(rp.RemoteNodeGetCellsFreeMemoryRet([1, 2, 3])),
    )


def test_truncated_prefixes_demo(demo: ModuleType) -> None:
    check_every_prefix(demo.DemoAllTypes, encoding_of(all_types(demo)))
    node = demo.DemoNode("a", demo.DemoNode("bcde", demo.DemoNode("", None)))
    check_every_prefix(demo.DemoNode, encoding_of(node))
    nested = demo.DemoNested(
        demo.DemoNestedInner(1, b"xyz"), demo.DemoNestedChoiceZero(5), demo.DEMO_ANON_B
    )
    check_every_prefix(demo.DemoNested, encoding_of(nested))
    check_every_prefix(demo.DemoNumber, encoding_of(demo.DemoNumberDefault(3, "text")))
    check_every_prefix(demo.DemoResult, encoding_of(demo.DemoResultPoint(demo.DemoPoint(1, 2))))


SAMPLED_TYPES = [
    ("virnetprotocol", "VirNetMessageError"),
    ("remote_protocol", "RemoteDomainGetInfoRet"),
    ("remote_protocol", "RemoteDomainGetSchedulerParametersRet"),
    ("remote_protocol", "RemoteConnectGetAllDomainStatsRet"),
    ("remote_protocol", "RemoteDomainMigratePrepare3ParamsArgs"),
    ("qemu_protocol", "QemuDomainMonitorEventMsg"),
    ("admin_protocol", "AdminConnectGetLoggingOutputsRet"),
]


@pytest.mark.parametrize(("module_name", "type_name"), SAMPLED_TYPES)
def test_truncated_prefixes_of_random_values(module_name: str, type_name: str) -> None:
    strategies = libvirt_strategies(module_name)
    cls = strategies.cls(type_name)

    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(strategies.for_class(type_name))
    def prefixes(value: Any) -> None:
        data = value.encode()
        for end in range(len(data)):
            with pytest.raises(XdrError):
                cls.decode(data[:end])

    prefixes()


def test_truncated_offset_and_path() -> None:
    data = encoding_of(rp.RemoteNonnullDomain("vm1", UUID, 5))
    # the name's count itself is cut: the type is named, with the offset
    rejects(lambda: rp.RemoteNonnullDomain.decode(data[:2]), "RemoteNonnullDomain", 0,
            "truncated")  # fmt: skip
    # the name's length says 3 bytes (+1 padding), only 2 are there
    rejects(lambda: rp.RemoteNonnullDomain.decode(data[:6]), "RemoteNonnullDomain.name", 4,
            "truncated")  # fmt: skip
    # the uuid and id (one fixed-size run) start at byte 8
    rejects(lambda: rp.RemoteNonnullDomain.decode(data[:20]), "RemoteNonnullDomain", 8,
            "truncated")  # fmt: skip
    # inside a union arm: the double after the discriminant
    rejects(
        lambda: rp.RemoteTypedParamValue.decode(h("00000005 3ff00000")),
        "RemoteTypedParamValueD",
        4,
        "truncated",
    )
    rejects(lambda: rp.RemoteTypedParamValue.decode(b"\0\0"), "RemoteTypedParamValue", 0)


# ---- decoding: lengths ----------------------------------------------------------


def test_string_length_above_bound() -> None:
    data = h("00400001") + bytes(4194308)  # REMOTE_STRING_MAX + 1, all bytes there
    rejects(lambda: rp.RemoteNonnullDomain.decode(data), "RemoteNonnullDomain.name", 0,
            "length 4194305 exceeds the maximum 4194304")  # fmt: skip


def test_opaque_length_above_bound() -> None:
    dom = encoding_of(rp.RemoteNonnullDomain("d", UUID, 1))
    data = dom + h("00000000") + h("00000801") + bytes(2052)  # REMOTE_CPUMAP_MAX + 1
    rejects(lambda: rp.RemoteDomainPinVcpuArgs.decode(data), "RemoteDomainPinVcpuArgs.cpumap",
            len(dom) + 4, "length 2049 exceeds the maximum 2048")  # fmt: skip


def test_array_length_above_bound() -> None:
    data = h("00004001") + bytes(16385 * 24 + 4)  # REMOTE_DOMAIN_LIST_MAX + 1
    rejects(lambda: rp.RemoteConnectListAllDomainsRet.decode(data),
            "RemoteConnectListAllDomainsRet.domains", 0,
            "length 16385 exceeds the maximum 16384")  # fmt: skip
    rejects(lambda: rp.RemoteNodeGetCellsFreeMemoryRet.decode(h("00000401") + bytes(8200)),
            "RemoteNodeGetCellsFreeMemoryRet.cells", 0, "exceeds the maximum 1024")  # fmt: skip


def small_and_quick(action: Callable[[], Any]) -> XdrError:
    """Run ``action`` (which must fail) and check it allocated under 1 MiB
    and took well under a second."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(XdrError) as info:
            action()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MiB, f"peak allocation {peak} bytes"
    assert elapsed < 0.5
    return info.value


def test_huge_array_count_does_not_allocate() -> None:
    tail = bytes(64)
    error = small_and_quick(lambda: rp.RemoteConnectListAllDomainsRet.decode(h("ffffffff") + tail))
    assert (error.path, error.offset) == ("RemoteConnectListAllDomainsRet.domains", 0)
    # Within the bound, but 16384 domains cannot fit in 64 bytes: refused
    # before a list is built.
    error = small_and_quick(lambda: rp.RemoteConnectListAllDomainsRet.decode(h("00004000") + tail))
    assert (error.path, error.offset) == ("RemoteConnectListAllDomainsRet.domains", 4)
    assert "truncated" in str(error)


def test_huge_unbounded_counts_do_not_allocate(demo: ModuleType) -> None:
    fixed = encoding_of(all_types(demo))[:88]  # the fixed-size head + uuid
    name = h("00000001 6e000000")
    # string anything<>: a 4 GB length
    error = small_and_quick(lambda: demo.DemoAllTypes.decode(fixed + name + h("ffffffff") + bytes(64)))
    assert (error.path, error.offset) == ("DemoAllTypes.anything", 100)
    assert "truncated" in error.reason
    # opaque any_bytes<>: a 4 GB length
    head = fixed + name + h("00000000") + b"abc\0" + h("00000000")
    error = small_and_quick(lambda: demo.DemoAllTypes.decode(head + h("ffffffff") + bytes(64)))
    assert (error.path, error.offset) == ("DemoAllTypes.any_bytes", len(head) + 4)
    # string names<>: 4 G elements
    head += h("00000000") + h("00000001 00000002 00000003 00000004") + h("00000000")
    error = small_and_quick(lambda: demo.DemoAllTypes.decode(head + h("ffffffff") + bytes(64)))
    assert (error.path, error.offset) == ("DemoAllTypes.names", len(head) + 4)
    # typedef int demo_int_list<>
    error = small_and_quick(lambda: demo.unpack_demo_int_list(h("ffffffff") + bytes(64)))
    assert (error.path, error.offset) == ("DemoIntList", 4)


def test_huge_string_length_does_not_allocate() -> None:
    error = small_and_quick(lambda: rp.RemoteNonnullDomain.decode(h("ffffffff") + bytes(64)))
    assert (error.path, error.offset) == ("RemoteNonnullDomain.name", 0)
    # at the bound (4 MiB) but only 64 bytes follow
    error = small_and_quick(lambda: rp.RemoteNonnullDomain.decode(h("00400000") + bytes(64)))
    assert (error.path, error.offset) == ("RemoteNonnullDomain.name", 4)
    assert "truncated" in error.reason


# ---- decoding: invalid values ----------------------------------------------------


def test_nonzero_string_padding() -> None:
    data = bytearray(encoding_of(rp.RemoteNonnullDomain("vm1", UUID, 5)))
    data[7] = 1
    rejects(lambda: rp.RemoteNonnullDomain.decode(bytes(data)), "RemoteNonnullDomain.name", 7,
            "non-zero padding")  # fmt: skip


# A string's padding is checked where it ends: on its own, or on the word the
# next fixed read takes along (a fixed run, an inline union's discriminant).
PADDED = [
    (rp.RemoteNonnullDomain, lambda name: rp.RemoteNonnullDomain(name, UUID, 5), 0,
     "RemoteNonnullDomain.name"),
    (rp.RemoteTypedParam, lambda name: rp.RemoteTypedParam(name, rp.RemoteTypedParamValueI(1)),
     0, "RemoteTypedParam.field"),
    (rp.RemoteTypedParam, lambda name: rp.RemoteTypedParam("", rp.RemoteTypedParamValueS(name)),
     8, "RemoteTypedParamValueS.s"),
    (rp.RemoteConnectListAllDomainsRet,
     lambda name: rp.RemoteConnectListAllDomainsRet(
         [rp.RemoteNonnullDomain("abcd", UUID, 1), rp.RemoteNonnullDomain(name, UUID, 2)], 2),
     4 + 28, "RemoteNonnullDomain.name"),
]  # fmt: skip


@pytest.mark.parametrize("cls, make, start, path", PADDED)
@pytest.mark.parametrize("length", [1, 2, 3, 5, 6, 7])
def test_nonzero_padding_every_byte(cls: Any, make: Any, start: int, path: str, length: int) -> None:
    data = encoding_of(make("x" * length))
    assert cls.decode(data) == make("x" * length)
    end = start + 4 + length
    for position in range(end, end + (-length & 3)):
        for buffer in (bytes, bytearray, memoryview):
            bad = bytearray(data)
            bad[position] = 0x80
            rejects(lambda: cls.decode(buffer(bad)), path, end, "non-zero padding")
            rejects(lambda: cls.unpack_from(buffer(bad), 0), path, end, "non-zero padding")


@pytest.mark.parametrize("buffer", [bytearray, memoryview])
def test_strings_from_any_buffer(buffer: Any) -> None:
    value = rp.RemoteConnectListAllDomainsRet(
        [rp.RemoteNonnullDomain(name, UUID, i) for i, name in enumerate(["", "vm", "\u00e9t\u00e9"])], 3
    )
    data = encoding_of(value)
    assert rp.RemoteConnectListAllDomainsRet.decode(buffer(data)) == value
    assert rp.RemoteConnectListAllDomainsRet.unpack_from(buffer(b"pad!" + data), 4) == (value, 4 + len(data))
    bad = bytearray(data)
    third = 4 + 24 + 28 + 4  # count, "" and "vm" entries, the length word
    bad[third] = 0xFF  # not UTF-8
    rejects(lambda: rp.RemoteConnectListAllDomainsRet.unpack_from(buffer(bad), 0),
            "RemoteNonnullDomain.name", third, "UTF-8")  # fmt: skip


def test_nonzero_opaque_padding() -> None:
    dom = encoding_of(rp.RemoteNonnullDomain("d", UUID, 1))
    data = dom + h("00000000 00000001 ff000100")
    rejects(lambda: rp.RemoteDomainPinVcpuArgs.decode(data), "RemoteDomainPinVcpuArgs.cpumap",
            len(dom) + 9, "non-zero padding")  # fmt: skip


def test_nonzero_fixed_opaque_padding(demo: ModuleType) -> None:
    data = bytearray(encoding_of(all_types(demo)))
    start = 88 + 8 + 8  # head+uuid, name "n", anything "any"
    assert data[start : start + 4] == b"abc\0"
    data[start + 3] = 0x80
    rejects(lambda: demo.DemoAllTypes.decode(bytes(data)), "DemoAllTypes.fixed_bytes",
            start + 3, "non-zero padding")  # fmt: skip


def test_string_not_utf8() -> None:
    data = h("00000003 61ff6200") + UUID + h("00000001")
    rejects(lambda: rp.RemoteNonnullDomain.decode(data), "RemoteNonnullDomain.name", 5,
            "not UTF-8")  # fmt: skip


def test_bool_not_0_or_1(demo: ModuleType) -> None:
    data = bytearray(encoding_of(all_types(demo)))
    data[40:44] = h("00000002")  # field b
    rejects(lambda: demo.DemoAllTypes.decode(bytes(data)), "DemoAllTypes.b", 40, "bool")
    data[40:44] = h("ffffffff")
    rejects(lambda: demo.DemoAllTypes.decode(bytes(data)), "DemoAllTypes.b", 40, "bool")
    # a bool discriminant with no default arm
    rejects(lambda: demo.DemoFlag.decode(h("00000002 00000000")), "DemoFlag", 0, "discriminant")


def test_enum_value_not_declared() -> None:
    data = bytearray(encoding_of(header()))
    data[12:16] = h("00000063")  # type = 99
    rejects(lambda: vn.VirNetMessageHeader.decode(bytes(data)), "VirNetMessageHeader.type", 12,
            "99 is not a valid VirNetMessageType value")  # fmt: skip
    data[12:16] = h("00000000")
    data[20:24] = h("ffffffff")  # status = -1
    rejects(lambda: vn.VirNetMessageHeader.decode(bytes(data)), "VirNetMessageHeader.status", 20,
            "-1 is not a valid")  # fmt: skip


def test_union_discriminant_without_arm() -> None:
    rejects(lambda: rp.RemoteTypedParamValue.decode(h("00000063 00000000")),
            "RemoteTypedParamValue", 0, "99 is not a valid discriminant")  # fmt: skip
    field = h("00000001 78000000")
    rejects(lambda: rp.RemoteTypedParam.decode(field + h("00000000 00000000")),
            "RemoteTypedParamValue", 8, "discriminant")  # fmt: skip


def test_union_enum_discriminant_not_declared(demo: ModuleType) -> None:
    rejects(lambda: demo.DemoResult.decode(h("00000002 00000000")), "DemoResult", 0,
            "discriminant")  # fmt: skip


def test_optional_flag_not_0_or_1() -> None:
    data = bytearray(encoding_of(rp.RemoteError(1, 2, None, 3, None, None, None, None, 4, 5, None)))
    data[8:12] = h("00000002")  # the message's presence flag
    rejects(lambda: rp.RemoteError.decode(bytes(data)), "RemoteError.message", 8, "2 is not")
    data[8:12] = h("80000000")
    rejects(lambda: rp.RemoteError.decode(bytes(data)), "RemoteError.message", 8)


def test_linked_list_flag_not_0_or_1(demo: ModuleType) -> None:
    data = h("00000001 61000000 00000001 00000000 00000003")
    rejects(lambda: demo.DemoNode.decode(data), "DemoNode.next", 16, "bool (0 or 1)")


def test_trailing_bytes(demo: ModuleType) -> None:
    data = encoding_of(header()) + b"\0\0\0\0"
    rejects(lambda: vn.VirNetMessageHeader.decode(data), "VirNetMessageHeader", 24, "4 trailing")
    rejects(lambda: rp.RemoteTypedParamValue.decode(h("00000001 00000001 00")),
            "RemoteTypedParamValue", 8, "1 trailing")  # fmt: skip
    rejects(lambda: demo.DemoNode.decode(h("00000000 00000000 00000000")), "DemoNode", 8)


def test_decode_arm_class_of_another_arm() -> None:
    """Decoding with an arm class only accepts that arm."""
    rejects(lambda: rp.RemoteTypedParamValueS.decode(h("00000001 00000001")),
            "RemoteTypedParamValueS", 0, "decoded arm RemoteTypedParamValueI")  # fmt: skip


# ---- encoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"proc": 2**31}, "VirNetMessageHeader.proc", "as int"),
        ({"proc": -(2**31) - 1}, "VirNetMessageHeader.proc", "as int"),
        ({"serial": 2**32}, "VirNetMessageHeader.serial", "as unsigned int"),
        ({"serial": -1}, "VirNetMessageHeader.serial", "as unsigned int"),
        ({"prog": "1"}, "VirNetMessageHeader.prog", "cannot encode '1'"),
        ({"vers": 1.0}, "VirNetMessageHeader.vers", "cannot encode 1.0"),
        ({"serial": None}, "VirNetMessageHeader.serial", "cannot encode None"),
    ],
)
def test_encode_int_out_of_range_or_wrong_type(changes: dict[str, Any], path: str, reason: str) -> None:
    rejects(lambda: header(**changes).encode(), path, 0, reason)


def test_encode_hypers_out_of_range(demo: ModuleType) -> None:
    for big in (2**63, -(2**63) - 1):
        rejects(lambda: demo.DemoNumberBig(big=big).encode(), "DemoNumberBig.big", 4, "as hyper")
    for value in (2**64, -1):
        rejects(lambda: rp.RemoteTypedParamValueUl(ul=value).encode(), "RemoteTypedParamValueUl.ul",
                4, "as unsigned hyper")  # fmt: skip
    rejects(lambda: rp.RemoteTypedParamValueUi(ui=-1).encode(), "RemoteTypedParamValueUi.ui", 4,
            "as unsigned int")  # fmt: skip
    # in a struct's run of fixed-size fields
    rejects(lambda: all_types(demo, uh=-1).encode(), "DemoAllTypes.uh", 0, "unsigned hyper")
    rejects(lambda: all_types(demo, h=2**63).encode(), "DemoAllTypes.h", 0, "hyper")
    rejects(lambda: all_types(demo, f="x").encode(), "DemoAllTypes.f", 0, "as float")
    rejects(lambda: all_types(demo, f=1e300).encode(), "DemoAllTypes.f", 0, "as float")


def test_encode_array_elements_out_of_range(demo: ModuleType) -> None:
    # some_hypers starts after head (88), name (8), anything (8), fixed_bytes
    # (4), some_bytes (8), any_bytes (4), fixed_ints (16) and its count (4)
    start = 88 + 8 + 8 + 4 + 8 + 4 + 16 + 4
    rejects(lambda: all_types(demo, some_hypers=[1, -1]).encode(), "DemoAllTypes.some_hypers[1]",
            start + 8, "unsigned hyper")  # fmt: skip
    rejects(lambda: all_types(demo, some_hypers=["1"]).encode(), "DemoAllTypes.some_hypers[0]",
            start, "cannot encode '1'")  # fmt: skip
    rejects(lambda: all_types(demo, fixed_ints=[1, 2, 3, 2**31]).encode(),
            "DemoAllTypes.fixed_ints[3]", start - 4 - 16 + 12, "as int")  # fmt: skip
    rejects(lambda: demo.pack_demo_int_list(bytearray(), [0, 2**40]), "DemoIntList[1]", 8, "int")
    rejects(lambda: rp.RemoteNodeGetCellsFreeMemoryRet([2**64]).encode(),
            "RemoteNodeGetCellsFreeMemoryRet.cells[0]", 4, "unsigned hyper")  # fmt: skip


def test_encode_too_long(demo: ModuleType) -> None:
    # Offsets in DemoAllTypes: 88 bytes of fixed-size fields and uuid, then
    # name, anything "any" (8), fixed_bytes (4), some_bytes (8 for 2 bytes),
    # any_bytes (4), fixed_ints (16), some_hypers...
    # name<255>: 256 bytes of UTF-8 are too long even as 128 characters
    rejects(lambda: all_types(demo, name="é" * 128).encode(), "DemoAllTypes.name", 88,
            "length 256 exceeds the maximum 255")  # fmt: skip
    all_types(demo, name="é" * 127 + "e").encode()  # 255 bytes: fine
    rejects(lambda: all_types(demo, some_bytes=bytes(256)).encode(), "DemoAllTypes.some_bytes",
            108, "length 256 exceeds the maximum 255")  # fmt: skip
    rejects(lambda: all_types(demo, some_hypers=[0] * 9).encode(), "DemoAllTypes.some_hypers",
            136, "length 9 exceeds the maximum 8")  # fmt: skip
    domains = [rp.RemoteNonnullDomain("", UUID, 0)] * 16385
    rejects(lambda: rp.RemoteConnectListAllDomainsRet(domains, 0).encode(),
            "RemoteConnectListAllDomainsRet.domains", 0, "exceeds the maximum 16384")  # fmt: skip


def test_encode_wrong_fixed_lengths(demo: ModuleType) -> None:
    rejects(lambda: rp.RemoteNonnullDomain("vm", UUID[:15], 1).encode(), "RemoteNonnullDomain.uuid",
            8, "expected exactly 16 bytes, got 15")  # fmt: skip
    rejects(lambda: rp.RemoteNonnullDomain("vm", UUID + b"x", 1).encode(),
            "RemoteNonnullDomain.uuid", 8, "got 17")  # fmt: skip
    rejects(lambda: all_types(demo, fixed_ints=[1, 2, 3]).encode(), "DemoAllTypes.fixed_ints",
            120, "expected exactly 4 elements, got 3")  # fmt: skip
    rejects(lambda: all_types(demo, fixed_ints=(1, 2, 3, 4, 5)).encode(),
            "DemoAllTypes.fixed_ints", 120, "got 5")  # fmt: skip
    rejects(lambda: all_types(demo, fixed_bytes=b"ab").encode(), "DemoAllTypes.fixed_bytes",
            104, "expected exactly 3 bytes, got 2")  # fmt: skip


def test_encode_wrong_python_types(demo: ModuleType) -> None:
    dom = rp.RemoteNonnullDomain
    rejects(lambda: dom(5, UUID, 1).encode(), "RemoteNonnullDomain.name", 0, "expected str, got int")
    rejects(lambda: dom(b"vm", UUID, 1).encode(), "RemoteNonnullDomain.name", 0,
            "expected str, got bytes")  # fmt: skip
    rejects(lambda: dom("vm", "u" * 16, 1).encode(), "RemoteNonnullDomain.uuid", 8,
            "expected bytes, got str")  # fmt: skip
    rejects(lambda: rp.RemoteTypedParam("f", {"type": 1, "i": 2}).encode(),
            "RemoteTypedParam.value", 8, "expected RemoteTypedParamValue, got dict")  # fmt: skip
    error = rp.RemoteError(1, 2, None, 3, {"name": "x"}, None, None, None, 4, 5, None)
    rejects(lambda: error.encode(), "RemoteError.dom", 20,
            "expected RemoteNonnullDomain, got dict")  # fmt: skip
    error = rp.RemoteError(1, 2, None, 3, rp.RemoteNonnullNetwork("x", UUID), None, None, None, 4, 5, None)
    rejects(lambda: error.encode(), "RemoteError.dom", 20,
            "expected RemoteNonnullDomain, got RemoteNonnullNetwork")  # fmt: skip
    rejects(lambda: rp.RemoteConnectListAllDomainsRet((dom("a", UUID, 1), "b"), 0).encode(),
            "RemoteConnectListAllDomainsRet.domains[]", 32, "got str")  # fmt: skip
    rejects(lambda: rp.RemoteConnectListAllDomainsRet("ab", 0).encode(),
            "RemoteConnectListAllDomainsRet.domains", 0, "expected list, got str")  # fmt: skip
    rejects(lambda: all_types(demo, names=["a", 1]).encode(), "DemoAllTypes.names[]", 168,
            "expected str, got int")  # fmt: skip
    rejects(lambda: all_types(demo, some_bytes=[1, 2]).encode(), "DemoAllTypes.some_bytes",
            108, "expected bytes, got list")  # fmt: skip


def test_encode_bool_must_be_bool(demo: ModuleType) -> None:
    rejects(lambda: all_types(demo, b=1).encode(), "DemoAllTypes.b", 0, "expected bool, got int")
    rejects(lambda: all_types(demo, b=None).encode(), "DemoAllTypes.b", 0, "expected bool")
    assert all_types(demo, b=True).encode()[40:44] == h("00000001")


def test_encode_enum_value_not_declared(demo: ModuleType) -> None:
    rejects(lambda: header(type=99).encode(), "VirNetMessageHeader.type", 0,
            "99 is not a valid enum value")  # fmt: skip
    rejects(lambda: header(status="VIR_NET_OK").encode(), "VirNetMessageHeader.status", 0,
            "expected enum member, got str")  # fmt: skip
    rejects(lambda: header(type=True).encode(), "VirNetMessageHeader.type", 0,
            "expected enum member, got bool")  # fmt: skip
    rejects(lambda: all_types(demo, colour=2).encode(), "DemoAllTypes.colour", 0, "enum value")
    # a plain int of a declared value is accepted
    assert header(type=2).encode() == header(type=vn.VIR_NET_MESSAGE).encode()


def test_encode_lone_surrogate() -> None:
    rejects(lambda: rp.RemoteNonnullDomain("a\udc80", UUID, 1).encode(),
            "RemoteNonnullDomain.name", 0, "cannot encode string as UTF-8")  # fmt: skip
    out = bytearray(b"1234")
    rejects(lambda: rp.pack_remote_string(out, "\ud800"), "RemoteString", 8, "UTF-8")


def test_encode_union_arm_with_a_discriminant_it_does_not_allow(demo: ModuleType) -> None:
    # multi-label arm: only DEMO_RED and DEMO_GREEN
    rejects(lambda: demo.DemoResultValue(colour=demo.DEMO_BLUE, value=1).encode(),
            "DemoResultValue.colour", 0, "discriminant of this arm")  # fmt: skip
    rejects(lambda: demo.DemoResultValue(colour=99, value=1).encode(),
            "DemoResultValue.colour", 0, "discriminant of this arm")  # fmt: skip
    # default arm: not the explicit labels' values
    for kind in (1, -1):
        rejects(lambda: demo.DemoNumberDefault(kind=kind, text="").encode(),
                "DemoNumberDefault.kind", 0, "discriminant of the default arm")  # fmt: skip
    rejects(lambda: demo.DemoNestedChoiceDefault(which=0).encode(), "DemoNestedChoiceDefault.which",
            0, "discriminant of the default arm")  # fmt: skip
    # inside a struct, the offset is where the union starts
    nested = demo.DemoNested(demo.DemoNestedInner(1, b"ab"), demo.DemoNestedChoiceDefault(0),
                             demo.DEMO_ANON_A)  # fmt: skip
    rejects(lambda: nested.encode(), "DemoNestedChoiceDefault.which", 12)
    # the allowed ones encode
    assert demo.DemoNumberDefault(kind=2, text="").encode() == h("00000002 00000000")
    assert demo.DemoResultValue(colour=demo.DEMO_RED, value=1).encode() == h("00000000 00000001")


def test_encode_linked_list_with_wrong_link(demo: ModuleType) -> None:
    node = demo.DemoNode("a", demo.DemoNode("b", "c"))
    rejects(lambda: node.encode(), "DemoNode.next", 20, "expected DemoNode, got str")
    rejects(lambda: demo.DemoNode(3, None).encode(), "DemoNode.label", 0, "expected str")


# ---- long linked lists ----------------------------------------------------------


def test_long_linked_list(demo: ModuleType) -> None:
    count = 100_000
    node = None
    for index in reversed(range(count)):
        node = demo.DemoNode(str(index % 10), node)
    assert node is not None
    limit = sys.getrecursionlimit()
    data = node.encode()
    assert len(data) == count * 12
    decoded = demo.DemoNode.decode(data)
    assert decoded == node
    assert not (decoded != node)
    assert decoded.encode() == data
    text = repr(decoded)
    assert text.startswith("DemoNode(label='0', next=DemoNode(label='1', next=")
    assert text.endswith("next=None" + ")" * count)
    # a different last node makes them unequal
    tail = decoded
    while tail.next is not None:
        tail = tail.next
    tail.label = "x"
    assert decoded != node
    assert sys.getrecursionlimit() == limit


def test_decode_enum_array_value_not_declared() -> None:
    # the array is unpacked in one go, then each value checked: the error
    # names the field and the offending element's offset
    data = h("00000002" "00000000" "00000063")
    rejects(lambda: rp.RemoteAuthListRet.decode(data), "RemoteAuthListRet.types", 8,
            "99 is not a valid enum value")  # fmt: skip
    assert rp.RemoteAuthListRet.decode(data[:8] + h("00000001")).types == [
        rp.RemoteAuthType.REMOTE_AUTH_NONE,
        rp.RemoteAuthType.REMOTE_AUTH_SASL,
    ]
