"""An ONC RPC package for ``python -m xdrgen.trace --framing oncrpc
--package PKG``, laid out as the generator lays one out: ``*_server``
modules holding a handler class per program version with its
``PROCEDURES`` table.

- ``toy_server``: the toy program of tests/oncrpc (a copy of toy.py:
  its handler classes, clients and implementation), versions 2 and 3;
- ``rpcbind_server``: rpcbind versions 2 (the portmapper), 3 and 4, with
  the procedures our runtime's rpcbind client knows (and NULL).

Until the generator writes ``*_server`` modules for ``program`` blocks
(issue 16), these stand in for them."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOY = HERE.parent / "oncrpc" / "toy.py"
PACKAGE = "onc_trace_pkg"

RPCBIND_SERVER = '''
"""rpcbind's handler tables (what the generator writes for rpcb_prot.x)."""

from xdrgen.runtime import oncrpc
from xdrgen.runtime.oncrpc import rpcbind as rb

PMAPPROC_NULL = oncrpc.Procedure(0, "PMAPPROC_NULL", "pmapproc_null")
RPCBPROC_NULL = oncrpc.Procedure(0, "RPCBPROC_NULL", "rpcbproc_null")
_V2 = (PMAPPROC_NULL, rb.PMAPPROC_SET, rb.PMAPPROC_UNSET, rb.PMAPPROC_GETPORT, rb.PMAPPROC_DUMP)
_V34 = (RPCBPROC_NULL, rb.RPCBPROC_SET, rb.RPCBPROC_UNSET, rb.RPCBPROC_GETADDR, rb.RPCBPROC_DUMP)


class RpcbindV2Handler(oncrpc.Handler):
    PROGRAM = rb.RPCBIND_PROGRAM
    VERSION = 2
    PROCEDURES = {p.number: p for p in _V2}


class RpcbindV3Handler(oncrpc.Handler):
    PROGRAM = rb.RPCBIND_PROGRAM
    VERSION = 3
    PROCEDURES = {p.number: p for p in _V34}


class RpcbindV4Handler(RpcbindV3Handler):
    VERSION = 4
'''


def onc_package(directory: Path) -> Path:
    """Write the package under ``directory``; return the directory to put
    on sys.path (and PYTHONPATH)."""
    package = directory / PACKAGE
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""ONC RPC programs for the tracing tests."""\n')
    shutil.copy(TOY, package / "toy_server.py")
    (package / "rpcbind_server.py").write_text(RPCBIND_SERVER)
    return directory


def use_package(directory: Path) -> None:
    """Make the package importable here and in the processes tests start."""
    path = str(onc_package(directory))
    if path not in sys.path:
        sys.path.insert(0, path)
    os.environ["PYTHONPATH"] = os.pathsep.join([path, os.environ.get("PYTHONPATH", "")])


# A message line: time, connection, direction, program.version.procedure,
# (type, status, XID), length, the rest (credentials, notes)
LINE = re.compile(
    r"^\s*(?P<time>\d+\.\d{3}) (?P<conn>\d+) (?P<dir>[<>]) (?P<program>[^.\s]+)\.(?P<version>\d+)\.(?P<procedure>\w+)"
    r"\((?P<type>\w+), (?P<status>\w+), (?P<xid>0x[0-9a-f]{8})\) len=(?P<len>\d+)(?P<rest>.*)$"
)


def onc_lines(lines: list[str]) -> list[dict[str, str]]:
    """The message lines among ``lines``, as their named parts."""
    return [match.groupdict() for match in map(LINE.match, lines) if match]
