"""black formatting of generated modules, in parallel for large ones.

A generated module is a header followed by independent top-level blocks
(classes, constants, functions), always two blank lines apart.  Formatting
chunks of blocks separately gives the same text as formatting the whole
file, and lets a large module (libvirt's remote_protocol, ~20,000 lines) use
every core.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import black

_MODE = black.Mode(target_versions={black.TargetVersion.PY311})  # type: ignore[attr-defined]
_BLACK_VERSION = importlib.metadata.version("black")
_PARALLEL_LINES = 4000  # below this, starting workers costs more than it saves


def _cache_dir() -> Path | None:
    """Where formatted chunks are kept: ``$XDRGEN_CACHE_DIR`` (empty: no
    cache), else ``$XDG_CACHE_HOME/xdrgen`` or ``~/.cache/xdrgen``."""
    configured = os.environ.get("XDRGEN_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xdrgen"


def format_code(code: str) -> str:
    """black's output for ``code``.  Formatting is the slow part of
    generating, so results are cached by content (as black caches files):
    the key covers black's version, the mode and the text, so a hit is
    exactly what black would print."""
    path = _cache_path(code)
    cached = _cached(path)
    if cached is not None:
        return cached
    formatted = black.format_str(code, mode=_MODE)
    if path is not None:
        _store(path, formatted)
    return formatted


def _cache_path(code: str) -> Path | None:
    cache = _cache_dir()
    if cache is None:
        return None
    key = hashlib.sha256(f"{_BLACK_VERSION}\0{_MODE!r}\0{code}".encode()).hexdigest()
    return cache / key[:2] / key


def _cached(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _store(path: Path, text: str) -> None:
    """Write atomically (a reader never sees half a file); a cache that
    cannot be written is simply not used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError:
        pass


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
    # Look in the cache here: workers (each importing black) only for misses.
    formatted = [_cached(_cache_path(piece)) for piece in pieces]
    misses = [i for i, text in enumerate(formatted) if text is None]
    if len(misses) == 1:
        formatted[misses[0]] = format_code(pieces[misses[0]])
    elif misses:
        with ProcessPoolExecutor(max_workers=min(workers, len(misses))) as pool:
            for i, text in zip(misses, pool.map(format_code, [pieces[i] for i in misses])):
                formatted[i] = text
    return "\n\n\n".join((piece or "").strip("\n") for piece in formatted) + "\n"
