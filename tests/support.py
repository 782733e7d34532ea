"""Shared paths and settings for the tests (imported as `support`)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

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


# ---- generated packages ------------------------------------------------------


def write_package(out: Path, inputs: list[Path], package: str, **options: object) -> dict[str, str]:
    """Generate ``inputs`` as the package ``package`` under ``out`` (with
    Target's other fields from ``options``); the files written."""
    from xdrgen.compiler.project import Target, generate_files, write_files

    target = Target(inputs=tuple(inputs), package=package, output=out, **options)  # type: ignore[arg-type]
    files = generate_files(target)
    write_files(target.package_dir, files)
    return files


def generate_package(out: Path, inputs: list[Path], package: str, **options: object) -> dict[str, ModuleType]:
    """:func:`write_package`, then import its modules: module name -> module."""
    import importlib
    import sys

    files = write_package(out, inputs, package, **options)
    sys.path.insert(0, str(out))
    try:
        return {
            name[:-3]: importlib.import_module(f"{package}.{name[:-3]}")
            for name in sorted(files)
            if name.endswith(".py") and name != "__init__.py"
        }
    finally:
        sys.path.remove(str(out))
