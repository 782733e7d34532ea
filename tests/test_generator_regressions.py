"""Generator bugs that real-world .x files (tests/corpus/) exposed, each
with the smallest file that showed it: the names the module binds (one
naming pass, xdrgen.compiler.naming.ModuleNames), what it must define
before it uses it, and what it must import."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import ModuleType

import pytest

from xdrgen.compiler.naming import FRAME_NAMES

from support import generate_package, write_package

_packages = itertools.count()


def build(tmp_path: Path, **sources: str) -> dict[str, ModuleType]:
    """Generate the .x texts ``sources`` (file stem -> text; the first is
    the input, the others files it includes) as one package; its modules."""
    paths = []
    for stem, text in sources.items():
        path = tmp_path / f"{stem}.x"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return generate_package(tmp_path / "out", paths, f"regression{next(_packages)}")


def test_string_constants_are_str_constants(tmp_path: Path) -> None:
    """rpcgen's ``const K = "...";`` (key_prot.x's HEXMODULUS) used to stop
    the generator: 'value ... is not resolved'."""
    module = build(tmp_path, key=r'const HEXMODULUS = "d4a0";' + '\nconst QUOTED = "a\\"b\\n";\nconst N = 2;\n')["key"]
    assert module.HEXMODULUS == "d4a0"
    assert module.QUOTED == 'a"b\n'
    assert module.N == 2


UNION_ARMS_NAMED_LIKE_TYPES = """
enum error_type { ERR_CONTRACT = 0, ERR_WASM = 1 };
enum error_code { CODE_A = 0, CODE_B = 1 };
/* Stellar's SCError: the arm `code` would be the class of error_code */
union error switch (error_type type) {
case ERR_CONTRACT:
    unsigned int contractCode;
case ERR_WASM:
    error_code code;
};
/* Stellar's Preconditions: the arm `v2` would be the struct defined later */
union state switch (int v) {
case 0:
    state_v0 v0;
};
struct state_v0 { int counter; };
"""


def test_union_arm_classes_do_not_take_the_names_of_types(tmp_path: Path) -> None:
    """'SCErrorCode', 'PersistedSCPStateV0', 'SCPHistoryEntryV0',
    'PreconditionsV2' used to be 'generated twice in one module'."""
    module = build(tmp_path, arms=UNION_ARMS_NAMED_LIKE_TYPES)["arms"]
    assert issubclass(module.ErrorCode, module.xdr.XdrEnum)  # the type keeps its name
    assert issubclass(module.ErrorCodeArm, module.Error)  # the arm takes another
    assert issubclass(module.StateV0, module.xdr.XdrStruct)
    assert issubclass(module.StateV0Arm, module.State)
    value = module.ErrorCodeArm(module.ErrorCode.CODE_B)
    assert module.Error.decode(value.encode()) == value
    state = module.StateV0Arm(module.StateV0(7))
    assert module.State.decode(state.encode()) == state


PEER_ADDRESS = """
enum addr_type { IPv4 = 0, IPv6 = 1 };
struct peer_address {
    union switch (addr_type type) {
    case IPv4:
        opaque ipv4[4];
    case IPv6:
        opaque ipv6[16];
    } ip;
    unsigned int port;
};
struct peers { peer_address list<100>; };
"""


INLINE_TYPEDEFS = """
typedef struct { int a; } *maybe_pair;
typedef union switch (int k) { case 1: int one; default: void; } choice;
"""


def test_inline_types_are_emitted_once_in_their_own_module(tmp_path: Path) -> None:
    """An inline type is a class of the module that defines it, once: a
    typedef's inline struct used by two fields was 'generated twice' (and
    emitted again by every module that used the typedef); so was Stellar's
    PeerAddress's inline union (an element of ``peers<100>``) once."""
    modules = build(
        tmp_path,
        users='%#include "shapes.h"\nstruct s { maybe_pair x; maybe_pair y; choice c<>; choice d; };\n',
        shapes=INLINE_TYPEDEFS,
        peer=PEER_ADDRESS,
    )
    users, shapes, peer = modules["users"], modules["shapes"], modules["peer"]
    assert users.MaybePairType is shapes.MaybePairType  # imported, not emitted again
    text = Path(shapes.__file__).read_text()
    assert text.count("class MaybePairType(") == text.count("class ChoiceType(") == 1
    value = users.S(shapes.MaybePairType(1), None, [shapes.ChoiceTypeOne(2)], shapes.ChoiceTypeDefault(5))
    assert users.S.decode(value.encode()) == value
    assert Path(peer.__file__).read_text().count("class PeerAddressIp(") == 1
    peers = peer.Peers([peer.PeerAddress(peer.PeerAddressIpIpv4(b"\x7f\0\0\1"), 80)])
    assert peer.Peers.decode(peers.encode()) == peers


def test_decoder_locals_do_not_hide_module_names_or_builtins(tmp_path: Path) -> None:
    """A union arm's field decodes into a local of its name: a field named
    like its own type's class (``Thing Thing``) or like a builtin the code
    uses raised UnboundLocalError."""
    module = build(
        tmp_path,
        locals="struct Thing { int n; };\n"
        "union u switch (int d) {\ncase 1: Thing Thing;\ncase 2: opaque bytes<>;\n"
        "case 3: int len;\ncase 4: string xdr<>;\n};\n",
    )["locals"]
    for value in (
        module.UThing(module.Thing(5)),
        module.UBytes(b"ab"),
        module.ULen(3),
        module.UXdr("x"),
    ):
        assert module.U.decode(value.encode()) == value


def test_enum_tables_are_imported_with_their_enums(tmp_path: Path) -> None:
    """A union of another module's enum checks its values with that
    module's member table: '_ConfigSettingID_MEMBERS' is not defined."""
    modules = build(
        tmp_path,
        settings='%#include "ids.h"\n'
        "union setting switch (setting_id id) {\ncase SET_A: int a;\ndefault: void;\n};\n"
        "struct pick { setting_id ids<>; setting_id one; };\n",
        ids="enum setting_id { SET_A = 0, SET_B = 1, SET_C = 2 };\n",
    )
    settings = modules["settings"]
    default = settings.SettingDefault(modules["ids"].SettingId.SET_C)
    assert settings.Setting.decode(default.encode()) == default
    with pytest.raises(settings.xdr.XdrError):
        settings.Setting.decode(b"\0\0\0\7")
    pick = settings.Pick([modules["ids"].SET_B], modules["ids"].SET_C)
    assert settings.Pick.decode(pick.encode()) == pick


def test_a_discriminant_enum_defined_after_its_union(tmp_path: Path) -> None:
    """mount.x's union mountres3 before enum mountstat3: the arm's class
    attribute ``fhs_status = Mountstat3.MNT3_OK`` raised NameError on import."""
    module = build(
        tmp_path,
        later="union res switch (stat s) {\ncase OK: int v;\ndefault: void;\n};\n"
        "enum stat { OK = 0, BAD = 1 };\n",
    )["later"]
    assert module.ResV.s is module.Stat.OK
    bad = module.ResDefault(module.Stat.BAD)
    assert module.Res.decode(bad.encode()) == bad


def test_the_module_docstring_names_the_source_file(tmp_path: Path) -> None:
    """Not the module name: ``Stellar-types.x``, not ``stellar_types.x``."""
    module = build(tmp_path, **{"Stellar-types": "typedef unsigned int uint32;\n"})["stellar_types"]
    assert module.__doc__.startswith("XDR types of ``Stellar-types.x``.")
    assert "from Stellar-types.x" in Path(module.__file__).read_text().splitlines()[0]


def test_header_defines_and_onc_rpc_constants_are_module_constants(tmp_path: Path) -> None:
    """Names the .x uses but C takes from a header (``%#define``, TRUE,
    the prelude's MAXNETNAMELEN) are constants of the module that uses them:
    a bound named MAXNETNAMELEN raised NameError when packing."""
    module = build(
        tmp_path,
        consts="%#define MAXUSERS 3\n"
        "struct names { string netname<MAXNETNAMELEN>; int users<MAXUSERS>; };\n"
        "const YES = TRUE;\n"
        "union flag switch (int f) {\ncase TRUE: int on;\ncase FALSE: void;\n};\n",
    )["consts"]
    assert (module.MAXUSERS, module.MAXNETNAMELEN, module.TRUE, module.FALSE, module.YES) == (3, 255, 1, 0, 1)
    value = module.Names("n" * 255, [1, 2, 3])
    assert module.Names.decode(value.encode()) == value
    with pytest.raises(module.xdr.XdrError):
        module.Names("n" * 256, []).encode()
    assert module.FlagOn.f == 1


def test_enum_aliases_are_module_constants_too(tmp_path: Path) -> None:
    """nis.x's enum has two names for one value: unpacking the enum class
    into its member names failed ('not enough values to unpack')."""
    module = build(tmp_path, alias="enum e { A = 1, B = 1, C = 2 };\n")["alias"]
    assert module.B is module.A is module.E.A and module.C is module.E.C


def test_every_module_name_is_unique_and_free(tmp_path: Path) -> None:
    """Names that only differ in spelling, Python keywords, the module's own
    imports and builtins: each gets a name of its own."""
    module = build(
        tmp_path,
        clash="struct foo_bar { int a; };\nstruct fooBar { int b; };\n"
        "struct final { int c; };\nstruct none { int d; };\n"
        "const len = 3;\nconst xdr = 4;\nconst class = 5;\n"
        "struct uses { foo_bar x; fooBar y; final z; none w; int v<len>; };\n",
    )["clash"]
    assert module.FooBar(1).a == 1 and module.FooBar2(2).b == 2
    assert module.Final2(3).c == 3 and module.None_(4).d == 4
    assert (module.len_, module.xdr_, module.class_) == (3, 4, 5)
    assert {"Final", "len", "xdr", "None"} & set(FRAME_NAMES) == {"Final", "len", "xdr"}
    value = module.Uses(module.FooBar(1), module.FooBar2(2), module.Final2(3), module.None_(4), [1, 2, 3])
    assert module.Uses.decode(value.encode()) == value
    with pytest.raises(module.xdr.XdrError):
        module.Uses(module.FooBar(1), module.FooBar2(2), module.Final2(3), module.None_(4), [1] * 4).encode()


def test_names_from_namespaces(tmp_path: Path) -> None:
    """xdrpp names defined in two namespaces get them as a prefix."""
    module = build(
        tmp_path,
        spaces="namespace a { enum color { RED = 0 }; struct s { color c; }; }\n"
        "namespace b { enum shade { RED = 1 }; struct s { shade c; }; }\n",
    )["spaces"]
    assert (module.a_RED, module.b_RED) == (0, 1)
    assert module.AS(module.Color.a_RED).encode() == b"\0\0\0\0"
    assert module.BS(module.Shade.b_RED).encode() == b"\0\0\0\1"


TYPED = """
enum kind { K_INT = 0, K_STR = 1, K_BYTES = 2, K_NONE = 3 };
const TWO = 2;
struct Thing { int n; };
/* Stellar's SCVal: fields named like the builtins their hints use */
union value switch (kind type) {
case K_INT:
    int int;
case K_STR:
    string str<>;
case K_BYTES:
case K_NONE:          /* several labels: a Literal hint */
    opaque bytes<>;
};
union number switch (int n) {
case 1:
case TWO:             /* a constant's value in a Literal hint */
    int small;
case 3:
    Thing Thing;      /* a field named like its class */
};
/* an array's element: its unions are decoded in the list decoder */
struct entry { value v; number num; string tuple<>; };
struct table { entry entries<>; };
"""


def test_generated_code_type_checks_where_names_and_hints_meet(tmp_path: Path) -> None:
    """mypy --strict on shapes the corpus has: fields named like builtins or
    classes their class's hints use (``bytes: bytes``: 'not valid as a
    type'), arms of several labels (a Literal of them, which the decoder
    cannot prove), ``Literal[TWO]`` ('invalid'), a list decoder's local
    that takes each arm of an inline-decoded union."""
    import subprocess
    import sys

    (tmp_path / "typed.x").write_text(TYPED, encoding="utf-8")
    write_package(tmp_path / "out", [tmp_path / "typed.x"], "typedpkg")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
         str(tmp_path / "cache"), "-p", "typedpkg"],
        cwd=tmp_path / "out", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    module = build(tmp_path, typed=TYPED)["typed"]
    assert module.ValueBytes.__slots__ == ("type", "bytes_")
    assert module.NumberThing.__slots__ == ("Thing_",)
    value = module.Table(
        [
            module.Entry(module.ValueInt(-1), module.NumberSmall(2, 5), "t"),
            module.Entry(module.ValueBytes(module.Kind.K_NONE, b"x"), module.NumberThing(module.Thing(3)), ""),
        ]
    )
    assert module.Table.decode(value.encode()) == value


def test_fixed_size_values_inside_optionals_and_loops_move_the_offset_there(tmp_path: Path) -> None:
    """Stellar's PreconditionsV2 (``SequenceNumber* minSeqNum;`` then more
    fields) decoded the fields after an absent minSeqNum 8 bytes too far,
    and an array of ``opaque[32]`` hashes read every element at one offset:
    a fixed read's advance was counted outside its ``if`` or loop."""
    module = build(
        tmp_path,
        fixed="typedef opaque hash[32];\n"
        "struct pre { hyper *min_seq; unsigned hyper age; unsigned int gap; hash *h; int after; };\n"
        "struct hashes { hash all<>; hash two[2]; int tail; };\n",
    )["fixed"]
    for value in (
        module.Pre(None, 7, 8, None, 9),
        module.Pre(-5, 7, 8, b"h" * 32, 9),
        module.Hashes([b"a" * 32, b"b" * 32], [b"c" * 32, b"d" * 32], 5),
    ):
        assert type(value).decode(value.encode()) == value


def test_names_with_two_leading_underscores(tmp_path: Path) -> None:
    """nispasswd.x bounds a string by ``__NPD_MAXPASSBYTES``: inside a class
    Python reads that as ``_NpdNewpass__NPD_MAXPASSBYTES`` (NameError)."""
    module = build(
        tmp_path,
        mangled="const __MAXBYTES = 4;\nenum e { __A = 1 };\n"
        "struct s { string pass<__MAXBYTES>; int __count; e kind; };\n",
    )["mangled"]
    assert (module._MAXBYTES, module._A) == (4, module.E._A)
    value = module.S("abcd", 1, module.E._A)
    assert value._count == 1 and module.S.decode(value.encode()) == value
    with pytest.raises(module.xdr.XdrError):
        module.S("abcde", 1, module.E._A).encode()


def test_consecutive_line_comments_are_one_doc_comment(tmp_path: Path) -> None:
    """xdrpp files (Stellar's) write doc comments as ``//`` lines: the
    module docstring and a field's comment keep all of them, not the first
    or last line."""
    module = build(
        tmp_path,
        lines="// Copyright line one\n// line two\n\n"
        "struct s {\n    // one\n    // two\n    int x; // trailing\n    int y;\n};\n",
    )["lines"]
    assert module.__doc__.endswith("Copyright line one\nline two")
    text = Path(module.__file__).read_text()
    assert "    #: one\n    #: two\n    x: int\n" in text


def test_zero_length_arrays_encode_nothing_and_refuse_elements(tmp_path: Path) -> None:
    """``T x<0>`` and ``opaque x[0]`` (rpcgen accepts both): no bytes but
    the count, and a decoder that refuses a count above 0."""
    module = build(tmp_path, zero="struct z { int e<0>; opaque n[0]; int after; };\n")["zero"]
    value = module.Z(e=[], n=b"", after=7)
    assert value.encode() == b"\0\0\0\0" + b"\0\0\0\7"
    assert module.Z.decode(value.encode()) == value
    with pytest.raises(module.xdr.XdrError):
        module.Z(e=[1], n=b"", after=7).encode()
    with pytest.raises(module.xdr.XdrError):
        module.Z.decode(b"\0\0\0\1" + b"\0\0\0\1" + b"\0\0\0\7")


def test_c_types_encode_as_the_c_library_does(tmp_path: Path) -> None:
    """A few of the default type map's C types, byte for byte as glibc's
    xdr_u_short, xdr_quad_t, xdr_int8_t ... write them."""
    module = build(tmp_path, c="struct c { u_short a; quad_t b; int8_t c; u_int64_t d; bool_t e; };\n")["c"]
    value = module.C(a=65535, b=-2, c=-1, d=2**64 - 1, e=True)
    assert value.encode() == bytes.fromhex(
        "0000ffff" "fffffffffffffffe" "ffffffff" "ffffffffffffffff" "00000001"
    )
    assert module.C.decode(value.encode()) == value
