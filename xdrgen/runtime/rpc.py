"""What generated client stubs call: the channel protocols.

A channel carries calls of one or more RPC programs over one connection;
the libvirt connection classes of :mod:`libvirt_rpc.client`
implement them.  Stubs only encode arguments and name the result type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, Protocol, TypeVar

from .xdr import XdrStruct

T = TypeVar("T", bound=XdrStruct)
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Packable(Protocol):
    def pack_into(self, out: bytearray) -> None: ...


class DataStream(Protocol, Generic[R_co]):
    """The data stream of a ``@readstream``/``@writestream`` procedure."""

    @property
    def result(self) -> R_co:
        """The procedure's decoded ``_ret`` (None when it has none)."""
        ...

    def read(self, size: int = -1) -> bytes:
        """Data from the peer; ``b""`` at the end of the stream."""
        ...

    def write(self, data: bytes) -> int: ...

    def send_hole(self, length: int, flags: int = 0) -> None: ...

    def finish(self) -> None:
        """End the stream successfully (and wait for the peer to confirm)."""
        ...

    def abort(self) -> None: ...

    def __iter__(self) -> Iterator[bytes]: ...


class AsyncDataStream(Protocol, Generic[R_co]):
    @property
    def result(self) -> R_co: ...

    async def read(self, size: int = -1) -> bytes: ...

    async def write(self, data: bytes) -> int: ...

    async def send_hole(self, length: int, flags: int = 0) -> None: ...

    async def finish(self) -> None: ...

    async def abort(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...


class Channel(Protocol):
    def call(self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T]) -> T: ...

    def call_void(self, prog: int, vers: int, proc: int, args: Packable | None) -> None: ...

    def call_stream(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        result: type[Any] | None,
        direction: str,
    ) -> DataStream[Any]: ...


class AsyncChannel(Protocol):
    async def call(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T]
    ) -> T: ...

    async def call_void(self, prog: int, vers: int, proc: int, args: Packable | None) -> None: ...

    async def call_stream(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        result: type[Any] | None,
        direction: str,
    ) -> AsyncDataStream[Any]: ...
