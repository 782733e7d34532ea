"""libvirt's own client (libvirt-python over libvirt 9.0.0) agrees with the
generator's table of procedures that pass descriptors for the QEMU and LXC
programs (the remote program's are driven by virsh and libvirt-python in
test_testd_fds.py): it sends a monitor command's files and takes the
files of its reply, and takes the namespaces of an LXC domain, exactly as
our generated handlers send and receive them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from libvirt_rpc import lxc_protocol as lxc
from libvirt_rpc import qemu_protocol as qemu
from libvirt_rpc.lxc_protocol_server import LxcHandler
from libvirt_rpc.qemu_protocol_server import QemuHandler
from libvirt_rpc.server import Call, ServerThread, WithFds, start_in_thread
from libvirt_rpc.testd import TestDaemon
from testd_support import virsh_env

PYTHON = "/usr/bin/python3"  # Debian's python3-libvirt


def pipe_with(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


class Monitor(QemuHandler):
    """Answers a monitor command with what its files hold, and a file."""

    async def domain_monitor_command_with_files(
        self, call: Call, args: qemu.QemuDomainMonitorCommandWithFilesArgs
    ) -> WithFds[qemu.QemuDomainMonitorCommandWithFilesRet]:
        held = [os.read(fd, 100).decode() for fd in call.fds]
        return WithFds(qemu.QemuDomainMonitorCommandWithFilesRet(json.dumps(held)), [pipe_with(b"from qemu")])


class Namespaces(LxcHandler):
    async def domain_open_namespace(self, call: Call, args: lxc.LxcDomainOpenNamespaceArgs) -> WithFds[None]:
        return WithFds(None, [pipe_with(kind) for kind in (b"ipc", b"net", b"pid")])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("table") / "sock"
    with start_in_thread([TestDaemon(), Monitor(), Namespaces()], unix=path) as thread:
        yield thread


SCRIPT = """\
import json, os, sys, libvirt, libvirt_lxc, libvirt_qemu
c = libvirt.open(sys.argv[1])
d = c.lookupByName("test")
r1, w1 = os.pipe(); os.write(w1, b"one"); os.close(w1)
r2, w2 = os.pipe(); os.write(w2, b"two"); os.close(w2)
result, files = libvirt_qemu.qemuMonitorCommandWithFiles(d, '{"execute": "getfd"}', [r1, r2])
namespaces = libvirt_lxc.lxcOpenNamespace(d, 0)
print(json.dumps({
    "result": json.loads(result),
    "files": [f.read().decode() for f in files],  # (file objects)
    "namespaces": [os.read(fd, 100).decode() for fd in namespaces],
}))
"""


def test_libvirts_client_passes_what_the_table_says(served: ServerThread) -> None:
    assert served.unix_path is not None
    result = subprocess.run(
        [PYTHON, "-c", SCRIPT, f"test+unix:///default?socket={served.unix_path}"],
        env=virsh_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "result": ["one", "two"],  # both files went with the call ("both": in)
        "files": ["from qemu"],  # and the reply's came back ("both": out)
        "namespaces": ["ipc", "net", "pid"],  # LXC_PROC_DOMAIN_OPEN_NAMESPACE: out
    }

