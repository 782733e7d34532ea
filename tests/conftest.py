"""Session-wide set-up: the checkout's libvirt_rpc for every process.

pyproject.toml's ``pythonpath`` puts ``libvirt/`` (libvirt_rpc's
hand-written half) and ``generated/`` (its generated half) on this
process's sys.path; the daemons, clients and benchmarks the tests start as
subprocesses get the same directories through ``PYTHONPATH``, so they run
the checkout's code whether or not the ``libvirt-rpc`` wheel is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT_PATH = [str(ROOT / "libvirt"), str(ROOT / "generated"), str(ROOT)]

_previous = os.environ.get("PYTHONPATH")
os.environ["PYTHONPATH"] = os.pathsep.join(CHECKOUT_PATH + ([_previous] if _previous else []))
