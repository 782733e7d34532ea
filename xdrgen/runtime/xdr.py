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
from collections.abc import Callable, Sequence, Sized
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, Self, TypeVar

if TYPE_CHECKING:
    from dataclasses import Field

Buffer = bytes | bytearray | memoryview
T = TypeVar("T")
V = TypeVar("V", bound="XdrValue")

U32 = struct.Struct(">I")
I32 = struct.Struct(">i")

FALSE = b"\0\0\0\0"  # bool FALSE, optional absent, empty count
TRUE = b"\0\0\0\1"  # bool TRUE, optional present
ZEROS = (b"", b"\0", b"\0\0", b"\0\0\0")  # padding by length
# The padding bits of a padded item's last 4-byte word, by padding length.
PAD_MASKS = (0, 0xFF, 0xFFFF, 0xFFFFFF)

MAX_UINT = 0xFFFFFFFF

# What struct.pack raises for a value out of range or of the wrong type.
PACK_ERRORS = (struct.error, OverflowError)


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
        except PACK_ERRORS as error:
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


def pack_run_failed(owner: object, offset: int, names: str, fmt: str) -> NoReturn:
    """``pack_failed`` for the run of ``owner``'s fields named by ``names``
    (the path is the type's name)."""
    pack_failed_fields(type(owner).__name__, offset, owner, names, fmt)


_FORMAT_NAMES = {
    "i": "int",
    "I": "unsigned int",
    "q": "hyper",
    "Q": "unsigned hyper",
    "f": "float",
    "d": "double",
}


# ---- decoding -------------------------------------------------------------
#
# ``path`` names what is decoded or encoded, for error messages: either the
# whole path (``"RemoteNonnullDomain.name"``), or, with ``field``, the value
# or class that holds the field (generated code passes ``cls, "name"`` or
# ``self, "name"``: no string is built unless there is an error).


def path_of(path: object, field: str | None = None) -> str:
    """The error path ``path`` (and ``field``) stand for."""
    if field is None:
        return str(path)
    return f"{_holder(path, field)}.{field}"


def _holder(path: object, field: str | None) -> str:
    """The type that holds the field (the whole path without a field)."""
    if field is None:
        return str(path)
    return (path if isinstance(path, type) else type(path)).__name__


def unpack_u32(data: Buffer, offset: int, path: object, field: str | None = None) -> int:
    try:
        value: int = U32.unpack_from(data, offset)[0]
    except struct.error:
        truncated(path_of(path, field), offset, data)
    return value


def unpack_count(
    data: Buffer,
    offset: int,
    maximum: int,
    item_size: int,
    path: object,
    field: str | None = None,
) -> int:
    """An array's element count, checked against its bound and against what
    the remaining bytes can hold (every element takes ``item_size`` bytes or
    more) before anything is allocated."""
    count = unpack_u32(data, offset, path, field)
    if count > maximum:
        too_long(path_of(path, field), offset, count, maximum)
    if count * item_size > len(data) - offset - 4:
        truncated(path_of(path, field), offset + 4, data)
    return count


def unpack_fixed_opaque(
    data: Buffer, offset: int, length: int, path: object, field: str | None = None
) -> tuple[bytes, int]:
    end = offset + length
    padded = end + (-length & 3)  # padding counts from the item, not the buffer
    if padded > len(data):
        truncated(path_of(path, field), offset, data)
    if padded != end and data[end:padded] != ZEROS[padded - end]:
        bad_padding(path_of(path, field), end)
    return bytes(data[offset:end]), padded


def unpack_flag(data: Buffer, offset: int, path: object, field: str | None = None) -> bool:
    """An optional's presence flag or a bool: exactly 0 or 1."""
    value = unpack_u32(data, offset, path, field)
    if value > 1:
        bad_value(path_of(path, field), offset, "bool (0 or 1)", value)
    return value == 1


def check_bools(
    values: tuple[int, ...], path: object, offset: int, field: str | None = None
) -> list[bool]:
    for index, value in enumerate(values):
        if value > 1:
            bad_value(path_of(path, field), offset + 4 * index, "bool (0 or 1)", value)
    return [value == 1 for value in values]


def check_enums(
    values: tuple[int, ...],
    members: dict[int, Any],
    path: object,
    offset: int,
    field: str | None = None,
) -> list[Any]:
    out = []
    for index, value in enumerate(values):
        member = members.get(value)
        if member is None:
            bad_value(path_of(path, field), offset + 4 * index, "enum value", value)
        out.append(member)
    return out


def _counted(
    data: Buffer, offset: int, maximum: int, path: object, field: str | None
) -> tuple[int, int, int]:
    """A string's or opaque item's count at ``offset``, checked: where its
    bytes start and end and where its padding ends (checked to be zeros).
    A cut count is reported with the holder's name, as the holder's own
    fixed reads are."""
    try:
        (length,) = U32.unpack_from(data, offset)
    except struct.error:
        truncated(_holder(path, field), offset, data)
    if length > maximum:
        too_long(path_of(path, field), offset, length, maximum)
    start = offset + 4
    end = start + length
    padded = end + (-length & 3)
    if padded > len(data):
        truncated(path_of(path, field), start, data)
    if padded != end and data[end:padded] != ZEROS[padded - end]:
        bad_padding(path_of(path, field), end)
    return start, end, padded


def unpack_string(
    data: Buffer, offset: int, maximum: int, path: object, field: str | None = None
) -> tuple[str, int]:
    """A string at ``offset``: count, bound, room, zero padding, UTF-8.
    Returns it and the offset after its padding."""
    start, end, padded = _counted(data, offset, maximum, path, field)
    try:
        if data.__class__ is bytes:
            return data[start:end].decode(), padded
        return decode_utf8(data[start:end]), padded
    except UnicodeDecodeError as error:
        bad_utf8(path_of(path, field), start, error)


def unpack_opaque(
    data: Buffer, offset: int, maximum: int, path: object, field: str | None = None
) -> tuple[bytes, int]:
    """Variable-length opaque data at ``offset`` (as :func:`unpack_string`)."""
    start, end, padded = _counted(data, offset, maximum, path, field)
    return bytes(data[start:end]), padded


def unpack_optional_string(
    data: Buffer, offset: int, maximum: int, path: object, field: str | None = None
) -> tuple[str | None, int]:
    """``string *``: a presence flag, then the string if present."""
    if unpack_flag(data, offset, path, field):
        return unpack_string(data, offset + 4, maximum, path, field)
    return None, offset + 4


def unpack_optional_value(
    data: Buffer, offset: int, cls: type[V], path: object, field: str | None = None
) -> tuple[V | None, int]:
    """``T *`` of a struct or union ``T``: a presence flag, then the value."""
    if unpack_flag(data, offset, path, field):
        return cls.unpack_from(data, offset + 4)  # type: ignore[return-value]
    return None, offset + 4


def unpack_list(
    data: Buffer,
    offset: int,
    maximum: int,
    item_size: int,
    decode: Callable[[Buffer, int, int], tuple[list[V], int]],
    path: object,
    field: str | None = None,
) -> tuple[list[V], int]:
    """A variable-length array: its count (checked as :func:`unpack_count`
    does), then ``decode(data, offset, count)`` for the elements."""
    count = unpack_count(data, offset, maximum, item_size, path, field)
    return decode(data, offset + 4, count)


def unpack_strings(
    data: Buffer,
    offset: int,
    count: int,
    maximum: int,
    path: object,
    field: str | None = None,
) -> tuple[list[str], int]:
    """``count`` strings of at most ``maximum`` bytes each (the elements of
    an array: the path is theirs, ``X.names[]``)."""
    return _unpack_each(unpack_string, data, offset, count, maximum, path, field)


def unpack_opaques(
    data: Buffer,
    offset: int,
    count: int,
    maximum: int,
    path: object,
    field: str | None = None,
) -> tuple[list[bytes], int]:
    """``count`` opaque items of at most ``maximum`` bytes each."""
    return _unpack_each(unpack_opaque, data, offset, count, maximum, path, field)


def _unpack_each(
    unpack: Callable[[Buffer, int, int, object, str | None], tuple[T, int]],
    data: Buffer,
    offset: int,
    count: int,
    maximum: int,
    path: object,
    field: str | None,
) -> tuple[list[T], int]:
    items = []
    for _ in range(count):
        item, offset = unpack(data, offset, maximum, path, field)
        items.append(item)
    return items, offset


def unpack_array(
    data: Buffer,
    offset: int,
    fmt: str,
    count: int,
    size: int,
    path: object,
    field: str | None = None,
) -> tuple[tuple[Any, ...], int]:
    """``count`` fixed-size primitives in one unpack (``fmt`` is one struct
    code, ``size`` its width in bytes)."""
    try:
        values = struct.unpack_from(f">{count}{fmt}", data, offset)
    except struct.error:
        truncated(path_of(path, field), offset, data)
    return values, offset + count * size


# ---- encoding -------------------------------------------------------------


def pack_number(
    out: bytearray, packer: struct.Struct, value: object, path: object, field: str | None = None
) -> None:
    """One number, with its ``struct.Struct`` (a field of a message: fields
    packed in loops pack runs of numbers in place)."""
    try:
        out += packer.pack(value)
    except PACK_ERRORS:
        pack_failed(path_of(path, field), len(out), (value,), packer.format)


def pack_opaque(
    out: bytearray, value: object, maximum: int, path: object, field: str | None = None
) -> None:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        bad_type(path_of(path, field), len(out), "bytes", value)
    length = len(value)
    if length > maximum:
        too_long(path_of(path, field), len(out), length, maximum)
    out += U32.pack(length)
    out += value
    out += ZEROS[-length & 3]


def pack_fixed_opaque(
    out: bytearray, value: object, length: int, path: object, field: str | None = None
) -> None:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        bad_type(path_of(path, field), len(out), "bytes", value)
    if len(value) != length:
        raise XdrError(
            f"expected exactly {length} bytes, got {len(value)}",
            path=path_of(path, field),
            offset=len(out),
        )
    out += value
    out += ZEROS[-length & 3]


def pack_string(
    out: bytearray, value: object, maximum: int, path: object, field: str | None = None
) -> None:
    if not isinstance(value, str):
        bad_type(path_of(path, field), len(out), "str", value)
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise XdrError(
            f"cannot encode string as UTF-8 ({error.reason})",
            path=path_of(path, field),
            offset=len(out),
        ) from None
    length = len(raw)
    if length > maximum:
        too_long(path_of(path, field), len(out), length, maximum)
    out += U32.pack(length)
    out += raw
    out += ZEROS[-length & 3]


def pack_optional_string(
    out: bytearray, value: object, maximum: int, path: object, field: str | None = None
) -> None:
    """``string *``: None, or a string within its bound."""
    if value is None:
        out += FALSE
    else:
        out += TRUE
        pack_string(out, value, maximum, path, field)


def pack_optional_value(
    out: bytearray, value: object, cls: type[XdrValue], path: object, field: str | None = None
) -> None:
    """``T *`` of a struct or union ``T``: None, or a ``cls``."""
    if value is None:
        out += FALSE
        return
    out += TRUE
    if not isinstance(value, cls):
        bad_type(path_of(path, field), len(out), cls.__name__, value)
    value.pack_into(out)


def bad_field(owner: object, field: str, offset: int, expected: type) -> NoReturn:
    """``owner.field`` is not the struct or union ``expected``."""
    bad_type(path_of(owner, field), offset, expected.__name__, getattr(owner, field))


def check_array(
    out: bytearray, value: object, maximum: int, path: object, field: str | None = None
) -> int:
    """A variable-length array's Python value: a list (or tuple) within its
    bound; returns its length."""
    if not isinstance(value, (list, tuple)):
        bad_type(path_of(path, field), len(out), "list", value)
    length = len(value)
    if length > maximum:
        too_long(path_of(path, field), len(out), length, maximum)
    return length


def pack_count(
    out: bytearray, value: object, maximum: int, path: object, field: str | None = None
) -> None:
    """A variable-length array's count (the value must be a list or tuple
    within its bound)."""
    out += U32.pack(check_array(out, value, maximum, path, field))


def pack_values(
    out: bytearray, values: Sequence[Any], cls: type[XdrValue], path: object, field: str | None = None
) -> None:
    """Array elements that are structs or unions: each must be a ``cls``
    (the path is the elements', ``X.params[]``)."""
    for value in values:
        if not isinstance(value, cls):
            bad_type(path_of(path, field), len(out), cls.__name__, value)
        value.pack_into(out)


def pack_list(
    out: bytearray,
    values: Sequence[Any],
    maximum: int,
    cls: type[XdrValue],
    path: object,
    field: str | None = None,
) -> None:
    """A variable-length array of structs or unions: the count, then each
    element, which must be a ``cls``."""
    out += U32.pack(check_array(out, values, maximum, path, field))
    for value in values:
        if not isinstance(value, cls):
            element = path_of(path, field) + "[]" if field is not None else path_of(path)
            bad_type(element, len(out), cls.__name__, value)
        value.pack_into(out)


def pack_value(
    out: bytearray, value: object, cls: type[XdrValue], path: object, field: str | None = None
) -> None:
    """A struct or union field, which must be a ``cls``."""
    if not isinstance(value, cls):
        bad_type(path_of(path, field), len(out), cls.__name__, value)
    value.pack_into(out)


def pack_strings(
    out: bytearray, values: Sequence[Any], maximum: int, path: object, field: str | None = None
) -> None:
    for value in values:
        pack_string(out, value, maximum, path, field)


def pack_opaques(
    out: bytearray, values: Sequence[Any], maximum: int, path: object, field: str | None = None
) -> None:
    for value in values:
        pack_opaque(out, value, maximum, path, field)


def check_fixed_array(
    out: bytearray, value: object, length: int, path: object, field: str | None = None
) -> None:
    if not isinstance(value, (list, tuple)):
        bad_type(path_of(path, field), len(out), "list", value)
    if len(value) != length:
        raise XdrError(
            f"expected exactly {length} elements, got {len(value)}",
            path=path_of(path, field),
            offset=len(out),
        )


def check_bool(out: bytearray, value: object, path: object, field: str | None = None) -> None:
    if value is not True and value is not False:
        bad_type(path_of(path, field), len(out), "bool", value)


def check_enum(
    out: bytearray,
    value: object,
    members: dict[int, Any],
    path: object,
    field: str | None = None,
) -> None:
    """An enum field given something other than one of its members: a plain
    int is accepted if it is a member's value; a member of another enum,
    a bool or a non-int is refused."""
    if isinstance(value, (enum.Enum, bool)) or not isinstance(value, int):
        bad_type(path_of(path, field), len(out), "enum member", value)
    if value not in members:
        bad_value(path_of(path, field), len(out), "enum value", value)


def pack_array(
    out: bytearray,
    values: list[Any] | tuple[Any, ...],
    fmt: str,
    path: object,
    field: str | None = None,
) -> None:
    """A run of primitives of one struct code (the count, if any, is packed
    by the caller)."""
    try:
        out += struct.pack(f">{len(values)}{fmt}", *values)
    except (struct.error, OverflowError, TypeError):
        where = path_of(path, field)
        size = struct.calcsize(">" + fmt)
        for index, value in enumerate(values):
            try:
                struct.pack(">" + fmt, value)
            except (struct.error, OverflowError, TypeError) as error:
                raise XdrError(
                    f"cannot encode {value!r} as {_FORMAT_NAMES.get(fmt, fmt)}: {error}",
                    path=f"{where}[{index}]",
                    offset=len(out) + index * size,
                ) from None
        raise XdrError(
            f"cannot encode {values!r}", path=where, offset=len(out)
        ) from None


# ---- base classes of generated types ----------------------------------------


class _FieldTable:
    """``__dataclass_fields__`` of a generated class, built when first asked
    for: ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass``
    treat generated classes as the dataclasses they are written like, without
    each class paying for ``@dataclass`` when its module is imported.  The
    fields are the names in ``__match_args__``, typed by the annotations."""

    def __get__(self, instance: object, owner: type) -> dict[str, Any]:
        names = getattr(owner, "__match_args__", None)
        if names is None:  # XdrStruct itself, a union's base class
            raise AttributeError("__dataclass_fields__")
        import dataclasses

        annotations: dict[str, Any] = {}
        for klass in reversed(owner.__mro__):
            annotations.update(klass.__dict__.get("__annotations__", {}))
        fields: dict[str, Any] = {}
        for name, hint in annotations.items():
            if str(hint).startswith("ClassVar"):
                kind = dataclasses._FIELD_CLASSVAR  # type: ignore[attr-defined]
            elif name in names:
                kind = dataclasses._FIELD  # type: ignore[attr-defined]
            else:
                continue
            field: Any = dataclasses.field()
            field.name, field.type, field._field_type = name, hint, kind
            fields[name] = field
        type.__setattr__(owner, "__dataclass_fields__", fields)  # built once
        return fields


class XdrValue:
    """What generated structs and unions share: ``encode``/``decode`` on top of
    the generated ``pack_into``/``unpack_from``, and what ``@dataclass`` would
    add: equality and repr over the fields (``__match_args__``) and the field
    table of :mod:`dataclasses`."""

    __slots__ = ()

    if TYPE_CHECKING:
        __match_args__: ClassVar[tuple[str, ...]]
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    else:
        __dataclass_fields__ = _FieldTable()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = self.__match_args__
        return [getattr(self, n) for n in names] == [getattr(other, n) for n in names]

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__match_args__)
        return f"{self.__class__.__qualname__}({fields})"

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


class XdrEnum(enum.IntEnum):
    """Base of generated enums: an ``int`` on the wire, with the codec
    methods every generated type has."""

    def pack_into(self, out: bytearray) -> None:
        out += I32.pack(self)

    def encode(self) -> bytes:
        return I32.pack(self)

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[Self, int]:
        try:
            (raw,) = I32.unpack_from(data, offset)
        except struct.error:
            truncated(cls.__name__, offset, data)
        member = cls._value2member_map_.get(raw)
        if member is None:
            bad_value(cls.__name__, offset, f"{cls.__name__} value", raw)
        return member, offset + 4  # type: ignore[return-value]

    @classmethod
    def decode(cls, data: Buffer) -> Self:
        """Decode a member that must take up all of ``data``."""
        value, offset = cls.unpack_from(data, 0)
        if offset != len(data):
            trailing(cls.__name__, offset, data)
        return value


class TypedefCodec(Generic[T]):
    """The codec of a typedef (whose Python type is a plain alias such as
    ``str | None``): ``encode``/``decode``/``pack_into``/``unpack_from``
    around its generated ``pack_x``/``unpack_x`` functions.  ``pack_into``
    takes the value first, as every codec of :mod:`xdrgen.runtime.oncrpc`
    does, so a typedef's codec describes a procedure's argument or result."""

    __slots__ = ("name", "_pack", "_unpack")

    def __init__(
        self,
        name: str,
        pack: Callable[[bytearray, T], None],
        unpack: Callable[[Buffer, int], tuple[T, int]],
    ) -> None:
        self.name = name
        self._pack = pack
        self._unpack = unpack

    def pack_into(self, value: T, out: bytearray) -> None:
        self._pack(out, value)

    def unpack_from(self, data: Buffer, offset: int = 0) -> tuple[T, int]:
        return self._unpack(data, offset)

    def encode(self, value: T) -> bytes:
        out = bytearray()
        self._pack(out, value)
        return bytes(out)

    def decode(self, data: Buffer) -> T:
        """Decode a value that must take up all of ``data``."""
        if data.__class__ is not bytes:
            data = bytes(data)
        value, offset = self._unpack(data, 0)
        if offset != len(data):
            trailing(self.name, offset, data)
        return value

    def __repr__(self) -> str:
        return f"<codec of typedef {self.name}>"
