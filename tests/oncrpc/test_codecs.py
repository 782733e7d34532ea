"""Codecs and procedures: what generated code passes to the runtime."""

from __future__ import annotations

from typing import Any

import pytest
from toy import NAME, TOYPROC_ADD, TOYPROC_NULL, TOYPROC_WHOAMI, Identity

from xdrgen.runtime.oncrpc import (
    BOOL,
    DOUBLE,
    FLOAT,
    HYPER,
    INT,
    UHYPER,
    UINT,
    Array,
    FixedOpaque,
    Opaque,
    Optional,
    Procedure,
    String,
)
from xdrgen.runtime.oncrpc.codecs import Chain, Codec, TypeCodec, as_codec
from xdrgen.runtime.xdr import XdrError


def encode(codec: Codec[Any], value: object) -> bytes:
    out = bytearray()
    codec.pack_into(value, out)
    return bytes(out)


@pytest.mark.parametrize(
    ("codec", "value", "wire"),
    [
        (INT, -2, "fffffffe"),
        (UINT, 0xFFFFFFFF, "ffffffff"),
        (HYPER, -1, "ffffffffffffffff"),
        (UHYPER, 1 << 40, "0000010000000000"),
        (FLOAT, 1.5, "3fc00000"),
        (DOUBLE, -2.0, "c000000000000000"),
        (BOOL, True, "00000001"),
        (String(10), "héllo", "00000006 68c3a96c6c6f 0000"),
        (Opaque(), b"\x01\x02\x03", "00000003 010203 00"),
        (FixedOpaque(3), b"\x01\x02\x03", "010203 00"),
        (Array(UINT, 4), [1, 2], "00000002 00000001 00000002"),
        (Optional(INT), None, "00000000"),
        (Optional(INT), 5, "00000001 00000005"),
        (Chain(UINT), [7, 8], "00000001 00000007 00000001 00000008 00000000"),
        (Chain(UINT), [], "00000000"),
        (Identity, Identity(1, 2, 3, "ab"), "00000001 00000002 00000003 00000002 6162 0000"),
    ],
)
def test_round_trip(codec: Any, value: object, wire: str) -> None:
    codec = as_codec(codec)
    data = bytes.fromhex(wire)
    assert encode(codec, value) == data
    assert codec.unpack_from(b"pad!" + data, 4) == (value, 4 + len(data))


@pytest.mark.parametrize(
    ("codec", "value"),
    [
        (INT, 1 << 31),
        (UINT, -1),
        (UINT, "1"),
        (BOOL, 1),
        (String(3), "long"),
        (String(), b"bytes"),
        (Opaque(2), b"abc"),
        (FixedOpaque(2), b"abc"),
        (Array(UINT, 1), [1, 2]),
        (Array(UINT), [1, -1]),
        (TypeCodec(Identity), "not an Identity"),
    ],
)
def test_values_that_cannot_be_encoded(codec: Codec[Any], value: object) -> None:
    with pytest.raises(XdrError):
        encode(codec, value)


@pytest.mark.parametrize(
    ("codec", "wire", "message"),
    [
        (UINT, "000000", "truncated"),
        (BOOL, "00000002", "not a valid bool"),
        (String(3), "00000004 61626364", "exceeds the maximum 3"),
        (String(), "00000002 ff00 0000", "not UTF-8"),
        (Opaque(), "00000003 010203 01", "non-zero padding"),
        (Opaque(), "7fffffff 00", "truncated"),
        (Array(UINT), "7fffffff 00000001", "truncated"),  # the count is checked against what is left
        (Chain(UINT), "00000001 00000007 00000001", "truncated"),
        (Optional(UINT), "00000002", "not a valid bool"),
    ],
)
def test_bytes_that_do_not_decode(codec: Codec[Any], wire: str, message: str) -> None:
    with pytest.raises(XdrError, match=message):
        codec.unpack_from(bytes.fromhex(wire), 0)


@pytest.mark.parametrize(
    ("codec", "wire", "path", "offset"),
    [
        (String(3, "dirpath"), "ffff 00000004 61626364", "dirpath", 2),  # the count
        (String(9, "dirpath"), "ffff 00000002 ff00 0000", "dirpath", 6),  # the text
        (Opaque(9, "cookie"), "ffff 00000003 010203 01", "cookie", 9),  # the padding
        (Opaque(9, "cookie"), "ffff 0000", "cookie", 2),  # a cut count
    ],
)
def test_counted_items_that_do_not_decode_say_where(codec: Codec[Any], wire: str, path: str, offset: int) -> None:
    with pytest.raises(XdrError) as caught:
        codec.unpack_from(bytes.fromhex(wire), 2)
    assert (caught.value.path, caught.value.offset) == (path, offset)


def test_as_codec_refuses_what_is_no_codec() -> None:
    with pytest.raises(TypeError):
        as_codec(int)
    with pytest.raises(TypeError):
        as_codec("string")  # type: ignore[call-overload]


def test_procedure_packs_positional_arguments_in_order() -> None:
    out = bytearray()
    TOYPROC_ADD.pack_args((1, -1), out)
    assert bytes(out) == bytes.fromhex("00000001 ffffffff")
    assert TOYPROC_ADD.unpack_args(b"xx" + bytes(out), 2) == (1, -1)
    with pytest.raises(TypeError, match="takes 2 argument"):
        TOYPROC_ADD.pack_args((1,), bytearray())


def test_procedure_refuses_trailing_bytes_both_ways() -> None:
    with pytest.raises(XdrError, match="trailing"):
        TOYPROC_ADD.unpack_args(bytes(12), 0)
    with pytest.raises(XdrError, match="trailing"):
        TOYPROC_NULL.unpack_args(bytes(4), 0)


def test_procedure_results() -> None:
    out = bytearray()
    TOYPROC_WHOAMI.pack_result(Identity(0, 1, 2, ""), out)
    assert bytes(out) == bytes.fromhex("00000000 00000001 00000002 00000000")
    TOYPROC_NULL.pack_result(None, out)
    with pytest.raises(XdrError, match="returns void"):
        TOYPROC_NULL.pack_result(5, bytearray())  # type: ignore[arg-type]


def test_procedure_description() -> None:
    procedure = Procedure(9, "P", "p", (NAME, Identity), UINT)
    assert procedure.args[0] is NAME
    assert isinstance(procedure.args[1], TypeCodec) and procedure.args[1].cls is Identity
    assert repr(procedure) == "<Procedure 9 P>"
