"""The front end end to end: golden files for the demo protocols, every
shipped and reference .x file, and the five libvirt structs references."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xdrgen.compiler.cli import main
from xdrgen.compiler.errors import XdrgenError
from xdrgen.compiler.resolve import load

from support import GOLDEN, LIBVIRT_DEFINES, LIBVIRT_X, ROOT, RPCSVC_X, define_args

UPDATE = os.environ.get("XDRGEN_UPDATE_GOLDEN") == "1"

GOLDEN_CASES = {
    "demo": [],
    "demo_libvirt": ["-D", "DEMO_EXTERNAL_KIND=7"],
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs"


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_ir_json(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli(
        capsys, "parse", f"tests/golden/{name}.x", "--json", *GOLDEN_CASES[name]
    )
    assert (code, err) == (0, "")
    check_golden(GOLDEN / f"{name}.json", out)


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_structs(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli(
        capsys, "structs", f"tests/golden/{name}.x", *GOLDEN_CASES[name]
    )
    assert (code, err) == (0, "")
    check_golden(GOLDEN / f"{name}.structs", out)


def test_demo_ir_content() -> None:
    """Spot checks of what the golden JSON must say, so a wrong golden file
    cannot pass unnoticed."""
    data = json.loads((GOLDEN / "demo.json").read_text())
    constants = data["constants"]
    assert constants["DEMO_MAGIC"] == 0xCAFE
    assert constants["DEMO_MODE"] == 0o755
    assert constants["DEMO_OFFSET"] == -12
    assert constants["DEMO_LIST_MAX"] == 255
    assert constants["DEMO_TABLE_SIZE"] == 64  # from #define
    assert constants["DEMO_EXTRA"] == 1  # the #ifdef branch that was taken
    assert constants["DEMO_BLACK"] == 11
    assert constants["DEMO_ROUNDTRIP"] == 4
    by_name = {d["name"]: d for d in data["definitions"]}
    result = by_name["demo_result"]
    assert [[label["value"] for label in arm["labels"]] for arm in result["arms"]] == [
        [0, 1],
        [10],
        [11],
    ]
    assert result["arms"][2]["declaration"]["kind"] == "void"
    assert by_name["demo_number"]["default"]["type"] == {"builtin": "string"}
    fields = {f["name"]: f for f in by_name["demo_all_types"]["fields"]}
    assert fields["u"]["type"] == {"builtin": "unsigned int"}
    assert fields["some_bytes"]["bound"] == {"expression": "DEMO_LIST_MAX", "value": 255}
    assert fields["any_bytes"]["bound"] is None
    assert fields["maybe_point"]["kind"] == "optional"
    assert fields["i"]["doc"] == "a signed 32-bit integer"
    assert by_name["demo_colour"]["doc"] == "Colours, with implicit and explicit values."
    assert data["passthrough"][0]["text"] == '#include "demo_header.h"'
    (program,) = data["programs"]
    assert [v["number"] for v in program["versions"]] == [1, 2]
    echo = program["versions"][0]["procedures"][2]
    assert echo["arguments"] == [{"builtin": "string"}]
    listing = program["versions"][1]["procedures"][1]
    assert listing["arguments"] == [{"name": "demo_point"}, {"builtin": "int"}]


def test_libvirt_style_program_and_import() -> None:
    data = json.loads((GOLDEN / "demo_libvirt.json").read_text())
    assert data["imports"] == ["demo.x"]
    assert data["externals"] == {"DEMO_EXTERNAL_KIND": 7}
    (program,) = data["programs"]
    assert program["derived"] and program["number"] == 0x20009999
    echo, tick = program["versions"][0]["procedures"]
    assert echo["arguments"] == [{"name": "demo_lv_echo_args"}]
    assert echo["result"] == {"name": "demo_lv_echo_ret"}
    assert echo["annotations"] == [
        {"key": "generate", "value": "both"},
        {"key": "acl", "value": "connect:read"},
    ]
    assert tick["message"] == {"name": "demo_lv_tick_msg"} and tick["result"] is None
    by_name = {d["name"]: d for d in data["definitions"]}
    where = by_name["demo_lv_echo_args"]["fields"][1]
    assert where["type"] == {"name": "demo_point", "file": "demo.x"}


ALL_X = sorted(LIBVIRT_X.glob("*.x")) + sorted(RPCSVC_X.glob("*.x"))


def test_there_are_eighteen_reference_files() -> None:
    assert len(ALL_X) == 18


@pytest.mark.parametrize("path", ALL_X, ids=lambda p: p.name)
def test_every_reference_file_parses(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    defines = define_args(LIBVIRT_DEFINES) if path.parent == LIBVIRT_X else []
    code, out, err = run_cli(capsys, "parse", str(path), "--json", *defines)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["definitions"]
    # libvirt's virnetprotocol.x is the only file without any program.
    assert data["programs"] or path.name == "virnetprotocol.x"


def test_remote_protocol_program() -> None:
    protocol = load(LIBVIRT_X / "remote_protocol.x", defines=LIBVIRT_DEFINES)
    (program,) = protocol.programs
    assert program.number.number == 0x20008086
    procedures = {p.name: p for p in program.versions[0].procedures}
    assert len(procedures) == 443
    info = procedures["REMOTE_PROC_DOMAIN_GET_INFO"]
    assert info.number.number == 16
    assert [a.name for a in info.arguments] == ["remote_domain_get_info_args"]
    assert info.result is not None and info.result.name == "remote_domain_get_info_ret"
    assert info.annotation("acl") == "domain:read"
    assert procedures["REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME"].annotation("priority") == "high"
    lifecycle = procedures["REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE"]
    assert lifecycle.message is not None
    assert lifecycle.message.name == "remote_domain_event_callback_lifecycle_msg"
    upload = procedures["REMOTE_PROC_STORAGE_VOL_UPLOAD"]
    assert upload.annotation("writestream") == "1"
    acls = [a.value for a in procedures["REMOTE_PROC_DOMAIN_CREATE_XML"].annotations if a.key == "acl"]
    assert acls == ["domain:write", "domain:start"]


def test_qemu_uses_remote_types() -> None:
    protocol = load(LIBVIRT_X / "qemu_protocol.x", defines=LIBVIRT_DEFINES)
    assert [p.name for p in protocol.imports] == ["remote_protocol"]
    assert protocol.owner["remote_nonnull_domain"].endswith("remote_protocol.x")
    assert protocol.is_local("qemu_domain_monitor_command_args")


def _normalise_like_diff_b(text: str) -> list[str]:
    """`diff -b` ignores changes in the amount of white space."""
    return [re.sub(r"\s+", " ", line).rstrip() for line in text.split("\n")]


@pytest.mark.parametrize(
    "name",
    ["virnetprotocol", "virkeepaliveprotocol", "qemu_protocol", "lxc_protocol", "lxc_monitor_protocol"],
)
def test_structs_match_libvirt_reference(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / f"{name}-structs"
    code, out, err = run_cli(
        capsys,
        "structs",
        str(LIBVIRT_X / f"{name}.x"),
        # the include dirs and the VIR_* constants, from [tool.xdrgen]
        "--config",
        str(ROOT / "pyproject.toml"),
        "-o",
        str(out_file),
    )
    assert (code, out, err) == (0, "", "")
    reference = (LIBVIRT_X / "structs" / f"{name}-structs").read_text()
    actual = out_file.read_text()
    assert _normalise_like_diff_b(actual) == _normalise_like_diff_b(reference)
    diff = subprocess.run(
        ["diff", "-b", str(LIBVIRT_X / "structs" / f"{name}-structs"), str(out_file)],
        capture_output=True,
        text=True,
    )
    assert diff.returncode == 0, diff.stdout


def test_remote_structs_layout() -> None:
    """remote_protocol has no reference file here; check the parts whose
    layout is known from libvirt's src/remote_protocol-structs."""
    from xdrgen.compiler.generators.structs import generate_structs

    text = generate_structs(load(LIBVIRT_X / "remote_protocol.x", defines=LIBVIRT_DEFINES))
    assert text.startswith("/* -*- c -*- */\nenum {\n        VIR_TYPED_PARAM_INT = 1,\n")
    assert (
        "struct remote_typed_param_value {\n"
        "        int                        type;\n"
        "        union {\n"
        "                int                i;\n"
        "                u_int              ui;\n"
        "                int64_t            l;\n"
        "                uint64_t           ul;\n"
        "                double             d;\n"
        "                int                b;\n"
        "                remote_nonnull_string s;\n"
        "        } remote_typed_param_value_u;\n"
        "};\n"
    ) in text
    assert (
        "struct remote_node_get_cells_free_memory_ret {\n"
        "        struct {\n"
        "                u_int              cells_len;\n"
        "                uint64_t *         cells_val;\n"
        "        } cells;\n"
        "};\n"
    ) in text
    assert "        char                       model[32];\n" in text
    assert text.endswith("        REMOTE_PROC_DOMAIN_FD_ASSOCIATE = 443,\n};\n")


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    for command in (["xdrgen"], [sys.executable, "-m", "xdrgen"]):
        done = subprocess.run(
            [*command, "structs", str(LIBVIRT_X / "virkeepaliveprotocol.x")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert "KEEPALIVE_PROC_PONG = 2," in done.stdout


def test_parses_do_not_share_state() -> None:
    """Constants given to one parse are not seen by the next one."""
    load(LIBVIRT_X / "lock_protocol.x", defines={"VIR_UUID_BUFLEN": "16"})
    with pytest.raises(XdrgenError, match="undefined constant 'VIR_UUID_BUFLEN'"):
        load(LIBVIRT_X / "lock_protocol.x")
