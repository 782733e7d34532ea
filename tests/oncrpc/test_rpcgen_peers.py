"""Generated stubs against C code from glibc's rpcgen, built with gcc and
libtirpc, on loopback: a C client (``rpcgen -N -l`` stubs, ``clnt_create``
through rpcbind, AUTH_SYS) calls our generated kv server, and our
generated kv clients (blocking and asyncio, TCP and UDP) call a C server
(``rpcgen -N -m`` dispatcher with the procedure bodies of
``c/kv_server_procs.c``).  The protocol is ``examples/kv/kv.x``: typedefs,
an enum, a struct, a union, a bool and a two-argument (newstyle)
procedure."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from oncrpc_support import KV_X, system_binary

from xdrgen.runtime.oncrpc import AuthSys, ServerThread

HERE = Path(__file__).resolve().parent
KV_PROGRAM = 0x20000100


def build(directory: Path, program: str, *sources: str) -> Path:
    command = [system_binary("gcc"), "-O2", "-I/usr/include/tirpc", "-o", program, *sources, "-ltirpc"]
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return directory / program


@pytest.fixture(scope="module")
def c_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``kv_client`` and ``kv_server``, built from rpcgen's output for kv.x."""
    directory = tmp_path_factory.mktemp("rpcgen")
    shutil.copy(KV_X, directory / "kv.x")
    for source in ("kv_client_main.c", "kv_server_procs.c"):
        shutil.copy(HERE / "c" / source, directory / source)
    rpcgen = system_binary("rpcgen")
    # -N: newstyle (several arguments, passed by value); -h header, -c XDR
    # routines, -l client stubs, -m server dispatcher without main()
    for flag, output in (("-h", "kv.h"), ("-c", "kv_xdr.c"), ("-l", "kv_clnt.c"), ("-m", "kv_svc.c")):
        subprocess.run([rpcgen, "-N", flag, "kv.x", "-o", output], cwd=directory, check=True, timeout=60)
    return {
        "client": build(directory, "kv_client", "kv_client_main.c", "kv_clnt.c", "kv_xdr.c"),
        "server": build(directory, "kv_server", "kv_server_procs.c", "kv_svc.c", "kv_xdr.c"),
    }


# ---- a C client calls our server -------------------------------------------------------


def recording_kv_store(kv_example: ModuleType, calls: list[Any]) -> Any:
    """The example's KvStore (everything but KV_DELETE), noting the calls
    to KV_PUT."""
    from kv import KvEntry, KvStatus
    from kv_server import Call

    class Recording(kv_example.KvStore):  # type: ignore[name-defined,misc]
        async def kv_put(self, call: Call, kv_entry: KvEntry) -> KvStatus:
            calls.append(call)
            return await super().kv_put(call, kv_entry)  # type: ignore[no-any-return]

    return Recording()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_c_client_calls_our_server(
    rpcbind: str, kv_example: ModuleType, c_programs: dict[str, Path], transport: str
) -> None:
    calls: list[Any] = []
    with ServerThread([recording_kv_store(kv_example, calls)], register=True):
        result = subprocess.run(
            [str(c_programs["client"]), "127.0.0.1", transport], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "null: ok",
        "put: 0",
        "get alpha: ok first",
        "get missing: status 1",
        "keys: alpha",
        "delete: kv_delete: RPC: Procedure unavailable",
    ]
    (call,) = calls
    assert call.transport == transport and call.peer[0] == "127.0.0.1"
    assert isinstance(call.cred, AuthSys)  # authunix_create_default()
    assert (call.cred.uid, call.cred.gid) == (os.getuid(), os.getgid())
    assert call.cred.machinename == socket.gethostname()


# ---- our clients call a C server -------------------------------------------------------


@pytest.fixture
def c_server(c_programs: dict[str, Path]) -> Iterator[tuple[int, int]]:
    """The C server's (TCP port, UDP port)."""
    process = subprocess.Popen([str(c_programs["server"])], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        tcp, udp = map(int, process.stdout.readline().split())
        yield tcp, udp
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_our_client_calls_a_c_server(kv_example: ModuleType, c_server: tuple[int, int], transport: str) -> None:
    from kv import KvEntry, KvLookupDefault, KvLookupValue, KvStatus
    from kv_client import GarbageArguments, KvV1Client

    port = c_server[0] if transport == "tcp" else c_server[1]
    blob = bytes(range(256)) * 16
    with KvV1Client.connect("127.0.0.1", port, transport=transport) as anonymous:
        anonymous.kv_null()
        assert anonymous.kv_put(KvEntry("alpha", b"1")) is KvStatus.KV_READ_ONLY  # AUTH_NONE
    with KvV1Client.connect("127.0.0.1", port, transport=transport, auth=AuthSys.local()) as client:
        assert client.kv_put(KvEntry("alpha", b"first")) is KvStatus.KV_OK
        assert client.kv_put(KvEntry("alps", blob)) is KvStatus.KV_OK
        assert client.kv_put(KvEntry("beta", b"")) is KvStatus.KV_OK
        assert client.kv_get("alpha") == KvLookupValue(b"first")
        assert client.kv_get("alps") == KvLookupValue(blob)
        assert client.kv_get("gamma") == KvLookupDefault(KvStatus.KV_NOT_FOUND)
        assert client.kv_keys("al", 10) == ["alpha", "alps"]  # two arguments
        assert client.kv_keys("", 1) == ["alpha"]
        assert client.kv_delete("alpha") is True
        assert client.kv_delete("alpha") is False
        assert client.kv_get("alpha") == KvLookupDefault(KvStatus.KV_NOT_FOUND)
        if transport == "udp":
            # TI-RPC's UDP server reads 8,800 bytes of a datagram (UDPMSGSIZE):
            # a longer call does not decode, and it says so
            with pytest.raises(GarbageArguments):
                client.kv_put(KvEntry("big", bytes(9000)))
        else:
            assert client.kv_put(KvEntry("big", bytes(60000))) is KvStatus.KV_OK


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_our_asyncio_client_calls_a_c_server(kv_example: ModuleType, c_server: tuple[int, int], transport: str) -> None:
    from kv import KvEntry, KvLookupValue, KvStatus
    from kv_client import KvV1AsyncClient

    port = c_server[0] if transport == "tcp" else c_server[1]
    keys = [f"key{index:02}" for index in range(20)]

    async def scenario() -> None:
        async with KvV1AsyncClient.connect("127.0.0.1", port, transport=transport, auth=AuthSys.local()) as client:
            puts = await asyncio.gather(*(client.kv_put(KvEntry(key, key.encode())) for key in keys))
            assert puts == [KvStatus.KV_OK] * len(keys)
            found = await asyncio.gather(*(client.kv_get(key) for key in keys))  # all in flight at once
            assert found == [KvLookupValue(key.encode()) for key in keys]
            assert await client.kv_keys("key1", 64) == keys[10:]

    asyncio.run(scenario())
