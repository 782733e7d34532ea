"""black, for the blocks :mod:`.layout` does not lay out itself.

Generated code is written the way black would write it (see
:mod:`.layout`), so generating does not run black; a top-level block with a
construct the layout code does not know is handed to black here instead.
Results are cached by content (as black caches files): the key covers black's
version, the mode and the text, so a hit is exactly what black would print.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from pathlib import Path

_BLACK_VERSION = importlib.metadata.version("black")


def _cache_dir() -> Path | None:
    """Where formatted blocks are kept: ``$XDRGEN_CACHE_DIR`` (empty: no
    cache), else ``$XDG_CACHE_HOME/xdrgen`` or ``~/.cache/xdrgen``."""
    configured = os.environ.get("XDRGEN_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xdrgen"


def format_code(code: str) -> str:
    """black's output for ``code`` (black is imported on first use)."""
    path = _cache_path(code)
    cached = _cached(path)
    if cached is not None:
        return cached
    import black

    mode = black.Mode(target_versions={black.TargetVersion.PY311})  # type: ignore[attr-defined]
    formatted = black.format_str(code, mode=mode)
    if path is not None:
        _store(path, formatted)
    return formatted


def _cache_path(code: str) -> Path | None:
    cache = _cache_dir()
    if cache is None:
        return None
    key = hashlib.sha256(f"{_BLACK_VERSION}\0py311\0{code}".encode()).hexdigest()
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
