"""Helpers for the server tests: our daemon as a process, a raw protocol
client, and a logging proxy that shows what crosses the wire.

Everything listens on and connects to loopback or unix sockets only.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent.parent
_INTEGRATION = str(ROOT / "tests" / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

from daemons import Libvirtd, ext_uri, free_port, require_binary, unix_accepts, virsh, virsh_env  # noqa: E402

from libvirt_rpc import remote_protocol as rp  # noqa: E402
from xdrgen.runtime.virnet.framing import (  # noqa: E402
    FRAME_HEADER,
    FrameDecoder,
    Message,
    MessageStatus,
    MessageType,
    encode_message,
)

__all__ = [
    "EventWatch",
    "Libvirtd",
    "Testd",
    "RawConnection",
    "WireTap",
    "ext_uri",
    "free_port",
    "normalise",
    "require_binary",
    "virsh",
    "virsh_env",
    "virsh_event_lines",
    "virsh_in",
    "REMOTE",
]

REMOTE = rp.REMOTE_PROGRAM
START_TIMEOUT = 30.0  # hang guard only


class Testd:
    """``python -m libvirt_rpc.testd`` in a temp dir, on a unix socket and a
    TCP port on 127.0.0.1; the process's memory can be read and its peak
    reset (``/proc/PID/clear_refs``)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, *extra: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="xdrgen-testd-"))
        self.socket_path = str(self.dir / "sock")
        self.log_path = self.dir / "testd.log"
        cmd = [
            sys.executable, "-m", "libvirt_rpc.testd",
            "--unix", self.socket_path, "--tcp", "127.0.0.1:0", *extra,
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
                start_new_session=True,
            )
        try:
            self.tcp_port = self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> int:
        """Read the daemon's "listening on ..." lines (unbuffered: select()
        must see every byte) until the TCP port is known."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + START_TIMEOUT
        text = ""
        while True:
            match = re.search(r"^listening on tcp 127\.0\.0\.1:(\d+)$", text, re.M)
            if match:
                break
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            data = os.read(fd, 4096) if ready else b""
            if not data:
                raise RuntimeError(f"testd did not start: {text!r}\n{self.log()}")
            text += data.decode()
        if not unix_accepts(self.socket_path):
            raise RuntimeError("testd's unix socket does not accept connections")
        return int(match.group(1))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def uri_unix(self) -> str:
        return f"test+unix:///default?socket={self.socket_path}"

    @property
    def uri_tcp(self) -> str:
        return f"test+tcp://127.0.0.1:{self.tcp_port}/default"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def rss_kib(self) -> int:
        return self._status("VmRSS")

    def peak_kib(self) -> int:
        """The peak resident set since start or the last :meth:`reset_peak`."""
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RawConnection:
    """A blocking client that sends arbitrary bytes and reads whole frames."""

    def __init__(self, address: str | tuple[str, int], timeout: float = 20.0) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)  # hang guard
        self.sock.connect(address)
        self._decoder = FrameDecoder()
        self._queue: collections.deque[Message] = collections.deque()
        self.events: list[Message] = []
        self.serial = 0

    def send(self, data: bytes | bytearray) -> None:
        self.sock.sendall(data)

    def recv(self) -> Message:
        """The next frame; EOFError when the server closed the connection."""
        while not self._queue:
            try:
                data = self.sock.recv(1 << 16)
            except ConnectionResetError:
                data = b""
            if not data:
                raise EOFError("connection closed by the server")
            self._queue.extend(self._decoder.feed(data))
        return self._queue.popleft()

    def closed_by_server(self) -> bool:
        """True when the server closes the connection without sending more."""
        try:
            self.recv()
        except EOFError:
            return True
        return False

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def call(
        self,
        proc: int,
        body: Any = None,
        prog: int = REMOTE,
        vers: int = 1,
        result: type[Any] | None = None,
    ) -> Any:
        """Make a CALL and return its reply message (or ``result`` decoded
        from it); MESSAGEs that arrive first are kept in :attr:`events`."""
        serial = self.next_serial()
        self.send(encode_message(prog, vers, proc, MessageType.CALL, serial, MessageStatus.OK, body))
        reply = self.wait_reply(serial)
        if result is None:
            return reply
        if reply.status != MessageStatus.OK:
            error = rp.RemoteError.decode(reply.payload)
            raise AssertionError(f"procedure {proc} failed: {error}")
        return result.decode(reply.payload)

    def wait_reply(self, serial: int) -> Message:
        while True:
            message = self.recv()
            if message.type == MessageType.MESSAGE:
                self.events.append(message)
                continue
            if message.serial == serial and message.type == MessageType.REPLY:
                return message

    def handshake(self) -> None:
        """What libvirt's client does: AUTH_LIST, keepalive feature, CONNECT_OPEN."""
        self.call(rp.REMOTE_PROC_AUTH_LIST, result=rp.RemoteAuthListRet)
        self.call(
            rp.REMOTE_PROC_CONNECT_SUPPORTS_FEATURE,
            rp.RemoteConnectSupportsFeatureArgs(10),
            result=rp.RemoteConnectSupportsFeatureRet,
        )
        reply = self.call(rp.REMOTE_PROC_CONNECT_OPEN, rp.RemoteConnectOpenArgs("test:///default", 0))
        assert reply.status == MessageStatus.OK, rp.RemoteError.decode(reply.payload)

    def check(self) -> None:
        """One round trip that must succeed: look up "test" and get its info."""
        dom = self.call(
            rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME,
            rp.RemoteDomainLookupByNameArgs("test"),
            result=rp.RemoteDomainLookupByNameRet,
        ).dom
        info = self.call(
            rp.REMOTE_PROC_DOMAIN_GET_INFO,
            rp.RemoteDomainGetInfoArgs(dom),
            result=rp.RemoteDomainGetInfoRet,
        )
        assert info.maxMem == 8388608

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def raw_frame(
    prog: int,
    vers: int,
    proc: int,
    type_: int,
    serial: int,
    status: int,
    body: bytes = b"",
    length: int | None = None,
) -> bytes:
    """A frame with any header values (even invalid ones) and any length word."""
    total = 28 + len(body) if length is None else length
    return FRAME_HEADER.pack(total, prog, vers, proc, type_, serial, status) + body


@dataclass(frozen=True)
class Record:
    connection: int
    direction: str  # ">" client to server, "<" server to client
    message: Message

    @property
    def key(self) -> tuple[Any, ...]:
        m = self.message
        return (self.direction, m.prog, m.proc, int(m.type), int(m.status))


class WireTap:
    """A unix-socket proxy in a thread: clients connect to :attr:`path`, bytes
    go to ``target`` unchanged, and every frame both ways is recorded."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.dir = Path(tempfile.mkdtemp(prefix="xdrgen-tap-"))
        self.path = str(self.dir / "tap.sock")
        self.records: list[Record] = []
        self._cond = threading.Condition()
        self._connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        self._ready.wait()

    @property
    def uri(self) -> str:
        return f"test+unix:///default?socket={self.path}"

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_unix_server(self._handle, self.path)
        self._ready.set()
        await self._stop.wait()
        server.close()
        await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._cond:
            self._connections += 1
            index = self._connections
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        await asyncio.gather(
            self._pump(index, ">", reader, up_writer),
            self._pump(index, "<", up_reader, writer),
            return_exceptions=True,
        )

    async def _pump(
        self, index: int, direction: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder = FrameDecoder()
        try:
            while data := await reader.read(1 << 16):
                messages = decoder.feed(data)
                writer.write(data)
                with self._cond:
                    for message in messages:
                        message.payload = memoryview(bytes(message.payload))
                        self.records.append(Record(index, direction, message))
                    self._cond.notify_all()
                await writer.drain()
        finally:
            writer.close()

    def wait_for(self, predicate: Callable[[list[Record]], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate(records)`` holds (``timeout`` is a hang guard)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.records), timeout):
                raise AssertionError(f"wire tap: condition not met; {len(self.records)} records")

    def count(self, direction: str, proc: int, type_: int) -> int:
        with self._cond:
            return sum(
                1
                for r in self.records
                if r.direction == direction and r.message.proc == proc and r.message.type == type_
            )

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> WireTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def virsh_in(uri: str, script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``virsh -c URI SCRIPT``, run in ``cwd`` (for relative file
    names in the script); never raises on a non-zero exit."""
    if cwd is None:
        return virsh(uri, script)
    return subprocess.run(
        [require_binary("virsh"), "-c", uri, script],
        env=virsh_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass(frozen=True)
class EventWatch:
    """A ``virsh ...event --loop`` listener: its command, and the
    registrations (procedure, count) it makes before it listens."""

    command: tuple[str, ...]
    register_proc: int
    registrations: int


#: ``virsh event --all``: one callback per domain event type (27 in libvirt 9.0).
DOMAIN_EVENTS = EventWatch(("event", "--all", "--loop"), rp.REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, 27)


def virsh_event_lines(
    daemon_socket: str, watch: EventWatch, events: int, mutations: str, cwd: Path | None = None
) -> tuple[str, str]:
    """Run the ``watch`` listener through a wire tap, make the changes of
    the ``mutations`` script on another connection once it is registered,
    stop it after ``events`` events reached it; return its output and the
    mutation session's."""
    with WireTap(daemon_socket) as tap:
        listener = subprocess.Popen(
            [require_binary("virsh"), "-c", tap.uri, *watch.command],
            env=virsh_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            tap.wait_for(lambda _: tap.count("<", watch.register_proc, MessageType.REPLY) == watch.registrations)
            result = virsh_in(f"test+unix:///default?socket={daemon_socket}", mutations, cwd)
            lines = []
            assert listener.stdout is not None
            while len(lines) < events:
                line = listener.stdout.readline()
                assert line, f"virsh event ended early after {lines}"
                lines.append(line)
            listener.send_signal(signal.SIGINT)
            rest, _ = listener.communicate(timeout=30)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
    return "".join(lines) + rest, result.stdout + result.stderr


_CPU_TIME = re.compile(r"^(CPU time:\s+)\S+s$", re.M)
_RANDOM_MAC = re.compile(r"52:54:00(:[0-9a-f]{2}){3}")


def normalise(text: str, *, hostname: bool = False) -> str:
    """Blank what must differ between two daemons: the CPU time (the test
    driver reports the time of day), MAC addresses made up for interfaces
    defined without one, and, on request, the host name."""
    text = _CPU_TIME.sub(r"\1N.Ns", text)
    text = _RANDOM_MAC.sub("52:54:00:XX:XX:XX", text)
    if hostname:
        text = text.replace(socket.gethostname(), "HOSTNAME")
    return text
