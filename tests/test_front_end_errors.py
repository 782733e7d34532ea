"""Every class of bad input gets exit code 1 and a first stderr line
``FILE:LINE:COL: error: MESSAGE`` that points at the right place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xdrgen.compiler.cli import main

CASES = {
    "missing_semicolon": (
        "struct s {\n    int a\n};\n",
        "3:1",
        "unexpected '}': expected ')', ';', '<', '['",
    ),
    "unexpected_character": (
        "const A = 1;\nconst B = $;\n",
        "2:11",
        "unexpected character '$'",
    ),
    "end_of_file": (
        "struct s {\n    int a;\n",
        "2:10",
        "unexpected end of file: expected 'bool', 'char'",
    ),
    "undefined_type": (
        "struct s {\n    int a;\n    missing_t b;\n};\n",
        "3:5",
        "undefined type 'missing_t'",
    ),
    "undefined_struct_tag": (
        "struct s {\n    struct nowhere *next;\n};\n",
        "2:5",
        "undefined type 'struct nowhere'",
    ),
    "undefined_constant": (
        "typedef int list<LIST_MAX>;\n",
        "1:18",
        "undefined constant 'LIST_MAX'",
    ),
    "duplicate_name": (
        "struct s { int a; };\n\nunion s switch (int d) { case 0: void; };\n",
        "3:1",
        "duplicate definition of 's'",
    ),
    "duplicate_constant": (
        "const X = 1;\nenum e { X = 2 };\n",
        "2:10",
        "duplicate definition of 'X'",
    ),
    "duplicate_field": (
        "struct s {\n    int a;\n    hyper a;\n};\n",
        "3:5",
        "duplicate field 'a'",
    ),
    "duplicate_case_label": (
        "union u switch (int d) {\ncase 1:\n    int a;\ncase 2:\ncase 1:\n    hyper b;\n};\n",
        "5:6",
        "duplicate case label 1 (= 1) in union 'u'",
    ),
    "case_label_not_in_enum": (
        "enum e { A = 1 };\nunion u switch (e d) {\ncase 2:\n    int a;\n};\n",
        "3:6",
        "case label 2 (= 2) is not a value of enum e",
    ),
    "bad_discriminant": (
        "union u switch (hyper d) {\ncase 1:\n    int a;\n};\n",
        "1:17",
        "must be int, unsigned int, bool or an enum",
    ),
    "negative_bound": (
        "const N = -4;\nstruct s {\n    int items<N>;\n};\n",
        "3:15",
        "the bound of 'items' must not be negative, got N = -4",
    ),
    "non_constant_bound": (
        "typedef int count_t;\nstruct s {\n    int items<count_t>;\n};\n",
        "3:15",
        "but 'count_t' is a type",
    ),
    "contains_itself": (
        "struct a {\n    int x;\n    b inner;\n};\nstruct b {\n    a outer;\n};\n",
        "6:5",
        "'a' contains itself (a -> b -> a) through 'outer'",
    ),
    "contains_itself_directly": (
        "struct node {\n    int value;\n    node next;\n};\n",
        "3:5",
        "'node' contains itself (node -> node) through 'next'",
    ),
    "constant_cycle": (
        "const A = B;\nconst B = A;\n",
        "2:11",
        "constant 'A' depends on itself (A -> B -> A)",
    ),
    "void_field": (
        "struct s {\n    void;\n};\n",
        "2:5",
        "'void' is only allowed as a union arm",
    ),
    "missing_include": (
        "const A = 1;\n#include \"not_there.x\"\n",
        "2:1",
        "cannot find include file 'not_there.x'",
    ),
    "unknown_directive": (
        "const A = 1;\n  #frobnicate yes\n",
        "2:3",
        "unknown preprocessor directive '#frobnicate'",
    ),
    "unterminated_if": (
        "#ifdef X\nconst A = 1;\n",
        "1:1",
        "unterminated conditional: expected '#endif'",
    ),
    "else_without_if": (
        "const A = 1;\n#else\n",
        "2:1",
        "'#else' without '#if'",
    ),
    "error_directive": (
        "#ifndef NEEDED\n#error NEEDED must be defined\n#endif\n",
        "2:1",
        "#error NEEDED must be defined",
    ),
    "enum_label_from_other_namespace": (
        "namespace a { enum e { X = 1 }; }\nnamespace b { const Y = e::Z; }\n",
        "2:25",
        "undefined constant 'Z'",
    ),
    "string_constant_as_bound": (
        'const KEY = "abc";\ntypedef opaque k<KEY>;\n',
        "2:18",
        "expected an integer, but 'KEY' is a string constant",
    ),
    "bad_pragma": (
        "pragma;\n",
        "1:7",
        "unexpected ';': expected identifier",
    ),
    "undefined_procedure_type": (
        "program P {\n  version V {\n    nothing PROC(void) = 1;\n  } = 1;\n} = 5;\n",
        "3:5",
        "undefined type 'nothing'",
    ),
    "duplicate_procedure_number": (
        "program P {\n  version V {\n    void A(void) = 1;\n    void B(void) = 1;\n  } = 1;\n} = 5;\n",
        "4:5",
        "duplicate procedure number 1 in version 'V'",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_located_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, position, message = CASES[name]
    source = tmp_path / f"{name}.x"
    source.write_text(text)
    assert main(["parse", str(source)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{source}:{position}: error: "), first
    assert message in first, first


def test_clash_names_the_other_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "clash.x"
    source.write_text(CASES["duplicate_name"][0])
    assert main(["parse", str(source)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == f"{source}:1:1: note: previous definition is here"


def test_error_in_included_file_names_that_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "inner.x").write_text("const A = 1;\nstruct s { int a };\n")
    source = tmp_path / "outer.x"
    source.write_text('#include "inner.x"\nconst B = A;\n')
    assert main(["parse", str(source)]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'inner.x'}:2:18: error: unexpected '}}'")


def test_include_and_defines_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "inner.x").write_text("const A = 7;\n")
    source = tmp_path / "outer.x"
    source.write_text(
        '#include "inner.x"\n#if defined(BIG) && BIG > 2\nconst B = BIG;\n#else\nconst B = A;\n#endif\n'
    )
    assert main(["parse", str(source), "-I", str(tmp_path / "lib"), "--json"]) == 0
    assert '"B": 7' in capsys.readouterr().out
    assert main(["parse", str(source), "-I", str(tmp_path / "lib"), "-D", "BIG=3", "--json"]) == 0
    assert '"B": 3' in capsys.readouterr().out


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(tmp_path / "nope.x")]) == 1
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'nope.x'}:0:0: error: cannot read file")


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    source = tmp_path / "bad.x"
    source.write_text("struct s {\n    int a\n};\n")
    done = subprocess.run(
        [sys.executable, "-m", "xdrgen", "structs", str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith(f"{source}:3:1: error: ")
    assert "Traceback" not in done.stderr
