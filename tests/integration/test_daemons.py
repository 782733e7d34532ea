"""The daemon fixtures work: the real virsh reaches them over every transport."""

from __future__ import annotations

import os
import subprocess

import pytest
from daemons import Libvirtd, Sshd, free_port, require_binary, tcp_accepts, virsh

TRANSPORTS = ["unix", "unix_ro", "tcp", "tls", "ssh"]


def uri_for(transport: str, libvirtd: Libvirtd, sshd: Sshd) -> str:
    if transport == "ssh":
        return sshd.uri_ssh(libvirtd)
    uri: str = getattr(libvirtd, f"uri_{transport}")
    return uri


def domain_names(listing: str) -> list[str]:
    """Names column of ``virsh list`` output (after the two header lines)."""
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    return [row[1] for row in rows]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_virsh_list_all(transport: str, libvirtd: Libvirtd, sshd: Sshd) -> None:
    result = virsh(uri_for(transport, libvirtd, sshd), "list", "--all")
    assert result.returncode == 0, result.stderr
    assert domain_names(result.stdout) == ["test"]
    assert "running" in result.stdout


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_virsh_hostname(transport: str, libvirtd: Libvirtd, sshd: Sshd) -> None:
    result = virsh(uri_for(transport, libvirtd, sshd), "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_attributes(libvirtd: Libvirtd) -> None:
    assert libvirtd.uri_unix == f"test+unix:///default?socket={libvirtd.socket_path}"
    assert libvirtd.uri_tcp == f"test+tcp://127.0.0.1:{libvirtd.tcp_port}/default"
    assert libvirtd.uri_tls == (
        f"test+tls://127.0.0.1:{libvirtd.tls_port}/default?pkipath={libvirtd.pki_dir}"
    )
    for name in ("cacert.pem", "clientcert.pem", "clientkey.pem"):
        assert os.path.isfile(os.path.join(libvirtd.pki_dir, name))
    # unshare and sh exec into libvirtd, so the pid we hold is the daemon itself.
    with open(f"/proc/{libvirtd.pid}/comm") as f:
        assert f.read().strip() == "libvirtd"


def test_ssh_known_hosts(sshd: Sshd) -> None:
    """The pre-populated known_hosts lets ssh log in with strict checking."""
    result = subprocess.run(
        [require_binary("ssh"), *sshd.ssh_args(), "127.0.0.1", "echo", "ok"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_stop_makes_virsh_fail(libvirtd: Libvirtd, fresh_libvirtd: Libvirtd) -> None:
    # Two daemons side by side, each with its own state.
    assert fresh_libvirtd.pid != libvirtd.pid
    assert virsh(fresh_libvirtd.uri_unix, "list", "--all").returncode == 0
    pid, tmp = fresh_libvirtd.pid, fresh_libvirtd.dir
    fresh_libvirtd.stop()
    assert not os.path.exists(f"/proc/{pid}")
    assert not tmp.exists()
    for uri in (
        fresh_libvirtd.uri_unix,
        fresh_libvirtd.uri_tcp,
        fresh_libvirtd.uri_tls,
    ):
        result = virsh(uri, "list", "--all")
        assert result.returncode != 0
        assert "error" in result.stderr
    # The session daemon is unaffected.
    assert virsh(libvirtd.uri_unix, "list", "--all").returncode == 0


def test_kill(fresh_libvirtd: Libvirtd) -> None:
    pid = fresh_libvirtd.pid
    fresh_libvirtd.kill()
    assert not fresh_libvirtd.is_running()
    assert not os.path.exists(f"/proc/{pid}")
    assert not tcp_accepts(fresh_libvirtd.tcp_port)
    assert virsh(fresh_libvirtd.uri_tcp, "list").returncode != 0
    # Its log survives a kill until stop().
    assert fresh_libvirtd.log_path.exists()


def test_free_port() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    assert not tcp_accepts(port)
