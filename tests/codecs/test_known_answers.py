"""Byte-exact known answers, written by hand from RFC 4506: everything is
big-endian in 4-byte units; strings and opaque data are a 4-byte length, the
bytes and zero padding to a multiple of 4; an optional is a 4-byte flag
(0 or 1) followed by the value when present; a union is its 4-byte
discriminant followed by the arm's value; a variable-length array is a
4-byte count followed by the elements."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc import virnetprotocol as vn

from strategies import generate_demo


def h(text: str) -> bytes:
    """Hex with spaces and newlines for readability."""
    return bytes.fromhex(text)


def check(cls: Any, value: Any, expected: bytes) -> None:
    assert value.encode() == expected
    decoded = cls.decode(expected)
    assert type(decoded) is type(value)
    assert decoded == value


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generate_demo(tmp_path_factory.mktemp("demo_known"), "demo_known_answers")


# ---- virnetprotocol -------------------------------------------------------------


def test_message_header_call() -> None:
    header = vn.VirNetMessageHeader(
        prog=0x20008086,
        vers=1,
        proc=16,
        type=vn.VirNetMessageType.VIR_NET_CALL,
        serial=7,
        status=vn.VirNetMessageStatus.VIR_NET_OK,
    )
    expected = h(
        "20008086"  # prog
        "00000001"  # vers
        "00000010"  # proc 16
        "00000000"  # type VIR_NET_CALL
        "00000007"  # serial
        "00000000"  # status VIR_NET_OK
    )
    assert len(expected) == vn.VIR_NET_MESSAGE_HEADER_MAX == 24
    check(vn.VirNetMessageHeader, header, expected)
    decoded = vn.VirNetMessageHeader.decode(expected)
    assert decoded.type is vn.VirNetMessageType.VIR_NET_CALL
    assert decoded.status is vn.VirNetMessageStatus.VIR_NET_OK


def test_message_header_reply_error_with_plain_ints() -> None:
    """Enum fields accept plain ints of declared values; decoding gives the
    members back."""
    header = vn.VirNetMessageHeader(0x20008086, 1, 0xFFFFFFF, 1, 0xFFFFFFFF, 1)
    expected = h("20008086 00000001 0fffffff 00000001 ffffffff 00000001")
    assert header.encode() == expected
    decoded = vn.VirNetMessageHeader.decode(expected)
    assert decoded.type is vn.VirNetMessageType.VIR_NET_REPLY
    assert decoded.status is vn.VirNetMessageStatus.VIR_NET_ERROR
    assert decoded == header


# ---- remote_protocol ------------------------------------------------------------


def test_remote_nonnull_domain() -> None:
    uuid = bytes(range(16))
    domain = rp.RemoteNonnullDomain(name="vm1", uuid=uuid, id=5)
    expected = h(
        "00000003 766d3100"  # "vm1" + 1 byte of padding
        "00010203 04050607 08090a0b 0c0d0e0f"  # uuid: 16 bytes, no length
        "00000005"  # id
    )
    check(rp.RemoteNonnullDomain, domain, expected)
    # Lengths 4 (no padding), 5 (3 bytes) and 0.
    check(
        rp.RemoteNonnullDomain,
        rp.RemoteNonnullDomain("test", uuid, -1),
        h("00000004 74657374") + uuid + h("ffffffff"),
    )
    check(
        rp.RemoteNonnullDomain,
        rp.RemoteNonnullDomain("guest", uuid, 0),
        h("00000005 67756573 74000000") + uuid + h("00000000"),
    )
    check(
        rp.RemoteNonnullDomain,
        rp.RemoteNonnullDomain("", uuid, 2**31 - 1),
        h("00000000") + uuid + h("7fffffff"),
    )


def test_remote_error_sparse() -> None:
    error = rp.RemoteError(
        code=42,
        domain=10,
        message="no dom",
        level=2,
        dom=None,
        str1="ab",
        str2=None,
        str3=None,
        int1=-1,
        int2=0,
        net=None,
    )
    expected = h(
        "0000002a"  # code
        "0000000a"  # domain
        "00000001 00000006 6e6f2064 6f6d0000"  # message present: "no dom"
        "00000002"  # level
        "00000000"  # dom absent
        "00000001 00000002 61620000"  # str1 present: "ab"
        "00000000"  # str2 absent
        "00000000"  # str3 absent
        "ffffffff"  # int1
        "00000000"  # int2
        "00000000"  # net absent
    )
    check(rp.RemoteError, error, expected)


def test_remote_error_full() -> None:
    uuid = b"\xaa" * 16
    error = rp.RemoteError(
        code=1,
        domain=2,
        message="",
        level=3,
        dom=rp.RemoteNonnullDomain("d", uuid, 9),
        str1="é",
        str2="1234",
        str3="x",
        int1=-(2**31),
        int2=2**31 - 1,
        net=rp.RemoteNonnullNetwork("net0", uuid),
    )
    expected = (
        h(
            "00000001 00000002"
            "00000001 00000000"  # message: present, empty
            "00000003"
            "00000001 00000001 64000000"  # dom present: name "d"
        )
        + uuid
        + h(
            "00000009"  # dom.id
            "00000001 00000002 c3a90000"  # str1: "é" is 2 UTF-8 bytes
            "00000001 00000004 31323334"  # str2: no padding
            "00000001 00000001 78000000"  # str3
            "80000000 7fffffff"  # int1, int2
            "00000001 00000004 6e657430"  # net present: name "net0"
        )
        + uuid
    )
    check(rp.RemoteError, error, expected)


FIELD_X = "00000001 78000000"  # remote_nonnull_string "x"

TYPED_PARAMS = [
    (rp.RemoteTypedParamValueI(i=-2), "00000001 fffffffe"),
    (rp.RemoteTypedParamValueUi(ui=0xFFFFFFFF), "00000002 ffffffff"),
    (rp.RemoteTypedParamValueL(l=-(2**63)), "00000003 80000000 00000000"),
    (rp.RemoteTypedParamValueUl(ul=2**64 - 1), "00000004 ffffffff ffffffff"),
    (rp.RemoteTypedParamValueD(d=1.5), "00000005 3ff80000 00000000"),
    (rp.RemoteTypedParamValueD(d=-0.0), "00000005 80000000 00000000"),
    (rp.RemoteTypedParamValueB(b=1), "00000006 00000001"),
    (rp.RemoteTypedParamValueS(s="héllo"), "00000007 00000006 68c3a96c 6c6f0000"),
]


@pytest.mark.parametrize(("value", "arm_hex"), TYPED_PARAMS, ids=lambda v: type(v).__name__)
def test_remote_typed_param(value: Any, arm_hex: str) -> None:
    check(rp.RemoteTypedParamValue, value, h(arm_hex))
    check(
        rp.RemoteTypedParam,
        rp.RemoteTypedParam(field="x", value=value),
        h(FIELD_X + arm_hex),
    )


def test_remote_typed_param_discriminants() -> None:
    """The fixed discriminant of each arm is a class attribute."""
    assert [type(v).type for v, _ in TYPED_PARAMS] == [1, 2, 3, 4, 5, 5, 6, 7]


def test_var_array_of_unsigned_hypers() -> None:
    cls = rp.RemoteNodeGetCellsFreeMemoryRet
    check(cls, cls(cells=[]), h("00000000"))
    check(
        cls,
        cls(cells=[1, 2**64 - 1, 2**32]),
        h("00000003 00000000 00000001 ffffffff ffffffff 00000001 00000000"),
    )


def test_var_array_of_structs() -> None:
    uuid = bytes(16)
    ret = rp.RemoteConnectListAllDomainsRet(
        domains=[rp.RemoteNonnullDomain("a", uuid, 1), rp.RemoteNonnullDomain("bb", uuid, 2)],
        ret=2,
    )
    expected = (
        h("00000002")  # count
        + h("00000001 61000000")
        + uuid
        + h("00000001")
        + h("00000002 62620000")
        + uuid
        + h("00000002")
        + h("00000002")  # ret
    )
    check(rp.RemoteConnectListAllDomainsRet, ret, expected)


def test_typedef_functions() -> None:
    out = bytearray()
    rp.pack_remote_string(out, None)
    rp.pack_remote_string(out, "abcde")
    rp.pack_remote_uuid(out, b"\x11" * 16)
    expected = h("00000000 00000001 00000005 61626364 65000000") + b"\x11" * 16
    assert bytes(out) == expected
    assert rp.unpack_remote_string(expected, 0) == (None, 4)
    assert rp.unpack_remote_string(expected, 4) == ("abcde", 20)
    assert rp.unpack_remote_uuid(expected, 20) == (b"\x11" * 16, 36)


# ---- demo.x -------------------------------------------------------------------


def test_demo_all_types(demo: ModuleType) -> None:
    value = demo.DemoAllTypes(
        i=-1,
        ui=0xDEADBEEF,
        u=7,
        h=-2,
        uh=2**63,
        f=1.5,
        d=-2.0,
        b=True,
        c=-128,
        uc=255,
        s=-300,
        us=65535,
        l=2**31 - 1,
        ul=0,
        colour=demo.DEMO_BLUE,
        uuid=bytes(range(16)),
        name="abc",
        anything="",
        fixed_bytes=b"xyz",
        some_bytes=b"\x01\x02\x03\x04\x05",
        any_bytes=b"",
        fixed_ints=[1, -1, 2, -2],
        some_hypers=[3],
        names=["a", "bcde"],
        maybe_name=None,
        maybe_point=demo.DemoPoint(1, -1),
    )
    expected = h(
        "ffffffff"  # i
        "deadbeef"  # ui
        "00000007"  # u
        "ffffffff fffffffe"  # h
        "80000000 00000000"  # uh
        "3fc00000"  # f 1.5 (float32)
        "c0000000 00000000"  # d -2.0
        "00000001"  # b TRUE
        "ffffff80"  # c: char is a 4-byte int
        "000000ff"  # uc
        "fffffed4"  # s -300
        "0000ffff"  # us
        "7fffffff"  # l
        "00000000"  # ul
        "0000000a"  # colour DEMO_BLUE
        "00010203 04050607 08090a0b 0c0d0e0f"  # uuid opaque[16]
        "00000003 61626300"  # name
        "00000000"  # anything: empty string
        "78797a00"  # fixed_bytes opaque[3]: no length, 1 byte padding
        "00000005 01020304 05000000"  # some_bytes
        "00000000"  # any_bytes: empty
        "00000001 ffffffff 00000002 fffffffe"  # fixed_ints int[4]: no count
        "00000001 00000000 00000003"  # some_hypers<8>: count 1
        "00000002 00000001 61000000 00000004 62636465"  # names<>
        "00000000"  # maybe_name absent
        "00000001 00000001 ffffffff"  # maybe_point present
    )
    check(demo.DemoAllTypes, value, expected)
    decoded = demo.DemoAllTypes.decode(expected)
    assert decoded.b is True and decoded.colour is demo.DemoColour.DEMO_BLUE


def test_demo_bools(demo: ModuleType) -> None:
    """A bool is a 4-byte 0 or 1 (here as a union discriminant)."""
    check(demo.DemoFlag, demo.DemoFlagValue(value=9), h("00000001 00000009"))
    check(demo.DemoFlag, demo.DemoFlagFalse(), h("00000000"))
    assert demo.DemoFlag.decode(h("00000001 00000000")).set is True


def test_demo_unions(demo: ModuleType) -> None:
    check(demo.DemoResult, demo.DemoResultValue(demo.DEMO_GREEN, 5), h("00000001 00000005"))
    check(demo.DemoResult, demo.DemoResultValue(demo.DEMO_RED, -5), h("00000000 fffffffb"))
    check(
        demo.DemoResult,
        demo.DemoResultPoint(demo.DemoPoint(2, 3)),
        h("0000000a 00000002 00000003"),
    )
    check(demo.DemoResult, demo.DemoResultDemoBlack(), h("0000000b"))
    check(demo.DemoNumber, demo.DemoNumberBig(big=-1), h("00000001 ffffffff ffffffff"))
    check(demo.DemoNumber, demo.DemoNumberReal(real=0.5), h("ffffffff 3fe00000 00000000"))
    check(
        demo.DemoNumber,
        demo.DemoNumberDefault(kind=7, text="hi"),
        h("00000007 00000002 68690000"),
    )


def test_demo_nested_inline_types(demo: ModuleType) -> None:
    value = demo.DemoNested(
        inner=demo.DemoNestedInner(a=1, b=b"\xff"),
        choice=demo.DemoNestedChoiceDefault(which=9),
        anon=demo.DEMO_ANON_B,
    )
    expected = h(
        "00000001 00000001 ff000000"  # inner: a, b
        "00000009"  # choice: default arm, void
        "00000002"  # anon
    )
    check(demo.DemoNested, value, expected)
    value = demo.DemoNested(
        demo.DemoNestedInner(0, b""), demo.DemoNestedChoiceZero(zero=-3), demo.DEMO_ANON_A
    )
    check(demo.DemoNested, value, h("00000000 00000000 00000000 fffffffd 00000001"))


def test_demo_linked_list(demo: ModuleType) -> None:
    node = demo.DemoNode("a", demo.DemoNode("bc", demo.DemoNode("defg", None)))
    expected = h(
        "00000001 61000000"  # label "a"
        "00000001"  # next present
        "00000002 62630000"  # label "bc"
        "00000001"  # next present
        "00000004 64656667"  # label "defg"
        "00000000"  # next absent
    )
    check(demo.DemoNode, node, expected)
    check(demo.DemoNode, demo.DemoNode("", None), h("00000000 00000000"))
    assert repr(demo.DemoNode.decode(expected)) == (
        "DemoNode(label='a', next=DemoNode(label='bc', next="
        "DemoNode(label='defg', next=None)))"
    )


def test_demo_typedefs(demo: ModuleType) -> None:
    out = bytearray()
    demo.pack_demo_int_list(out, [1, -1])
    demo.pack_demo_optional_name(out, "xy")
    demo.pack_demo_point_alias(out, demo.DemoPoint(5, 6))
    expected = h("00000002 00000001 ffffffff 00000001 00000002 78790000 00000005 00000006")
    assert bytes(out) == expected
    assert demo.unpack_demo_int_list(expected) == ([1, -1], 12)
    assert demo.unpack_demo_optional_name(expected, 12) == ("xy", 24)
    assert demo.unpack_demo_point_alias(expected, 24) == (demo.DemoPoint(5, 6), 32)
