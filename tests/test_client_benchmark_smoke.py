"""Smoke test of ``benchmarks/client.py``: it starts a private libvirtd,
drives it with our client and with libvirt-python, and prints its table and
the target line.  Speed is not checked here: the numbers live only in the
benchmark's own output."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from support import ROOT

SCRIPT = ROOT / "benchmarks" / "client.py"


def run_quick(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_client_benchmark_quick_run() -> None:
    result = run_quick()
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    assert "both clients read the same info of domain 'test'" in out, out
    header = next((line for line in lines if line.startswith("mode")), None)
    assert header is not None, out
    for column in ("ours", "libvirt-py", "ours/lvpy"):
        assert column in header, header
    rows: dict[str, list[str]] = {}
    for line in lines:  # first occurrence: the calls/s table comes first
        if line.strip():
            rows.setdefault(line.split()[0], line.split())
    for mode in ("sequential", "8-threads", "8-tasks"):
        row = rows.get(mode)
        assert row is not None, f"no {mode} row in:\n{out}"
        ours, theirs, ratio = float(row[1]), float(row[2]), row[3]
        assert ours > 0 and theirs > 0, row
        assert ratio.endswith("x") and float(ratio[:-1]) > 0, row
    assert "libvirt-python has no asyncio API" in out, out
    assert "client process CPU per call" in out, out
    # what else ran meanwhile is measured, so a disturbed run says so
    assert re.search(r"other processes used [0-9.]+ CPU-s, the hypervisor stole [0-9.]+ CPU-s", out), out
    assert any(
        line.startswith("target ours >= 1.0x libvirt-python both (sequential and concurrent): ")
        for line in lines
    ), out


def test_pinned_run_puts_the_daemon_and_the_clients_on_two_cpus() -> None:
    result = run_quick("--pin")
    if len(os.sched_getaffinity(0)) < 2:
        assert result.returncode != 0 and "--pin needs two CPUs" in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    first, second, *_ = sorted(os.sched_getaffinity(0))
    assert f"pinned: libvirtd on CPU {first}, the clients on CPU {second}" in result.stdout, result.stdout
    assert "both clients read the same info of domain 'test'" in result.stdout, result.stdout
