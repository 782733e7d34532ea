"""CPU and NUMA node sets: libvirt's bitmap text ("0-2,4") and the byte
maps the procedures carry (bit N of byte N/8 for CPU N)."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import rpc_error

CpuSet = frozenset[int]


def parse(text: str, limit: int = 4096) -> CpuSet:
    """virBitmapParse: comma-separated numbers and ranges, "^N" excludes."""
    included: set[int] = set()
    excluded: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            target = excluded if part.startswith("^") else included
            part = part.lstrip("^")
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            if not 0 <= low <= high < limit:
                raise ValueError(part)
            target.update(range(low, high + 1))
    except ValueError:
        raise rpc_error(
            E.VIR_ERR_INVALID_ARG, f"Failed to parse bitmap '{text}'", domain=ErrorDomain.VIR_FROM_NONE
        ) from None
    return frozenset(included - excluded)


def format(cpus: Iterable[int]) -> str:
    """virBitmapFormat: ascending ranges, "0-2,4"."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def to_bytes(cpus: Iterable[int], maplen: int) -> bytes:
    """The byte map of ``cpus``, ``maplen`` bytes long (CPUs beyond dropped)."""
    data = bytearray(maplen)
    for cpu in cpus:
        if cpu < maplen * 8:
            data[cpu // 8] |= 1 << (cpu % 8)
    return bytes(data)


def from_bytes(data: bytes) -> CpuSet:
    return frozenset(i for i in range(len(data) * 8) if data[i // 8] >> (i % 8) & 1)
