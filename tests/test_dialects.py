"""The dialects real .x files are written in, one feature at a time: what
rpcgen, xdrpp and the Linux kernel's xdrgen add to RFC 4506/5531 (README,
"What the front end accepts")."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from xdrgen.compiler import ir
from xdrgen.compiler.cli import main
from xdrgen.compiler.errors import XdrgenError
from xdrgen.compiler.naming import module_name
from xdrgen.compiler.resolve import Protocol, UndefinedNames, load


def resolve(tmp_path: Path, text: str, name: str = "t.x", **options: object) -> Protocol:
    source = tmp_path / name
    source.write_text(text)
    return load(source, **options)  # type: ignore[arg-type]


def field_type(protocol: Protocol, struct: str, field: str) -> ir.TypeSpec:
    definition = protocol.types[struct]
    assert isinstance(definition, ir.StructDef)
    (decl,) = [d for d in definition.body.fields if d.name == field]
    return decl.type


def underlying(protocol: Protocol, name: str) -> ir.Declaration:
    definition = protocol.types[name]
    assert isinstance(definition, ir.TypedefDef)
    return definition.declaration


# ---- xdrpp ------------------------------------------------------------------


def test_a_namespace_around_the_whole_file_changes_no_name(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "// xdrpp comment\nnamespace stellar {\ntypedef unsigned int uint32;\n"
        "struct S { uint32 a; }; // trailing\nenum E { A = 1 };\n}\n",
    )
    assert set(protocol.types) >= {"uint32", "S", "E"}
    assert protocol.constants["A"] == 1
    assert protocol.types["S"].namespace == ("stellar",)


def test_names_in_nested_namespaces_follow_cpp_lookup(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "enum color { RED, REDDER };\n"
        "namespace outer { namespace inner {\n"
        "  enum other { RED = 5, BLUE = 6 };\n"
        "  const MINE = RED;\n"  # inner::RED
        "  const TOP = ::RED;\n"  # the global one
        "  const QUALIFIED = color::REDDER;\n"
        "  const PATH = outer::inner::BLUE;\n"
        "} }\n"
        "const GLOBAL = RED;\n",
    )
    constants = protocol.constants
    # RED is defined twice, so both get their namespaces as a prefix
    assert constants["RED"] == 0 and constants["outer_inner_RED"] == 5
    assert "BLUE" in constants  # defined once: unchanged
    assert constants["MINE"] == 5
    assert constants["TOP"] == 0
    assert constants["QUALIFIED"] == 1
    assert constants["PATH"] == 6
    assert constants["GLOBAL"] == 0


def test_flattened_names_that_collide_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(XdrgenError, match="'a::X' and 'a_X' would both be 'a_X'"):
        resolve(tmp_path, "const a_X = 1;\nconst X = 2;\nnamespace a { const X = 3; }\n")


def test_xdrpp_test_file_union_labels(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "enum color { RED, REDDER };\nnamespace ns {\n"
        "union u switch (color c) { case ::RED: int a; case color::REDDER: void; };\n}\n",
    )
    definition = protocol.types["u"]
    assert isinstance(definition, ir.UnionDef)
    assert [arm.labels[0].number for arm in definition.body.arms] == [0, 1]


# ---- the Linux kernel's xdrgen ---------------------------------------------------


def test_pragma_lines_are_kept_and_change_nothing(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "pragma header nlm3;\nenum s { A = 0 };\npragma big_endian s;\n"
        "typedef int t;\npragma public t;\n",
    )
    assert [p.words for p in protocol.spec.pragmas] == [
        ("header", "nlm3"), ("big_endian", "s"), ("public", "t"),
    ]  # fmt: skip
    assert set(protocol.types) == {"s", "t"}


# ---- rpcgen -------------------------------------------------------------------


# Every C type of the default type map (grammars/rpc_prelude.x) and the XDR
# type it encodes as: what glibc's and libtirpc's xdr_* routines send.
C_TYPES = {
    "u_int": ir.Builtin.UNSIGNED_INT, "u_long": ir.Builtin.UNSIGNED_LONG,
    "u_short": ir.Builtin.UNSIGNED_SHORT, "u_char": ir.Builtin.UNSIGNED_CHAR,
    "int8_t": ir.Builtin.INT, "uint8_t": ir.Builtin.UNSIGNED_INT,
    "u_int8_t": ir.Builtin.UNSIGNED_INT, "int16_t": ir.Builtin.INT,
    "uint16_t": ir.Builtin.UNSIGNED_INT, "u_int16_t": ir.Builtin.UNSIGNED_INT,
    "int32_t": ir.Builtin.INT, "uint32_t": ir.Builtin.UNSIGNED_INT,
    "u_int32_t": ir.Builtin.UNSIGNED_INT, "int64_t": ir.Builtin.HYPER,
    "uint64_t": ir.Builtin.UNSIGNED_HYPER, "u_int64_t": ir.Builtin.UNSIGNED_HYPER,
    "quad_t": ir.Builtin.HYPER, "u_quad_t": ir.Builtin.UNSIGNED_HYPER,
    "longlong_t": ir.Builtin.HYPER, "u_longlong_t": ir.Builtin.UNSIGNED_HYPER,
    "bool_t": ir.Builtin.BOOL, "enum_t": ir.Builtin.INT,
}  # fmt: skip


def test_c_types_take_their_xdr_encoding(tmp_path: Path) -> None:
    fields = " ".join(f"{name} f{number};" for number, name in enumerate(C_TYPES))
    protocol = resolve(tmp_path, f"struct s {{ {fields} }};\n")
    for name, builtin in C_TYPES.items():
        assert underlying(protocol, name).type.builtin is builtin, name


def test_only_the_c_types_a_file_uses_become_its_typedefs(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, "struct s { u_int a; };\n")
    assert set(protocol.types) == {"s", "u_int"}


def test_a_file_that_defines_a_c_type_keeps_its_own(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, "typedef hyper uint32_t;\nstruct s { uint32_t a; };\n")
    assert underlying(protocol, "uint32_t").type.builtin is ir.Builtin.HYPER


def test_the_type_map_adds_and_replaces_entries(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "struct s { u_long a; uuid_t b; name_t c; pair p; };\n",
        type_map={
            "u_long": "unsigned hyper",
            "uuid_t": "opaque[16]",
            "name_t": "string<255>",
            "pair": "struct { int x; opaque y<4>; }",
        },
    )
    assert underlying(protocol, "u_long").type.builtin is ir.Builtin.UNSIGNED_HYPER
    uuid = underlying(protocol, "uuid_t")
    assert (uuid.kind, uuid.type.builtin, uuid.bound and uuid.bound.number) == (
        ir.DeclKind.FIXED_ARRAY, ir.Builtin.OPAQUE, 16,
    )  # fmt: skip
    name = underlying(protocol, "name_t")
    assert (name.kind, name.bound and name.bound.number) == (ir.DeclKind.VAR_ARRAY, 255)
    pair = protocol.types["pair"]  # a struct of its own, as "struct pair { ... };"
    assert isinstance(pair, ir.StructDef) and [f.name for f in pair.body.fields] == ["x", "y"]


def test_a_bad_type_map_entry_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(XdrgenError, match="type map: x = 'int int' is not an XDR type"):
        resolve(tmp_path, "struct s { x a; };\n", type_map={"x": "int int"})
    assert main(["parse", str(tmp_path / "t.x"), "--type", "x"]) == 1


def test_type_options_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "t.x"
    source.write_text("struct s { handle_t h; };\n")
    assert main(["parse", str(source), "--type", "handle_t=opaque[8]", "--json"]) == 0
    assert '"handle_t"' in capsys.readouterr().out


def test_true_and_false_are_constants(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "const YES = TRUE;\nunion u switch (bool b) { case TRUE: int a; case FALSE: void; };\n",
    )
    assert protocol.constants["YES"] == 1
    definition = protocol.types["u"]
    assert isinstance(definition, ir.UnionDef)
    assert [arm.labels[0].number for arm in definition.body.arms] == [1, 0]
    # a file's own TRUE wins
    assert resolve(tmp_path, "const TRUE = 7;\nconst T = TRUE;\n").constants["T"] == 7


def test_onc_rpc_header_constants_and_types(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "union cred switch (int flavor) { case AUTH_SYS: authsys_parms sys; "
        "case RPCSEC_GSS: des_block key; default: void; };\n",
    )
    assert protocol.constants["AUTH_SYS"] == 1 and protocol.constants["RPCSEC_GSS"] == 6
    assert {"authsys_parms", "des_block"} <= set(protocol.types)


def test_string_constants(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, 'const HEXMODULUS = "d4a0ba\\x41";\nconst N = 3;\n')
    assert protocol.strings == {"HEXMODULUS": "d4a0baA"}
    assert protocol.constants["N"] == 3 and "HEXMODULUS" not in protocol.constants


def test_duplicate_enum_values_are_aliases(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, "enum obj { NIS_BOGUS_OBJ = 0, BOGUS_OBJ = 0, DIR = 1 };\n")
    assert protocol.constants["NIS_BOGUS_OBJ"] == protocol.constants["BOGUS_OBJ"] == 0


def test_string_as_a_procedure_argument(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "program P { version V { void A(string<>) = 1; int B(string<64>, string) = 2; } = 1; } = 9;\n",
    )
    procedures = protocol.programs[0].versions[0].procedures
    assert [[a.builtin for a in p.arguments] for p in procedures] == [
        [ir.Builtin.STRING], [ir.Builtin.STRING, ir.Builtin.STRING],
    ]  # fmt: skip


def test_percent_lines_inside_bodies(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "enum e {\n  A = 1,\n%/* C only */\n  B = 2\n};\nstruct s {\n  int a;\n%#define X 1\n  int b;\n};\n",
    )
    assert [p.text for p in protocol.spec.passthrough] == ["/* C only */", "#define X 1"]
    assert protocol.constants["B"] == 2


def test_zero_length_arrays(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, "struct s { opaque none[0]; int empty<0>; };\n")
    definition = protocol.types["s"]
    assert isinstance(definition, ir.StructDef)
    assert [f.bound and f.bound.number for f in definition.body.fields] == [0, 0]


def test_a_repeated_identical_typedef_is_dropped(tmp_path: Path) -> None:
    protocol = resolve(tmp_path, "typedef opaque fh<128>;\n/* again */\ntypedef opaque  fh<128>;\n")
    assert sum(1 for d in protocol.spec.definitions if getattr(d, "name", "") == "fh") == 1
    with pytest.raises(XdrgenError, match="duplicate definition of 'fh'"):
        resolve(tmp_path, "typedef opaque fh<128>;\ntypedef opaque fh<64>;\n")


def test_a_union_with_a_void_arm_may_contain_itself(tmp_path: Path) -> None:
    protocol = resolve(
        tmp_path,
        "enum k { LEAF = 0, NODE = 1 };\nstruct option { def value; };\n"
        "union def switch (k kind) { case LEAF: void; case NODE: option inner; };\n",
    )
    assert {"option", "def"} <= set(protocol.types)
    with pytest.raises(XdrgenError, match=r"'option' contains itself \(option -> def -> option\)"):
        resolve(
            tmp_path,
            "struct option { def value; };\nunion def switch (int kind) { case 1: option inner; };\n",
        )


# ---- names from other files and from C headers ------------------------------------


def test_header_include_with_a_directory_finds_the_x_file(tmp_path: Path) -> None:
    (tmp_path / "Stellar-types.x").write_text("typedef unsigned int uint32;\n")
    (tmp_path / "extra.x").write_text("typedef int int2;\n")
    source = tmp_path / "Stellar-SCP.x"
    source.write_text(
        '%#include "xdr/Stellar-types.h"\n#ifdef RPC_HDR\n%#include <rpcsvc/extra.h>\n#endif\n'
        "struct s { uint32 a; int2 b; };\n"
    )
    protocol = load(source)
    assert [Path(p.path).name for p in protocol.imports] == ["Stellar-types.x", "extra.x"]


def test_import_option_gives_another_files_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nfs3.x").write_text(
        "const NFS3_FHSIZE = 64;\nstruct fattr3 { unsigned int mode; };\n"
    )
    source = tmp_path / "acl.x"
    source.write_text("struct acl { fattr3 attr; opaque fh<NFS3_FHSIZE>; };\n")
    assert main(["parse", str(source)]) == 1
    capsys.readouterr()
    assert main(["parse", str(source), "--import", str(tmp_path / "nfs3.x")]) == 0


def test_every_undefined_name_in_one_error(tmp_path: Path) -> None:
    text = "struct s {\n  u_foo a;\n  opaque b<MAXB>;\n  u_foo c;\n  struct bar *d;\n};\nconst X = MAXB;\n"
    with pytest.raises(UndefinedNames) as caught:
        resolve(tmp_path, text)
    error = caught.value
    assert [(u.kind, u.what, u.location.line, u.location.column) for u in error.names] == [
        ("type", "u_foo", 2, 3), ("constant", "MAXB", 3, 12), ("type", "struct bar", 5, 3),
    ]  # fmt: skip
    lines = error.format().splitlines()
    assert lines[0] == f"{tmp_path / 't.x'}:2:3: error: undefined type 'u_foo'"
    assert lines[-1].startswith("note: 3 names are defined by no file: give constants with -D")
    # each way named in the advice works
    resolve(tmp_path, text, defines={"MAXB": "8"}, type_map={"u_foo": "int", "bar": "int"})


# ---- module names and the package -------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "module"),
    [
        ("Stellar-types.x", "stellar_types"),
        ("cli1-xdr.x", "cli1_xdr"),
        ("remote_protocol.x", "remote_protocol"),
        ("2fa.x", "_2fa"),
        ("class.x", "class_"),
        ("a.b.x", "a_b"),
    ],
)
def test_module_names_are_python_names(file_name: str, module: str) -> None:
    assert module_name(f"some/dir/{file_name}") == module
    assert module.isidentifier()


def test_files_with_dashes_generate_importable_modules(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "Stellar-types.x").write_text(
        "typedef unsigned int uint32;\nstruct Hash { opaque h[32]; };\n"
    )
    (src / "Stellar-SCP.x").write_text(
        '%#include "xdr/Stellar-types.h"\nnamespace stellar {\nstruct SCPBallot { uint32 counter; Hash value; };\n}\n'
    )
    out = tmp_path / "out"
    assert main(["generate", str(src / "Stellar-types.x"), str(src / "Stellar-SCP.x"),
                 "-o", str(out), "--package", "stellar_xdr"]) == 0  # fmt: skip
    package = out / "stellar_xdr"
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py", "py.typed", "stellar_scp.py", "stellar_types.py",
    ]  # fmt: skip
    code = (
        "from stellar_xdr.stellar_scp import SCPBallot\n"
        "from stellar_xdr.stellar_types import Hash\n"
        "b = SCPBallot(counter=3, value=Hash(h=bytes(32)))\n"
        "assert SCPBallot.decode(b.encode()) == b\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def test_two_files_that_make_one_module_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-b.x").write_text("const A = 1;\n")
    (tmp_path / "a_b.x").write_text("const B = 1;\n")
    assert (
        main(
            [
                "generate",
                str(tmp_path / "a-b.x"),
                str(tmp_path / "a_b.x"),
                "-o",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )
    assert "would both be the module 'a_b'" in capsys.readouterr().err


def test_a_bad_package_name_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "t.x"
    source.write_text("const A = 1;\n")
    run = subprocess.run(
        [sys.executable, "-m", "xdrgen", "generate", str(source), "-o", str(tmp_path / "o"),
         "--package", "bad-name"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "package 'bad-name' is not a Python package name" in run.stderr
    assert not (tmp_path / "o").exists()


def test_package_goes_into_its_own_directory(tmp_path: Path) -> None:
    source = tmp_path / "t.x"
    source.write_text("const A = 1;\n")
    out = tmp_path / "o"
    assert main(["generate", str(source), "-o", str(out), "--package", "pkg.sub"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["pkg"]
    assert sorted(p.name for p in (out / "pkg" / "sub").iterdir()) == [
        "__init__.py",
        "py.typed",
        "t.py",
    ]
    # without --package the modules go into DIR itself
    assert main(["generate", str(source), "-o", str(tmp_path / "flat")]) == 0
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["t.py"]


def test_pyproject_gives_type_map_and_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "proto").mkdir()
    (tmp_path / "proto" / "nfs3.x").write_text("struct fattr3 { unsigned int mode; };\n")
    (tmp_path / "proto" / "acl.x").write_text("struct acl { fattr3 attr; uid_t owner; };\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.xdrgen]\ninputs = ["proto/acl.x"]\noutput = "gen"\npackage = "acl_pkg"\n'
        'imports = ["proto/nfs3.x"]\n\n[tool.xdrgen.type-map]\nuid_t = "unsigned int"\n'
    )
    assert main(["generate", "--config", str(pyproject)]) == 0
    assert (tmp_path / "gen" / "acl_pkg" / "acl.py").is_file()
    capsys.readouterr()
    pyproject.write_text(pyproject.read_text().replace('"unsigned int"', "4"))
    assert main(["generate", "--config", str(pyproject)]) == 1
    assert (
        "[tool.xdrgen.type-map]: uid_t must be an XDR type in a string" in capsys.readouterr().err
    )
    pyproject.write_text('[tool.xdrgen]\ninputs = ["proto/acl.x"]\npackage = "acl-pkg"\n')
    assert main(["generate", "--config", str(pyproject)]) == 1
    assert "package 'acl-pkg' is not a Python package name" in capsys.readouterr().err
