"""The bases of generated client classes, and opening their channels.

A generated client class is one program version: it sets ``PROGRAM`` and
``VERSION`` and has one method per procedure, each a single
``self._call(PROCEDURE, *args)``.  Several clients may share one channel
(one connection), each constructed with it: ``MountV3Client(channel)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, ClassVar, Generic, Self, TypeVar

from . import rpcbind, tracing, transports
from .auth import Auth
from .channel import DEFAULT_TIMEOUT
from .client_async import AsyncChannel
from .client_sync import SyncChannel
from .procedures import Procedure

R = TypeVar("R")
C = TypeVar("C", bound="AsyncClient")

def open_channel(
    host: str,
    port: int | None,
    prog: int,
    vers: int,
    *,
    transport: str = "tcp",
    auth: Auth | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SyncChannel:
    """A blocking channel to ``host``; without a port, rpcbind on ``host``
    says where program ``prog`` version ``vers`` listens."""
    transports.check(transport)
    if port is None:
        port = rpcbind.getport(host, prog, vers, transport, timeout=timeout)
    return transports.SYNC[transport].connect(host, port, auth=auth, timeout=timeout)


async def open_async_channel(
    host: str,
    port: int | None,
    prog: int,
    vers: int,
    *,
    transport: str = "tcp",
    auth: Auth | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> AsyncChannel:
    """:func:`open_channel` for asyncio."""
    transports.check(transport)
    if port is None:
        port = await asyncio.to_thread(rpcbind.getport, host, prog, vers, transport, timeout=timeout)
    return await transports.ASYNC[transport].connect(host, port, auth=auth, timeout=timeout)


class Client:
    """Base of generated blocking client classes (thread-safe)."""

    PROGRAM: ClassVar[int]
    VERSION: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tracing.register_class(cls)  # its program's name in trace lines

    def __init__(self, channel: SyncChannel) -> None:
        self._channel = channel

    @classmethod
    def connect(
        cls,
        host: str,
        port: int | None = None,
        *,
        transport: str = "tcp",
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Self:
        """Connect to the program version at ``host`` (``port`` None: ask
        its rpcbind); ``timeout`` bounds connecting and each call."""
        return cls(open_channel(host, port, cls.PROGRAM, cls.VERSION, transport=transport, auth=auth, timeout=timeout))

    @property
    def channel(self) -> SyncChannel:
        return self._channel

    def _call(self, procedure: Procedure[R], *args: Any) -> R:
        return self._channel.call(self.PROGRAM, self.VERSION, procedure, args)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Connecting(Generic[C]):
    """What :meth:`AsyncClient.connect` returns: await it for the client,
    or enter it (``async with``) to have the client closed at the end."""

    def __init__(self, opening: Coroutine[Any, Any, C]) -> None:
        self._opening = opening
        self._client: C | None = None

    def __await__(self) -> Generator[Any, None, C]:
        return self._opening.__await__()

    async def __aenter__(self) -> C:
        self._client = await self._opening
        return self._client

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.close()


class AsyncClient:
    """Base of generated asyncio client classes."""

    PROGRAM: ClassVar[int]
    VERSION: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tracing.register_class(cls)

    def __init__(self, channel: AsyncChannel) -> None:
        self._channel = channel

    @classmethod
    def connect(
        cls,
        host: str,
        port: int | None = None,
        *,
        transport: str = "tcp",
        auth: Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Connecting[Self]:
        """Like :meth:`Client.connect`: ``await`` it, or ``async with`` it."""
        return Connecting(cls._open(host, port, transport=transport, auth=auth, timeout=timeout))

    @classmethod
    async def _open(cls, host: str, port: int | None, *, transport: str, auth: Auth | None, timeout: float) -> Self:
        channel = await open_async_channel(
            host, port, cls.PROGRAM, cls.VERSION, transport=transport, auth=auth, timeout=timeout
        )
        return cls(channel)

    @property
    def channel(self) -> AsyncChannel:
        return self._channel

    def _call(self, procedure: Procedure[R], *args: Any) -> Coroutine[Any, Any, R]:
        return self._channel.call(self.PROGRAM, self.VERSION, procedure, args)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
