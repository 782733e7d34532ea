"""The three layers and the two distributions.

- Imports point one way: ``xdrgen.runtime`` (standard library only) <-
  ``xdrgen.compiler`` and ``libvirt_rpc``; the compiler never imports
  libvirt_rpc, libvirt_rpc never imports the compiler.
- ``xdrgen-py`` (the root pyproject.toml) and ``libvirt-rpc``
  (libvirt/pyproject.toml) build as wheels; installing libvirt-rpc into a
  fresh venv, offline, pulls in xdrgen-py and nothing else, and
  ``import libvirt_rpc`` works there; the CLI without the ``[compiler]``
  extra says what to install; the example project builds with pip's build
  isolation once xdrgen-py can be found (here: --find-links).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "xdrgen" / "runtime"
COMPILER = ROOT / "xdrgen" / "compiler"
LIBVIRT = ROOT / "libvirt" / "libvirt_rpc"
GENERATED = ROOT / "generated" / "libvirt_rpc"
COMPILER_DEPENDENCIES = {"lark", "jinja2", "black", "hatchling", "packaging"}


def imported_modules(directory: Path, package: str) -> dict[str, set[str]]:
    """Every absolute module name each file under ``directory`` imports
    (relative imports resolved against ``package``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*.py")):
        parts = [package, *path.relative_to(directory).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = parts[: len(parts) - node.level + (path.name == "__init__.py")]
                    names.add(".".join([*base, *([node.module] if node.module else [])]))
                else:
                    names.add(node.module or "")
        found[str(path.relative_to(ROOT))] = names
    return found


def test_runtime_imports_only_the_standard_library_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"xdrgen"}
    for path, names in imported_modules(RUNTIME, "xdrgen.runtime").items():
        for name in names:
            top = name.partition(".")[0]
            assert top in allowed, f"{path} imports {name}"
            if top == "xdrgen":
                assert name == "xdrgen" or name.startswith("xdrgen.runtime"), f"{path} imports {name}"


def test_compiler_never_imports_libvirt_rpc() -> None:
    for path, names in imported_modules(COMPILER, "xdrgen.compiler").items():
        assert not any(n.partition(".")[0] == "libvirt_rpc" for n in names), (path, names)


def test_blocking_open_loads_neither_asyncio_nor_ctypes() -> None:
    # A blocking script pays for neither: asyncio's side of the client and
    # transports, and libsasl2 through ctypes, load when first used.
    script = (
        "import sys, libvirt_rpc\n"
        "libvirt_rpc.open\n"
        "print(sorted(m for m in ('asyncio', 'ctypes') if m in sys.modules))\n"
        "from libvirt_rpc.client import AsyncRpcClient\n"
        "from libvirt_rpc.transport import CommandStreamWriter\n"
        "print(AsyncRpcClient.__module__, CommandStreamWriter.__module__, 'asyncio' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [
        "[]",
        "libvirt_rpc.client.asyncio_client libvirt_rpc.transport.command_async True",
    ]


def test_libvirt_rpc_imports_only_the_runtime() -> None:
    # xdrgen.trace (standard library only, like the runtime) is what
    # libvirt_rpc.trace presets for libvirt.
    for directory in (LIBVIRT, GENERATED):
        for path, names in imported_modules(directory, "libvirt_rpc").items():
            for name in names:
                top = name.partition(".")[0]
                assert top not in COMPILER_DEPENDENCIES, f"{path} imports {name}"
                if top == "xdrgen":
                    assert name.startswith(("xdrgen.runtime", "xdrgen.trace")) or name == "xdrgen", f"{path} imports {name}"


def run(*args: object, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Neither the checkout nor the test environment's site-packages may
    # stand in for what the venv installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    process = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check and process.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {process.returncode}:\n{process.stdout}{process.stderr}")
    return process


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both distributions' wheels, built offline from the checkout."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
        "-w", out, ROOT, ROOT / "libvirt", cwd=out)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    """A fresh venv with the libvirt-rpc wheel installed, offline."""
    directory = tmp_path_factory.mktemp("venv") / "v"
    run(sys.executable, "-m", "venv", directory, cwd=directory.parent)
    python = directory / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-index", "--find-links", wheels, "libvirt-rpc",
        cwd=directory.parent)  # fmt: skip
    return directory


def test_wheels_carry_their_layers(wheels: Path) -> None:
    import zipfile

    (xdrgen_wheel,) = wheels.glob("xdrgen_py-*.whl")
    (libvirt_wheel,) = wheels.glob("libvirt_rpc-*.whl")
    with zipfile.ZipFile(xdrgen_wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
    assert {"xdrgen/runtime/xdr.py", "xdrgen/compiler/cli.py", "xdrgen/compiler/grammars/xdr.lark"} <= names
    assert not any(n.startswith("libvirt_rpc/") for n in names)
    # the compiler's dependencies only with the extra
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and all("extra ==" in line for line in requires), requires
    with zipfile.ZipFile(libvirt_wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
    # both halves of the package, in one directory
    assert {"libvirt_rpc/__init__.py", "libvirt_rpc/connection.py", "libvirt_rpc/remote_protocol.py",
            "libvirt_rpc/remote_protocol_server.py", "libvirt_rpc/py.typed",
            "libvirt_rpc/transport/__init__.py", "libvirt_rpc/transport/registry.py"} <= names  # fmt: skip
    assert not any(n.startswith("xdrgen/") for n in names)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires == ["Requires-Dist: xdrgen-py==0.1.0"], requires


def test_libvirt_rpc_installs_without_the_compiler(venv: Path) -> None:
    listed = run(venv / "bin" / "python", "-m", "pip", "list", "--format=freeze", cwd=venv.parent).stdout
    installed = {line.split("==")[0].lower() for line in listed.split()}
    assert {"libvirt-rpc", "xdrgen-py"} <= installed, installed
    assert not installed & COMPILER_DEPENDENCIES, installed
    probe = (
        "import sys, libvirt_rpc, libvirt_rpc.remote_protocol_client, libvirt_rpc.testd\n"
        "from libvirt_rpc import remote_protocol as rp\n"
        "assert rp.RemoteDomainGetInfoRet.decode(bytes(32)).memory == 0\n"
        "assert libvirt_rpc.open and libvirt_rpc.LibvirtError\n"
        "print(libvirt_rpc.__file__, sorted(m for m in ('lark', 'jinja2', 'black') if m in sys.modules))\n"
    )
    out = run(venv / "bin" / "python", "-c", probe, cwd=venv.parent).stdout
    assert out.startswith(str(venv)), out
    assert out.rstrip().endswith("[]"), out


def test_cli_without_the_compiler_extra_says_what_to_install(venv: Path) -> None:
    process = run(venv / "bin" / "xdrgen", "parse", ROOT / "protocols" / "rpcsvc" / "mount.x",
                  cwd=venv.parent, check=False)  # fmt: skip
    assert process.returncode == 1
    assert "pip install 'xdrgen-py[compiler]'" in process.stderr, process.stderr
    assert "Traceback" not in process.stderr


def test_example_builds_with_build_isolation(tmp_path: Path, wheels: Path) -> None:
    """``pip wheel .`` as a user would run it once xdrgen-py is on an index:
    pip fetches hatchling and xdrgen-py[compiler] into an isolated build
    environment (xdrgen-py from the wheels built here)."""
    project = tmp_path / "hello_rpc"
    shutil.copytree(ROOT / "examples" / "hello_rpc", project, ignore=shutil.ignore_patterns("__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--find-links", wheels, "-w", tmp_path / "out",
        project, cwd=tmp_path)  # fmt: skip
    assert list((tmp_path / "out").glob("hello_rpc-*.whl"))
