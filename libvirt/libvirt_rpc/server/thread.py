"""A server run from blocking code: its own event loop in a daemon thread."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future as ConcurrentFuture
from types import TracebackType
from typing import Any, Self, TypeVar

from xdrgen.runtime.dispatch import ProgramHandler

from .listener import Limits, Server

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServerThread:
    """A :class:`Server` on an event loop of its own, in a daemon thread.

    ``unix`` and ``tcp`` (a (host, port) pair; port 0 picks one) choose the
    listeners; after :meth:`start`, :attr:`unix_path` and
    :attr:`tcp_address` tell where they are.  Use :meth:`run` to execute a
    coroutine on the server's loop from another thread.
    """

    def __init__(
        self,
        handlers: Iterable[ProgramHandler],
        *,
        unix: str | os.PathLike[str] | None = None,
        tcp: tuple[str, int] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.server = Server(handlers, limits=limits)
        self._unix = os.fspath(unix) if unix is not None else None
        self._tcp = tcp
        self.unix_path: str | None = None
        self.tcp_address: tuple[str, int] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name="xdrgen-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._amain())
        except BaseException as error:  # reported to start() if it is waiting
            if not self._ready.is_set():
                self._error = error
                self._ready.set()
            else:
                log.exception("server thread failed")

    async def _amain(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            if self._unix is not None:
                self.unix_path = await self.server.listen_unix(self._unix)
            if self._tcp is not None:
                self.tcp_address = await self.server.listen_tcp(*self._tcp)
        except BaseException:
            await self.server.close()
            raise
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the server's loop and return its result."""
        assert self.loop is not None
        future: ConcurrentFuture[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Call ``function(*args)`` on the server's loop and return its result."""

        async def wrapper() -> T:
            return function(*args)

        return self.run(wrapper())

    def stop(self) -> None:
        """Close the server and end the thread; safe to call twice."""
        if self.loop is not None and self._stop is not None and self._thread is not None:
            if self._thread.is_alive():
                self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
        self._thread = None

    def __enter__(self) -> Self:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    handlers: Iterable[ProgramHandler],
    *,
    unix: str | os.PathLike[str] | None = None,
    tcp: tuple[str, int] | None = None,
    limits: Limits | None = None,
) -> ServerThread:
    """Start a server in a background thread; stop it with ``.stop()`` (or
    use the returned object as a context manager)."""
    return ServerThread(handlers, unix=unix, tcp=tcp, limits=limits).start()
