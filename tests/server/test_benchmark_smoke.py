"""Smoke test of ``benchmarks/server.py``: it drives both daemons with
libvirt-python and prints its table and ratios.  Speed is not checked here:
the numbers live only in the benchmark's own output."""

from __future__ import annotations

import subprocess
import sys

from testd_support import ROOT


def test_server_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "server.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    for server in ("testd", "libvirtd"):
        for threads in ("1", "8"):
            assert any(row[:2] == [server, threads] and float(row[2]) > 0 for row in rows), result.stdout
    assert "ratio testd/libvirtd, 1 thread:" in result.stdout
    assert "ratio testd/libvirtd, 8 threads:" in result.stdout
