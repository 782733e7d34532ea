"""How long ``import libvirt_rpc`` takes, next to ``import libvirt``
(libvirt-python), each in a fresh interpreter.

Run from the repository root::

    python benchmarks/import_time.py            # full run (about 20 s)
    python benchmarks/import_time.py --quick    # a few rounds (smoke test)

The rows, each timed inside a new interpreter (``time.perf_counter()``
around the statement; the interpreter's own start-up is not counted):

``import libvirt_rpc``
    the package (its names are loaded when first used).
``libvirt_rpc.open``
    ``import libvirt_rpc`` and reaching ``libvirt_rpc.open``: the client,
    the remote program's types and client stubs, the QEMU and LXC programs;
    what a script pays before its first call.
``import libvirt``
    libvirt-python (Debian's ``python3-libvirt``, a C extension), imported
    by the system Python (``/usr/bin/python3``): the baseline.

Bytecode is warm: both are compiled once into a private
``PYTHONPYCACHEPREFIX`` before timing (so a read-only checkout or
``PYTHONDONTWRITEBYTECODE`` does not matter).  With ``--no-bytecode`` the two
libvirt_rpc rows are measured without any bytecode too (a read-only install).
Rounds are interleaved; the best (and the median) of ``--repeat`` is shown.
The last line says whether the target "libvirt_rpc.open <= 3x import libvirt"
holds (the exit status does not depend on it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
TARGET_RATIO = 3.0

TIMED = (
    "import time; started = time.perf_counter(); {statement}; "
    "print(time.perf_counter() - started)"
)
ROWS = {
    "import libvirt_rpc": (sys.executable, "import libvirt_rpc"),
    "libvirt_rpc.open": (sys.executable, "import libvirt_rpc; libvirt_rpc.open"),
    "import libvirt": (SYSTEM_PYTHON, "import libvirt"),
}


def environment(prefix: str, bytecode: bool = True) -> dict[str, str]:
    """The checkout's libvirt_rpc, its bytecode kept under ``prefix`` (or
    none at all: nothing is read from or written to an empty ``prefix``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "libvirt"), str(ROOT / "generated"), str(ROOT)]
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = prefix
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def timed(python: str, statement: str, env: dict[str, str]) -> float:
    result = subprocess.run(
        [python, "-c", TIMED.format(statement=statement)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds (smoke test)")
    parser.add_argument("--repeat", type=int, help="rounds (best kept)")
    parser.add_argument("--no-bytecode", action="store_true", help="also time libvirt_rpc without bytecode")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 21)
    if not Path(SYSTEM_PYTHON).exists():
        print(f"{SYSTEM_PYTHON} is missing: libvirt-python is measured with it", file=sys.stderr)
        return 2
    rows = dict(ROWS)
    with tempfile.TemporaryDirectory() as prefix:
        warm = environment(os.path.join(prefix, "warm"))
        envs = {name: warm for name in rows}
        if args.no_bytecode:
            cold = environment(os.path.join(prefix, "none"), bytecode=False)
            for name in ("import libvirt_rpc", "libvirt_rpc.open"):
                rows[f"{name} (no bytecode)"] = rows[name]
                envs[f"{name} (no bytecode)"] = cold
        for python, statement in ROWS.values():  # compile into the prefix
            timed(python, statement, warm)
        times: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(repeat):
            for name, (python, statement) in rows.items():
                times[name].append(timed(python, statement, envs[name]))
    print(
        f"import times, warm bytecode: Python {platform.python_version()} (libvirt_rpc), "
        f"{SYSTEM_PYTHON} (libvirt-python); {repeat} interleaved rounds, fresh interpreters"
    )
    baseline = min(times["import libvirt"])
    print(f"{'':34}{'best ms':>9}{'median ms':>11}{'vs import libvirt':>19}")
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(f"{name:34}{best * 1e3:>9.1f}{median * 1e3:>11.1f}{best / baseline:>18.1f}x")
    ratio = min(times["libvirt_rpc.open"]) / baseline
    verdict = "MET" if ratio <= TARGET_RATIO else "NOT MET"
    print(f"libvirt_rpc.open / import libvirt: {ratio:.1f}x; target <= {TARGET_RATIO:g}x: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
