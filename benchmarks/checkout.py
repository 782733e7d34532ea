"""Make a benchmark measure this checkout, whatever is installed.

Imported first by every script here (``python benchmarks/X.py`` puts this
folder on sys.path): the repository's ``xdrgen`` and both halves of
``libvirt_rpc`` (``libvirt/`` hand-written, ``generated/`` generated) go
first on sys.path, and on ``PYTHONPATH`` for the daemons and clients a
benchmark starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = [str(ROOT / "libvirt"), str(ROOT / "generated"), str(ROOT)]

sys.path[:0] = [p for p in PATHS if p not in sys.path]
os.environ["PYTHONPATH"] = os.pathsep.join(PATHS + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
