"""Generated code for shapes the shipped protocols do not use: arrays of
arrays, Python keywords and method names as field names, optional arrays,
decoding at unaligned offsets."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from xdrgen import __version__ as xdrgen_version
from xdrgen.compiler.generators.python_module import generate_python
from xdrgen.compiler.resolve import load
from xdrgen.runtime.xdr import XdrError

EDGE_X = """
typedef int row<>;
typedef string word<8>;

struct grid {
    row rows<>;
    word words<3>;
    row *maybe_row;
};

struct keywords {
    int class;
    int from;
    int encode;
    hyper decode;
    bool pass;
};

enum shade { LIGHT = 1, DARK = 2 };

struct shaded_list {
    shade shades<>;
    bool flags[3];
};

struct chain {
    int node;
    int more;
    string heads<>;
    chain *next;
};

union picked switch (int which) {
case 1:
    int _disc;
default:
    void;
};
"""


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    directory = tmp_path_factory.mktemp("edge")
    source = directory / "edge.x"
    source.write_text(EDGE_X)
    (directory / "edge_types.py").write_text(generate_python(load(source)))
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module("edge_types")
    finally:
        sys.path.remove(str(directory))


def test_fields_named_like_the_decoders_own_locals(edge: ModuleType) -> None:
    # a linked list decodes with locals `node`, `heads`, `more`; a union's
    # discriminant is the local `_disc`: fields of those names must not clash
    chain = edge.Chain(node=1, more=2, heads="three", next=edge.Chain(node=4, more=5, heads="six", next=None))
    assert edge.Chain.decode(chain.encode()) == chain
    picked = edge.PickedDisc(_disc=9)
    assert edge.Picked.decode(picked.encode()) == picked


def test_arrays_of_arrays_round_trip(edge: ModuleType) -> None:
    grid = edge.Grid(rows=[[1, 2], [3], []], words=["a", "bc"], maybe_row=[7, 8])
    assert edge.Grid.decode(grid.encode()) == grid
    empty = edge.Grid(rows=[], words=[], maybe_row=None)
    assert edge.Grid.decode(empty.encode()) == empty


def test_element_bounds_inside_arrays(edge: ModuleType) -> None:
    with pytest.raises(XdrError, match="exceeds the maximum 8"):
        edge.Grid(rows=[], words=["far too long"], maybe_row=None).encode()
    with pytest.raises(XdrError, match="exceeds the maximum 3"):
        edge.Grid(rows=[], words=["a"] * 4, maybe_row=None).encode()


def test_keyword_and_method_field_names(edge: ModuleType) -> None:
    value = edge.Keywords(class_=1, from_=2, encode_=3, decode_=4, pass_=True)
    data = value.encode()
    assert data == bytes.fromhex("00000001 00000002 00000003 0000000000000004 00000001")
    assert edge.Keywords.decode(data) == value


def test_enum_and_bool_arrays(edge: ModuleType) -> None:
    value = edge.ShadedList(shades=[edge.Shade.DARK, edge.Shade.LIGHT], flags=[True, False, True])
    decoded = edge.ShadedList.decode(value.encode())
    assert decoded == value and decoded.shades[0] is edge.Shade.DARK
    bad = bytearray(value.encode())
    bad[7] = 9  # first shade: 9 is not a member
    with pytest.raises(XdrError, match="not a valid enum value") as caught:
        edge.ShadedList.decode(bytes(bad))
    assert caught.value.offset == 4


@pytest.mark.parametrize("shift", [1, 2, 3, 5])
def test_decoding_at_unaligned_offsets(edge: ModuleType, shift: int) -> None:
    grid = edge.Grid(rows=[[1]], words=["abc", "de"], maybe_row=None)
    data = grid.encode()
    value, end = edge.Grid.unpack_from(memoryview(b"\xff" * shift + data + b"\xee"), shift)
    assert value == grid and end == shift + len(data)


def test_enum_field_refuses_another_enums_member() -> None:
    from libvirt_rpc import virnetprotocol as vn

    status = vn.VirNetMessageStatus.VIR_NET_OK  # same number as VIR_NET_CALL
    header = vn.VirNetMessageHeader(1, 1, 1, status, 1, status)
    with pytest.raises(XdrError, match="expected enum member, got VirNetMessageStatus") as caught:
        header.encode()
    assert caught.value.path == "VirNetMessageHeader.type"
    # a plain int that is a member's value is fine
    assert vn.VirNetMessageHeader(1, 1, 1, 0, 1, 0).encode()[12:16] == b"\0\0\0\0"


RPCSVC = sorted((Path(__file__).resolve().parent.parent / "protocols" / "rpcsvc").glob("*.x"))
assert RPCSVC, "protocols/rpcsvc/*.x is missing"


@pytest.mark.parametrize("source", RPCSVC, ids=lambda p: p.name)
def test_classic_rpcsvc_files_generate_importable_modules(source: Path, tmp_path: Path) -> None:
    module_name = f"rpcsvc_{source.stem}"
    (tmp_path / f"{module_name}.py").write_text(generate_python(load(source)))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(module_name)
    finally:
        sys.path.remove(str(tmp_path))
    header = (tmp_path / f"{module_name}.py").read_text().splitlines()[0]
    assert header == f"# Generated by xdrgen {xdrgen_version} from {source.name} — do not edit."
    assert module.__doc__ and source.name in module.__doc__


def test_mount_list_round_trips(tmp_path: Path) -> None:
    source = RPCSVC[[p.name for p in RPCSVC].index("mount.x")]
    (tmp_path / "rpcsvc_mount_list.py").write_text(generate_python(load(source)))
    sys.path.insert(0, str(tmp_path))
    try:
        mount = importlib.import_module("rpcsvc_mount_list")
    finally:
        sys.path.remove(str(tmp_path))
    entries = mount.Mountbody("a", "/x", mount.Mountbody("b", "/y", None))
    assert mount.Mountbody.decode(entries.encode()) == entries
    # the typedef mountlist (mountbody *) has pack_/unpack_ functions
    out = bytearray()
    mount.pack_mountlist(out, entries)
    assert out[:4] == b"\0\0\0\1" and mount.unpack_mountlist(bytes(out)) == (entries, len(out))
