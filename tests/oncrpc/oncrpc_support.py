"""Paths and helpers the ONC RPC tests share (a module of its own: test
modules import it; importing ``conftest`` by name would find whichever
conftest.py came first)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KV_X = ROOT / "examples" / "kv" / "kv.x"

INSTALL_HINT = "run `bash .ci/install-system-packages.sh` (as root) first"


def system_binary(name: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"`{name}` not found: {INSTALL_HINT}", pytrace=False)
    return path


