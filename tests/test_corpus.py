"""The real-world corpus (tests/corpus/): every file goes through every
stage.  It PARSES and resolves, with the names it takes from C headers given
as tests/corpus/needs.toml says (and fails without them, all of them
reported in one error); it GENERATES, together with the files it imports,
as one package; the package IMPORTS (in this process and in a fresh one)
and passes ``mypy --strict``; and every struct, union, typedef and enum of
the file ROUND-TRIPS random values (hypothesis, a few per type, more for a
sample of files).  The Stellar values that the Python SDK publishes decode
and re-encode byte for byte (tests/corpus/vectors/)."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from xdrgen.compiler import ir
from xdrgen.compiler.cli import main
from xdrgen.compiler.naming import module_name
from xdrgen.compiler.resolve import Protocol, UndefinedNames, load
from xdrgen.runtime import xdr

from roundtrip_checks import check_typedef, check_value
from strategies import ProtocolStrategies
from support import CORPUS, corpus_files, corpus_key, corpus_needs, write_package

FILES = corpus_files()
NEEDS = tomllib.loads((CORPUS / "needs.toml").read_text(encoding="utf-8"))


def test_corpus_is_large_and_varied() -> None:
    sources = {path.parent.name for path in FILES}
    assert len(FILES) >= 60, len(FILES)
    assert len(sources) >= 6, sources


@pytest.mark.parametrize("path", FILES, ids=corpus_key)
def test_resolves(path: Path) -> None:
    protocol = load(path, **corpus_needs(path))  # type: ignore[arg-type]
    assert protocol.types or protocol.constants or protocol.programs


@pytest.mark.parametrize("key", sorted(NEEDS))
def test_needs_are_needed(key: str) -> None:
    """An entry of needs.toml is there because the file fails without it."""
    assert (CORPUS / key).is_file(), f"needs.toml names a missing file {key}"
    with pytest.raises(UndefinedNames):
        load(CORPUS / key)


def test_one_run_reports_every_undefined_name(capsys: pytest.CaptureFixture[str]) -> None:
    """Solaris' ufs_prot.x takes errno values, MAXMNTLEN, dev_t and time_t
    from C headers: one run names them all, each where it is first used."""
    source = CORPUS / "opensolaris" / "ufs_prot.x"
    assert main(["parse", str(source)]) == 1
    lines = capsys.readouterr().err.splitlines()
    entry = NEEDS["opensolaris/ufs_prot.x"]
    expected = set(entry["defines"]) | set(entry["types"])
    reported = set()
    for line in lines[:-1]:
        match = re.fullmatch(
            rf"{re.escape(str(source))}:\d+:\d+: error: undefined (constant|type) '(\w+)'", line
        )
        assert match, line
        reported.add(match.group(2))
    assert reported == expected
    assert lines[-1].startswith(f"note: {len(expected)} names are defined by no file")
    ways = (
        "-D NAME=VALUE",
        "[tool.xdrgen.defines]",
        "--type NAME=XDRTYPE",
        "[tool.xdrgen.type-map]",
        "--import FILE.x",
    )
    for way in ways:
        assert way in lines[-1]


def test_readme_lists_every_file_with_its_hash() -> None:
    """tests/corpus/README.md gives each copied file's SHA-256."""
    table = (CORPUS / "README.md").read_text(encoding="utf-8")
    for path in sorted(CORPUS.glob("*/*.x")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{corpus_key(path)}`" in table, corpus_key(path)
        assert digest in table, f"{corpus_key(path)}: SHA-256 {digest} not in README.md"


def test_readme_table_counts_every_file() -> None:
    """The README's table: every file, through every stage."""
    table = (CORPUS / "README.md").read_text(encoding="utf-8")
    total = next(line for line in table.splitlines() if line.startswith("| **total**"))
    assert total.count(f"**{len(FILES)}**") == 6, total


def test_published_vectors_name_corpus_types() -> None:
    """Each saved Stellar value names a type of the Stellar files and is
    base64 of whole XDR words."""
    data = json.loads((CORPUS / "vectors" / "stellar-py-sdk.json").read_text(encoding="utf-8"))
    types = load(CORPUS / "stellar" / "Stellar-ledger.x").types
    assert len(data["vectors"]) >= 50
    for vector in data["vectors"]:
        assert vector["type"] in types, vector["type"]
        assert len(base64.b64decode(vector["base64"], validate=True)) % 4 == 0


# ---- generate, import, type-check ---------------------------------------------


@dataclass
class CorpusPackage:
    """The package a corpus file is generated into: the file, every file it
    imports, with its needs.toml entry.  Files of one source directory that
    need nothing share one package (a module is generated the same whatever
    else its package holds); a file with needs gets a package of its own."""

    name: str
    options: dict[str, Any]
    inputs: dict[Path, None] = field(default_factory=dict)  # ordered set


def _closure(protocol: Protocol) -> Iterator[Protocol]:
    yield protocol
    for imported in protocol.imports:
        yield from _closure(imported)


def _packages() -> tuple[dict[Path, CorpusPackage], dict[Path, Protocol]]:
    packages: dict[str, CorpusPackage] = {}
    by_file: dict[Path, CorpusPackage] = {}
    protocols: dict[Path, Protocol] = {}
    for path in FILES:
        needs = corpus_needs(path)
        name = "corpus_" + module_name(path.parent.name)
        if any(needs.values()):
            name += "_" + module_name(path.name)
        package = packages.setdefault(name, CorpusPackage(name, needs))
        protocols[path] = load(path, **needs)  # type: ignore[arg-type]
        for protocol in _closure(protocols[path]):
            package.inputs[Path(protocol.path).resolve()] = None
        by_file[path] = package
    return by_file, protocols


PACKAGES, PROTOCOLS = _packages()


@pytest.fixture(scope="module")
def corpus_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every corpus package, generated and on sys.path."""
    out = tmp_path_factory.mktemp("corpus")
    for package in {p.name: p for p in PACKAGES.values()}.values():
        write_package(
            out, list(package.inputs), package.name,
            defines=package.options["defines"], type_map=package.options["type_map"],
            imports=package.options["imports"],
        )  # fmt: skip
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))


def corpus_module(path: Path) -> ModuleType:
    return importlib.import_module(f"{PACKAGES[path].name}.{PROTOCOLS[path].name}")


@pytest.mark.parametrize("path", FILES, ids=corpus_key)
def test_generates_and_imports(corpus_out: Path, path: Path) -> None:
    module = corpus_module(path)
    assert module.__doc__ is not None
    assert module.__doc__.startswith(f"XDR types of ``{path.name}``.")
    protocol = PROTOCOLS[path]
    names = protocol.names
    for name, (owner, python_name) in names.classes.items():
        if owner != names.module:
            continue
        value = getattr(module, python_name)
        if isinstance(protocol.types[name], ir.TypedefDef):
            _, (pack, unpack, codec) = names.functions[name]
            assert callable(getattr(module, pack)) and callable(getattr(module, unpack)), name
            assert isinstance(getattr(module, codec), xdr.TypedefCodec), name
        else:
            assert value.__module__ == module.__name__, name
    for name, string in protocol.strings.items():
        if names.constants.get(name, ("", ""))[0] == names.module:
            assert getattr(module, names.constants[name][1]) == string


def test_every_package_imports_in_a_fresh_interpreter(corpus_out: Path) -> None:
    modules = sorted(
        f"{directory.name}.{item.stem}"
        for directory in corpus_out.iterdir()
        for item in directory.glob("*.py")
    )
    code = "import importlib\nfor name in %r:\n    importlib.import_module(name)\n" % modules
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=corpus_out, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr


def test_mypy_strict(corpus_out: Path) -> None:
    """The whole corpus (about 5 MB of generated code) in one mypy run."""
    packages = sorted(directory.name for directory in corpus_out.iterdir() if directory.is_dir())
    args = [arg for name in packages for arg in ("-p", name)]
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(corpus_out.parent / "mypy_cache"), *args],
        cwd=corpus_out, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]


# ---- round trips ----------------------------------------------------------------

#: Random values per type: a few for every file, more for a sample.
EXAMPLES = 3
SAMPLE_EXAMPLES = 25
SAMPLE = {"stellar/Stellar-transaction.x", "nfs-ganesha/nfsv41.x", "xdrpp/xdrtest.x", "opensolaris/nis_object.x"}
# No shrinking: a codec bug fails fast, with its value, instead of shrinking
# for minutes through Stellar's deep types.
FAST = settings(
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _defined_classes(module: ModuleType) -> set[str]:
    return {
        name
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and obj.__name__ == name  # not a typedef's alias
        and obj.__module__ == module.__name__
        and issubclass(obj, (xdr.XdrStruct, xdr.XdrUnion))
        and not name.startswith("_")  # the bases that structs share
    }


@pytest.mark.parametrize("path", FILES, ids=corpus_key)
def test_round_trips(corpus_out: Path, path: Path) -> None:
    """Every struct, union, typedef and enum of the file, with random values;
    the IR walk (tests/codecs/strategies.py) finds exactly the classes the
    module defines."""
    protocol = PROTOCOLS[path]
    package = PACKAGES[path].name
    strategies = ProtocolStrategies(protocol, lambda name: importlib.import_module(f"{package}.{name}"))
    module = corpus_module(path)
    own = protocol.name
    expected = set(strategies.struct_names(own))
    for union in strategies.union_names(own):
        expected.add(union)
        expected.update(arm.cls_name for arm in strategies.unions[union].arms)
    assert _defined_classes(module) == expected
    examples = settings(FAST, max_examples=SAMPLE_EXAMPLES if corpus_key(path) in SAMPLE else EXAMPLES)
    for name in [*strategies.struct_names(own), *strategies.union_names(own)]:
        cls = strategies.cls(name)

        @examples
        @given(strategies.for_class(name))
        def roundtrip(value: Any) -> None:
            check_value(cls, value)

        roundtrip()
    for typedef in strategies.typedefs:
        functions = strategies.typedef_functions(typedef)

        @examples
        @given(strategies.for_typedef(typedef))
        def typedef_roundtrip(value: Any) -> None:
            check_typedef(*functions, value)

        typedef_roundtrip()
    for definition in protocol.spec.definitions:
        if isinstance(definition, ir.EnumDef) and protocol.is_local(definition.name):
            enum = getattr(module, protocol.names.classes[definition.name][1])
            for member in enum:
                assert enum.decode(member.encode()) is member


# ---- the published Stellar values ----------------------------------------------


def test_published_stellar_values_round_trip_byte_for_byte(corpus_out: Path) -> None:
    """All 56 base64 values of the Python SDK's tests decode with the
    generated Stellar modules and encode back to the same bytes."""
    data = json.loads((CORPUS / "vectors" / "stellar-py-sdk.json").read_text(encoding="utf-8"))
    ledger = CORPUS / "stellar" / "Stellar-ledger.x"
    names = PROTOCOLS[ledger].names
    package = PACKAGES[ledger].name
    decoded = []
    for vector in data["vectors"]:
        module, cls_name = names.classes[vector["type"]]
        cls = getattr(importlib.import_module(f"{package}.{module}"), cls_name)
        raw = base64.b64decode(vector["base64"])
        value = cls.decode(raw)
        assert isinstance(value, cls), vector["source"]
        assert value.encode() == raw, vector["source"]
        decoded.append(type(value).__name__)
    assert len(decoded) == len(data["vectors"]) == 56
    # the three kinds of envelope, the five kinds of address (2 to 4 are
    # protocol 23's)
    assert {"TransactionEnvelopeV0", "TransactionEnvelopeV1", "TransactionEnvelopeFeeBump"} <= set(decoded)
    assert len({name for name in decoded if name.startswith("SCAddress")}) == 5
