"""Generated stubs against the system's ONC RPC tools, on loopback: our
generated servers, registered with the real rpcbind, answer ``rpcinfo -t``
and ``-u`` and ``showmount`` (nfs-common); the stubs generated from
libtirpc's own ``rpcb_prot.x`` list rpcbind's registrations as ``rpcinfo``
does."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from oncrpc_support import system_binary
from test_rpcbind import agree, rpcinfo, rpcinfo_dump, rpcinfo_p

from xdrgen.runtime.oncrpc import ServerThread
from xdrgen.runtime.oncrpc import rpcbind as rpcb

KV_PROGRAM = 0x20000100
MOUNT_PROGRAM = 100005


@pytest.fixture
def kv_registered(rpcbind: str, stubs: str) -> Iterator[ServerThread]:
    from oncrpc_stubs.kv_server import KvV1Handler

    # the generated handler as it is: every procedure but NULL unimplemented
    with ServerThread([KvV1Handler()], register=True) as served:
        yield served


def test_rpcinfo_calls_a_generated_server(kv_registered: ServerThread) -> None:
    for option in ("-t", "-u"):
        output = rpcinfo(option, "127.0.0.1", str(KV_PROGRAM), "1")
        assert output.returncode == 0, output.stderr
        assert output.stdout.strip() == f"program {KV_PROGRAM} version 1 ready and waiting"
    listed = {entry for entry in rpcinfo_p() if entry[0] == KV_PROGRAM}
    assert listed == {(KV_PROGRAM, 1, "tcp", kv_registered.tcp_port), (KV_PROGRAM, 1, "udp", kv_registered.udp_port)}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_generated_rpcbind_client_lists_like_rpcinfo(kv_registered: ServerThread, transport: str) -> None:
    from oncrpc_stubs.rpcb_prot import Rpcb
    from oncrpc_stubs.rpcb_prot_client import Rpcbvers4Client

    with Rpcbvers4Client.connect("127.0.0.1", rpcb.RPCBIND_PORT, transport=transport) as client:

        def ours() -> set[tuple[int, int, str, str, str]]:
            listed = set()
            node = client.rpcbproc_dump()  # rp__list: a linked list
            while node is not None:
                entry = node.rpcb_map
                listed.add((entry.r_prog, entry.r_vers, entry.r_netid, entry.r_addr, entry.r_owner))
                node = node.rpcb_next
            return listed

        mine, reference = agree(ours, rpcinfo_dump)
        assert mine == reference
        # rpcbind answers with the address on the transport the question came by
        port = kv_registered.tcp_port if transport == "tcp" else kv_registered.udp_port
        assert port is not None
        address = client.rpcbproc_getaddr(Rpcb(KV_PROGRAM, 1, transport, "", ""))
        assert address == f"127.0.0.1.{port >> 8}.{port & 255}"
        assert client.rpcbproc_getaddr(Rpcb(KV_PROGRAM + 1, 1, transport, "", "")) == ""  # not registered


# ---- showmount against a generated MOUNT server --------------------------------------

EXPORTS = [("/srv/projects", ["10.0.0.0/8", "build.example"]), ("/srv/public", [])]


def mount_handlers() -> list[Any]:
    """MOUNT versions 1 to 3 (OpenSolaris' mount.x) listing :data:`EXPORTS`
    and the mounts made through them."""
    from oncrpc_stubs.mount import Exportnode, Groupnode, Mountbody, Mountres3, Mountres3Mountinfo, Mountres3Ok
    from oncrpc_stubs.mount_server import Call, Mountvers3Handler, MountversHandler, MountversPosixHandler

    mounts: list[tuple[str, str]] = []

    class Exports:
        async def mountproc_export(self, call: Call) -> Exportnode | None:
            node = None
            for directory, groups in reversed(EXPORTS):
                group = None
                for name in reversed(groups):
                    group = Groupnode(name, group)
                node = Exportnode(directory, group, node)
            return node

        async def mountproc_dump(self, call: Call) -> Mountbody | None:
            node = None
            for host, directory in reversed(mounts):
                node = Mountbody(host, directory, node)
            return node

    class Mount3(Exports, Mountvers3Handler):
        async def mountproc_mnt(self, call: Call, dirpath: str) -> Mountres3:
            mounts.append((call.peer[0], dirpath))
            return Mountres3Mountinfo(Mountres3Ok(b"\1" * 32, [1]))

    class Mount1(Exports, MountversHandler):
        pass

    class Mount2(Exports, MountversPosixHandler):
        pass

    return [Mount1(), Mount2(), Mount3()]


@pytest.fixture
def mount_registered(rpcbind: str, stubs: str) -> Iterator[ServerThread]:
    for transport in ("tcp", "udp"):
        with pytest.raises(rpcb.ProgramNotRegistered):
            rpcb.getport("127.0.0.1", MOUNT_PROGRAM, 3, transport)  # no other mountd holds MOUNT
    with ServerThread(mount_handlers(), register=True) as served:
        yield served


def showmount(*args: str) -> list[str]:
    output = subprocess.run(
        [system_binary("showmount"), *args, "127.0.0.1"], capture_output=True, text=True, timeout=60
    )
    assert output.returncode == 0, output.stderr
    return output.stdout.splitlines()


def test_showmount_lists_the_exports_we_serve(mount_registered: ServerThread) -> None:
    lines = showmount("-e")
    assert lines[0] == "Export list for 127.0.0.1:"
    assert [line.split() for line in lines[1:]] == [
        ["/srv/projects", "10.0.0.0/8,build.example"],
        ["/srv/public", "(everyone)"],
    ]


def test_showmount_lists_the_mounts_made(mount_registered: ServerThread, stubs: str) -> None:
    from oncrpc_stubs.mount_client import Mountvers3Client

    with Mountvers3Client.connect("127.0.0.1") as client:  # through rpcbind, to us
        client.mountproc_mnt("/srv/public")
    lines = showmount("-a")
    assert lines == ["All mount points on 127.0.0.1:", "127.0.0.1:/srv/public"]
