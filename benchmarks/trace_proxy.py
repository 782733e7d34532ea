"""What watching the wire costs: our client's calls/s through the tracing
proxy next to the same calls straight to libvirtd, and the proxy's memory
over many messages.

Run from the repository root (as root: libvirtd runs in a private mount
namespace, as in the integration tests)::

    python benchmarks/trace_proxy.py            # full run (about 40 s)
    python benchmarks/trace_proxy.py --quick    # short run (smoke test)
    python benchmarks/trace_proxy.py --check    # exit 1 when a target is not met (nightly)

One private ``libvirtd`` serves ``test:///default``; one
``python -m libvirt_rpc.trace proxy`` listens on a unix socket in front of
its unix socket and writes one line per message to a file (no payloads).
Our client (``libvirt_rpc.open`` + ``conn.domain_get_info(dom=dom)`` in a
loop, one call at a time) runs ``direct`` (libvirtd's socket) and
``proxied`` (the proxy's), interleaved, ``--repeat`` rounds of
``--duration`` seconds after a warm-up; the best round of each counts,
and each round's own ratio is printed with their median (on a busy machine
calls/s move by tens of per cent between rounds).  The client's CPU time
per call is printed too: it moves much less than calls/s does.

Then ``--messages`` messages (calls and replies) go through the proxy on
one connection while the proxy's resident set (``VmRSS``) is sampled every
tenth of them; the growth after the first tenth is what "flat" means
here.  The trace file must hold a line for every message.

The last lines say whether the targets hold: proxied >= 0.5x direct
(``--target`` another ratio), and the resident set grew by less than
1 MiB.  The exit status depends on them only with ``--check`` (1: a target
was not met), for a manual or nightly run on a quiet machine: a busy one
moves calls/s by tens of per cent, and a ``--quick`` run is too short to
judge by.
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen and libvirt_rpc first)

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests" / "trace")]

import libvirt_rpc  # noqa: E402
from daemons import Libvirtd  # noqa: E402
from trace_support import TraceProxy  # noqa: E402

TARGET = 0.5
FLAT_KIB = 1024
BATCH = 20  # calls between two looks at the clock


class Result(NamedTuple):
    rate: float  # calls per second
    cpu: float  # client CPU seconds per call


def measure(uri: str, warmup: float, duration: float) -> Result:
    with libvirt_rpc.open(uri) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        call = conn.domain_get_info
        for seconds, counted in ((warmup, False), (duration, True)):
            calls = 0
            cpu = time.process_time()
            start = time.perf_counter()
            deadline = start + seconds
            while time.perf_counter() < deadline:
                for _ in range(BATCH):
                    call(dom=dom)
                calls += BATCH
            if counted:
                elapsed = time.perf_counter() - start
                return Result(calls / elapsed, (time.process_time() - cpu) / calls)
    raise AssertionError("unreachable")


class Proxy(TraceProxy):
    """The proxy as a process (the tests' own), lines to ``trace.txt`` in
    its directory, and its memory."""

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in KiB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        values = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
        return values["VmRSS"], values["VmHWM"]


def memory_run(proxy: Proxy, messages: int) -> list[tuple[int, int, int]]:
    """(messages so far, VmRSS, VmHWM) every tenth of ``messages``."""
    samples = [(0, *proxy.rss_kib())]
    step = max(messages // 10, 2)
    with libvirt_rpc.open(proxy.uri()) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        done = 4  # the lookup and its reply, connect_open and its reply
        while done < messages:
            for _ in range(step // 2):
                conn.domain_get_info(dom=dom)
            done += step // 2 * 2
            samples.append((done, *proxy.rss_kib()))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds; the best counts")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for the memory run")
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    parser.add_argument("--target", type=float, default=TARGET, help="the ratio proxied/direct to meet (default: 0.5)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.repeat, args.messages = 0.3, 0.1, 1, 4000

    with Libvirtd() as libvirtd, tempfile.TemporaryDirectory(prefix="xdrgen-trace-bench-") as tmp:
        proxy = Proxy(Path(tmp), f"unix:{libvirtd.socket_path}")
        try:
            best: dict[str, Result] = {}
            rounds: list[float] = []  # proxied/direct of each round
            for _ in range(args.repeat):
                rates = {}
                for name, uri in (("direct", libvirtd.uri_unix), ("proxied", proxy.uri())):
                    result = measure(uri, args.warmup, args.duration)
                    rates[name] = result.rate
                    if name not in best or result.rate > best[name].rate:
                        best[name] = result
                rounds.append(rates["proxied"] / rates["direct"])
            samples = memory_run(proxy, args.messages)
        finally:
            proxy.stop()
        lines = proxy.lines()

    print(f"domain_get_info, one call at a time, best of {args.repeat} x {args.duration:g} s (interleaved)")
    print(f"{'path':<10}{'calls/s':>10}{'client CPU/call':>18}")
    for name, result in best.items():
        print(f"{name:<10}{result.rate:>10.0f}{result.cpu * 1e6:>15.1f} us")
    ratio = best["proxied"].rate / best["direct"].rate
    print(f"ratio proxied/direct: {ratio:.2f}x")
    print(f"each round: {' '.join(f'{r:.2f}' for r in rounds)} (median {statistics.median(rounds):.2f}x)")

    print(f"\nproxy memory over {samples[-1][0]} messages (KiB)")
    print(f"{'messages':>10}{'VmRSS':>10}{'VmHWM':>10}")
    for done, rss, hwm in samples:
        print(f"{done:>10}{rss:>10}{hwm:>10}")
    growth = samples[-1][1] - samples[1][1]
    print(f"growth after the first tenth: {growth} KiB")
    memory_conn = str(args.repeat + 1)  # the proxy numbers its connections in order
    traced = sum(" remote.1.domain_get_info(" in line and line.split()[1] == memory_conn for line in lines)
    expected = samples[-1][0] - 4
    print(f"trace lines for domain_get_info in the memory run: {traced} (expected {expected})")

    fast = ratio >= args.target
    print(f"\ntarget proxied >= {args.target:g}x direct: {'met' if fast else 'NOT met'} ({ratio:.2f}x)")
    flat = growth < FLAT_KIB
    print(f"target memory flat (growth < {FLAT_KIB} KiB): {'met' if flat else 'NOT met'} ({growth} KiB)")
    return 1 if args.check and not (fast and flat) else 0


if __name__ == "__main__":
    sys.exit(main())
