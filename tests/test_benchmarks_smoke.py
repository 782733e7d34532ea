"""Smoke tests of ``benchmarks/codec.py`` (the script runs, its three
codecs agree on the bytes -- it asserts that before timing -- and it prints
its table), ``benchmarks/generate.py`` and ``benchmarks/import_time.py`` (they
run and print their ratio against the anchor measured in the same run), and
``benchmarks/oncrpc.py`` (our ONC RPC clients next to a C client, against
nfs-ganesha).

Speed is not checked here: the performance targets live only in the
benchmarks' own output.
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


def run_benchmark(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_generate_benchmark_quick_run() -> None:
    out = run_benchmark("generate.py")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:4]}
    assert set(rows) == {"xdrgen", "rpcgen"}
    assert all(float(row[0]) > 0 for row in rows.values())
    assert "xdrgen / rpcgen:" in out.splitlines()[-1]


def test_import_time_benchmark_quick_run() -> None:
    out = run_benchmark("import_time.py")
    for row in ("import libvirt_rpc", "libvirt_rpc.open", "import libvirt"):
        assert any(line.startswith(row + " ") for line in out.splitlines()), out
    assert "libvirt_rpc.open / import libvirt:" in out.splitlines()[-1]


def test_oncrpc_benchmark_quick_run() -> None:
    """benchmarks/oncrpc.py: a private nfs-ganesha, the C client it builds,
    our blocking and asyncio clients; a row and a ratio each, and the
    target lines."""
    out = run_benchmark("oncrpc.py")
    rows = {line.split("  ")[0]: line.split() for line in out.splitlines()[2:5]}
    assert list(rows) == ["C (TI-RPC)", "sync", "asyncio (256 in flight)"], out
    for row in rows.values():
        assert float(row[-2].replace(",", "")) > 0 and row[-1].endswith("x")
    assert rows["C (TI-RPC)"][-1] == "1.00x"
    targets = [line for line in out.splitlines() if line.startswith("target ")]
    assert [line.split(":")[0] for line in targets] == ["target sync >= 0.5x C", "target asyncio >= 1.0x C"], out


def test_stellar_benchmark_quick_run() -> None:
    """Generated Stellar classes next to stellar-sdk's on the SDK's own
    published envelopes: both round-trip them before anything is timed."""
    out = run_benchmark("stellar.py")
    lines = out.splitlines()
    assert "both decode every value and encode it back to the same bytes: OK" in lines
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(("decode ", "encode "))}
    assert set(rows) == {"decode", "encode"}
    assert all(float(value.rstrip("x")) > 0 for row in rows.values() for value in row)
    assert lines[-1].startswith("xdrgen / stellar-sdk: decode ")
