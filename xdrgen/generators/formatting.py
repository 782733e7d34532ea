"""black formatting of generated modules, in parallel for large ones.

A generated module is a header followed by independent top-level blocks
(classes, constants, functions), always two blank lines apart.  Formatting
chunks of blocks separately gives the same text as formatting the whole
file, and lets a large module (libvirt's remote_protocol, ~20,000 lines) use
every core.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import black

_MODE = black.Mode(target_versions={black.TargetVersion.PY311})  # type: ignore[attr-defined]
_PARALLEL_LINES = 4000  # below this, starting workers costs more than it saves


def format_code(code: str) -> str:
    return black.format_str(code, mode=_MODE)


def _chunks(blocks: list[str], count: int) -> list[str]:
    total = sum(block.count("\n") + 1 for block in blocks)
    target = total / count
    chunks: list[list[str]] = [[]]
    size = 0
    for block in blocks:
        if size >= target and len(chunks) < count:
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += block.count("\n") + 1
    return ["\n\n\n".join(chunk) + "\n" for chunk in chunks if chunk]


def format_module(header: str, blocks: list[str]) -> str:
    """black-format ``header`` followed by ``blocks``, two blank lines apart."""
    blocks = [block.strip("\n") for block in blocks if block.strip()]
    lines = sum(block.count("\n") for block in blocks)
    workers = os.cpu_count() or 1
    if lines < _PARALLEL_LINES or workers < 2:
        return format_code(header.rstrip("\n") + "\n\n\n" + "\n\n\n".join(blocks) + "\n")
    pieces = [header.rstrip("\n") + "\n", *_chunks(blocks, workers * 2)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        formatted = list(pool.map(format_code, pieces))
    return "\n\n\n".join(piece.strip("\n") for piece in formatted) + "\n"
