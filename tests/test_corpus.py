"""The real-world corpus (tests/corpus/): every file parses and resolves,
with the names it takes from C headers given as tests/corpus/needs.toml
says, and fails without them, all of them reported in one error."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from xdrgen.compiler.cli import main
from xdrgen.compiler.resolve import UndefinedNames, load

from support import CORPUS, corpus_files, corpus_key, corpus_needs

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


def test_published_vectors_name_corpus_types() -> None:
    """Each saved Stellar value names a type of the Stellar files and is
    base64 of whole XDR words."""
    import base64
    import json

    data = json.loads((CORPUS / "vectors" / "stellar-py-sdk.json").read_text(encoding="utf-8"))
    types = load(CORPUS / "stellar" / "Stellar-ledger.x").types
    assert len(data["vectors"]) >= 50
    for vector in data["vectors"]:
        assert vector["type"] in types, vector["type"]
        assert len(base64.b64decode(vector["base64"], validate=True)) % 4 == 0
