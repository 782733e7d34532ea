"""Shared paths and settings for the tests (imported as `support`)."""

from __future__ import annotations

from pathlib import Path

from xdrgen.compiler.project import load_config

ROOT = Path(__file__).resolve().parent.parent
LIBVIRT_X = ROOT / "protocols" / "libvirt"
RPCSVC_X = ROOT / "protocols" / "rpcsvc"
GOLDEN = ROOT / "tests" / "golden"

# Constants that libvirt's .x files take from its C headers: spelled once,
# in [tool.xdrgen.defines] of pyproject.toml.
LIBVIRT_DEFINES = dict(load_config(ROOT / "pyproject.toml").defines)


def define_args(defines: dict[str, str]) -> list[str]:
    args = []
    for name, value in defines.items():
        args += ["-D", f"{name}={value}"]
    return args


# ---- the real-world corpus (tests/corpus/README.md) --------------------------

CORPUS = ROOT / "tests" / "corpus"


def corpus_files() -> list[Path]:
    """Every corpus .x file: tests/corpus/*/ and the rpcsvc files the
    repository ships in protocols/rpcsvc/ (the corpus reuses them)."""
    return sorted(CORPUS.glob("*/*.x")) + sorted(RPCSVC_X.glob("*.x"))


def corpus_key(path: Path) -> str:
    """A corpus file's name in tests/corpus/needs.toml."""
    return path.relative_to(CORPUS).as_posix() if path.is_relative_to(CORPUS) else path.name


def corpus_needs(path: Path) -> dict[str, object]:
    """What ``path`` needs that no .x file defines, as load() keywords."""
    import tomllib

    entry = tomllib.loads((CORPUS / "needs.toml").read_text(encoding="utf-8")).get(
        corpus_key(path), {}
    )
    return {
        "defines": {name: str(value) for name, value in entry.get("defines", {}).items()},
        "type_map": dict(entry.get("types", {})),
        "imports": tuple(CORPUS / item for item in entry.get("imports", [])),
    }
