"""The generated server modules: one handler class per program version whose
``PROCEDURES`` table and methods agree with the IR of the ``.x`` files (and
with the client stubs), and whose defaults answer like libvirtd does for a
procedure it lacks."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import typing
from functools import cache
from pathlib import Path

import pytest

from testd_support import ROOT
from xdrgen.compiler import ir
from xdrgen.compiler.naming import method_name
from xdrgen.compiler.generators.python_server import generate_server
from xdrgen.compiler.project import load_config
from xdrgen.compiler.resolve import Protocol, load
from libvirt_rpc.errors import ErrorDomain, ErrorNumber, LibvirtError
from libvirt_rpc.server import Call, Procedure, ProgramHandler, WithFds

TARGET = load_config(ROOT / "pyproject.toml")


@cache
def protocols() -> dict[str, Protocol]:
    return {
        path.stem: load(path, include_dirs=TARGET.include_dirs, defines=TARGET.defines)
        for path in TARGET.inputs
    }


def handler_classes(name: str) -> list[type[ProgramHandler]]:
    module = importlib.import_module(f"libvirt_rpc.{name}_server")
    return [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, ProgramHandler) and cls is not ProgramHandler
    ]


WITH_PROGRAMS = [name for name, p in sorted(protocols().items()) if any(x.derived for x in p.programs)]


def test_which_files_get_a_server_module() -> None:
    assert WITH_PROGRAMS == [
        "admin_protocol",
        "lock_protocol",
        "log_protocol",
        "lxc_monitor_protocol",
        "lxc_protocol",
        "qemu_protocol",
        "remote_protocol",
        "virkeepaliveprotocol",
    ]
    # No programs, no module: virnetprotocol.x only defines the header.
    assert generate_server(protocols()["virnetprotocol"], "libvirt_rpc") is None
    assert not (ROOT / "generated" / "libvirt_rpc" / "virnetprotocol_server.py").exists()


@pytest.mark.parametrize("name", WITH_PROGRAMS)
def test_tables_follow_the_ir(name: str) -> None:
    protocol = protocols()[name]
    classes = {(c.PROGRAM, c.VERSION): c for c in handler_classes(name)}
    programs = [p for p in protocol.programs if p.derived]
    assert len(classes) == sum(len(p.versions) for p in programs)
    types_module = importlib.import_module(f"libvirt_rpc.{name}")
    for program in programs:
        for version in program.versions:
            cls = classes[(program.number.number, version.number.number)]
            assert cls.NAME == program.name
            table = cls.PROCEDURES
            assert sorted(table) == sorted(p.number.number for p in version.procedures)
            for proc in version.procedures:
                entry = table[proc.number.number]
                check_entry(entry, proc, cls, types_module)


def _class_of(spec: ir.TypeSpec | None) -> str | None:
    if spec is None:
        return None
    assert spec.name is not None
    # remote_domain_get_info_args -> RemoteDomainGetInfoArgs (as the codecs name them)
    return spec.name


def check_entry(entry: Procedure, proc: ir.ProcedureDef, cls: type[ProgramHandler], module: object) -> None:
    assert entry.number == proc.number.number
    assert entry.name == proc.name
    assert entry.annotations == tuple((a.key, a.value) for a in proc.annotations)
    assert entry.priority == (proc.annotation("priority") or "low")
    if proc.message is not None:
        assert entry.kind == "event"
        assert entry.method == "send_" + method_name(proc.name)
        assert entry.result is None
        assert entry.args is not None and entry.args.__name__.lower() == proc.message.name.replace("_", "").lower()
        sender = getattr(cls, entry.method)
        assert list(inspect.signature(sender).parameters) == ["self", "client", "msg"]
        return
    assert entry.kind == "call"
    assert entry.method == method_name(proc.name)
    stream = "read" if proc.annotation("readstream") else "write" if proc.annotation("writestream") else None
    assert entry.stream == stream
    for spec, value in ((proc.arguments[0] if proc.arguments else None, entry.args), (proc.result, entry.result)):
        if spec is None:
            assert value is None
        else:
            assert value is not None and value.__name__.lower() == spec.name.replace("_", "").lower()  # type: ignore[union-attr]
    method = getattr(cls, entry.method)
    assert inspect.iscoroutinefunction(method)
    hints = typing.get_type_hints(method)
    assert hints["call"] is Call
    if entry.args is not None:
        assert hints["args"] is entry.args
    else:
        assert "args" not in hints
    returned = entry.result if entry.result is not None else type(None)
    if proc.annotation("fds") in ("out", "both"):  # the reply carries descriptors
        assert hints["return"] == WithFds[returned]  # type: ignore[valid-type]
    else:
        assert hints["return"] is returned


def test_remote_program_details() -> None:
    from libvirt_rpc import remote_protocol as rp
    from libvirt_rpc.remote_protocol_server import RemoteHandler

    table = RemoteHandler.PROCEDURES
    assert (RemoteHandler.PROGRAM, RemoteHandler.VERSION) == (0x20008086, 1)
    assert len(table) == len(rp.RemoteProcedure) == max(rp.RemoteProcedure) == 443
    get_info = table[16]
    assert (get_info.name, get_info.method, get_info.args, get_info.result) == (
        "REMOTE_PROC_DOMAIN_GET_INFO", "domain_get_info", rp.RemoteDomainGetInfoArgs, rp.RemoteDomainGetInfoRet,
    )  # fmt: skip
    assert get_info.annotation("acl") == "domain:read" and get_info.priority == "low"
    assert table[1].priority == "high"  # CONNECT_OPEN
    assert table[211].stream == "read" and table[208].stream == "write"
    assert table[208].annotation("sparseflag") == "VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM"
    assert table[318].kind == "event" and table[318].args is rp.RemoteDomainEventCallbackLifecycleMsg
    # Procedures with several @acl lines keep all of them, in order.
    multi = [p for p in table.values() if len(p.annotation_values("acl")) > 1]
    assert multi and all(p.annotation_values("acl") == [v for k, v in p.annotations if k == "acl"] for p in multi)
    events = {p.number for p in table.values() if p.kind == "event"}
    assert {107, 318, 438} <= events and 316 not in events  # lifecycle, ..., memory device size; register is a call


def test_defaults_answer_unknown_procedure() -> None:
    from libvirt_rpc import remote_protocol as rp
    from libvirt_rpc.remote_protocol_server import RemoteHandler

    handler = RemoteHandler()
    call = Call(client=_FakeClient(), prog=0x20008086, vers=1, proc=16, serial=1, procedure=RemoteHandler.PROCEDURES[16])  # type: ignore[arg-type]
    with pytest.raises(LibvirtError) as caught:
        asyncio.run(handler.domain_get_info(call, rp.RemoteDomainGetInfoArgs(rp.RemoteNonnullDomain("x", bytes(16), 1))))
    error = caught.value
    assert (error.code, error.domain, error.message) == (ErrorNumber.VIR_ERR_RPC, ErrorDomain.VIR_FROM_RPC, "unknown procedure: 16")
    assert (error.str1, error.str2, error.int1, error.int2) == ("%s", "unknown procedure: 16", -1, -1)
    # libvirt's own client turns exactly this into "not supported".
    assert LibvirtError.from_remote_error(39, 7, error.message, 2).code == ErrorNumber.VIR_ERR_NO_SUPPORT


class _FakeClient:
    id = 0


def test_events_are_sent_as_messages() -> None:
    from libvirt_rpc import remote_protocol as rp
    from libvirt_rpc.remote_protocol_server import RemoteHandler

    sent = []

    class Recorder:
        def send_event(self, prog: int, vers: int, proc: int, msg: object) -> None:
            sent.append((prog, vers, proc, msg))

    msg = rp.RemoteDomainEventCallbackRebootMsg(4, rp.RemoteDomainEventRebootMsg(rp.RemoteNonnullDomain("d", bytes(16), 1)))
    RemoteHandler().send_domain_event_callback_reboot(Recorder(), msg)  # type: ignore[arg-type]
    assert sent == [(0x20008086, 1, rp.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, msg)]


def test_demo_protocol_server_module_compiles() -> None:
    """A libvirt-style .x outside the package: the module renders and compiles."""
    demo = load(ROOT / "tests" / "golden" / "demo_libvirt.x", defines={"DEMO_EXTERNAL_KIND": "7"})
    text = generate_server(demo, None)
    assert text is not None and "Generated by xdrgen" in text
    compile(text, "demo_libvirt_server.py", "exec")
    for program in (p for p in demo.programs if p.derived):
        stem = "".join(w.capitalize() for w in program.name.removesuffix("_PROGRAM").lower().split("_"))
        assert f"class {stem}Handler(server.ProgramHandler):" in text


def test_server_module_names() -> None:
    for name in WITH_PROGRAMS:
        assert Path(ROOT / "generated" / "libvirt_rpc" / f"{name}_server.py").exists()
