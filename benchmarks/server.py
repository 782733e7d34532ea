"""Calls per second our test daemon sustains, next to real libvirtd.

Run from the repository root (as root: libvirtd runs in a private mount
namespace, as in the integration tests)::

    python benchmarks/server.py            # full run (about 40 s)
    python benchmarks/server.py --quick    # short run (a few seconds; smoke test)

The load is ``virDomainGetInfo`` from libvirt-python (Debian's
``python3-libvirt``, so the client runs under ``/usr/bin/python3``): each of
1 or 8 client threads opens its own connection over the unix socket, looks
up domain "test" and calls ``dom.info()`` in a loop.  The servers:

``testd``
    ``python -m libvirt_rpc.testd`` (asyncio, one thread);
``libvirtd``
    a private ``libvirtd`` (9.0.0, its default 5..20 worker threads) serving
    its ``test:///default`` driver, started as in ``tests/integration``.

Both run in the same invocation, alternately (``--rounds`` rounds of each
configuration, interleaved; the best round is kept).  Each cell is the number
of calls completed in ``--duration`` seconds divided by the time; "server
CPU" is the CPU time the daemon used over the same interval (100% = one
core).  The last lines give testd / libvirtd as ratios.  Nothing here is an
assertion: the exit status does not depend on the numbers.
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen and libvirt_rpc first)

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "server"))

from daemons import Libvirtd  # noqa: E402
from testd_support import Testd  # noqa: E402

# The client, run by the system Python that has libvirt-python.  Prints one
# JSON line: calls made and seconds taken, by all threads together.
CLIENT = r"""
import json, sys, threading, time
import libvirt

uri, threads, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
libvirt.registerErrorHandler(lambda ctx, err: None, None)
conns = [libvirt.open(uri) for _ in range(threads)]
doms = [c.lookupByName("test") for c in conns]
for dom in doms:
    for _ in range(200):  # warm up
        dom.info()
barrier = threading.Barrier(threads + 1)
counts = [0] * threads
stop = threading.Event()

def work(i):
    dom = doms[i]
    barrier.wait()
    n = 0
    while not stop.is_set():
        for _ in range(50):
            dom.info()
        n += 50
    counts[i] = n

workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
barrier.wait()
start = time.perf_counter()
time.sleep(duration)
stop.set()
for w in workers:
    w.join()
elapsed = time.perf_counter() - start
for c in conns:
    c.close()
print(json.dumps({"calls": sum(counts), "seconds": elapsed}))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_load(python: str, uri: str, threads: int, duration: float, server_pid: int) -> tuple[float, float]:
    """(calls per second, server CPU share) of one timed run."""
    before = cpu_seconds(server_pid)
    result = subprocess.run(
        [python, "-c", CLIENT, uri, str(threads), str(duration)],
        capture_output=True,
        text=True,
        timeout=duration * 10 + 120,
        check=False,
    )
    cpu = cpu_seconds(server_pid) - before
    if result.returncode != 0:
        raise SystemExit(f"client failed:\n{result.stdout}{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    # The CPU interval also covers connecting and warming up; it is an upper bound.
    return data["calls"] / data["seconds"], cpu / data["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per timed run (4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--threads", default="1,8", help="client thread counts (1,8)")
    parser.add_argument("--python", default="/usr/bin/python3", help="Python with libvirt-python")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 0.5, 1
    thread_counts = [int(t) for t in args.threads.split(",")]

    check = subprocess.run([args.python, "-c", "import libvirt; print(libvirt.getVersion())"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"{args.python} cannot import libvirt (install python3-libvirt): {check.stderr}")
    version = int(check.stdout)
    print(f"python {platform.python_version()} (server), {args.python} with libvirt-python "
          f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000} (client); "
          f"{os.cpu_count()} CPUs; {args.duration:g} s per run, best of {args.rounds}")

    testd = Testd()
    libvirtd = Libvirtd()
    try:
        servers = {
            "testd": (testd.uri_unix, testd.pid),
            "libvirtd": (libvirtd.uri_unix, libvirtd.pid),
        }
        best: dict[tuple[str, int], tuple[float, float]] = {}
        for _ in range(args.rounds):
            for threads in thread_counts:
                for name, (uri, pid) in servers.items():
                    rate, cpu = run_load(args.python, uri, threads, args.duration, pid)
                    if rate > best.get((name, threads), (0.0, 0.0))[0]:
                        best[(name, threads)] = (rate, cpu)
        assert testd.alive()
    finally:
        testd.stop()
        libvirtd.stop()

    print()
    print(f"{'server':<10} {'threads':>7} {'calls/s':>10} {'server CPU':>11}")
    for threads in thread_counts:
        for name in servers:
            rate, cpu = best[(name, threads)]
            print(f"{name:<10} {threads:>7} {rate:>10.0f} {cpu:>10.0%}")
    print()
    for threads in thread_counts:
        ratio = best[("testd", threads)][0] / best[("libvirtd", threads)][0]
        print(f"ratio testd/libvirtd, {threads} thread{'s' if threads > 1 else ''}: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
