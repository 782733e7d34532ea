"""Shared paths and settings for the tests (imported as `support`)."""

from __future__ import annotations

from pathlib import Path

from xdrgen.compiler.project import load_config

ROOT = Path(__file__).resolve().parent.parent
LIBVIRT_X = ROOT / "protocols" / "libvirt"
RPCSVC_X = ROOT / "protocols" / "rpcsvc"
GOLDEN = ROOT / "tests" / "golden"

# Constants that libvirt's .x files take from its C headers: spelled once,
# in [tool.xdrgen.defines] of pyproject.toml.
LIBVIRT_DEFINES = dict(load_config(ROOT / "pyproject.toml").defines)


def define_args(defines: dict[str, str]) -> list[str]:
    args = []
    for name, value in defines.items():
        args += ["-D", f"{name}={value}"]
    return args
