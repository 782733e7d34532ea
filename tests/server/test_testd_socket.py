"""The test daemon's listening sockets, set up as libvirtd sets up its own:
a backlog of 1000 (max_queued_clients), a read-write socket of mode 0700
(unix_sock_rw_perms), and a socket path another live daemon serves is
refused (a stale socket file is replaced)."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testd_support import ROOT, Libvirtd, RawConnection, Testd


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process frozen (SIGSTOP): it accepts nothing, the kernel queues."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def queued_connects(path: str, tries: int) -> int:
    """How many of ``tries`` non-blocking connects the kernel queues for a
    listener that accepts none of them (a full backlog refuses at once)."""
    queued: list[socket.socket] = []
    try:
        for _ in range(tries):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(path)
            except BlockingIOError:
                sock.close()
                break
            queued.append(sock)
        return len(queued)
    finally:
        for sock in queued:
            sock.close()


def completed_tcp_connects(port: int, tries: int) -> int:
    """How many of ``tries`` TCP connects complete within a second and a
    half while nobody accepts (beyond the backlog the kernel drops the SYNs:
    the client retries a second later, the stalls that were seen)."""
    pending = []
    try:
        for _ in range(tries):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            pending.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
        done: set[socket.socket] = set()
        deadline = time.monotonic() + 1.5
        while len(done) < tries and time.monotonic() < deadline:
            _, writable, _ = select.select([], [s for s in pending if s not in done], [], 0.1)
            done.update(s for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
        return len(done)
    finally:
        for sock in pending:
            sock.close()


def start_testd(path: str, *extra: str) -> subprocess.Popen[str]:
    """``python -m libvirt_rpc.testd --unix PATH ...``."""
    return subprocess.Popen(
        [sys.executable, "-m", "libvirt_rpc.testd", "--unix", path, *extra],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refused(path: str) -> str:
    """Start a second daemon on ``path``; it must exit at once: its error."""
    proc = start_testd(path)
    try:
        _, error = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.communicate(timeout=10)
        pytest.fail(f"a second daemon took over {path}")
    assert proc.returncode == 1, error
    return error


def test_the_backlog_queues_a_thousand_connects(testd: Testd) -> None:
    with stopped(testd.pid):
        assert queued_connects(testd.socket_path, 900) == 900
    with RawConnection(testd.socket_path) as conn:  # and it serves again
        conn.handshake()
        conn.check()


def test_the_tcp_backlog_queues_them_too(testd: Testd) -> None:
    with stopped(testd.pid):
        assert completed_tcp_connects(testd.tcp_port, 500) == 500
    with RawConnection(("127.0.0.1", testd.tcp_port)) as conn:
        conn.handshake()
        conn.check()


def test_the_socket_is_for_its_owner_only(testd: Testd) -> None:
    assert stat.S_IMODE(os.stat(testd.socket_path).st_mode) == 0o700


def test_a_socket_another_testd_serves_is_refused(testd: Testd) -> None:
    error = refused(testd.socket_path)
    assert f"'{testd.socket_path}' is in use by another daemon" in error, error
    with RawConnection(testd.socket_path) as conn:  # the first one still serves
        conn.handshake()
        conn.check()


def test_a_socket_libvirtd_serves_is_refused(real_libvirtd: Libvirtd) -> None:
    error = refused(real_libvirtd.socket_path)
    assert "is in use by another daemon" in error, error
    with RawConnection(real_libvirtd.socket_path) as conn:
        conn.handshake()


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(path)  # a socket file whose daemon has gone
    with pytest.raises(ConnectionRefusedError):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(path)
    proc = start_testd(path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"listening on unix {path}\n"
        with RawConnection(path) as conn:
            conn.handshake()
            conn.check()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    path.write_text("not a socket")
    error = refused(str(path))
    assert f"[Errno {errno.EADDRINUSE}]" in error, error
    assert path.read_text() == "not a socket"


def test_the_mode_can_be_given(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    proc = start_testd(path, "--unix-perms", "0770")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"listening on unix {path}\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o770
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
