"""Generated clients against a real NFS server: nfs-ganesha (user space,
VFS backend) exporting a temporary directory on loopback.

The stubs come from real .x files (``conftest.STUB_INPUTS``): MOUNT v3
(``MOUNTVERS3``) and NFSv3 (``NFS_V3``) from OpenSolaris' ``mount.x`` and
``nfs_prot.x``, NFSv4.0 (``NFS_V4``) from NFS-Ganesha's ``nfs4.x``.  The
clients find the server's ports through rpcbind, with AUTH_SYS
credentials (the export's ``SecType = sys``), over TCP and UDP, blocking and
asyncio: mount the export, look a file up, read its bytes; and an NFSv4
COMPOUND does the same in one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from nfs_daemons import MOUNT_PROGRAM, NFS_PROGRAM, Ganesha

from xdrgen.runtime.oncrpc import AuthSys, ProgramMismatch
from xdrgen.runtime.oncrpc import rpcbind as rpcb

NAME = "data.bin"
CONTENT = bytes(range(256)) * 40 + b"the end\n"  # 10,248 bytes: three READs of 4 KiB
CHUNK = 4096
AUTH = AuthSys.local("xdrgen-tests")


@pytest.fixture(scope="module")
def ganesha(rpcbind: str, stubs: str) -> Iterator[Ganesha]:
    # module scope: it holds MOUNT's registration with rpcbind, which other
    # modules' MOUNT servers need (and nfs-ganesha removes it when it stops)
    with Ganesha({NAME: CONTENT}) as server:
        yield server


def test_rpcbind_says_where_ganesha_listens(ganesha: Ganesha) -> None:
    for transport in ("tcp", "udp"):
        assert rpcb.getport("127.0.0.1", MOUNT_PROGRAM, 3, transport) == ganesha.mount_port
        assert rpcb.getport("127.0.0.1", NFS_PROGRAM, 3, transport) == ganesha.nfs_port
    assert rpcb.getport("127.0.0.1", NFS_PROGRAM, 4, "tcp") == ganesha.nfs_port


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_mount_lookup_and_read_over_nfsv3(ganesha: Ganesha, transport: str) -> None:
    from oncrpc_stubs.mount import Mountres3Mountinfo
    from oncrpc_stubs.mount_client import Mountvers3Client
    from oncrpc_stubs.nfs_prot import (
        NFS3_OK,
        Diropargs3,
        GETATTR3args,
        GETATTR3resResok,
        LOOKUP3args,
        LOOKUP3resResok,
        NfsFh3,
        READ3args,
        READ3resResok,
    )
    from oncrpc_stubs.nfs_prot_client import NfsV3Client

    with Mountvers3Client.connect("127.0.0.1", transport=transport, auth=AUTH) as mount:
        mount.mountproc_null()
        exports = mount.mountproc_export()
        assert exports is not None and exports.ex_dir == str(ganesha.export)
        mounted = mount.mountproc_mnt(str(ganesha.export))
        assert isinstance(mounted, Mountres3Mountinfo), mounted
        root = NfsFh3(mounted.mountinfo.fhandle)

        with NfsV3Client.connect("127.0.0.1", transport=transport, auth=AUTH) as nfs:
            found = nfs.nfsproc3_lookup(LOOKUP3args(Diropargs3(root, NAME)))
            assert isinstance(found, LOOKUP3resResok) and found.status == NFS3_OK, found
            handle = found.resok.object_
            attributes = nfs.nfsproc3_getattr(GETATTR3args(handle))
            assert isinstance(attributes, GETATTR3resResok)
            assert attributes.resok.obj_attributes.size == len(CONTENT)
            data = b""
            eof = False
            while not eof:
                read = nfs.nfsproc3_read(READ3args(handle, len(data), CHUNK))
                assert isinstance(read, READ3resResok), read
                data += read.resok.data
                eof = read.resok.eof
        mount.mountproc_umnt(str(ganesha.export))
    assert data == CONTENT


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_asyncio_clients_read_in_parallel(ganesha: Ganesha, transport: str) -> None:
    from oncrpc_stubs.mount_client import Mountvers3AsyncClient
    from oncrpc_stubs.nfs_prot import Diropargs3, LOOKUP3args, NfsFh3, READ3args
    from oncrpc_stubs.nfs_prot_client import NfsV3AsyncClient

    async def read_all() -> bytes:
        async with Mountvers3AsyncClient.connect("127.0.0.1", transport=transport, auth=AUTH) as mount:
            mounted = await mount.mountproc_mnt(str(ganesha.export))
        root = NfsFh3(mounted.mountinfo.fhandle)  # type: ignore[attr-defined]
        async with NfsV3AsyncClient.connect("127.0.0.1", transport=transport, auth=AUTH) as nfs:
            found = await nfs.nfsproc3_lookup(LOOKUP3args(Diropargs3(root, NAME)))
            handle = found.resok.object_  # type: ignore[attr-defined]
            # every chunk asked for at once: replies matched to calls by xid
            offsets = range(0, len(CONTENT), CHUNK)
            reads = await asyncio.gather(*(nfs.nfsproc3_read(READ3args(handle, at, CHUNK)) for at in offsets))
        return b"".join(read.resok.data for read in reads)  # type: ignore[attr-defined]

    assert asyncio.run(read_all()) == CONTENT


def test_nfsv4_compound(ganesha: Ganesha) -> None:
    from oncrpc_stubs.nfs4 import (
        FATTR4_SIZE,
        FATTR4_TYPE,
        NF4REG,
        NFS4_OK,
        COMPOUND4args,
        GETATTR4args,
        LOOKUP4args,
        NfsArgop4Opgetattr,
        NfsArgop4Oplookup,
        NfsArgop4OpPutrootfh,
        NfsArgop4Opread,
        NfsResop4Opgetattr,
        NfsResop4Opread,
        READ4args,
        Stateid4,
    )
    from oncrpc_stubs.nfs4_client import NfsV4Client

    anonymous = Stateid4(0, bytes(12))  # READ without OPEN (RFC 7530 section 9.1.4.3)
    operations = [
        NfsArgop4OpPutrootfh(),
        NfsArgop4Oplookup(LOOKUP4args(b"export")),  # the export's pseudo path
        NfsArgop4Oplookup(LOOKUP4args(NAME.encode())),
        NfsArgop4Opgetattr(GETATTR4args([1 << FATTR4_TYPE | 1 << FATTR4_SIZE])),
        NfsArgop4Opread(READ4args(anonymous, 0, len(CONTENT))),
    ]
    with NfsV4Client.connect("127.0.0.1", auth=AUTH) as nfs:
        nfs.nfsproc4_null()
        reply = nfs.nfsproc4_compound(COMPOUND4args(b"xdrgen", 0, operations))
    assert reply.status == NFS4_OK and reply.tag == b"xdrgen"
    assert len(reply.resarray) == len(operations)
    # each result is an arm of nfs_resop4 holding the operation's own result
    assert [getattr(r, r.__match_args__[0]).status for r in reply.resarray] == [NFS4_OK] * len(operations)
    getattr_result = reply.resarray[3]
    assert isinstance(getattr_result, NfsResop4Opgetattr)
    attributes = getattr_result.opgetattr.resok4.obj_attributes  # type: ignore[union-attr]
    assert attributes.attrmask == [1 << FATTR4_TYPE | 1 << FATTR4_SIZE]
    # the values in attribute order: type (an enum), then size (a hyper)
    assert attributes.attr_vals == NF4REG.to_bytes(4, "big") + len(CONTENT).to_bytes(8, "big")
    read_result = reply.resarray[4]
    assert isinstance(read_result, NfsResop4Opread)
    assert read_result.opread.resok4.data == CONTENT  # type: ignore[union-attr]
    assert read_result.opread.resok4.eof  # type: ignore[union-attr]


def test_a_version_ganesha_does_not_serve(ganesha: Ganesha) -> None:
    from oncrpc_stubs.nfs_prot_client import NfsVersionClient

    for transport in ("tcp", "udp"):
        with NfsVersionClient.connect("127.0.0.1", ganesha.nfs_port, transport=transport, auth=AUTH) as nfs:
            with pytest.raises(ProgramMismatch) as info:
                nfs.nfsproc_null()
        assert (info.value.low, info.value.high) == (3, 4)
