"""NULL-procedure calls per second of our ONC RPC clients, next to a C
client (TI-RPC), against the same nfs-ganesha.

Run from the repository root (as root: nfs-ganesha and rpcbind, as in
``tests/oncrpc``)::

    python benchmarks/oncrpc.py            # full run (about 40 s)
    python benchmarks/oncrpc.py --quick    # one short round (smoke test)

A private nfs-ganesha (``tests/oncrpc/nfs_daemons.py``) serves NFSv3 on
loopback; every client calls its procedure 0 (``NFSPROC3_NULL``: no
arguments, no result, so what is measured is the RPC machinery, not the
codecs) over one TCP connection with AUTH_NONE:

``C (TI-RPC)``
    ``clnt_create`` + ``clnt_call(NULLPROC)`` in a loop, one call at a
    time, built here with gcc and libtirpc.
``sync``
    the stubs ``xdrgen generate`` writes for OpenSolaris' ``nfs_prot.x``:
    ``NfsV3Client.connect(...)`` + ``client.nfsproc3_null()`` in a loop, in
    this process, one call at a time.
``asyncio``
    ``NfsV3AsyncClient`` with ``--in-flight`` tasks (256) sharing the one
    connection, each calling ``await client.nfsproc3_null()`` in a loop
    (the calls pipelined, replies matched by xid).  nfs-ganesha itself
    spends 20-30 us of CPU per NULL call, more than the client (about 10
    us), and answers a deep pipeline faster than a shallow one: on this
    2-core machine 16-64 calls in flight run at about C's rate, 256 at
    1.3-1.4x, 512 at 1.2-1.7x.

Each measurement opens a fresh connection, warms up (``--warmup``
seconds), then counts the calls completed in ``--duration`` seconds of wall
time.  The three are interleaved, ``--repeat`` rounds, and the best round
of each is kept; the ratios are ours over C's best.  The last lines say
whether the targets hold (sync >= 0.5x C, asyncio >= 1.0x C); the exit
status does not depend on the numbers.
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen first)

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "oncrpc"))

from nfs_daemons import Ganesha, require_binary, rpcbind_running  # noqa: E402

from xdrgen.compiler.project import Target, generate_files, write_files  # noqa: E402

NFS_X = ROOT / "tests" / "corpus" / "opensolaris" / "nfs_prot.x"
TARGETS = {"sync": 0.5, "asyncio": 1.0}
BATCH = 50  # calls between two looks at the clock

C_CLIENT = r"""
/* NULL calls to NFS v3 at 127.0.0.1 (the port from rpcbind), one at a time:
 * argv: warm-up seconds, seconds.  Prints "calls seconds". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <rpc/rpc.h>

#define BATCH 50

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long run(CLIENT *clnt, double seconds, double *elapsed)
{
	struct timeval timeout = {25, 0};
	double start = now();
	long calls = 0;
	int i;

	do {
		for (i = 0; i < BATCH; i++)
			if (clnt_call(clnt, NULLPROC, (xdrproc_t) xdr_void, NULL, (xdrproc_t) xdr_void, NULL,
				      timeout) != RPC_SUCCESS) {
				clnt_perror(clnt, "NULL");
				exit(1);
			}
		calls += BATCH;
	} while (now() - start < seconds);
	*elapsed = now() - start;
	return calls;
}

int main(int argc, char **argv)
{
	CLIENT *clnt = clnt_create("127.0.0.1", 100003, 3, "tcp");
	double elapsed;
	long calls;

	if (clnt == NULL) {
		clnt_pcreateerror("127.0.0.1");
		return 1;
	}
	run(clnt, atof(argv[1]), &elapsed);
	calls = run(clnt, atof(argv[2]), &elapsed);
	printf("%ld %.6f\n", calls, elapsed);
	clnt_destroy(clnt);
	return 0;
}
"""


def build_c_client(directory: Path) -> Path:
    source = directory / "null_client.c"
    source.write_text(C_CLIENT)
    binary = directory / "null_client"
    subprocess.run(
        [require_binary("gcc"), "-O2", "-I/usr/include/tirpc", "-o", str(binary), str(source), "-ltirpc"],
        check=True,
    )
    return binary


def generate_stubs(directory: Path) -> Any:
    """The generated client module of nfs_prot.x (package ``bench_nfs``)."""
    target = Target(inputs=(NFS_X,), package="bench_nfs", output=directory)
    write_files(target.package_dir, generate_files(target))
    sys.path.insert(0, str(directory))
    from bench_nfs import nfs_prot_client

    return nfs_prot_client


# ---- the three clients: each returns calls per second -------------------------------


def measure_c(binary: Path, warmup: float, duration: float) -> float:
    result = subprocess.run(
        [str(binary), str(warmup), str(duration)], capture_output=True, text=True, timeout=warmup + duration + 60
    )
    if result.returncode != 0:
        raise SystemExit(f"C client failed:\n{result.stdout}{result.stderr}")
    calls, seconds = result.stdout.split()
    return int(calls) / float(seconds)


def measure_sync(stubs: Any, port: int, warmup: float, duration: float) -> float:
    with stubs.NfsV3Client.connect("127.0.0.1", port) as client:
        null = client.nfsproc3_null

        def run(seconds: float) -> float:
            start = time.perf_counter()
            calls = 0
            while True:
                for _ in range(BATCH):
                    null()
                calls += BATCH
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    return calls / elapsed

        run(warmup)
        return run(duration)


def measure_async(stubs: Any, port: int, warmup: float, duration: float, in_flight: int) -> float:
    async def scenario() -> float:
        async with stubs.NfsV3AsyncClient.connect("127.0.0.1", port) as client:
            null = client.nfsproc3_null

            async def worker(deadline: float) -> int:
                calls = 0
                while time.perf_counter() < deadline:
                    for _ in range(BATCH):
                        await null()
                    calls += BATCH
                return calls

            async def run(seconds: float) -> float:
                start = time.perf_counter()
                counts = await asyncio.gather(*(worker(start + seconds) for _ in range(in_flight)))
                return sum(counts) / (time.perf_counter() - start)

            await run(warmup)
            return await run(duration)

    return asyncio.run(scenario())


# ---- the run --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (smoke test)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (best of)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before each measurement")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of each measurement")
    parser.add_argument("--in-flight", type=int, default=256, help="asyncio calls in flight")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.warmup, args.duration = 1, 0.1, 0.3

    with tempfile.TemporaryDirectory(prefix="xdrgen-oncrpc-bench-") as scratch:
        directory = Path(scratch)
        binary = build_c_client(directory)
        stubs = generate_stubs(directory)
        with rpcbind_running(), Ganesha({}) as ganesha:
            port = ganesha.nfs_port
            contenders: dict[str, Callable[[], float]] = {
                "C (TI-RPC)": lambda: measure_c(binary, args.warmup, args.duration),
                "sync": lambda: measure_sync(stubs, port, args.warmup, args.duration),
                "asyncio": lambda: measure_async(stubs, port, args.warmup, args.duration, args.in_flight),
            }
            best = {name: 0.0 for name in contenders}
            for round_ in range(args.repeat):
                order = list(contenders)
                order = order[round_ % len(order) :] + order[: round_ % len(order)]  # interleaved
                for name in order:
                    best[name] = max(best[name], contenders[name]())

    print(f"NULL calls/s against nfs-ganesha (NFSv3, TCP, loopback); best of {args.repeat} rounds of "
          f"{args.duration:g} s; Python {platform.python_version()}, {os.cpu_count()} CPUs")  # fmt: skip
    c_rate = best["C (TI-RPC)"]
    print(f"{'client':<24} {'calls/s':>10} {'vs C':>7}")
    for name, rate in best.items():
        label = name if name != "asyncio" else f"asyncio ({args.in_flight} in flight)"
        print(f"{label:<24} {rate:>10,.0f} {rate / c_rate:>6.2f}x")
    for name, target in TARGETS.items():
        ratio = best[name] / c_rate
        verdict = "met" if ratio >= target else "NOT met"
        print(f"target {name} >= {target:.1f}x C: {ratio:.2f}x, {verdict}")


if __name__ == "__main__":
    main()
