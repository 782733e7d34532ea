"""Calls per second of our pure-Python libvirt client, next to libvirt-python.

Run from the repository root (as root: libvirtd runs in a private mount
namespace, as in the integration tests)::

    python benchmarks/client.py            # full run (about 60-70 s)
    python benchmarks/client.py --quick    # short run (about 10 s; smoke test)

One private ``libvirtd`` (started as in ``tests/integration``) serves its
``test:///default`` driver; both clients connect over its unix socket with
the same URI, ``test+unix:///default?socket=...``, look up domain "test"
and call ``virDomainGetInfo`` in a loop:

``ours``
    ``libvirt_rpc.open(uri)`` + ``conn.domain_get_info(dom=dom)`` in this
    process; and ``await libvirt_rpc.open_async(uri)`` +
    ``await conn.domain_get_info(dom=dom)`` for the asyncio row.
``libvirt-python``
    Debian's ``python3-libvirt`` (the C library), so run by the system Python
    (``/usr/bin/python3``) in a subprocess: ``libvirt.open(uri)`` +
    ``dom.info()``.

The rows:

``sequential``
    one thread, one connection, one call at a time.
``8-threads``
    8 threads sharing ONE connection (both clients).
``8-tasks``
    8 asyncio tasks sharing one asyncio connection (ours).  libvirt-python
    has no asyncio API, so this row is compared against libvirt-python's 8
    threads sharing one connection (the same numbers as the ``8-threads``
    row's libvirt-python column).

Each measurement opens a fresh connection, warms up (``--warmup`` seconds,
not counted), then counts the calls completed in ``--duration`` seconds of
wall time; the measurements are interleaved, ``--repeat`` rounds, and the best
round of each is kept.  A second table gives the CPU time the client process
(all its threads) spent per call over the same runs: on a busy machine it
moves much less than calls/s does.  The CPU that everything else on the
machine used meanwhile (and the time a hypervisor took from our virtual
CPUs, "steal") is printed; above a tenth of the machine the calls/s are
flagged as unreliable.  Before the tables the script checks that both
clients read the same ``dom.info()``.

With ``--pin`` (Linux, two CPUs or more) libvirtd runs on the first CPU and
both clients on the second.  Unpinned, where the scheduler puts the client
and the daemon moves calls/s of either client by a factor of two between
rounds (fewer switches when they share a CPU, more when they bounce), so
best-of-3 rows are partly luck; pinned, rounds agree within a few percent.

The last line says whether the target "ours >= 1.0x libvirt-python both
sequential and concurrent" (in calls/s) holds; "concurrent" means both
concurrent rows (8 threads and 8 tasks).  Nothing here is an assertion: the
exit status does not depend on the numbers.
"""

from __future__ import annotations

import checkout  # noqa: F401  (this checkout's xdrgen and libvirt_rpc first)

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import libvirt_rpc  # noqa: E402
from daemons import Libvirtd  # noqa: E402

TARGET = 1.0
BATCH = 20  # calls between two looks at the clock

# libvirt-python's side, run by the system Python.  argv: uri, threads,
# warm-up seconds, seconds, batch.  Prints one JSON line: calls, seconds, CPU
# seconds of the process over the timed run, dom.info().
LIBVIRT_PYTHON = r"""
import json, sys, threading, time
import libvirt

uri, threads, warmup, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
BATCH = int(sys.argv[5])
libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(uri)
dom = conn.lookupByName("test")

def run(n_threads, seconds):
    counts = [0] * n_threads
    barrier = threading.Barrier(n_threads)
    box = {}

    def work(i):
        info = dom.info
        barrier.wait()
        if i == 0:
            box["start"] = time.perf_counter()
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            for _ in range(BATCH):
                info()
            n += BATCH
        counts[i] = n

    if n_threads == 1:
        work(0)
    else:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return sum(counts), time.perf_counter() - box["start"]

run(threads, warmup)
cpu = time.process_time()
calls, seconds = run(threads, duration)
cpu = time.process_time() - cpu
info = dom.info()
conn.close()
print(json.dumps({"calls": calls, "seconds": seconds, "cpu": cpu, "info": info}))
"""


def libvirt_python_env(home: str) -> dict[str, str]:
    """C locale, no default URI, and a throwaway HOME/XDG dirs (a libvirt
    client may create ~/.cache/libvirt and ~/.config/libvirt)."""
    env = dict(os.environ)
    for var in ("LIBVIRT_DEFAULT_URI", "VIRSH_DEFAULT_CONNECT_URI", "LANGUAGE"):
        env.pop(var, None)
    env.update(
        LC_ALL="C",
        HOME=home,
        XDG_CONFIG_HOME=os.path.join(home, ".config"),
        XDG_CACHE_HOME=os.path.join(home, ".cache"),
        XDG_RUNTIME_DIR=os.path.join(home, "run"),
    )
    return env


class Result(NamedTuple):
    rate: float  # calls per second (wall clock)
    cpu: float  # client process CPU seconds per call (all its threads)


def measure_libvirt_python(
    python: str, env: dict[str, str], uri: str, threads: int, warmup: float, duration: float
) -> tuple[Result, list[int]]:
    """(result, dom.info()) of one libvirt-python run in a subprocess."""
    result = subprocess.run(
        [python, "-c", LIBVIRT_PYTHON, uri, str(threads), str(warmup), str(duration), str(BATCH)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=(warmup + duration) * 10 + 60,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"libvirt-python client failed:\n{result.stdout}{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Result(data["calls"] / data["seconds"], data["cpu"] / data["calls"]), data["info"]


# ---- our client, blocking


def _run_threads(conn: Any, dom: Any, n_threads: int, seconds: float) -> tuple[int, float]:
    """Calls done by ``n_threads`` threads sharing ``conn`` in ``seconds``."""
    counts = [0] * n_threads
    barrier = threading.Barrier(n_threads)
    box: dict[str, float] = {}

    def work(i: int) -> None:
        call = conn.domain_get_info
        barrier.wait()
        if i == 0:
            box["start"] = time.perf_counter()
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            for _ in range(BATCH):
                call(dom=dom)
            n += BATCH
        counts[i] = n

    if n_threads == 1:
        work(0)
    else:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return sum(counts), time.perf_counter() - box["start"]


def measure_ours_threads(uri: str, threads: int, warmup: float, duration: float) -> tuple[Result, list[int]]:
    with libvirt_rpc.open(uri) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        _run_threads(conn, dom, threads, warmup)
        cpu = time.process_time()  # this process: callers and the reader thread
        calls, seconds = _run_threads(conn, dom, threads, duration)
        cpu = time.process_time() - cpu
        info = conn.domain_get_info(dom=dom)
    return Result(calls / seconds, cpu / calls), [
        info.state, info.maxMem, info.memory, info.nrVirtCpu, info.cpuTime
    ]


# ---- our client, asyncio


async def _run_tasks(conn: Any, dom: Any, n_tasks: int, seconds: float) -> tuple[int, float]:
    start = time.perf_counter()
    deadline = start + seconds

    async def work() -> int:
        call = conn.domain_get_info
        n = 0
        while time.perf_counter() < deadline:
            for _ in range(BATCH):
                await call(dom=dom)
            n += BATCH
        return n

    counts = await asyncio.gather(*(work() for _ in range(n_tasks)))
    return sum(counts), time.perf_counter() - start


async def _ours_async(uri: str, tasks: int, warmup: float, duration: float) -> Result:
    async with await libvirt_rpc.open_async(uri) as conn:
        dom = (await conn.domain_lookup_by_name(name="test")).dom
        await _run_tasks(conn, dom, tasks, warmup)
        cpu = time.process_time()
        calls, seconds = await _run_tasks(conn, dom, tasks, duration)
        cpu = time.process_time() - cpu
    return Result(calls / seconds, cpu / calls)


def measure_ours_async(uri: str, tasks: int, warmup: float, duration: float) -> Result:
    return asyncio.run(_ours_async(uri, tasks, warmup, duration))


# ---- driver


def _machine_cpu() -> tuple[float, float] | None:
    """CPU-seconds the whole machine has been busy, and stolen from it by the
    hypervisor, since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _process_cpu(pid: int) -> float:
    """CPU-seconds of one process (all its threads) so far; 0 without
    ``/proc`` (where :func:`_machine_cpu` gives None, so it is not used)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    """CPU-seconds of this process and the children it has waited for (the
    libvirt-python runs)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def pin(daemon_pid: int) -> None:
    """Every thread of the daemon on the first CPU; this process (and so
    every thread and subprocess it starts from now on) on the second."""
    first, second, *_ = sorted(os.sched_getaffinity(0))
    for task in os.listdir(f"/proc/{daemon_pid}/task"):
        os.sched_setaffinity(int(task), {first})
    os.sched_setaffinity(0, {second})
    print(f"pinned: libvirtd on CPU {first}, the clients on CPU {second}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (about 10 s; smoke test)")
    parser.add_argument("--duration", type=float, help="seconds per timed measurement (3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up before each (0.5)")
    parser.add_argument("--repeat", type=int, help="interleaved rounds, best kept (3)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads / tasks (8)")
    parser.add_argument("--python", default="/usr/bin/python3", help="Python with libvirt-python")
    parser.add_argument("--pin", action="store_true", help="libvirtd on the first CPU, the clients on the second")
    args = parser.parse_args(argv)
    duration = args.duration or (0.5 if args.quick else 3.0)
    warmup = args.warmup if args.warmup is not None else (0.1 if args.quick else 0.5)
    repeat = args.repeat or (1 if args.quick else 3)
    n = args.concurrency
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--pin needs two CPUs")

    check = subprocess.run(
        [args.python, "-c", "import libvirt; print(libvirt.getVersion())"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise SystemExit(f"{args.python} cannot import libvirt (install python3-libvirt): {check.stderr}")
    version = int(check.stdout)
    print(
        f"xdrgen client benchmark: virDomainGetInfo on test:///default over a unix socket; "
        f"ours on Python {platform.python_version()}, libvirt-python "
        f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000} on {args.python}; "
        f"{os.cpu_count()} CPUs; best of {repeat} x {duration:g} s (after {warmup:g} s warm-up)"
        + (" [--quick: numbers are rough]" if args.quick else ""),
        flush=True,
    )

    t0 = time.perf_counter()
    rows = ["sequential", f"{n}-threads", f"{n}-tasks"]
    ours: dict[str, list[Result]] = {row: [] for row in rows}
    theirs: dict[str, list[Result]] = {row: [] for row in rows[:2]}
    with tempfile.TemporaryDirectory(prefix="xdrgen-bench-home-") as home, Libvirtd() as daemon:
        env = libvirt_python_env(home)
        uri = daemon.uri_unix
        if args.pin:
            pin(daemon.pid)
        machine_before, ours_before, daemon_before = _machine_cpu(), _own_cpu(), _process_cpu(daemon.pid)
        for _ in range(repeat):
            result, our_info = measure_ours_threads(uri, 1, warmup, duration)
            ours[rows[0]].append(result)
            result, their_info = measure_libvirt_python(args.python, env, uri, 1, warmup, duration)
            theirs[rows[0]].append(result)
            ours[rows[1]].append(measure_ours_threads(uri, n, warmup, duration)[0])
            theirs[rows[1]].append(measure_libvirt_python(args.python, env, uri, n, warmup, duration)[0])
            ours[rows[2]].append(measure_ours_async(uri, n, warmup, duration))
        machine_after, ours_after, daemon_after = _machine_cpu(), _own_cpu(), _process_cpu(daemon.pid)
    elapsed = time.perf_counter() - t0
    # Both clients must have seen the same domain (cpuTime moves; leave it out).
    if our_info[:4] != their_info[:4]:
        raise SystemExit(f"the clients disagree on dom.info(): ours {our_info}, libvirt-python {their_info}")
    print(f"both clients read the same info of domain 'test' {our_info[:4]}: OK")
    print()

    theirs[rows[2]] = theirs[rows[1]]  # no asyncio in libvirt-python: its threads
    what = {
        rows[0]: "1 thread, one connection, each",
        rows[1]: f"{n} threads sharing one connection, each",
        rows[2]: f"ours: {n} asyncio tasks on one connection; libvirt-python: its {n} threads (*)",
    }
    best_rate = {row: (max(r.rate for r in ours[row]), max(r.rate for r in theirs[row])) for row in rows}
    best_cpu = {row: (min(r.cpu for r in ours[row]), min(r.cpu for r in theirs[row])) for row in rows}

    header = f"{'mode':<12}{'ours':>12}{'libvirt-py':>12}{'ours/lvpy':>11}   compared"
    print("calls/s (best of rounds; higher is better)")
    print(header)
    print("-" * len(header))
    ratios: dict[str, float] = {}
    for row in rows:
        mine, other = best_rate[row]
        ratios[row] = mine / other
        print(f"{row:<12}{mine:>12.0f}{other:>12.0f}{ratios[row]:>10.2f}x   {what[row]}")
    print("-" * len(header))
    print(
        f"(*) libvirt-python has no asyncio API: the {rows[2]} row compares our {n} asyncio "
        f"tasks with libvirt-python's {n} threads sharing one connection"
    )
    print()
    # CPU per call depends less on what else the machine runs than calls/s does.
    print("client process CPU per call, all its threads (us; best of rounds; lower is better)")
    print(f"{'mode':<12}{'ours':>12}{'libvirt-py':>12}{'ours/lvpy':>11}")
    for row in rows:
        mine, other = best_cpu[row]
        print(f"{row:<12}{mine * 1e6:>12.1f}{other * 1e6:>12.1f}{mine / other:>10.2f}x")
    print()
    cpus = os.cpu_count() or 1
    line = f"total time {elapsed:.1f} s on {cpus} CPUs"
    if machine_before is not None and machine_after is not None:
        # what the benchmark's own processes did not use: the rest of the machine
        busy = machine_after[0] - machine_before[0]
        others = busy - (ours_after - ours_before) - (daemon_after - daemon_before)
        steal = machine_after[1] - machine_before[1]
        disturbed = (max(others, 0.0) + steal) / (elapsed * cpus)
        line += (
            f"; other processes used {max(others, 0.0):.1f} CPU-s, the hypervisor stole {steal:.1f} CPU-s"
            + (" -- the machine was busy: calls/s are unreliable" if disturbed > 0.1 else "")
        )
    print(line)
    met = all(r >= TARGET for r in ratios.values())
    detail = ", ".join(f"{row} {ratios[row]:.2f}x" for row in rows)
    print(
        f"target ours >= {TARGET:.1f}x libvirt-python both (sequential and concurrent): "
        f"{'MET' if met else 'NOT MET'} ({detail})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
