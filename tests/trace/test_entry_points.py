"""The command lines' errors, the layering of ``xdrgen.trace``, and the
benchmark's smoke run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_packaging import imported_modules
from trace_support import ROOT, read_capture


def trace_imports() -> dict[str, set[str]]:
    found = imported_modules(ROOT / "xdrgen", "xdrgen")
    return {path: names for path, names in found.items() if path.startswith("xdrgen/trace/")}


def test_trace_imports_only_the_standard_library_the_runtime_and_dpkt() -> None:
    allowed = set(sys.stdlib_module_names) | {"xdrgen", "dpkt"}
    assert "xdrgen/trace/proxy.py" in trace_imports()
    for path, names in trace_imports().items():
        for name in names:
            top = name.partition(".")[0]
            assert top in allowed, f"{path} imports {name}"
            if top == "xdrgen":
                assert name.startswith(("xdrgen.runtime", "xdrgen.trace")), f"{path} imports {name}"
    users = {p for p, names in trace_imports().items() if "dpkt" in names}
    assert users == {"xdrgen/trace/capture.py"}  # only reading captures needs the [trace] extra


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_bad_command_lines_say_what_is_wrong(tmp_path: Path) -> None:
    usage = run("libvirt_rpc.trace")
    assert usage.returncode == 2 and "usage: python -m libvirt_rpc.trace" in usage.stderr
    address = run("libvirt_rpc.trace", "proxy", "--listen", "udp:1", "--upstream", "unix:/x")
    assert address.returncode == 2 and "expected unix:PATH or tcp:HOST:PORT" in address.stderr
    package = run("xdrgen.trace", "read", "--package", "no_such_package", "x.pcap")
    assert package.returncode == 2 and "cannot import the generated package 'no_such_package'" in package.stderr
    rules = tmp_path / "rules.py"
    rules.write_text("x = 1\n")
    rewrite = run("libvirt_rpc.trace", "proxy", "--listen", f"unix:{tmp_path}/p.sock", "--upstream", "unix:/x",
                  "--rewrite", str(rules))  # fmt: skip
    assert rewrite.returncode == 2 and "defines no function rewrite(message)" in rewrite.stderr
    selector = run("libvirt_rpc.trace", "proxy", "--listen", f"unix:{tmp_path}/p.sock", "--upstream", "unix:/x",
                   "--delay", "x=soon")  # fmt: skip
    assert selector.returncode == 2 and "the delay must be a number of seconds" in selector.stderr
    not_a_capture = tmp_path / "x.pcap"
    not_a_capture.write_bytes(b"hello")
    result = read_capture(not_a_capture)
    assert result.returncode == 2 and "not a pcap or pcapng file" in result.stderr


@pytest.mark.parametrize("target, status", [("0.01", 0), ("1000", 1)])
def test_trace_proxy_benchmark_quick_run(target: str, status: int) -> None:
    """A short run prints every number; ``--check`` exits 1 exactly when a
    target is not met (a ratio of 1000 never is)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "trace_proxy.py"), "--quick", "--check", "--target", target],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == status, out + result.stderr
    for needle in ("ratio proxied/direct:", f"target proxied >= {target}x direct: {'NOT met' if status else 'met'}",
                   "growth after the first tenth:", "target memory flat (growth < 1024 KiB): met"):  # fmt: skip
        assert needle in out, out
    traced = next(line for line in out.splitlines() if line.startswith("trace lines"))
    assert traced.split(": ")[1].split()[0] == traced.split("expected ")[1].rstrip(")")  # every message traced
