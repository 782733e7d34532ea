"""The asyncio side of :mod:`.command`: the child process of an ssh/ext
connection opened with asyncio, owned by its :class:`CommandStreamWriter`.
Apart so that blocking users never import asyncio.
"""

from __future__ import annotations

import asyncio
import signal
from typing import IO

from .command import _CHILD_GRACE, _child_ends, _ChildStderr

__all__ = ["CommandStreamWriter", "spawn_async"]


class CommandStreamWriter(asyncio.StreamWriter):
    """A ``StreamWriter`` that also owns the ssh/ext child process.

    ``close()`` closes the socket and signals the child; ``wait_closed()``
    also waits for the child to exit (SIGKILL after a grace period).
    """

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: asyncio.StreamReaderProtocol,
        reader: asyncio.StreamReader,
        loop: asyncio.AbstractEventLoop,
        process: asyncio.subprocess.Process,
        stderr_file: IO[bytes],
    ) -> None:
        super().__init__(transport, protocol, reader, loop)
        self.process = process
        self._stderr = _ChildStderr(stderr_file)

    def error_output(self) -> str:
        """What the child wrote to stderr so far."""
        return self._stderr.text()

    def close(self) -> None:
        super().close()
        if self.process.returncode is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    async def wait_closed(self) -> None:
        try:
            await super().wait_closed()
        finally:
            await self._reap()

    async def _reap(self) -> None:
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), _CHILD_GRACE)
            except TimeoutError:
                try:
                    self.process.kill()
                except ProcessLookupError:
                    pass
                await self.process.wait()
        self._stderr.finish()


async def spawn_async(
    argv: list[str], limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    with _child_ends(argv) as (ours, theirs, stderr_file):
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=stderr_file
        )
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    try:
        sock_transport, _ = await loop.create_unix_connection(lambda: protocol, sock=ours)
    except BaseException:
        ours.close()
        process.kill()
        await process.wait()
        stderr_file.close()
        raise
    writer = CommandStreamWriter(sock_transport, protocol, reader, loop, process, stderr_file)
    return reader, writer
