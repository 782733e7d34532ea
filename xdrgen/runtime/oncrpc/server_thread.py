"""A :class:`~.server.Server` on its own event loop in a background
thread, for programs (and tests) that are not asyncio themselves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any, Self

from . import rpcbind
from .handler import Handler
from .server import Server

START_TIMEOUT = 30.0


class ServerThread:
    """Serves ``handlers`` on TCP at ``tcp`` and on UDP at ``udp`` (each a
    (host, port) pair, port 0 for any free one, or None for none).

    :meth:`start` returns once the server listens; with ``register`` it
    also registers every program version with the rpcbind at
    ``rpcbind_address`` (the local one), and :meth:`stop` removes them
    again.  ``options`` go to :class:`Server`: the limits ``max_record``,
    ``max_in_flight``, ``max_output``, ``max_connections``, ``idle_timeout``
    and ``udp_max_in_flight``, and ``fragment_size``."""

    def __init__(
        self,
        handlers: Iterable[Handler],
        tcp: tuple[str, int] | None = ("127.0.0.1", 0),
        udp: tuple[str, int] | None = ("127.0.0.1", 0),
        register: bool = False,
        rpcbind_address: tuple[str, int] = ("127.0.0.1", rpcbind.RPCBIND_PORT),
        **options: Any,
    ) -> None:
        if tcp is None and udp is None:
            raise ValueError("nothing to listen on: give tcp or udp")
        self.server = Server(handlers, **options)
        self.register = register
        self.rpcbind_address = rpcbind_address
        self.tcp_address: Any = None
        self.udp_address: Any = None
        self._tcp = tcp
        self._udp = udp
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._registered = False

    @property
    def tcp_port(self) -> int | None:
        return None if self.tcp_address is None else int(self.tcp_address[1])

    @property
    def udp_port(self) -> int | None:
        return None if self.udp_address is None else int(self.udp_address[1])

    def start(self) -> Self:
        """Start serving; raise what went wrong if it could not."""
        if self._thread is not None:
            raise RuntimeError("the server thread was started already")
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), name="oncrpc-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError("the server did not start")
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        if self.register:
            try:
                host, port = self.rpcbind_address
                rpcbind.register(self.server.programs, self.server.listeners, host=host, port=port)
            except BaseException:
                self.stop()
                raise
            self._registered = True
        return self

    async def _serve(self) -> None:
        try:
            if self._tcp is not None:
                self.tcp_address = await self.server.listen_tcp(*self._tcp)
            if self._udp is not None:
                self.udp_address = await self.server.listen_udp(*self._udp)
        except BaseException as exc:
            self._failure = exc
            self.server.close()
            self._ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        try:
            await self.server.serve_forever()
        finally:
            self.server.close()
            await self.server.wait_closed()

    def stop(self) -> None:
        """Unregister (if registered), stop serving and end the thread."""
        try:
            if self._registered:
                self._registered = False
                host, port = self.rpcbind_address
                rpcbind.unregister(self.server.programs, host=host, port=port)
        finally:
            if self._loop is not None and self._thread is not None and self._thread.is_alive():
                self._loop.call_soon_threadsafe(self.server.close)
            if self._thread is not None:
                self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
