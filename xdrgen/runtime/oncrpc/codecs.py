"""Codecs: how the arguments and results of a procedure are encoded.

A codec is any object with the two methods of :class:`Codec`::

    codec.pack_into(value, out)            # append value's XDR to out
    codec.unpack_from(data, offset)        # -> (value, offset after it)

A class whose instances have ``pack_into(out)`` and which has a classmethod
``unpack_from(data, offset)`` (every generated struct and union) serves
as a codec too: :func:`as_codec` adapts it.  The codecs below cover the
base types and the typedefs made of them (``typedef string dirpath<1024>``
becomes ``DIRPATH = String(1024, "dirpath")``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar, overload

from .. import xdr
from ..xdr import Buffer

T = TypeVar("T")


class Codec(Protocol[T]):
    def pack_into(self, value: T, out: bytearray) -> None: ...

    def unpack_from(self, data: Buffer, offset: int) -> tuple[T, int]: ...


class TypeCodec(Generic[T]):
    """A class (generated struct or union) used as a codec: packing checks
    the value is an instance and lets it pack itself."""

    __slots__ = ("cls", "name")

    def __init__(self, cls: type[T]) -> None:
        if not callable(getattr(cls, "unpack_from", None)):
            raise TypeError(f"{cls.__name__} has no unpack_from: not an XDR type")
        self.cls = cls
        self.name = cls.__name__

    def pack_into(self, value: T, out: bytearray) -> None:
        if not isinstance(value, self.cls):
            xdr.bad_type(self.name, len(out), self.name, value)
        value.pack_into(out)  # type: ignore[attr-defined]

    def unpack_from(self, data: Buffer, offset: int) -> tuple[T, int]:
        return self.cls.unpack_from(data, offset)  # type: ignore[attr-defined, no-any-return]

    def __repr__(self) -> str:
        return f"TypeCodec({self.name})"


@overload
def as_codec(spec: type[T]) -> Codec[T]: ...


@overload
def as_codec(spec: Codec[T]) -> Codec[T]: ...


def as_codec(spec: Codec[T] | type[T]) -> Codec[T]:
    """A codec for ``spec``: a codec object as it is, a class adapted."""
    if isinstance(spec, type):
        return TypeCodec(spec)
    if not (callable(getattr(spec, "pack_into", None)) and callable(getattr(spec, "unpack_from", None))):
        raise TypeError(f"{spec!r} is neither a codec nor an XDR type")
    return spec


# ---- base types ------------------------------------------------------------


class Scalar(Generic[T]):
    """A fixed-size base type (int, unsigned int, hyper, float, ...)."""

    __slots__ = ("layout", "name")

    def __init__(self, format: str, name: str) -> None:
        self.layout = struct.Struct(">" + format)
        self.name = name

    def pack_into(self, value: T, out: bytearray) -> None:
        try:
            out += self.layout.pack(value)
        except (struct.error, OverflowError, TypeError):
            xdr.pack_failed(self.name, len(out), (value,), self.layout.format)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[T, int]:
        try:
            (value,) = self.layout.unpack_from(data, offset)
        except struct.error:
            xdr.truncated(self.name, offset, data)
        return value, offset + self.layout.size

    def __repr__(self) -> str:
        return f"<{self.name} codec>"


class Bool:
    __slots__ = ("name",)

    def __init__(self, name: str = "bool") -> None:
        self.name = name

    def pack_into(self, value: bool, out: bytearray) -> None:
        xdr.check_bool(out, value, self.name)
        out += xdr.TRUE if value else xdr.FALSE

    def unpack_from(self, data: Buffer, offset: int) -> tuple[bool, int]:
        return xdr.unpack_flag(data, offset, self.name), offset + 4


INT: Scalar[int] = Scalar("i", "int")
UINT: Scalar[int] = Scalar("I", "unsigned int")
HYPER: Scalar[int] = Scalar("q", "hyper")
UHYPER: Scalar[int] = Scalar("Q", "unsigned hyper")
FLOAT: Scalar[float] = Scalar("f", "float")
DOUBLE: Scalar[float] = Scalar("d", "double")
BOOL = Bool()


class String:
    """``string name<maximum>`` (UTF-8 text)."""

    __slots__ = ("maximum", "name")

    def __init__(self, maximum: int = xdr.MAX_UINT, name: str = "string") -> None:
        self.maximum = maximum
        self.name = name

    def pack_into(self, value: str, out: bytearray) -> None:
        xdr.pack_string(out, value, self.maximum, self.name)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[str, int]:
        return xdr.unpack_string(data, offset, self.maximum, self.name)


class Opaque:
    """``opaque name<maximum>``."""

    __slots__ = ("maximum", "name")

    def __init__(self, maximum: int = xdr.MAX_UINT, name: str = "opaque") -> None:
        self.maximum = maximum
        self.name = name

    def pack_into(self, value: bytes, out: bytearray) -> None:
        xdr.pack_opaque(out, value, self.maximum, self.name)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[bytes, int]:
        return xdr.unpack_opaque(data, offset, self.maximum, self.name)


class FixedOpaque:
    """``opaque name[length]``."""

    __slots__ = ("length", "name")

    def __init__(self, length: int, name: str = "opaque") -> None:
        self.length = length
        self.name = name

    def pack_into(self, value: bytes, out: bytearray) -> None:
        xdr.pack_fixed_opaque(out, value, self.length, self.name)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[bytes, int]:
        return xdr.unpack_fixed_opaque(data, offset, self.length, self.name)


# ---- composites ------------------------------------------------------------


class Array(Generic[T]):
    """``T name<maximum>`` as a list."""

    __slots__ = ("item", "maximum", "name")

    @overload
    def __init__(self, item: type[T], maximum: int = ..., name: str = ...) -> None: ...

    @overload
    def __init__(self, item: Codec[T], maximum: int = ..., name: str = ...) -> None: ...

    def __init__(self, item: Codec[T] | type[T], maximum: int = xdr.MAX_UINT, name: str = "array") -> None:
        self.item = as_codec(item)
        self.maximum = maximum
        self.name = name

    def pack_into(self, value: Sequence[T], out: bytearray) -> None:
        count = xdr.check_array(out, value, self.maximum, self.name)
        out += xdr.U32.pack(count)
        pack = self.item.pack_into
        for element in value:
            pack(element, out)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[list[T], int]:
        # every element takes 4 bytes or more: the count is checked against
        # what is left before the list grows
        count = xdr.unpack_count(data, offset, self.maximum, 4, self.name)
        offset += 4
        unpack = self.item.unpack_from
        items: list[T] = []
        for _ in range(count):
            element, offset = unpack(data, offset)
            items.append(element)
        return items, offset


class Optional(Generic[T]):
    """``T *name``: None or a value."""

    __slots__ = ("item", "name")

    @overload
    def __init__(self, item: type[T], name: str = ...) -> None: ...

    @overload
    def __init__(self, item: Codec[T], name: str = ...) -> None: ...

    def __init__(self, item: Codec[T] | type[T], name: str = "optional") -> None:
        self.item = as_codec(item)
        self.name = name

    def pack_into(self, value: T | None, out: bytearray) -> None:
        if value is None:
            out += xdr.FALSE
        else:
            out += xdr.TRUE
            self.item.pack_into(value, out)

    def unpack_from(self, data: Buffer, offset: int) -> tuple[T | None, int]:
        if not xdr.unpack_flag(data, offset, self.name):
            return None, offset + 4
        return self.item.unpack_from(data, offset + 4)


class Chain(Generic[T]):
    """The linked-list idiom ``struct list { T item; list *next; }`` (as
    ``list *``) read and written as a Python list."""

    __slots__ = ("item", "name")

    @overload
    def __init__(self, item: type[T], name: str = ...) -> None: ...

    @overload
    def __init__(self, item: Codec[T], name: str = ...) -> None: ...

    def __init__(self, item: Codec[T] | type[T], name: str = "list") -> None:
        self.item = as_codec(item)
        self.name = name

    def pack_into(self, value: Sequence[T], out: bytearray) -> None:
        pack = self.item.pack_into
        for element in value:
            out += xdr.TRUE
            pack(element, out)
        out += xdr.FALSE

    def unpack_from(self, data: Buffer, offset: int) -> tuple[list[T], int]:
        unpack = self.item.unpack_from
        items: list[T] = []
        while xdr.unpack_flag(data, offset, self.name):  # each turn consumes bytes: bounded by the input
            element, offset = unpack(data, offset + 4)
            items.append(element)
        return items, offset + 4

