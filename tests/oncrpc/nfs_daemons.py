"""Real ONC RPC daemons for the tests and benchmarks/oncrpc.py: rpcbind and
nfs-ganesha, started privately on loopback (the Debian packages come from
``.ci/install-system-packages.sh``; nothing skips when one is missing).

rpcbind always listens on port 111 (and locks /run/rpcbind.lock), so only
one can run on a machine: :func:`rpcbind_running` uses the one that answers
on 127.0.0.1:111, and starts Debian's own (``rpcbind -f``, in the
foreground) when none does, stopping it again at the end.

:class:`Ganesha` is nfs-ganesha with its VFS backend exporting a temporary
directory over NFSv3 and NFSv4.0 (pseudo path ``/export``) and MOUNT, TCP
and UDP, on ports of its own on 127.0.0.1; it registers them with rpcbind.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# The lifecycle of private daemons (process group, death with the parent,
# log tails on failure) is tests/integration/daemons.py's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from daemons import DaemonError, _Daemon, free_port, require_binary  # noqa: E402

from xdrgen.runtime.oncrpc import RpcError, TcpChannel  # noqa: E402
from xdrgen.runtime.oncrpc import rpcbind as rpcb  # noqa: E402
from xdrgen.runtime.oncrpc.procedures import Procedure  # noqa: E402

NFS_PROGRAM = 100003
MOUNT_PROGRAM = 100005
RPCBIND_NULL = Procedure(0, "RPCBPROC_NULL", "rpcbproc_null")


# ---- rpcbind ------------------------------------------------------------------------


def rpcbind_answers() -> bool:
    try:
        with TcpChannel.connect("127.0.0.1", rpcb.RPCBIND_PORT, timeout=2.0) as channel:
            channel.call(rpcb.RPCBIND_PROGRAM, 2, RPCBIND_NULL)
    except (RpcError, OSError):
        return False
    return True


@contextmanager
def rpcbind_running() -> Iterator[str]:
    """An rpcbind answering on 127.0.0.1:111 while the block runs (its
    address): the machine's, or one started for the block."""
    binary = require_binary("rpcbind")
    require_binary("rpcinfo")
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
                output = process.stdout.read() if process.stdout else ""
                raise DaemonError(f"rpcbind exited ({process.returncode}): {output}")
            if time.monotonic() > deadline:
                raise DaemonError("rpcbind did not answer on 127.0.0.1:111 within 20 s")
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


# ---- nfs-ganesha --------------------------------------------------------------------


def free_tcp_and_udp_port() -> int:
    """A port of 127.0.0.1 free right now for both TCP and UDP."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


CONFIG = """\
NFS_CORE_PARAM {{
    NFS_Port = {nfs_port};
    MNT_Port = {mount_port};
    NLM_Port = {nlm_port};
    Rquota_Port = {rquota_port};
    Bind_addr = 127.0.0.1;
    Protocols = 3, 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSV4 {{
    Graceless = true;
    RecoveryRoot = "{recovery}";
}}
EXPORT {{
    Export_Id = 1;
    Path = "{export}";
    Pseudo = /export;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 3, 4;
    Transports = TCP, UDP;
    SecType = sys;
    FSAL {{ Name = VFS; }}
}}
"""


class Ganesha(_Daemon):
    """nfs-ganesha exporting a directory that holds ``files`` (name ->
    bytes), registered with the running rpcbind (start it first)."""

    name = "ganesha"

    def __init__(self, files: Mapping[str, bytes]) -> None:
        super().__init__()
        binary = require_binary("ganesha.nfsd")
        self.export = self.dir / "export"
        self.export.mkdir()
        for name, data in files.items():
            (self.export / name).write_bytes(data)
        (self.dir / "recovery").mkdir()
        ports: set[int] = set()
        while len(ports) < 4:
            ports.add(free_tcp_and_udp_port())
        self.nfs_port, self.mount_port, nlm_port, rquota_port = sorted(ports)
        config = self.dir / "ganesha.conf"
        config.write_text(
            CONFIG.format(
                nfs_port=self.nfs_port,
                mount_port=self.mount_port,
                nlm_port=nlm_port,
                rquota_port=rquota_port,
                recovery=self.dir / "recovery",
                export=self.export,
            )
        )
        self.log = self.dir / "ganesha.log"
        # -F: in the foreground; its log complains about D-Bus and Kerberos (harmless)
        command = [binary, "-F", "-f", str(config), "-L", str(self.log), "-p", str(self.dir / "ganesha.pid"), "-N", "NIV_EVENT"]
        output = self.dir / "stdout.log"
        self._spawn(command, output)
        self._wait_ready(self._registered, [self.log, output])

    def _registered(self) -> bool:
        """Ready once rpcbind lists NFS v3 and v4 and MOUNT v3 at our ports
        (nfs-ganesha registers after it listens)."""
        wanted = {
            (NFS_PROGRAM, 3, "tcp"): self.nfs_port,
            (NFS_PROGRAM, 3, "udp"): self.nfs_port,
            (NFS_PROGRAM, 4, "tcp"): self.nfs_port,
            (MOUNT_PROGRAM, 3, "tcp"): self.mount_port,
            (MOUNT_PROGRAM, 3, "udp"): self.mount_port,
        }
        try:
            with rpcb.Rpcbind.connect("127.0.0.1", timeout=2.0) as client:
                listed = {(m.prog, m.vers, m.protocol): m.port for m in client.pmap_dump()}
        except (RpcError, OSError):
            return False
        return all(listed.get(key) == port for key, port in wanted.items())
