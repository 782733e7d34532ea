"""Smoke test of ``benchmarks/codec.py``: the script runs, its three codecs
agree on the bytes (it asserts that before timing) and it prints its table.

Speed is not checked here: the performance target lives only in the
benchmark's own output.
"""

from __future__ import annotations

import subprocess
import sys


from support import ROOT

SCRIPT = ROOT / "benchmarks" / "codec.py"



def test_codec_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "encodings identical across codecs, decoded values equal: OK" in out
    header = next(line for line in out.splitlines() if line.startswith("payload"))
    for column in ("generated", "xdrlib", "reflection", "gen/xdrlib", "gen/refl"):
        assert column in header
    rows = [line.split() for line in out.splitlines()]
    for payload in (
        "header",
        "get_info",
        "list_all_domains[1000]",
        "typed_params[50]",
    ):
        for op in ("encode", "decode"):
            assert any(
                row[:1] == [payload] and row[2:3] == [op] for row in rows
            ), f"no {payload} {op} row in:\n{out}"
    assert any(
        line.startswith("target generated decode >= 2x xdrlib-style:")
        for line in out.splitlines()
    ), out
