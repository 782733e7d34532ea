"""The test daemon's own behaviour beyond what the virsh comparisons cover:
its command line, list filters, XML parsing, state common to all connections, read-only
connections (through the pure-Python client, in-process)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import libvirt_rpc
from libvirt_rpc import remote_protocol as rp
from testd_support import ROOT, RawConnection, Testd
from libvirt_rpc.errors import ErrorNumber
from libvirt_rpc.server import ServerThread, start_in_thread
from libvirt_rpc.testd import Hypervisor, TestDaemon, parse_domain_xml

ACTIVE, INACTIVE, PERSISTENT, TRANSIENT, RUNNING, PAUSED, SHUTOFF = 1, 2, 4, 8, 16, 32, 64

XML = """<domain type='test'>
  <name>{name}</name>
  <memory unit='{unit}'>{memory}</memory>
  <os><type>hvm</type></os>
</domain>"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[ServerThread]:
    with start_in_thread([TestDaemon()], unix=tmp_path / "sock") as thread:
        yield thread


def uri(thread: ServerThread) -> str:
    return f"test+unix:///default?socket={thread.unix_path}"


def names(conn: libvirt_rpc.Connection, flags: int) -> list[str]:
    return sorted(d.name for d in conn.connect_list_all_domains(need_results=1, flags=flags).domains)


def test_list_filters_and_state_common_to_connections(daemon: ServerThread) -> None:
    with libvirt_rpc.open(uri(daemon)) as conn:
        conn.domain_define_xml(xml=XML.format(name="off", unit="GiB", memory=1))
        paused = conn.domain_define_xml(xml=XML.format(name="paused", unit="MiB", memory=512)).dom
        conn.domain_create(dom=paused)
        conn.domain_suspend(dom=conn.domain_lookup_by_name(name="paused").dom)
        assert names(conn, 0) == ["off", "paused", "test"]
        assert names(conn, ACTIVE) == ["paused", "test"]
        assert names(conn, INACTIVE) == ["off"]
        assert names(conn, RUNNING) == ["test"]
        assert names(conn, PAUSED | SHUTOFF) == ["off", "paused"]
        assert names(conn, ACTIVE | PERSISTENT) == ["paused", "test"]
        assert names(conn, TRANSIENT) == []
        assert conn.connect_num_of_domains().num == 2
        assert conn.connect_num_of_defined_domains().num == 1
        assert conn.connect_list_defined_domains(maxnames=10).names == ["off"]
        assert sorted(conn.connect_list_domains(maxids=10).ids) == [1, 2]
        assert conn.domain_get_info(dom=paused).maxMem == 512 * 1024
        assert conn.domain_get_max_memory(dom=paused).memory == 512 * 1024
        missing = conn.connect_list_all_domains(need_results=0, flags=0)
        assert (missing.domains, missing.ret) == ([], 3)
    # Domains outlive the connection that defined them.
    with libvirt_rpc.open(uri(daemon)) as conn:
        assert names(conn, 0) == ["off", "paused", "test"]
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_lookup_by_id(id=99)
        assert caught.value.code == ErrorNumber.VIR_ERR_NO_DOMAIN


def test_open_needs_a_test_uri_and_readonly_refuses_writes(daemon: ServerThread) -> None:
    assert daemon.unix_path is not None
    with RawConnection(daemon.unix_path) as raw:
        reply = raw.call(rp.REMOTE_PROC_CONNECT_OPEN, rp.RemoteConnectOpenArgs("qemu:///system", 0))
        error = rp.RemoteError.decode(reply.payload)
        assert error.message == "no connection driver available for qemu:///system"
        assert error.code == ErrorNumber.VIR_ERR_NO_CONNECT
    with libvirt_rpc.open(uri(daemon), readonly=True) as conn:
        assert names(conn, 0) == ["test"]
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_define_xml(xml=XML.format(name="x", unit="KiB", memory=1024))
        assert caught.value.code == ErrorNumber.VIR_ERR_OPERATION_DENIED
        assert caught.value.message == "operation forbidden: read only access prevents virDomainDefineXML"


def test_domain_xml_parsing() -> None:
    domain = parse_domain_xml(
        "<domain type='test'><name>a&amp;b</name><memory unit='G'>2</memory>"
        "<currentMemory unit='bytes'>1025</currentMemory><vcpu>4</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os><on_crash>restart</on_crash>"
        "<devices><disk type='file' device='disk'><source file='/x'/></disk></devices></domain>"
    )
    assert (domain.name, domain.max_memory, domain.memory, domain.vcpus) == ("a&b", 2 * 1024 * 1024, 2, 4)
    xml = domain.xml()
    assert "<name>a&amp;b</name>" in xml and "<on_crash>restart</on_crash>" in xml
    assert "    <disk type='file' device='disk'>\n      <source file='/x'/>\n    </disk>\n" in xml
    assert parse_domain_xml(xml).xml() == xml  # its own output reads back the same
    for bad, code in [
        ("<domain", ErrorNumber.VIR_ERR_XML_DETAIL),  # libvirt's code for what libxml2 rejects
        ("<network type='test'/>", ErrorNumber.VIR_ERR_XML_ERROR),
        ("<domain><name>x</name></domain>", ErrorNumber.VIR_ERR_XML_ERROR),
        ("<domain type='kvm'><name>x</name></domain>", ErrorNumber.VIR_ERR_CONFIG_UNSUPPORTED),
        ("<domain type='test'><memory>1</memory></domain>", ErrorNumber.VIR_ERR_NO_NAME),
        ("<domain type='test'><name>x</name><os><type>hvm</type></os></domain>", ErrorNumber.VIR_ERR_XML_ERROR),
        ("<domain type='test'><name>x</name><memory unit='parsec'>1</memory></domain>", ErrorNumber.VIR_ERR_XML_ERROR),
        ("<domain type='test'><name>x</name><memory>1</memory></domain>", ErrorNumber.VIR_ERR_OS_TYPE),
    ]:
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            parse_domain_xml(bad)
        assert caught.value.code == code, bad


def test_event_registrations_end_with_the_client(daemon: ServerThread) -> None:
    handler = daemon.server._handlers[0]
    assert isinstance(handler, TestDaemon)
    hv: Hypervisor = handler.hv
    with libvirt_rpc.open(uri(daemon)) as conn:
        first = conn.connect_domain_event_callback_register_any(eventID=0, dom=None).callbackID
        second = conn.connect_domain_event_callback_register_any(eventID=5, dom=None).callbackID
        assert second == first + 1 and len(hv.registrations) == 2
        conn.connect_domain_event_callback_deregister_any(callbackID=first)
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.connect_domain_event_callback_deregister_any(callbackID=first)
        assert caught.value.message == f"internal error: callback ID {first} not registered"
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.connect_domain_event_callback_register_any(eventID=27, dom=None)
        assert caught.value.message == "internal error: unsupported event ID 27"
    assert daemon.call(lambda: len(hv.registrations)) == 0


def test_command_line(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "libvirt_rpc.testd"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "give --unix PATH and/or --tcp HOST:PORT" in result.stderr
    result = subprocess.run(
        [*cmd, "--unix", str(tmp_path / "no" / "dir" / "sock")], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 1 and result.stderr.startswith("testd: ")
    result = subprocess.run([*cmd, "--tcp", "nonsense"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "expected HOST:PORT" in result.stderr
    # SIGTERM: a clean exit that removes the socket.
    daemon = Testd()
    try:
        socket_path = Path(daemon.socket_path)
        assert socket_path.exists()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0
        assert not socket_path.exists()
    finally:
        daemon.stop()


def test_each_procedure_has_one_mixin() -> None:
    """TestDaemon joins one mixin per object kind; a procedure two mixins
    define would be served by whichever comes first in the bases, silently."""
    from libvirt_rpc.remote_protocol_server import RemoteHandler
    from libvirt_rpc.testd.base import ProceduresBase

    joined = type(TestDaemon())
    mixins = [c for c in joined.__mro__[1:] if issubclass(c, ProceduresBase) and not issubclass(TestDaemon, c)]
    assert len(mixins) >= 10, mixins
    procedures = {p.method for p in RemoteHandler.PROCEDURES.values()} | {"client_connected", "client_closed"}
    owners: dict[str, list[str]] = {}
    for mixin in mixins:
        for name in vars(mixin):
            if not name.startswith("__"):  # helpers too: one class holds them all
                owners.setdefault(name, []).append(mixin.__name__)
    assert owners["connect_open"] == ["ConnectProcedures"] and owners["domain_get_info"] == ["DomainProcedures"]
    assert owners["network_get_xml_desc"] == ["NetworkProcedures"] and "_network_named" in owners
    assert not {name: kinds for name, kinds in owners.items() if len(kinds) > 1}
    assert len(set(owners) & procedures) > 200  # of the 9.0 protocol's 420-odd procedures


def test_unimplemented_procedures_name_libvirts_api() -> None:
    """A procedure the test driver lacks answers "not supported" with the
    public API libvirtd calls for it: a function libvirt.so exports, in its
    source file's error domain."""
    import ctypes

    from libvirt_rpc.errors import ErrorDomain
    from libvirt_rpc.remote_protocol_server import RemoteHandler
    from libvirt_rpc.testd.api import api_error_domain, api_name, not_supported

    library = ctypes.CDLL("libvirt.so.0")
    calls = [p.method for p in RemoteHandler.PROCEDURES.values() if p.kind == "call"]
    missing = [m for m in calls if not m.startswith("auth_") and not hasattr(library, api_name(m))]
    assert not missing
    assert api_name("domain_get_xml_desc") == "virDomainGetXMLDesc"
    assert api_name("connect_list_all_nwfilters") == "virConnectListAllNWFilters"
    assert api_error_domain("virDomainSnapshotNum") == ErrorDomain.VIR_FROM_DOMAIN_SNAPSHOT
    assert api_error_domain("virDomainInterfaceStats") == ErrorDomain.VIR_FROM_DOMAIN
    assert api_error_domain("virConnectListAllNodeDevices") == ErrorDomain.VIR_FROM_NODEDEV
    error = not_supported("connect_num_of_secrets")
    assert (error.code, error.domain) == (ErrorNumber.VIR_ERR_NO_SUPPORT, ErrorDomain.VIR_FROM_SECRET)
    assert error.message == "this function is not supported by the connection driver: virConnectNumOfSecrets"


def test_not_supported_over_the_wire(daemon: ServerThread) -> None:
    with libvirt_rpc.open(uri(daemon)) as conn:
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.connect_list_all_secrets(need_results=1, flags=0)
        assert caught.value.code == ErrorNumber.VIR_ERR_NO_SUPPORT
        assert caught.value.str2 == "virConnectListAllSecrets"
