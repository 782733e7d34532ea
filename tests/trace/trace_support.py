"""Helpers for the tracing tests: the proxy as a process, reading its lines
back, and tcpdump on the loopback interface."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemons import require_binary

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 30.0  # hang guards only
WAIT_TIMEOUT = 15.0

LINE = re.compile(
    r"^\s*(?P<time>\d+\.\d{3}) (?P<conn>\d+) (?P<dir>[<>]) (?P<program>\S+?)\.(?P<version>\d+)\.(?P<procedure>\w+)"
    r"\((?P<type>\w+), (?P<status>\w+), (?P<serial>\d+)\) len=(?P<len>\d+)(?P<rest>.*)$"
)


@dataclass(frozen=True)
class Line:
    """One message line of a trace."""

    conn: int
    dir: str
    program: str
    procedure: str
    type: str
    status: str
    serial: int
    len: int
    rest: str
    text: str

    @property
    def call(self) -> str:
        """``remote.1.connect_open(call, ok, 1) len=40`` without time and connection."""
        return self.text.split(" ", 3)[3] if self.text.strip() else ""


def message_lines(lines: list[str]) -> list[Line]:
    out = []
    for text in lines:
        match = LINE.match(text)
        if match:
            g = match.groupdict()
            out.append(
                Line(int(g["conn"]), g["dir"], g["program"], g["procedure"], g["type"], g["status"],
                     int(g["serial"]), int(g["len"]), g["rest"], text.strip())  # fmt: skip
            )
    return out


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_until(proc: subprocess.Popen[Any], pattern: str) -> str:
    """A process's standard error up to a line matching ``pattern`` (read
    unbuffered: select() must see every byte); kill it if that never comes."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    deadline = time.monotonic() + START_TIMEOUT
    text = ""
    while re.search(pattern, text) is None:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        data = os.read(fd, 4096) if ready else b""
        if not data:
            proc.kill()
            raise RuntimeError(f"{proc.args[0]} did not start: {text}")
        text += data.decode()
    return text


class TraceProxy:
    """``python -m libvirt_rpc.trace proxy`` in ``directory``, lines to
    ``directory/trace.txt``; listens on ``directory/proxy.sock`` unless
    told otherwise."""

    def __init__(
        self,
        directory: Path,
        upstream: str,
        *options: str,
        listen: str | None = None,
        generic: bool = False,
        package: str = "libvirt_rpc",
        framing: str = "libvirt",
    ) -> None:
        self.dir = directory
        self.output = directory / "trace.txt"
        self.listen = listen or f"unix:{directory / 'proxy.sock'}"
        # libvirt's preset, or the generic tool told the package and framing
        entry = ["xdrgen.trace", "proxy", "--package", package, "--framing", framing] if generic else [
            "libvirt_rpc.trace", "proxy"]  # fmt: skip
        cmd = [sys.executable, "-m", *entry, "--listen", self.listen,
               "--upstream", upstream, "--output", str(self.output), *options]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.stderr = ""
        self.address = self._wait_ready()

    def _wait_ready(self) -> str:
        self.stderr = read_until(self.proc, r"listening on (\S+), upstream")
        match = re.search(r"listening on (\S+), upstream", self.stderr)
        assert match is not None
        return match.group(1)

    @property
    def socket_path(self) -> str:
        assert self.address.startswith("unix:")
        return self.address[5:]

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def uri(self, transport: str = "unix", query: str = "") -> str:
        if transport == "unix":
            return f"test+unix:///default?socket={self.socket_path}"
        return f"test+{transport}://127.0.0.1:{self.port}/default{query}"

    def lines(self) -> list[str]:
        try:
            return self.output.read_text().splitlines()
        except FileNotFoundError:
            return []

    def messages(self) -> list[Line]:
        return message_lines(self.lines())

    def wait_closed(self, connections: int = 1) -> list[str]:
        """The lines (text or ``--json``) once ``connections`` connections were closed."""
        closes = (" - client=", '"event": "close"')
        wait_until(
            lambda: sum(any(close in line for close in closes) for line in self.lines()) >= connections,
            "closed connections",
        )
        return self.lines()

    def stop(self) -> str:
        """Stop the proxy (SIGTERM); its standard error."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                _, err = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, err = self.proc.communicate()
            self.stderr += err
        return self.stderr


class Tcpdump:
    """``tcpdump -i lo -U --immediate-mode -w FILE 'tcp port P'`` (or
    another filter).

    ``--immediate-mode`` hands each packet to tcpdump as it comes: otherwise
    libpcap's TPACKET_V3 ring keeps packets in a block until it fills or a
    timeout passes, and a capture stopped sooner holds nothing.  ``-B``: a
    64 MiB ring, or a busy machine makes the kernel drop packets while
    tcpdump waits for a CPU (thousands in 20000)."""

    def __init__(self, path: Path, port: int, filter: str | None = None) -> None:
        self.path = path
        cmd = [require_binary("tcpdump"), "-i", "lo", "-U", "--immediate-mode", "-B", "65536", "-Z", "root",
               "-w", str(path), filter or f"tcp port {port}"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr = read_until(self.proc, "listening on")

    def stop(self) -> Path:
        """Stop once the file stopped growing: tcpdump drops what is still
        in the kernel's ring when it is interrupted, and on a busy machine
        it may be some way behind."""
        size, still = -1, 0
        deadline = time.monotonic() + WAIT_TIMEOUT
        while still < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.path.stat().st_size if self.path.exists() else 0
            still = still + 1 if now == size else 0
            size = now
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stderr is not None
        self.stderr += self.proc.stderr.read().decode()
        self.proc.stderr.close()
        return self.path

    @property
    def dropped(self) -> int:
        """Packets the kernel dropped because tcpdump fell behind."""
        match = re.search(r"(\d+) packets? dropped by kernel", self.stderr)
        return int(match.group(1)) if match else 0


def read_capture(path: Path, *options: str, entry: tuple[str, ...] = ("libvirt_rpc.trace",)) -> subprocess.CompletedProcess[str]:
    """``python -m libvirt_rpc.trace read PATH OPTIONS`` (or another
    ``entry``: ``("xdrgen.trace", "--package", ...)`` goes before ``read``
    only as far as the module; options follow)."""
    return subprocess.run(
        [sys.executable, "-m", entry[0], "read", str(path), *entry[1:], *options],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )  # fmt: skip


#: What the ``trace_proxy`` fixture gives: start a proxy with options.
ProxyFactory = Callable[..., TraceProxy]
