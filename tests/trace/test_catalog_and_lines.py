"""Names from the generated package's tables, the line formats (text,
payload, JSON), filters and selectors."""

from __future__ import annotations

import io
import json

import pytest

from libvirt_rpc import qemu_protocol as qp
from libvirt_rpc import remote_protocol as rp
from xdrgen.runtime.virnet.framing import KEEPALIVE_PROGRAM, MessageStatus, MessageType, encode_message
from xdrgen.trace import Catalog, CatalogError, Codecs, Filter, LibvirtFraming, LineFormatter, Output, Selector, Tracer
from xdrgen.trace.matching import SelectorError
from xdrgen.trace.virnet import parse_header

REMOTE = rp.REMOTE_PROGRAM


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_package("libvirt_rpc")


def test_programs_are_named_after_their_classes(catalog: Catalog) -> None:
    names = {(p.number, p.version): p.name for p in catalog.programs}
    assert names[(REMOTE, 1)] == "remote"
    assert names[(qp.QEMU_PROGRAM, 1)] == "qemu"
    assert names[(KEEPALIVE_PROGRAM, 1)] == "keepalive"
    assert {"admin", "lxc"} <= set(names.values())


def test_procedures_are_spelled_as_our_stubs(catalog: Catalog) -> None:
    assert catalog.names(REMOTE, 1, rp.REMOTE_PROC_CONNECT_OPEN) == ("remote", "connect_open")
    assert catalog.names(REMOTE, 1, rp.REMOTE_PROC_AUTH_LIST) == ("remote", "auth_list")
    assert catalog.names(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_EVENT_LIFECYCLE) == ("remote", "domain_event_lifecycle")
    assert catalog.names(KEEPALIVE_PROGRAM, 1, 1) == ("keepalive", "ping")
    info = catalog.procedure(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_GET_INFO)
    assert info is not None and info.args is rp.RemoteDomainGetInfoArgs and info.result is rp.RemoteDomainGetInfoRet
    screenshot = catalog.procedure(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_SCREENSHOT)
    assert screenshot is not None and screenshot.stream == "read"


def test_unknown_numbers_print_as_numbers(catalog: Catalog) -> None:
    assert catalog.names(REMOTE, 1, 99999) == ("remote", "99999")
    assert catalog.names(0x1234, 1, 5) == ("0x1234", "5")
    # a version the package lacks: the program's name, the procedure's number
    assert catalog.names(REMOTE, 2, 1) == ("remote", "1")


def test_a_package_without_tables_is_an_error() -> None:
    with pytest.raises(CatalogError, match="no_such_package"):
        Catalog.from_package("no_such_package")
    with pytest.raises(CatalogError, match="no \\*_server module"):
        Catalog.from_package("xdrgen.runtime")


def message(proc: int, type_: MessageType, serial: int, status: MessageStatus = MessageStatus.OK,
            body: object = None) -> bytes:  # fmt: skip
    return bytes(encode_message(REMOTE, 1, proc, type_, serial, status, body))  # type: ignore[arg-type]


def trace(catalog: Catalog, frames: list[tuple[str, bytes]], **options: object) -> list[str]:
    out = io.StringIO()
    payload = bool(options.pop("payload", False))
    formatter = LineFormatter(payload=payload, json=bool(options.pop("json", False)))
    tracer = Tracer(Codecs(catalog, LibvirtFraming()), formatter, Output(out), Filter(**options))  # type: ignore[arg-type]
    tracer.opened(0.0, 1, "unix:/p.sock", "unix:/s.sock")
    for index, (direction, data) in enumerate(frames):
        tracer.header(1, direction, 0.001 * (index + 1), parse_header(data), data if payload else None)
    tracer.closed(0.5, 1, "unix:/p.sock", "unix:/s.sock", "closed by client")
    return out.getvalue().splitlines()


OPEN = message(rp.REMOTE_PROC_CONNECT_OPEN, MessageType.CALL, 1, body=rp.RemoteConnectOpenArgs("test:///default", 0))
OPENED = message(rp.REMOTE_PROC_CONNECT_OPEN, MessageType.REPLY, 1)
HOSTNAME = message(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, MessageType.REPLY, 2,
                   body=rp.RemoteConnectGetHostnameRet("vm"))  # fmt: skip


def test_lines_have_libvirts_shape(catalog: Catalog) -> None:
    assert trace(catalog, [(">", OPEN), ("<", OPENED)]) == [
        "  0.000 1 + client=unix:/p.sock server=unix:/s.sock",
        "  0.001 1 > remote.1.connect_open(call, ok, 1) len=56",
        "  0.002 1 < remote.1.connect_open(reply, ok, 1) len=28",
        "  0.500 1 - client=unix:/p.sock server=unix:/s.sock closed by client",
    ]


def test_payloads_follow_their_lines(catalog: Catalog) -> None:
    lines = trace(catalog, [(">", OPEN), ("<", OPENED), ("<", HOSTNAME)], payload=True)
    assert lines[1:6] == [
        "  0.001 1 > remote.1.connect_open(call, ok, 1) len=56",
        "        RemoteConnectOpenArgs(name='test:///default', flags=0)",
        "  0.002 1 < remote.1.connect_open(reply, ok, 1) len=28",
        "  0.003 1 < remote.1.connect_get_hostname(reply, ok, 2) len=36",
        "        RemoteConnectGetHostnameRet(hostname='vm')",
    ]


def test_undecodable_payloads_are_marked(catalog: Catalog) -> None:
    bad = message(rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, MessageType.REPLY, 2, body=b"\0\0\0\x09vm")
    lines = trace(catalog, [("<", bad)], payload=True)
    assert lines[1].startswith("  0.001 1 < remote.1.connect_get_hostname(reply, ok, 2) len=34 [undecodable: XdrError:")
    assert lines[2] == "        raw: 00 00 00 09 76 6d"


def test_json_is_one_object_per_line(catalog: Catalog) -> None:
    lines = trace(catalog, [(">", OPEN), ("<", HOSTNAME)], json=True, payload=True)
    objects = [json.loads(line) for line in lines]
    assert objects[0] == {"time": 0.0, "conn": 1, "event": "open", "client": "unix:/p.sock", "server": "unix:/s.sock"}
    assert objects[1] == {
        "time": 0.001, "conn": 1, "dir": ">", "program": "remote", "version": 1, "procedure": "connect_open",
        "type": "call", "status": "ok", "serial": 1, "len": 56, "prog": REMOTE, "proc": 1,
        "payload": {"_type": "RemoteConnectOpenArgs", "name": "test:///default", "flags": 0},
    }  # fmt: skip
    assert objects[2]["payload"] == {"_type": "RemoteConnectGetHostnameRet", "hostname": "vm"}
    assert objects[3]["event"] == "close" and objects[3]["reason"] == "closed by client"


def test_filters_choose_the_lines(catalog: Catalog) -> None:
    frames = [(">", OPEN), ("<", OPENED), ("<", HOSTNAME)]
    shown = trace(catalog, frames, procedures=["connect_get_*"])
    assert [line.split()[3] for line in shown[1:-1]] == ["remote.1.connect_get_hostname(reply,"]
    shown = trace(catalog, frames, types=["call"])
    assert len(shown) == 3 and "(call," in shown[1]
    assert len(trace(catalog, frames, programs=["qemu"])) == 2  # open and close only
    assert len(trace(catalog, frames, procedures=["1"])) == 4  # by number


def test_selectors() -> None:
    header = parse_header(OPENED)
    assert Selector.parse("connect_open").matches("remote", "connect_open", header)
    assert Selector.parse("remote.connect_*:reply").matches("remote", "connect_open", header)
    assert not Selector.parse("remote.connect_open:call").matches("remote", "connect_open", header)
    assert not Selector.parse("qemu.connect_open").matches("remote", "connect_open", header)
    assert Selector.parse("remote.1").matches("remote", "connect_open", header)
    for bad in ("", ".x", "remote."):
        with pytest.raises(SelectorError):
            Selector.parse(bad)


def test_a_framing_can_add_detail_to_the_line() -> None:
    """What an ONC RPC framing will show after the length (the credentials)."""
    from xdrgen.trace.framing import Header
    from xdrgen.trace.lines import message_line

    header = Header(100003, 3, 1, "call", "ok", 0x1234, 120, 40, "args", detail="auth=sys(uid=0 gid=0)")
    assert message_line(1.5, 2, ">", "nfs", "getattr", header) == (
        "  1.500 2 > nfs.3.getattr(call, ok, 4660) len=120 auth=sys(uid=0 gid=0)"
    )
