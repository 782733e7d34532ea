"""XDR primitives that generated codecs call (RFC 4506).

Generated code packs and unpacks runs of fixed-size fields itself, with
precompiled ``struct.Struct`` objects; what lives here are the variable-size
pieces (strings, opaque data, array counts) and the one exception type, so
that every check (bounds before allocation, zero padding, UTF-8) is written
once.  Everything is big-endian and in 4-byte units.
"""

from __future__ import annotations

import enum
import struct
from codecs import utf_8_decode
from collections.abc import Callable, Sized
from typing import Any, NoReturn, Self

Buffer = bytes | bytearray | memoryview

U32 = struct.Struct(">I")

FALSE = b"\0\0\0\0"  # bool FALSE, optional absent, empty count
TRUE = b"\0\0\0\1"  # bool TRUE, optional present
ZEROS = (b"", b"\0", b"\0\0", b"\0\0\0")  # padding by length
# The padding bits of a padded item's last 4-byte word, by padding length.
PAD_MASKS = (0, 0xFF, 0xFFFF, 0xFFFFFF)

MAX_UINT = 0xFFFFFFFF


def decode_utf8(data: Buffer) -> str:
    """UTF-8 text from any buffer (``bytes.decode`` only takes bytes)."""
    return utf_8_decode(data)[0]


# Generated decoders bind this or decode_utf8 once per call: ``bytes.decode``
# on a bytes slice is about 40% cheaper than going through the codecs module.
BYTES_DECODE: Callable[[Buffer], str] = bytes.decode  # type: ignore[assignment]


class XdrError(ValueError):
    """Bytes that are not valid XDR for the type, or a value that cannot be
    encoded as the type.

    ``path`` names the type and field (``RemoteDomainGetInfoRet.memory``),
    ``offset`` the byte position in the input (decoding) or in the output
    (encoding) where the problem is.
    """

    def __init__(self, message: str, *, path: str = "", offset: int | None = None):
        self.reason = message
        self.path = path
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        prefix = f"{path}: " if path else ""
        super().__init__(f"{prefix}{message}{where}")


# ---- errors (called on failure paths only) --------------------------------


def truncated(path: str, offset: int, data: Sized) -> NoReturn:
    raise XdrError(
        f"truncated data ({len(data) - offset} bytes left)", path=path, offset=offset
    )


def too_long(path: str, offset: int, length: int, maximum: int) -> NoReturn:
    raise XdrError(
        f"length {length} exceeds the maximum {maximum}", path=path, offset=offset
    )


def bad_value(path: str, offset: int, what: str, value: object) -> NoReturn:
    raise XdrError(f"{value!r} is not a valid {what}", path=path, offset=offset)


def bad_type(path: str, offset: int, expected: str, value: object) -> NoReturn:
    raise XdrError(
        f"expected {expected}, got {type(value).__name__}", path=path, offset=offset
    )


def bad_padding(path: str, offset: int) -> NoReturn:
    raise XdrError("non-zero padding", path=path, offset=offset)


def bad_utf8(path: str, offset: int, error: UnicodeDecodeError) -> NoReturn:
    raise XdrError(
        f"string is not UTF-8 ({error.reason})", path=path, offset=offset + error.start
    ) from None


def trailing(path: str, offset: int, data: Sized) -> NoReturn:
    raise XdrError(
        f"{len(data) - offset} trailing bytes after the value", path=path, offset=offset
    )


def pack_failed(
    path: str,
    offset: int,
    values: tuple[Any, ...],
    fmt: str,
    names: tuple[str, ...] = (),
) -> NoReturn:
    """Find which of a run of fixed-size values could not be packed, and say
    so (called only after ``struct.pack`` failed)."""
    codes = [c for c in fmt.lstrip(">") if not c.isdigit()]
    for index, (value, code) in enumerate(zip(values, codes)):
        try:
            struct.pack(">" + code, value)
        except (struct.error, OverflowError) as error:
            where = f"{path}.{names[index]}" if names else path
            raise XdrError(
                f"cannot encode {value!r} as {_FORMAT_NAMES.get(code, code)}: {error}",
                path=where,
                offset=offset,
            ) from None
    raise XdrError(f"cannot encode {values!r}", path=path, offset=offset)


def pack_failed_fields(
    path: str, offset: int, owner: object, names: str, fmt: str
) -> NoReturn:
    """``pack_failed`` for a run of fields of one object, named by ``names``."""
    fields = tuple(names.split())
    pack_failed(
        path, offset, tuple(getattr(owner, name) for name in fields), fmt, fields
    )


_FORMAT_NAMES = {
    "i": "int",
    "I": "unsigned int",
    "q": "hyper",
    "Q": "unsigned hyper",
    "f": "float",
    "d": "double",
}


# ---- decoding -------------------------------------------------------------


def unpack_u32(data: Buffer, offset: int, path: str) -> int:
    try:
        value: int = U32.unpack_from(data, offset)[0]
    except struct.error:
        truncated(path, offset, data)
    return value


def unpack_count(
    data: Buffer, offset: int, maximum: int, item_size: int, path: str
) -> int:
    """An array's element count, checked against its bound and against what
    the remaining bytes can hold (every element takes ``item_size`` bytes or
    more) before anything is allocated."""
    count = unpack_u32(data, offset, path)
    if count > maximum:
        too_long(path, offset, count, maximum)
    if count * item_size > len(data) - offset - 4:
        truncated(path, offset + 4, data)
    return count


def unpack_fixed_opaque(
    data: Buffer, offset: int, length: int, path: str
) -> tuple[bytes, int]:
    end = offset + length
    padded = end + (-length & 3)  # padding counts from the item, not the buffer
    if padded > len(data):
        truncated(path, offset, data)
    if padded != end and data[end:padded] != ZEROS[padded - end]:
        bad_padding(path, end)
    return bytes(data[offset:end]), padded


def unpack_flag(data: Buffer, offset: int, path: str) -> bool:
    """An optional's presence flag or a bool: exactly 0 or 1."""
    value = unpack_u32(data, offset, path)
    if value > 1:
        bad_value(path, offset, "bool (0 or 1)", value)
    return value == 1


def check_bools(values: tuple[int, ...], path: str, offset: int) -> list[bool]:
    for index, value in enumerate(values):
        if value > 1:
            bad_value(path, offset + 4 * index, "bool (0 or 1)", value)
    return [value == 1 for value in values]


def check_enums(
    values: tuple[int, ...], members: dict[int, Any], path: str, offset: int
) -> list[Any]:
    out = []
    for index, value in enumerate(values):
        member = members.get(value)
        if member is None:
            bad_value(path, offset + 4 * index, "enum value", value)
        out.append(member)
    return out


def unpack_array(
    data: Buffer, offset: int, fmt: str, count: int, size: int, path: str
) -> tuple[tuple[Any, ...], int]:
    """``count`` fixed-size primitives in one unpack (``fmt`` is one struct
    code, ``size`` its width in bytes)."""
    try:
        values = struct.unpack_from(f">{count}{fmt}", data, offset)
    except struct.error:
        truncated(path, offset, data)
    return values, offset + count * size


# ---- encoding -------------------------------------------------------------


def pack_opaque(out: bytearray, value: object, maximum: int, path: str) -> None:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        bad_type(path, len(out), "bytes", value)
    length = len(value)
    if length > maximum:
        too_long(path, len(out), length, maximum)
    out += U32.pack(length)
    out += value
    out += ZEROS[-length & 3]


def pack_fixed_opaque(out: bytearray, value: object, length: int, path: str) -> None:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        bad_type(path, len(out), "bytes", value)
    if len(value) != length:
        raise XdrError(
            f"expected exactly {length} bytes, got {len(value)}",
            path=path,
            offset=len(out),
        )
    out += value
    out += ZEROS[-length & 3]


def pack_string(out: bytearray, value: object, maximum: int, path: str) -> None:
    if not isinstance(value, str):
        bad_type(path, len(out), "str", value)
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise XdrError(
            f"cannot encode string as UTF-8 ({error.reason})",
            path=path,
            offset=len(out),
        ) from None
    length = len(raw)
    if length > maximum:
        too_long(path, len(out), length, maximum)
    out += U32.pack(length)
    out += raw
    out += ZEROS[-length & 3]


def check_array(out: bytearray, value: object, maximum: int, path: str) -> int:
    """A variable-length array's Python value: a list (or tuple) within its
    bound; returns its length."""
    if not isinstance(value, (list, tuple)):
        bad_type(path, len(out), "list", value)
    length = len(value)
    if length > maximum:
        too_long(path, len(out), length, maximum)
    return length


def check_fixed_array(out: bytearray, value: object, length: int, path: str) -> None:
    if not isinstance(value, (list, tuple)):
        bad_type(path, len(out), "list", value)
    if len(value) != length:
        raise XdrError(
            f"expected exactly {length} elements, got {len(value)}",
            path=path,
            offset=len(out),
        )


def check_bool(out: bytearray, value: object, path: str) -> None:
    if value is not True and value is not False:
        bad_type(path, len(out), "bool", value)


def check_enum(
    out: bytearray, value: object, members: dict[int, Any], path: str
) -> None:
    """An enum field given something other than one of its members: a plain
    int is accepted if it is a member's value; a member of another enum,
    a bool or a non-int is refused."""
    if isinstance(value, (enum.Enum, bool)) or not isinstance(value, int):
        bad_type(path, len(out), "enum member", value)
    if value not in members:
        bad_value(path, len(out), "enum value", value)


def pack_array(
    out: bytearray, values: list[Any] | tuple[Any, ...], fmt: str, path: str
) -> None:
    """A run of primitives of one struct code (the count, if any, is packed
    by the caller)."""
    try:
        out += struct.pack(f">{len(values)}{fmt}", *values)
    except (struct.error, OverflowError, TypeError):
        size = struct.calcsize(">" + fmt)
        for index, value in enumerate(values):
            try:
                struct.pack(">" + fmt, value)
            except (struct.error, OverflowError, TypeError) as error:
                raise XdrError(
                    f"cannot encode {value!r} as {_FORMAT_NAMES.get(fmt, fmt)}: {error}",
                    path=f"{path}[{index}]",
                    offset=len(out) + index * size,
                ) from None
        raise XdrError(
            f"cannot encode {values!r}", path=path, offset=len(out)
        ) from None


# ---- base classes of generated types ----------------------------------------


class XdrValue:
    """What generated structs and unions share: ``encode``/``decode`` on top of
    the generated ``pack_into``/``unpack_from``."""

    __slots__ = ()

    def pack_into(self, out: bytearray) -> None:
        """Append the XDR encoding of this value to ``out``."""
        raise NotImplementedError

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[XdrValue, int]:
        """Decode a value at ``offset``; return it and the offset after it."""
        raise NotImplementedError

    def encode(self) -> bytes:
        out = bytearray()
        self.pack_into(out)
        return bytes(out)

    @classmethod
    def decode(cls, data: Buffer) -> Self:
        """Decode a value that must take up all of ``data``."""
        if data.__class__ is not bytes:
            data = bytes(data)  # one copy buys bytes' fast string decoding
        try:
            value, offset = cls.unpack_from(data, 0)
        except RecursionError:
            raise XdrError("data nested too deeply", path=cls.__name__) from None
        if offset != len(data):
            trailing(cls.__name__, offset, data)
        if not isinstance(value, cls):  # a union decoded to another arm
            raise XdrError(
                f"decoded arm {type(value).__name__}, not {cls.__name__}",
                path=cls.__name__,
                offset=0,
            )
        return value


class XdrStruct(XdrValue):
    """Base of generated struct classes."""

    __slots__ = ()

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[Self, int]:
        raise NotImplementedError


class XdrUnion(XdrValue):
    """Base of generated union classes.  The union's class decodes to one of
    its arm classes (subclasses), chosen by the discriminant."""

    __slots__ = ()
