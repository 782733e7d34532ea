"""Cold ``xdrgen generate`` of libvirt's nine protocols, next to glibc's
``rpcgen`` on the same files.

Run from the repository root::

    python benchmarks/generate.py            # full run (about 30 s)
    python benchmarks/generate.py --quick    # one round (smoke test)

Both are measured in the same run, as wall time of fresh processes,
interleaved, best of ``--repeat`` rounds:

``xdrgen``
    ``python -m xdrgen generate -o TMP`` of what ``[tool.xdrgen]`` lists (the
    nine ``.x`` files of ``protocols/libvirt``: types, client stubs and
    server tables, 27 modules) in a new interpreter, with the formatter cache
    off (``XDRGEN_CACHE_DIR=""``): what a first build or CI pays.
``rpcgen``
    ``rpcgen -h`` and ``rpcgen -c`` (the C header and the XDR routines) of
    each of the nine files, one process after the other, as a build runs
    them.

The last line says whether the target "xdrgen <= 20x rpcgen" holds (the
exit status does not depend on it).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "protocols" / "libvirt").glob("*.x"))
TARGET_RATIO = 20.0


def run_xdrgen(out: Path) -> float:
    env = dict(os.environ, XDRGEN_CACHE_DIR="")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "xdrgen", "generate", "--config", str(ROOT / "pyproject.toml"), "-o", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def run_rpcgen(out: Path, rpcgen: str) -> float:
    started = time.perf_counter()
    for source in SOURCES:
        for flag, suffix in (("-h", ".h"), ("-c", ".c")):
            subprocess.run(
                [rpcgen, flag, "-o", str(out / (source.stem + suffix)), str(source)],
                cwd=out,
                check=True,
                stdout=subprocess.DEVNULL,
            )
    return time.perf_counter() - started


def size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (smoke test)")
    parser.add_argument("--repeat", type=int, help="rounds (best kept)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 5)
    rpcgen = shutil.which("rpcgen")
    if rpcgen is None:
        print("rpcgen is not installed (Debian: apt install rpcsvc-proto)", file=sys.stderr)
        return 2
    print(
        f"cold generate of {len(SOURCES)} libvirt protocols: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; best of {repeat} interleaved rounds (wall time)"
    )
    best = {"xdrgen": float("inf"), "rpcgen": float("inf")}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(repeat):
            for name in best:
                out = Path(tmp) / f"{name}{index}"
                out.mkdir()
                elapsed = run_xdrgen(out) if name == "xdrgen" else run_rpcgen(out, rpcgen)
                best[name] = min(best[name], elapsed)
                sizes[name] = size(out)
    ratio = best["xdrgen"] / best["rpcgen"]
    print(f"{'':10}{'seconds':>10}{'output bytes':>15}")
    for name in ("xdrgen", "rpcgen"):
        print(f"{name:10}{best[name]:>10.3f}{sizes[name]:>15,}")
    verdict = "MET" if ratio <= TARGET_RATIO else "NOT MET"
    print(f"xdrgen / rpcgen: {ratio:.1f}x; target <= {TARGET_RATIO:g}x: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
