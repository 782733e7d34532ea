"""Which procedures pass file descriptors: libvirt's .x files do not say, its
C client knows it by hand; the libvirt dialect carries that knowledge as a
table (``libvirt_programs.FD_PROCEDURES``), seen as ``@fds`` annotations,
and the stubs follow it."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest

from xdrgen.compiler.errors import XdrgenError
from xdrgen.compiler.generators.python_client import generate_client
from xdrgen.compiler.generators.python_server import generate_server
from xdrgen.compiler.libvirt_programs import FD_PROCEDURES
from xdrgen.compiler.project import load_config
from xdrgen.compiler.resolve import Protocol, load
from xdrgen.runtime import rpc

ROOT = Path(__file__).resolve().parent.parent

# libvirt 9.0.0: callFull with fdin/fdout in remote_driver.c, and
# virNetClientProgramCall with outfd in log_manager.c.
EXPECTED = {
    "REMOTE_PROC_DOMAIN_OPEN_GRAPHICS": "in",
    "REMOTE_PROC_DOMAIN_CREATE_XML_WITH_FILES": "in",
    "REMOTE_PROC_DOMAIN_CREATE_WITH_FILES": "in",
    "REMOTE_PROC_DOMAIN_FD_ASSOCIATE": "in",
    "REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD": "out",
    "QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES": "both",
    "LXC_PROC_DOMAIN_OPEN_NAMESPACE": "out",
    "VIR_LOG_MANAGER_PROTOCOL_PROC_DOMAIN_OPEN_LOG_FILE": "out",
}


def libvirt_protocol(name: str) -> Protocol:
    target = load_config(ROOT / "pyproject.toml")
    return load(ROOT / "protocols" / "libvirt" / f"{name}.x", include_dirs=target.include_dirs, defines=target.defines)


def test_the_table_is_libvirts_list() -> None:
    flat = {proc: way for procedures in FD_PROCEDURES.values() for proc, way in procedures.items()}
    assert flat == EXPECTED


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("remote_protocol", "REMOTE_"), ("qemu_protocol", "QEMU_"), ("lxc_protocol", "LXC_"), ("log_protocol", "VIR_LOG_")],
)
def test_the_table_becomes_annotations_of_those_procedures_only(name: str, prefix: str) -> None:
    protocol = libvirt_protocol(name)
    found = {
        procedure.name: procedure.annotation("fds")
        for program in protocol.programs
        for version in program.versions
        for procedure in version.procedures
        if procedure.annotation("fds") is not None
    }
    assert found == {proc: way for proc, way in EXPECTED.items() if proc.startswith(prefix)}


def test_generated_stubs_take_files_and_return_descriptors() -> None:
    from libvirt_rpc.lxc_protocol_client import LxcClient
    from libvirt_rpc.qemu_protocol_client import AsyncQemuClient
    from libvirt_rpc.remote_protocol import RemoteDomainCreateXmlWithFilesRet
    from libvirt_rpc.remote_protocol_client import AsyncRemoteClient, RemoteClient

    for cls in (RemoteClient, AsyncRemoteClient):
        sends = inspect.signature(cls.domain_create_xml_with_files).parameters["files"]
        assert sends.kind is inspect.Parameter.KEYWORD_ONLY and sends.default == ()
        assert "files" in inspect.signature(cls.domain_fd_associate).parameters
        assert "files" not in inspect.signature(cls.domain_open_graphics_fd).parameters
        assert "files" not in inspect.signature(cls.domain_create_xml).parameters
        hints = typing.get_type_hints(cls.domain_open_graphics_fd)
        assert hints["return"] == rpc.WithFds[None]
        # sending descriptors leaves the result type alone
        assert typing.get_type_hints(cls.domain_create_xml_with_files)["return"] is RemoteDomainCreateXmlWithFilesRet
    assert "files" in inspect.signature(AsyncQemuClient.domain_monitor_command_with_files).parameters
    assert typing.get_type_hints(LxcClient.domain_open_namespace)["return"] == rpc.WithFds[None]


DEMO = """\
struct demo_open_args { int which; };
struct demo_open_ret { int handle; };
const DEMO_PROGRAM = 0x20001234;
const DEMO_PROTOCOL_VERSION = 1;
enum demo_procedure {
    /**
     * @fds: %s
     */
    DEMO_PROC_OPEN = 1,
    DEMO_PROC_PLAIN = 2
};
"""


def demo(tmp_path: Path, fds: str) -> Protocol:
    source = tmp_path / "demo.x"
    source.write_text(DEMO % fds)
    return load(source)


def test_a_files_own_annotation_makes_a_procedure_pass_descriptors(tmp_path: Path) -> None:
    client = generate_client(demo(tmp_path, "both"))
    server = generate_server(demo(tmp_path, "both"))
    assert client is not None and server is not None
    assert "files: rpc.Files = ()" in client and "rpc.WithFds[DemoOpenRet]" in client
    assert "call_receiving_fds(" in client and "files=files" in client
    assert "server.WithFds[DemoOpenRet]" in server and '("fds", "both")' in server
    # the procedure without the annotation is untouched
    plain = client[client.index("def plain") :]
    assert "files" not in plain.split("def ", 2)[1]
    sends_only = generate_client(demo(tmp_path, "in"))
    assert sends_only is not None and "-> DemoOpenRet:" in sends_only and "WithFds" not in sends_only


def test_an_unknown_direction_is_an_error_at_the_procedure(tmp_path: Path) -> None:
    with pytest.raises(XdrgenError, match=r"demo\.x:9:5: error: @fds: 'sideways' is not one of in, out, both"):
        generate_client(demo(tmp_path, "sideways"))


def test_descriptors_and_a_data_stream_do_not_mix(tmp_path: Path) -> None:
    source = tmp_path / "demo.x"
    source.write_text((DEMO % "out").replace(" * @fds: out", " * @fds: out\n     * @readstream: 1"))
    with pytest.raises(XdrgenError, match="@fds cannot be combined with a data stream"):
        generate_client(load(source))
