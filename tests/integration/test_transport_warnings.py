"""What the transports tell the user beyond success, as virsh tells it:
ssh's own message when ssh fails, and the warning that ``no_verify=1``
ignored a bad server certificate.  Against a real sshd and libvirtd, next to
the real virsh."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import libvirt_rpc
from daemons import Libvirtd, Sshd, require_binary, virsh
from libvirt_rpc.errors import LibvirtError

HOST_KEY_FAILED = "Host key verification failed."


def strict_ssh_uri(sshd: Sshd, libvirtd: Libvirtd, tmp_path: Path) -> str:
    """ssh without a prompt (no_tty) that knows no host keys (``command=``
    runs it so, for virsh too): ssh refuses to go on."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    ssh = tmp_path / "ssh"
    ssh.write_text(
        f"#!/bin/sh\nexec {require_binary('ssh')} -F /dev/null -o UserKnownHostsFile={known_hosts} "
        '-o GlobalKnownHostsFile=/dev/null "$@"\n'
    )
    ssh.chmod(0o755)
    return (
        f"test+ssh://root@127.0.0.1:{sshd.port}/default?keyfile={sshd.client_key}"
        f"&socket={libvirtd.socket_path}&no_tty=1&command={ssh}"
    )


def test_ssh_failures_carry_ssh_s_message(libvirtd: Libvirtd, sshd: Sshd, tmp_path: Path) -> None:
    uri = strict_ssh_uri(sshd, libvirtd, tmp_path)
    theirs = virsh(uri, "hostname")
    assert theirs.returncode != 0 and HOST_KEY_FAILED in theirs.stderr, theirs.stderr
    with pytest.raises(LibvirtError) as blocking:
        libvirt_rpc.open(uri, timeout=20)
    assert HOST_KEY_FAILED in str(blocking.value)

    async def open_async() -> None:
        await libvirt_rpc.open_async(uri, timeout=20)

    with pytest.raises(LibvirtError) as asynchronous:
        asyncio.run(open_async())
    assert HOST_KEY_FAILED in str(asynchronous.value)


@pytest.fixture(scope="module")
def wrong_name_libvirtd() -> Iterator[Libvirtd]:
    """A libvirtd whose server certificate names another host."""
    with Libvirtd(server_names="DNS:elsewhere.invalid") as daemon:
        yield daemon


def virsh_warning(stderr: str) -> str:
    """What follows "Certificate check failed " in virsh's log line."""
    match = re.search(r"warning : virNetTLSContextCheckCertificate:\d+ : Certificate check failed (.*)", stderr)
    assert match, stderr
    return match.group(1)


def test_no_verify_warns_about_a_bad_certificate_as_virsh_does(
    wrong_name_libvirtd: Libvirtd, caplog: pytest.LogCaptureFixture
) -> None:
    uri = wrong_name_libvirtd.uri_tls + "&no_verify=1"
    theirs = virsh(uri, "hostname")
    assert theirs.returncode == 0, theirs.stderr
    caplog.set_level(logging.WARNING, logger="libvirt_rpc.transport")
    with libvirt_rpc.open(uri, timeout=20) as conn:
        conn.connect_get_hostname()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("libvirt_rpc.transport")]
    assert ours == [f"Certificate check failed {virsh_warning(theirs.stderr)}"]

    caplog.clear()

    async def open_async() -> None:
        async with await libvirt_rpc.open_async(uri, timeout=20) as conn:
            await conn.connect_get_hostname()

    asyncio.run(open_async())
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("libvirt_rpc.transport")]
    assert ours == [f"Certificate check failed {virsh_warning(theirs.stderr)}"]


def test_no_verify_says_nothing_about_a_good_certificate(
    libvirtd: Libvirtd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="libvirt_rpc.transport")
    with libvirt_rpc.open(libvirtd.uri_tls + "&no_verify=1", timeout=20) as conn:
        conn.connect_get_hostname()
    assert not [r for r in caplog.records if r.name.startswith("libvirt_rpc.transport")]
