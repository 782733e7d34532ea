"""The stubs generated for RFC 5531 ``program`` blocks: the names users
and checks rely on (``MOUNT_V3`` -> ``MountV3Client``, ``MountV3AsyncClient``,
``MountV3Handler``; ``MOUNTPROC3_MNT`` -> ``mountproc3_mnt``), arguments in
order (rpcgen's newstyle too), constants not numbers, docstrings from the
.x comments, the re-exports, and ``mypy --strict`` on what is generated."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from xdrgen.compiler.errors import XdrgenError
from xdrgen.compiler.generators.oncrpc_client import generate_oncrpc_client
from xdrgen.compiler.generators.oncrpc_server import generate_oncrpc_server
from xdrgen.compiler.project import Target, generate_files, write_files
from xdrgen.compiler.resolve import load
from xdrgen.runtime import oncrpc

ROOT = Path(__file__).resolve().parents[2]

MOUNT_X = """\
typedef string dirpath<1024>;
typedef opaque fhandle3<64>;
enum mountstat3 { MNT3_OK = 0, MNT3ERR_NOENT = 2 };
struct mountres3_ok { fhandle3 fhandle; int auth_flavors<>; };
union mountres3 switch (mountstat3 fhs_status) {
case MNT3_OK:
    mountres3_ok mountinfo;
default:
    void;
};
struct pair { int a; int b; };

/* The MOUNT protocol (RFC 1813 appendix I). */
program MOUNT_PROGRAM {
    /* Version 3, for NFSv3. */
    version MOUNT_V3 {
        void MOUNTPROC3_NULL(void) = 0;
        /* Map a path to a file handle. */
        mountres3 MOUNTPROC3_MNT(dirpath) = 1;
        int ADD(int, int) = 2;
        hyper MIXED(pair, unsigned hyper, string, bool) = 3;
        void CONNECT(void) = 4;
        void IMPORT(dirpath) = 5;
    } = 3;
    version NFS_V3 {
        void NFSPROC3_NULL(void) = 0;
    } = 4;
} = 100005;
"""


def stubs(tmp_path: Path, text: str, name: str = "mount") -> tuple[str, str]:
    source = tmp_path / f"{name}.x"
    source.write_text(text)
    protocol = load(source)
    client, server = generate_oncrpc_client(protocol), generate_oncrpc_server(protocol)
    assert client is not None and server is not None
    return client, server


def classes(text: str) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.parse(text).body if isinstance(node, ast.ClassDef)}


def methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_the_contract_names(tmp_path: Path) -> None:
    client, server = stubs(tmp_path, MOUNT_X)
    assert set(classes(client)) == {
        "MountV3Procedures", "MountV3Client", "MountV3AsyncClient",
        "NfsV3Procedures", "NfsV3Client", "NfsV3AsyncClient",
    }  # fmt: skip
    assert set(classes(server)) == {"MountV3Handler", "NfsV3Handler"}
    expected = ["mountproc3_null", "mountproc3_mnt", "add", "mixed", "connect_", "import_"]
    for cls, async_ in (("MountV3Client", False), ("MountV3AsyncClient", True)):
        found = methods(classes(client)[cls])
        assert list(found) == expected
        assert all(isinstance(m, ast.AsyncFunctionDef) == async_ for m in found.values())
    handler = methods(classes(server)["MountV3Handler"])
    assert list(handler) == expected
    assert all(isinstance(m, ast.AsyncFunctionDef) for m in handler.values())


def signature(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    return ast.unparse(function.args) + " -> " + ast.unparse(function.returns or ast.Constant(None))


def test_arguments_in_order_named_after_their_types(tmp_path: Path) -> None:
    client, server = stubs(tmp_path, MOUNT_X)
    calls = methods(classes(client)["MountV3Client"])
    assert signature(calls["mountproc3_null"]) == "self -> None"
    assert signature(calls["mountproc3_mnt"]) == "self, dirpath: str -> Mountres3"
    # rpcgen's newstyle: several arguments; base types are arg, numbered when repeated
    assert signature(calls["add"]) == "self, arg1: int, arg2: int -> int"
    assert signature(calls["mixed"]) == "self, pair: Pair, arg1: int, arg2: str, arg3: bool -> int"
    handled = methods(classes(server)["MountV3Handler"])
    assert signature(handled["mountproc3_mnt"]) == "self, call: oncrpc.Call, dirpath: str -> Mountres3"
    assert signature(handled["add"]) == "self, call: oncrpc.Call, arg1: int, arg2: int -> int"


def test_constants_codecs_and_docstrings(tmp_path: Path) -> None:
    client, server = stubs(tmp_path, MOUNT_X)
    assert "    PROGRAM = MOUNT_PROGRAM\n    VERSION = MOUNT_V3\n" in client
    assert "    PROGRAM = MOUNT_PROGRAM\n    VERSION = MOUNT_V3\n" in server
    assert (
        'mountproc3_mnt = oncrpc.Procedure(\n'
        '        MOUNTPROC3_MNT, "MOUNTPROC3_MNT", "mountproc3_mnt", (DirpathCodec,), Mountres3\n'
        '    )'
    ) in client
    assert 'mixed = oncrpc.Procedure(\n        MIXED,\n        "MIXED",\n        "mixed",\n        (Pair, oncrpc.UHYPER, oncrpc.String(), oncrpc.BOOL),\n        oncrpc.HYPER,\n    )' in client
    assert "        MOUNTPROC3_MNT: MountV3Procedures.mountproc3_mnt,\n" in server
    mnt = methods(classes(client)["MountV3Client"])["mountproc3_mnt"]
    assert ast.get_docstring(mnt) == "``MOUNTPROC3_MNT`` (procedure 1).\n\nMap a path to a file handle."
    assert "The MOUNT protocol (RFC 1813 appendix I).\n\n    Version 3, for NFSv3." in client
    assert client.startswith("# Generated by xdrgen ") and "do not edit" in client.split("\n")[0]
    assert server.startswith("# Generated by xdrgen ") and "do not edit" in server.split("\n")[0]


def test_clashes_are_errors(tmp_path: Path) -> None:
    with pytest.raises(XdrgenError, match="would be named 'FooV1...' twice"):
        stubs(tmp_path, "program P { version FOO_V1 { void A(void) = 0; } = 1; version FOO__V1 { void B(void) = 0; } = 2; } = 1;")
    with pytest.raises(XdrgenError, match="would be the method 'ping'"):
        stubs(tmp_path, "program P { version V1 { void PING(void) = 0; void ping(void) = 1; } = 1; } = 1;")
    with pytest.raises(XdrgenError, match="stub class 'V1Client' would hide"):
        stubs(tmp_path, "struct v1_client { int a; };\nprogram P { version V1 { void A(v1_client) = 0; } = 1; } = 1;")


def test_libvirt_programs_keep_their_own_stubs() -> None:
    protocol = load(ROOT / "protocols" / "libvirt" / "virkeepaliveprotocol.x")
    assert protocol.programs and protocol.programs[0].derived
    assert generate_oncrpc_client(protocol) is None and generate_oncrpc_server(protocol) is None


@pytest.fixture(scope="module")
def mount_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("mount_stubs")
    source = directory / "mount.x"
    source.write_text(MOUNT_X)
    target = Target(inputs=(source,), package="mountpkg", output=directory)
    write_files(target.package_dir, generate_files(target))
    return directory


def mount_modules(mount_package: Path) -> tuple[ModuleType, ModuleType]:
    """The generated ``mount_client`` and ``mount_server``."""
    sys.path.insert(0, str(mount_package))
    try:
        return importlib.import_module("mountpkg.mount_client"), importlib.import_module("mountpkg.mount_server")
    finally:
        sys.path.remove(str(mount_package))


def runtime_errors() -> list[type[oncrpc.RpcError]]:
    """RpcError and every subclass of it the runtime has, found rather than
    listed: one added later must be re-exported too."""
    found: list[type[oncrpc.RpcError]] = []
    waiting = [oncrpc.RpcError]
    while waiting:
        error = waiting.pop()
        if error.__module__.startswith("xdrgen.runtime.") and error not in found:
            found.append(error)
            waiting += error.__subclasses__()
    return found


def test_generated_modules_import_and_reexport(mount_package: Path) -> None:
    client, server = mount_modules(mount_package)
    errors = runtime_errors()
    assert len(errors) >= 11 and oncrpc.ConnectionClosed in errors
    for module, extra in ((client, ("AuthSys", "AuthStat")), (server, ("AuthSys", "AuthStat", "Server", "ServerThread", "Call"))):
        for name in (*extra, *(error.__name__ for error in errors)):
            assert getattr(module, name) is getattr(oncrpc, name), name
            assert name in module.__all__, name
    assert issubclass(client.MountV3Client, oncrpc.Client)
    assert issubclass(client.MountV3AsyncClient, oncrpc.AsyncClient)
    assert issubclass(server.MountV3Handler, oncrpc.Handler)
    assert (client.MountV3Client.PROGRAM, client.MountV3Client.VERSION) == (100005, 3)
    assert server.MountV3Handler.PROCEDURES[1] is client.MountV3Procedures.mountproc3_mnt
    assert "MountV3Client" in client.__all__ and "ServerThread" in server.__all__


def test_connect_takes_what_the_contract_says(mount_package: Path) -> None:
    """``connect(host, port=None, *, transport="tcp", auth=None, timeout=30.0)``."""
    client, _ = mount_modules(mount_package)
    positional, keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
    expected = [
        ("host", positional, inspect.Parameter.empty),
        ("port", positional, None),
        ("transport", keyword, "tcp"),
        ("auth", keyword, None),
        ("timeout", keyword, 30.0),
    ]
    for cls in (client.MountV3Client, client.MountV3AsyncClient):
        parameters = inspect.signature(cls.connect).parameters.values()
        assert [(p.name, p.kind, p.default) for p in parameters] == expected, cls


def test_the_awaited_connect(kv_example: ModuleType) -> None:
    """``client = await KvV1AsyncClient.connect(...)``, a call, ``await client.close()``."""
    kv, kv_client = importlib.import_module("kv"), importlib.import_module("kv_client")

    async def scenario(port: int) -> object:
        client = await kv_client.KvV1AsyncClient.connect("127.0.0.1", port)
        assert isinstance(client, kv_client.KvV1AsyncClient)
        found = await client.kv_get("missing")
        await client.close()
        assert client.channel.closed
        with pytest.raises(kv_client.ConnectionClosed):
            await client.kv_get("missing")
        return found

    with oncrpc.ServerThread([kv_example.KvStore()], udp=None) as served:
        assert served.tcp_port
        assert asyncio.run(scenario(served.tcp_port)) == kv.KvLookupDefault(kv.KvStatus.KV_NOT_FOUND)


MISTAKES = """\
from mountpkg.mount_client import MountV3Client
from mountpkg.mount_server import MountV3Handler
from mountpkg.mount import Mountres3
from xdrgen.runtime.oncrpc import Call

client = MountV3Client.connect("127.0.0.1")
total: str = client.add(1, 2)
client.mountproc3_mnt(b"/export")

class Mine(MountV3Handler):
    async def add(self, call: Call, arg1: int, arg2: int) -> str:
        return "3"
"""


def mypy(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--no-site-packages",
         "--cache-dir", str(cwd / ".mypy_cache"), *args],  # fmt: skip
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_stubs_pass_mypy_strict_and_catch_mistakes(mount_package: Path) -> None:
    result = mypy(mount_package, "-p", "mountpkg")
    assert result.returncode == 0, result.stdout + result.stderr
    (mount_package / "mistakes.py").write_text(MISTAKES)
    result = mypy(mount_package, "mistakes.py")
    errors = [line.split(": error: ", 1)[1] for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Incompatible types in assignment (expression has type "int", variable has type "str")  [assignment]',
        'Argument 1 to "mountproc3_mnt" of "MountV3Client" has incompatible type "bytes"; expected "str"  [arg-type]',
        'Return type "Coroutine[Any, Any, str]" of "add" incompatible with return type "Coroutine[Any, Any, int]" in supertype "mountpkg.mount_server.MountV3Handler"  [override]',
    ], result.stdout


def test_stubs_of_real_protocols_pass_mypy_strict(stubs: str, tmp_path: Path) -> None:
    """MOUNT, NFSv2/v3, NFSv4.0, rpcbind and kv stubs (their types modules
    are checked as they are used, not on their own: --follow-imports=silent)."""
    package = Path(importlib.import_module(stubs).__path__[0])
    modules = sorted(f"{stubs}.{path.stem}" for path in package.glob("*_client.py")) + sorted(
        f"{stubs}.{path.stem}" for path in package.glob("*_server.py")
    )
    assert len(modules) == 10
    arguments = ["--follow-imports=silent"]
    for module in modules:
        arguments += ["-m", module]
    result = mypy(package.parent, *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
