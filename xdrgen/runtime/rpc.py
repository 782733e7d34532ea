"""What generated client stubs call: the channel protocols.

A channel carries calls of one or more RPC programs over one connection;
the libvirt connection classes of :mod:`libvirt_rpc.client`
implement them.  Stubs only encode arguments and name the result type.

Some procedures pass file descriptors beside their messages (libvirt's
``*_WITH_FDS`` messages, on unix sockets): their stubs take ``files=``
(descriptors to send: ints or objects with ``fileno()``, which stay the
caller's) and pass it to :meth:`Channel.call`; a procedure whose reply
brings descriptors returns :class:`WithFds` (from
:meth:`Channel.call_receiving_fds`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from .xdr import XdrStruct

T = TypeVar("T", bound=XdrStruct)
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Packable(Protocol):
    def pack_into(self, out: bytearray) -> None: ...


class HasFileno(Protocol):
    def fileno(self) -> int: ...


#: Descriptors to pass: ints, or objects with ``fileno()`` (files, sockets).
Files = Sequence[int | HasFileno]


def fileno(file: int | HasFileno) -> int:
    """The descriptor number of ``file``."""
    return file if isinstance(file, int) else file.fileno()


@dataclass(slots=True)
class WithFds(Generic[R]):
    """A result and the file descriptors that came (or go) with it.

    Whoever gets one owns its descriptors: a client's caller gets those the
    reply brought (close them, or use ``with``: :meth:`close` runs at the
    end); a server takes those a handler returns and closes them once sent.
    """

    result: R
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        """Close the descriptors (those not taken out of :attr:`fds`)."""
        fds = self.fds
        while fds:
            os.close(fds.pop())

    def __enter__(self) -> WithFds[R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
    """``files``: descriptors sent with the call (none: a plain CALL).
    Descriptors a reply brings to :meth:`call` or :meth:`call_void` are
    closed; :meth:`call_receiving_fds` returns them, and closes them if the
    call fails."""

    def call(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T], files: Files = ()
    ) -> T: ...

    def call_void(self, prog: int, vers: int, proc: int, args: Packable | None, files: Files = ()) -> None: ...

    def call_receiving_fds(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[Any] | None, files: Files = ()
    ) -> WithFds[Any]: ...

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
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[T], files: Files = ()
    ) -> T: ...

    async def call_void(
        self, prog: int, vers: int, proc: int, args: Packable | None, files: Files = ()
    ) -> None: ...

    async def call_receiving_fds(
        self, prog: int, vers: int, proc: int, args: Packable | None, result: type[Any] | None, files: Files = ()
    ) -> WithFds[Any]: ...

    async def call_stream(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Packable | None,
        result: type[Any] | None,
        direction: str,
    ) -> AsyncDataStream[Any]: ...
