"""Fixtures of the ONC RPC tests: the toy program served on loopback, and
a real rpcbind.

rpcbind always listens on port 111 (and locks /run/rpcbind.lock), so only
one can run on a machine: the session uses the one that answers on
127.0.0.1:111, and starts Debian's own (``rpcbind -f``, in the
foreground) when none does, stopping it again at the end.  Nothing skips:
a missing rpcbind is an error saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# toy.py sits next to this file; make it importable under any import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from toy import Toy, ToyV2  # noqa: E402

from xdrgen.runtime import oncrpc  # noqa: E402
from xdrgen.runtime.oncrpc.procedures import Procedure  # noqa: E402

INSTALL_HINT = "run `bash .ci/install-system-packages.sh` (as root) first"
RPCBIND_NULL = Procedure(0, "RPCBPROC_NULL", "rpcbproc_null")


def system_binary(name: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"`{name}` not found: {INSTALL_HINT}", pytrace=False)
    return path


def rpcbind_answers() -> bool:
    try:
        with oncrpc.TcpChannel.connect("127.0.0.1", 111, timeout=2.0) as channel:
            channel.call(100000, 2, RPCBIND_NULL)
    except (oncrpc.RpcError, OSError):
        return False
    return True


@pytest.fixture(scope="session")
def rpcbind() -> Iterator[str]:
    """The address of a running rpcbind (127.0.0.1, port 111)."""
    binary = system_binary("rpcbind")
    system_binary("rpcinfo")
    if rpcbind_answers():
        yield "127.0.0.1"  # someone else's: leave it alone
        return
    process = subprocess.Popen([binary, "-f"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not rpcbind_answers():
            if process.poll() is not None:
                if rpcbind_answers():  # another session's rpcbind won the race
                    break
                pytest.fail(f"rpcbind exited ({process.returncode}): {process.stdout.read() if process.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail("rpcbind did not answer on 127.0.0.1:111 within 20 s")
            time.sleep(0.05)
        yield "127.0.0.1"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def served() -> Iterator[oncrpc.ServerThread]:
    """The toy program, versions 2 and 3, on loopback TCP and UDP."""
    with oncrpc.ServerThread([Toy(), ToyV2()]) as thread:
        yield thread
