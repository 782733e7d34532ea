"""Fixtures of the ONC RPC tests: the toy program served on loopback, a
real rpcbind (see :mod:`nfs_daemons`), stubs generated from real .x
files (``stubs``), and the kv example as a newcomer has it (``kv_example``).  Nothing skips: a missing daemon is an error saying what
to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# toy.py sits next to this file; make it importable under any import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from nfs_daemons import rpcbind_running  # noqa: E402
from oncrpc_support import KV_X, ROOT  # noqa: E402
from toy import Toy, ToyV2  # noqa: E402

from xdrgen.compiler.project import Target, generate_files, write_files  # noqa: E402
from xdrgen.runtime import oncrpc  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
#: The package ``stubs`` generates, and its inputs: the kv example; MOUNT
#: v1-v3 and NFSv2/v3 as OpenSolaris ships them (its mount.x defines
#: ``mountlist`` only for headers: RPC_HDR); NFSv4.0 from NFS-Ganesha;
#: rpcbind's own protocol from libtirpc.
STUBS = "oncrpc_stubs"
STUB_INPUTS = (
    ((KV_X, CORPUS / "opensolaris" / "nfs_prot.x", CORPUS / "nfs-ganesha" / "nfs4.x", ROOT / "protocols" / "rpcsvc" / "rpcb_prot.x"), {}),
    ((CORPUS / "opensolaris" / "mount.x",), {"RPC_HDR": "1"}),
)

@pytest.fixture(scope="session")
def rpcbind() -> Iterator[str]:
    """The address of a running rpcbind (127.0.0.1, port 111)."""
    with rpcbind_running() as address:
        yield address


@pytest.fixture(scope="module")
def served() -> Iterator[oncrpc.ServerThread]:
    """The toy program, versions 2 and 3, on loopback TCP and UDP."""
    with oncrpc.ServerThread([Toy(), ToyV2()]) as thread:
        yield thread


@pytest.fixture(scope="session")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Generates the package :data:`STUBS` (types, clients and servers of
    :data:`STUB_INPUTS`) into a directory on sys.path; returns its name."""
    directory = tmp_path_factory.mktemp("stubs")
    for inputs, defines in STUB_INPUTS:
        target = Target(inputs=inputs, package=STUBS, defines=defines, output=directory, package_init=False)
        write_files(target.package_dir, generate_files(target))
    sys.path.insert(0, str(directory))
    return STUBS


@pytest.fixture(scope="session")
def kv_example(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """``examples/kv/kv_example.py`` (its ``KvStore`` handler and its calls)
    over kv.x's stubs generated as ``xdrgen generate kv.x -o out`` writes
    them: top-level modules ``kv``, ``kv_client``, ``kv_server``."""
    directory = tmp_path_factory.mktemp("kv_out")
    write_files(directory, generate_files(Target(inputs=(KV_X,), package=None, output=directory)))
    sys.path[:0] = [str(directory), str(KV_X.parent)]
    return importlib.import_module("kv_example")
