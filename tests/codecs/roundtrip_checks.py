"""The round-trip properties every generated codec must have, for one
value: encode -> decode -> encode gives the same value and bytes, also
when decoded from inside a larger buffer, at an unaligned offset, from
bytes, bytearray or memoryview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def check_value(cls: Any, value: Any) -> None:
    """The round-trip properties of one value of struct or union ``cls``."""
    data = value.encode()
    assert isinstance(data, bytes)
    assert len(data) % 4 == 0
    decoded = cls.decode(data)
    assert type(decoded) is type(value)
    assert decoded == value
    assert decoded.encode() == data
    # Inside a larger buffer, at an aligned and at an unaligned offset, from
    # bytes, bytearray and memoryview: the same value and the right end.
    for start in (8, 3):
        buffer = b"\xa5" * start + data + b"\x5a" * 5
        for view in (buffer, bytearray(buffer), memoryview(buffer)):
            got, end = cls.unpack_from(view, start)
            assert type(got) is type(value)
            assert got == value
            assert end == start + len(data)
    got, end = cls.unpack_from(memoryview(data))
    assert (got, end) == (value, len(data))


def check_typedef(pack: Callable[..., None], unpack: Callable[..., Any], value: Any) -> None:
    """The round-trip properties of one value of a typedef, through its
    ``pack_x`` and ``unpack_x`` functions."""
    out = bytearray()
    pack(out, value)
    data = bytes(out)
    assert len(data) % 4 == 0
    assert unpack(data) == (value, len(data))
    assert unpack(memoryview(data), 0) == (value, len(data))
    out = bytearray(b"\xff" * 5)  # pack appends to what is there
    pack(out, value)
    assert bytes(out[5:]) == data
    assert unpack(bytes(out) + b"\0" * 4, 5) == (value, 5 + len(data))
    again = bytearray()
    pack(again, unpack(data)[0])
    assert bytes(again) == data
