"""Transports that run a child process and talk over its stdin/stdout
(``ssh``, ``ext``): :class:`CommandTransport` and its streams.

Like libvirt, the child gets one end of a ``socketpair`` as its stdin and
stdout, so every stream has a single file descriptor and socket timeouts work
the same way for all transports.  The child's stderr is collected in a file
for error messages (:meth:`CommandStream.error_output`).  The child is
started and the stream returned at once; a failing child shows up as EOF on
the first read.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import threading
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from ..uri import LibvirtURI
from .base import Deadline, SocketStream, Stream, Transport, system_error

if TYPE_CHECKING:
    import asyncio

__all__ = ["CommandStream", "CommandTransport"]

# How long a child (ssh/ext) gets after SIGTERM before SIGKILL, like
# virProcessAbort.
_CHILD_GRACE = 1.5


class _ChildStderr:
    """A child's stderr, kept in a temporary file until :meth:`finish`.

    The blocking client's reader thread asks for the text when a read fails,
    which a :meth:`finish` on another thread (closing the connection) may
    be doing: the lock keeps one from closing the file under the other."""

    def __init__(self, file: IO[bytes] | None) -> None:
        self._file = file
        self._text: str | None = None
        self._lock = threading.Lock()

    def text(self) -> str:
        """What the child wrote so far (all of it after :meth:`finish`)."""
        with self._lock:
            return self._read()

    def _read(self) -> str:
        if self._text is not None:
            return self._text
        if self._file is None or self._file.closed:
            return ""
        self._file.seek(0)
        return self._file.read().decode("utf-8", "replace").strip()

    def finish(self) -> None:
        """Keep the text and close the file (the child has exited)."""
        with self._lock:
            if self._text is None:
                self._text = self._read()
                if self._file is not None:
                    self._file.close()


class CommandStream(SocketStream):
    """A :class:`Stream` to a child process (ssh, ext) over a socketpair.

    :meth:`close` closes our end and then ends the child as libvirt does
    (SIGTERM, then SIGKILL after a grace period).
    """

    def __init__(
        self,
        sock: socket.socket,
        process: subprocess.Popen[bytes],
        stderr_file: IO[bytes] | None = None,
        transport: str = "ssh",
    ) -> None:
        super().__init__(sock, transport)
        self.process = process
        self._stderr = _ChildStderr(stderr_file)

    def error_output(self) -> str:
        return self._stderr.text()

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        _end_process_sync(self.process)
        self._stderr.finish()


def _end_process_sync(process: subprocess.Popen[bytes]) -> None:
    """virProcessAbort: reap if gone, else SIGTERM, wait, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(_CHILD_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        process.wait()


@contextmanager
def _child_ends(argv: list[str]) -> Iterator[tuple[socket.socket, socket.socket, IO[bytes]]]:
    """Our end of a socketpair, the child's end (its stdin and stdout) and a
    file for its stderr, for the block that starts the child.  The child's
    end is closed afterwards (the child has its own copy); failing to start
    it is libvirt's "Cannot run" error."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    stderr_file = tempfile.TemporaryFile()
    try:
        yield ours, theirs, stderr_file
    except OSError as exc:
        ours.close()
        stderr_file.close()
        raise system_error(f"Cannot run '{argv[0]}'", exc) from exc
    finally:
        theirs.close()


def _spawn(argv: list[str], transport: str) -> CommandStream:
    with _child_ends(argv) as (ours, theirs, stderr_file):
        process = subprocess.Popen(
            argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=stderr_file
        )
    return CommandStream(ours, process, stderr_file, transport)


class CommandTransport(Transport):
    """A transport that runs :meth:`argv` (without a shell)."""

    @abstractmethod
    def argv(self, uri: LibvirtURI, readonly: bool = False) -> list[str]:
        """The child's command line."""

    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> Stream:
        return _spawn(self.argv(uri, readonly), self.name)

    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        from .command_async import spawn_async  # asyncio only for asyncio's users

        return await spawn_async(self.argv(uri, readonly), limit)
