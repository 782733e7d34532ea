"""The hatchling build hook (xdrgen/compiler/build_hook.py) on examples/hello_rpc.

Everything runs offline: xdrgen's own wheel is built from this checkout, and
the example is built with ``--no-build-isolation --no-index`` by the
environment's pip and hatchling.  The example is built twice: in the test
environment (however xdrgen is installed there, e.g. editable) and with the
wheel built here installed in a directory put first on PYTHONPATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

# Builds run without isolation, with the build requirements of the test
# environment: hatchling must be installed there (pip installs it only in its
# isolated build environments).

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hello_rpc"
ENV = {
    **os.environ,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
GENERATED = {
    "hello_proto/__init__.py",
    "hello_proto/hello.py",
    "hello_proto/hello_client.py",  # hello.x has a program block: ONC RPC stubs
    "hello_proto/hello_server.py",
    "hello_proto/py.typed",
}

# Runs in a fresh interpreter that imports the built hello_rpc/hello_proto.
ROUND_TRIP = r"""
import hello_proto, hello_rpc, xdrgen
from hello_proto import hello
from hello_rpc import (
    HELLO_GREET, HELLO_NAME_MAX, HelloGreeting, HelloMood, HelloReply,
    HelloRequest, handle_call,
)
from xdrgen.runtime.xdr import XdrError

assert HELLO_NAME_MAX == 64  # from [tool.xdrgen.defines]
assert hello.HELLO_MAX_GREETINGS == 8 and hello.HELLO_PROGRAM == 0x20000099

request = HelloRequest("world", HelloMood.HELLO_HAPPY, 2)
data = request.encode()
assert data == b"\0\0\0\5world\0\0\0" + b"\0\0\0\0" + b"\0\0\0\2", data
assert HelloRequest.decode(data) == request

reply = HelloReply.decode(handle_call(HELLO_GREET, data))
assert reply.greetings == [HelloGreeting("Hello, world!", 0), HelloGreeting("Hello, world!", 1)]
assert HelloReply.decode(reply.encode()) == reply
grumpy = HelloReply.decode(handle_call(HELLO_GREET, HelloRequest("x", HelloMood.HELLO_GRUMPY, 0).encode()))
assert grumpy.complaint == "Go away, x."

try:  # the -D bound is enforced
    HelloRequest("x" * 65, HelloMood.HELLO_HAPPY, 1).encode()
except XdrError:
    pass
else:
    raise AssertionError("a 65-byte name was encoded")
print("ROUND TRIP OK", hello_proto.__file__, xdrgen.__file__)
"""


def run(
    *args: object, cwd: Path, check: bool = True, pythonpath: Sequence[Path] = ()
) -> subprocess.CompletedProcess:
    """Run a command in cwd (never the checkout: `python -c` would import
    xdrgen from there, whatever is installed)."""
    env = dict(ENV)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(map(str, pythonpath))
    process = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    if check and process.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {process.returncode}:\n{process.stdout}")
    return process


def copy_example(destination: Path) -> Path:
    shutil.copytree(EXAMPLE, destination, ignore=shutil.ignore_patterns("__pycache__", "dist", "build"))
    return destination


def tree(directory: Path) -> set[str]:
    return {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if "__pycache__" not in p.parts
    }


def pip_wheel(project: Path, wheels: Path, out: Path, pythonpath: Sequence[Path] = ()) -> Path:
    """Build project's wheel offline; the one .whl in out."""
    run(
        sys.executable, "-m", "pip", "wheel", project, "--no-deps", "--no-index",
        "--find-links", wheels, "--no-build-isolation", "-w", out,
        cwd=project.parent, pythonpath=pythonpath,
    )
    (wheel,) = out.glob("hello_rpc-*.whl")
    return wheel


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def hatchling_build(kind: str, project: Path, out: Path) -> Path:
    """Call hatchling's PEP 517 hook (build_sdist / build_editable) directly:
    pip cannot build an sdist, nor an editable wheel without installing it."""
    process = run(
        sys.executable, "-c",
        f"import hatchling.build, sys; print(hatchling.build.build_{kind}(sys.argv[1]))", out,
        cwd=project,
    )
    return out / process.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """xdrgen's wheel, built from this checkout."""
    directory = tmp_path_factory.mktemp("wheels")
    run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-index",
        "--no-build-isolation", "-w", directory, cwd=directory)
    assert list(directory.glob("xdrgen_py-*.whl"))
    return directory


@pytest.fixture(scope="module")
def xdrgen_wheel_path(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    """A directory holding xdrgen as installed from the wheel built here;
    on PYTHONPATH it comes before site-packages, so it shadows the test
    environment's xdrgen (editable or not).  (A venv with
    --system-site-packages would not see hatchling when the test environment
    is itself a venv.)"""
    directory = tmp_path_factory.mktemp("xdrgen-wheel")
    (wheel,) = wheels.glob("xdrgen_py-*.whl")
    run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", directory,
        wheel, cwd=directory)
    where = run(sys.executable, "-c", "import xdrgen; print(xdrgen.__file__)",
                cwd=directory.parent, pythonpath=[directory]).stdout
    assert Path(where.strip()).is_relative_to(directory), where
    hook = run(
        sys.executable, "-c",
        "import importlib.metadata as m, inspect;"
        "print(inspect.getfile(m.entry_points(group='hatch')['xdrgen'].load()))",
        cwd=directory.parent, pythonpath=[directory],
    ).stdout
    assert Path(hook.strip()) == directory / "xdrgen" / "compiler" / "build_hook.py", hook
    return directory


def test_wheel_in_test_environment(tmp_path: Path, wheels: Path) -> None:
    """Build with the test environment's xdrgen (editable or not); run the
    wheel's contents from an unzipped copy."""
    project = copy_example(tmp_path / "hello_rpc")
    before = tree(project)
    wheel = pip_wheel(project, wheels, tmp_path / "out")

    names = wheel_names(wheel)
    assert GENERATED | {"hello_rpc/__init__.py"} <= names
    assert not any(n.startswith(("proto/", "generated/")) for n in names)
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("hello_rpc-0.1.0.dist-info/METADATA").decode()
        archive.extractall(tmp_path / "site")
    # the runtime alone: no compiler extra
    assert re.search(r"^Requires-Dist: xdrgen-py>=[0-9.]+$", metadata, re.M), metadata
    assert tree(project) == before  # no generated files left in the project

    process = run(sys.executable, "-c", ROUND_TRIP, cwd=tmp_path / "site")
    assert f"ROUND TRIP OK {tmp_path / 'site' / 'hello_proto'}" in process.stdout


def test_wheel_with_xdrgen_wheel_installed(
    tmp_path: Path, wheels: Path, xdrgen_wheel_path: Path
) -> None:
    """Build where xdrgen is a regular wheel install, then use the result
    with that xdrgen."""
    project = copy_example(tmp_path / "hello_rpc")
    wheel = pip_wheel(project, wheels, tmp_path / "out", pythonpath=[xdrgen_wheel_path])
    assert GENERATED <= wheel_names(wheel)
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    process = run(sys.executable, "-c", ROUND_TRIP, cwd=tmp_path, pythonpath=[site, xdrgen_wheel_path])
    assert f"ROUND TRIP OK {site / 'hello_proto'}/__init__.py {xdrgen_wheel_path / 'xdrgen'}/" in process.stdout


def test_sdist_then_wheel(tmp_path: Path, wheels: Path) -> None:
    project = copy_example(tmp_path / "hello_rpc")
    sdist = hatchling_build("sdist", project, tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert "hello_rpc-0.1.0/proto/hello.x" in names
        assert not any("hello_proto" in n for n in names)  # sources only
        archive.extractall(tmp_path / "unpacked", filter="data")
    wheel = pip_wheel(tmp_path / "unpacked" / "hello_rpc-0.1.0", wheels, tmp_path / "out")
    assert GENERATED | {"hello_rpc/__init__.py"} <= wheel_names(wheel)


def test_editable_wheel(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "hello_rpc")
    before = tree(project)
    wheel = hatchling_build("editable", project, tmp_path / "out")
    names = wheel_names(wheel)
    assert GENERATED | {"_hello_rpc.pth"} <= names
    assert "hello_rpc/__init__.py" not in names  # served from the project
    assert tree(project) == before


def test_output_and_hook_options(tmp_path: Path) -> None:
    """`output` (here a hook option) also writes the package into the
    project; hook options override [tool.xdrgen] (here the defines)."""
    project = copy_example(tmp_path / "hello_rpc")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert "[tool.hatch.build.hooks.xdrgen]\n" in text
    pyproject.write_text(
        text.replace(
            "[tool.hatch.build.hooks.xdrgen]\n",
            '[tool.hatch.build.hooks.xdrgen]\noutput = "generated"\n'
            "defines = { HELLO_NAME_MAX = 32 }\n",
        )
    )
    wheel = hatchling_build("wheel", project, tmp_path / "out")
    assert "HELLO_NAME_MAX: Final = 32" in (project / "generated/hello_proto/hello.py").read_text()
    with zipfile.ZipFile(wheel) as archive:
        assert "HELLO_NAME_MAX: Final = 32" in archive.read("hello_proto/hello.py").decode()
        assert not any(n.startswith("generated/") for n in archive.namelist())


def test_syntax_error_fails_the_build(tmp_path: Path, wheels: Path) -> None:
    project = copy_example(tmp_path / "hello_rpc")
    x_file = project / "proto" / "hello.x"
    source = x_file.read_text()
    assert "    unsigned int times;\n" in source
    x_file.write_text(source.replace("    unsigned int times;\n", "    unsigned int times\n"))
    line = source[: source.index("    unsigned int times;")].count("\n") + 2  # the '}' after it

    process = run(
        sys.executable, "-m", "pip", "wheel", project, "--no-deps", "--no-index",
        "--find-links", wheels, "--no-build-isolation", "-w", tmp_path / "out",
        cwd=tmp_path, check=False,
    )
    assert process.returncode != 0
    assert re.search(rf"hello\.x:{line}:1: error: ", process.stdout), process.stdout
    assert not list(tmp_path.glob("out/*.whl"))
    # ... the same message as the CLI's
    cli = run(
        sys.executable, "-m", "xdrgen", "parse", x_file, "-D", "HELLO_NAME_MAX=64",
        cwd=tmp_path, check=False,
    )
    assert cli.returncode == 1
    assert cli.stdout.splitlines()[0] in process.stdout


def test_target_matches_load_config() -> None:
    """The hook reads [tool.xdrgen] the way `xdrgen generate` does."""
    from xdrgen.compiler.build_hook import target_from_table
    from xdrgen.compiler.project import load_config

    import tomllib

    pyproject = EXAMPLE / "pyproject.toml"
    table = tomllib.loads(pyproject.read_text())["tool"]["xdrgen"]
    assert target_from_table(pyproject, table) == load_config(pyproject)
