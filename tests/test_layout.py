"""Generated code is laid out as black lays it out, without black.

``xdrgen generate`` does not run black: :mod:`xdrgen.compiler.generators.layout`
wraps long lines itself.  These tests hold that to black's own output: every
module of the shipped protocols, the demo and the classic rpcsvc files must
come out of black unchanged (``black --check`` on ``generated/`` would say the
same), the libvirt protocols must not need the fallback to black at all, and
single lines of each form the layout code handles are compared with black.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import black
import pytest

from xdrgen.compiler.generators import layout
from xdrgen.compiler.generators.oncrpc_client import generate_oncrpc_client
from xdrgen.compiler.generators.oncrpc_server import generate_oncrpc_server
from xdrgen.compiler.generators.python_client import generate_client
from xdrgen.compiler.generators.python_module import generate_python
from xdrgen.compiler.generators.python_server import generate_server
from xdrgen.compiler.project import Target, generate_files, load_config
from xdrgen.compiler.resolve import load

from support import GOLDEN, ROOT, RPCSVC_X, corpus_files, corpus_needs

MODE = black.Mode(target_versions={black.TargetVersion.PY311})


def black_changes(text: str) -> str | None:
    """black's version of ``text`` when it differs, else None."""
    formatted = black.format_str(text, mode=MODE)
    return None if formatted == text else formatted


def fallback_forbidden(block: str) -> str:
    raise AssertionError(f"block handed to black:\n{block[:300]}")


@pytest.fixture(scope="module")
def libvirt_files() -> dict[str, str]:
    """The libvirt package, generated with the fallback to black forbidden."""
    original = layout.black_format
    layout.black_format = fallback_forbidden
    try:
        return generate_files(load_config(ROOT / "pyproject.toml"))
    finally:
        layout.black_format = original


def test_libvirt_modules_are_what_black_prints(libvirt_files: dict[str, str]) -> None:
    modules = {name: text for name, text in libvirt_files.items() if name.endswith(".py")}
    assert len(modules) > 20
    with ProcessPoolExecutor(max_workers=2) as pool:
        changed = dict(zip(modules, pool.map(black_changes, modules.values())))
    assert [name for name, text in changed.items() if text is not None] == []


def test_libvirt_package_is_the_committed_one(libvirt_files: dict[str, str]) -> None:
    package = ROOT / "generated" / "libvirt_rpc"
    for name, text in libvirt_files.items():
        assert (package / name).read_text(encoding="utf-8") == text, name


@pytest.mark.parametrize(
    "source", [GOLDEN / "demo.x", *sorted(RPCSVC_X.glob("*.x"))], ids=lambda p: p.name
)
def test_other_protocols_are_what_black_prints(source: Path) -> None:
    protocol = load(source, include_dirs=(str(source.parent),))
    for generator in (generate_python, generate_client, generate_server, generate_oncrpc_client, generate_oncrpc_server):
        text = generator(protocol, "pkg")
        if text is not None:
            assert black_changes(text) is None, generator.__name__


def test_oncrpc_stubs_of_the_corpus_are_what_black_prints_without_black() -> None:
    """Every corpus file with ``program`` blocks (NFS, NIS, rpcbind, ...):
    its client and server stubs need no fallback to black."""
    original = layout.black_format
    layout.black_format = fallback_forbidden
    stubs = {}
    try:
        for source in corpus_files():
            protocol = load(source, include_dirs=(str(source.parent),), **corpus_needs(source))  # type: ignore[arg-type]
            for generator in (generate_oncrpc_client, generate_oncrpc_server):
                text = generator(protocol, "pkg")
                if text is not None:
                    stubs[f"{source.parent.name}/{source.stem} {generator.__name__}"] = text
    finally:
        layout.black_format = original
    assert len(stubs) > 60
    with ProcessPoolExecutor(max_workers=2) as pool:
        changed = dict(zip(stubs, pool.map(black_changes, stubs.values())))
    assert [name for name, text in changed.items() if text is not None] == []


def test_a_package_with_its_init_is_what_black_prints() -> None:
    files = generate_files(Target(inputs=(GOLDEN / "demo.x",), package="demo_pkg"))
    assert "__init__.py" in files
    for name, text in files.items():
        if name.endswith(".py"):
            assert black_changes(text) is None, name


LONG_LINES = [
    # a call: arguments on one line, then one per line with a trailing comma
    '        xdr.pack_string(out, self.name, REMOTE_STRING_MAX, "RemoteNonnullDomain.name")',
    '            xdr.pack_failed_fields("RemoteDomainInterfaceStatsRet", len(out), self, '
    '"rx_bytes rx_packets rx_errs rx_drop tx_bytes tx_packets tx_errs tx_drop", ">qqqqqqqq")',
    # an assignment of a call, and the targets alone too long
    "            obj.state, obj.maxMem, obj.memory, obj.nrVirtCpu, obj.cpuTime = "
    "_S_IQQIQ.unpack_from(data, offset)",
    "            obj.memory, obj.cpus, obj.mhz, obj.nodes, obj.sockets, obj.cores, obj.threads = "
    "_S_Qiiiiii.unpack_from(data, offset)",
    # a value without brackets: black's parentheses, even when it stays long
    "ADMIN_PROC_CONNECT_GET_LIB_VERSION: Final = AdminProcedure.ADMIN_PROC_CONNECT_GET_LIB_VERSION",
    "VIR_LOG_MANAGER_PROTOCOL_DOMAIN_OPEN_LOG_FILE_TRUNCATE: Final = "
    "VirLogManagerProtocolDomainOpenLogFileFlags.VIR_LOG_MANAGER_PROTOCOL_DOMAIN_OPEN_LOG_FILE_TRUNCATE",
    # returns and ifs of a call
    "        return await self._channel.call(self.PROGRAM, self.VERSION, "
    "REMOTE_PROC_DOMAIN_GET_INFO, RemoteDomainGetInfoArgs(dom), RemoteDomainGetInfoRet)",
    "            if not isinstance(self.domain_checkpoint, RemoteNonnullDomainCheckpointWithLongName):",
    # nested calls
    "        out += xdr.U32.pack(xdr.check_array(out, _v1, 32, "
    '"AdminServerSetThreadpoolParametersArgs.params.and.more"))',
    # displays: always one item per line once split
    "    __slots__ = __match_args__ = (\"dom\", \"oldSrcPath\", \"newSrcPath\", \"devAlias\", "
    '"reason", "another")',
    "_VirLogManagerProtocolDomainOpenLogFileFlags_MEMBERS = {member.value: member for member "
    "in VirLogManagerProtocolDomainOpenLogFileFlags}",
    # signatures: parameters on one line, one per line, or a lone one
    "    def unpack_from(cls, data: xdr.Buffer, offset: int = 0) -> tuple[RemoteTypedParamValue, int]:",
    "    def __init__(self, dom: RemoteNonnullDomain, oldSrcPath: str | None, newSrcPath: str | None, "
    "devAlias: str, reason: int) -> None:",
    "    def domain_get_info_with_a_very_long_name_indeed(self) -> RemoteDomainGetInfoRetWithLongName:",
    # imports
    "from libvirt_rpc.remote_protocol import REMOTE_STRING_MAX, RemoteNonnullDomain, "
    "RemoteNonnullNetwork, RemoteNonnullStoragePool",
]


@pytest.mark.parametrize("line", LONG_LINES)
def test_long_lines_are_wrapped_as_black_wraps_them(line: str) -> None:
    # wrapped in the blocks black needs to parse an indented line
    depth = (len(line) - len(line.lstrip(" "))) // 4
    prefix = ["class C:", "    def f(self):", "        try:", "            pass"][:depth]
    if depth >= 3:
        prefix = ["class C:", "    def f(self):", "        if x:"]
    suffix = ["    pass"] if line.rstrip().endswith(":") else []
    if line.lstrip().startswith(("def ", "if ")):
        suffix = [" " * (len(line) - len(line.lstrip()) + 4) + "pass"]
    lines = layout.fit(line)
    assert all(len(text) <= layout.LINE_LENGTH for text in lines) or len(lines) > 1
    text = "\n".join([*prefix, *lines, *suffix]) + "\n"
    assert black_changes(text) is None


def test_a_line_of_another_form_goes_to_black() -> None:
    block = (
        "if first_long_condition_of_a_test and second_long_condition_which_is_long(arg, 1, 2, 3, 4):\n"
        "    pass"
    )
    assert layout.fit_block(block, fallback=lambda code: "FORMATTED") == "FORMATTED"
    short = "x = 1"
    assert layout.fit_block(short, fallback=fallback_forbidden) == short


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One line.", '"""One line."""'),
        ('Ends with a "quote"', '"""Ends with a "quote" """'),
        ("Backslash \\ and \"\"\" quotes", '"""Backslash \\\\ and \\"\\"\\" quotes"""'),
        ("First.\n\n  indented\n\tand a tab\n", '"""First.\n\n    indented\n      and a tab\n    """'),
    ],
)
def test_docstrings_are_what_black_prints(text: str, expected: str) -> None:
    docstring = layout.docstring(text, "    ")
    assert docstring == expected
    code = f"class C:\n    {docstring}\n"
    assert black_changes(code) is None


def test_numbers_as_black_writes_them() -> None:
    assert layout.integer_literal("0x2000abcd") == "0x2000ABCD"
    assert layout.integer_literal("-0X1f") == "-0x1F"
    assert layout.integer_literal("0755") == "0o755"
    assert layout.integer_literal("0") == "0"
    assert layout.bytes_literal(b"\x00\x01\xff") == 'b"\\x00\\x01\\xff"'
