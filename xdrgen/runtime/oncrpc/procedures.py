"""A procedure of a program version, as clients and servers both see it.

A :class:`Procedure` names the procedure and holds the codecs of its
arguments (in order; none for ``void``) and of its result (None for
``void``).  Clients pack arguments and unpack results with it, servers the
other way round; either side refuses trailing bytes after the last value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar, overload

from .. import xdr
from ..xdr import Buffer
from . import messages
from .codecs import Codec, as_codec

R = TypeVar("R")


class Procedure(Generic[R]):
    """Procedure ``number`` (``name`` as the .x file spells it; ``method``,
    the Python name of its client method and handler method)."""

    __slots__ = ("number", "name", "method", "args", "result")

    @overload
    def __init__(
        self: Procedure[None],
        number: int,
        name: str,
        method: str,
        args: Sequence[Codec[Any] | type] = (),
        result: None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        number: int,
        name: str,
        method: str,
        args: Sequence[Codec[Any] | type],
        result: type[R],
    ) -> None: ...

    @overload
    def __init__(
        self,
        number: int,
        name: str,
        method: str,
        args: Sequence[Codec[Any] | type],
        result: Codec[R],
    ) -> None: ...

    def __init__(
        self,
        number: int,
        name: str,
        method: str,
        args: Sequence[Codec[Any] | type] = (),
        result: Codec[Any] | type | None = None,
    ) -> None:
        self.number = number
        self.name = name
        self.method = method
        self.args: tuple[Codec[Any], ...] = tuple(as_codec(codec) for codec in args)
        self.result: Codec[Any] | None = None if result is None else as_codec(result)

    def __repr__(self) -> str:
        return f"<Procedure {self.number} {self.name}>"

    # ---- the client's side
    def pack_args(self, values: Sequence[Any], out: bytearray) -> None:
        codecs = self.args
        if not codecs and not values:  # void: nothing to pack
            return
        if len(values) != len(codecs):
            raise TypeError(f"{self.name} takes {len(codecs)} argument(s), not {len(values)}")
        for codec, value in zip(codecs, values):
            codec.pack_into(value, out)

    def decode_reply(self, reply: Buffer) -> R:
        """The result carried by a reply (its RpcError if it carries none)."""
        return self.unpack_result(reply, messages.results_offset(reply))

    def unpack_result(self, data: Buffer, offset: int) -> R:
        """The result that starts at ``offset`` and must end where ``data``
        does (raises XdrError otherwise)."""
        codec = self.result
        if codec is None:
            value: Any = None
        else:
            value, offset = codec.unpack_from(data, offset)
        if offset != len(data):
            xdr.trailing(f"{self.name} result", offset, data)
        return value  # type: ignore[no-any-return]

    # ---- the server's side
    def unpack_args(self, data: Buffer, offset: int) -> tuple[Any, ...]:
        """The arguments of a call whose body starts at ``offset``; raises
        XdrError if they do not decode or do not end where the call does."""
        values = []
        for codec in self.args:
            value, offset = codec.unpack_from(data, offset)
            values.append(value)
        if offset != len(data):
            xdr.trailing(f"{self.name} arguments", offset, data)
        return tuple(values)

    def pack_result(self, value: R, out: bytearray) -> None:
        codec = self.result
        if codec is not None:
            codec.pack_into(value, out)
        elif value is not None:
            raise xdr.XdrError(f"returns void, not {type(value).__name__}", path=f"{self.name} result")
