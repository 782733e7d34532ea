"""The real virsh through the tracing proxy in front of a real libvirtd
(test driver): what virsh prints is what it prints without the proxy, and
the trace names every message, in libvirt's rpc-monitor.stp shape."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from trace_support import ProxyFactory
from daemons import Libvirtd, require_binary, virsh, virsh_env
from testd_support import normalise
from trace_support import Line
from xdrgen.trace.addresses import peer_name



def domain_xml(name: str, uuid: str) -> str:
    return (f"<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory>8192</memory>"
            "<os><type>hvm</type></os></domain>")  # fmt: skip


def calls(messages: list[Line]) -> list[str]:
    return [m.procedure for m in messages if m.dir == ">" and m.type.startswith("call")]


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(name in remaining for name in wanted)


@pytest.mark.parametrize("generic", [False, True], ids=["libvirt_rpc.trace", "xdrgen.trace"])
def test_virsh_domname_trace(trace_proxy: ProxyFactory, generic: bool) -> None:
    """The sequence of the blog's ``virsh domname`` trace: auth_list,
    connect_open, the lookup, connect_close; each call answered with the
    same serial, lengths as libvirt sends them."""
    proxy = trace_proxy(generic=generic)
    result = virsh(proxy.uri(), "domname", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "test"
    lines = proxy.wait_closed()
    messages = proxy.messages()
    assert is_subsequence(["auth_list", "connect_open", "domain_lookup_by_id", "connect_close"], calls(messages))
    assert messages[0].call == "remote.1.auth_list(call, ok, 0) len=28"
    assert messages[1].call == "remote.1.auth_list(reply, ok, 0) len=36"
    replies = {(m.procedure, m.serial) for m in messages if m.dir == "<" and m.type == "reply"}
    assert {(m.procedure, m.serial) for m in messages if m.dir == ">"} == replies
    assert " 1 + client=unix:" in lines[0] and f"server=unix:{proxy.address[5:]}" not in lines[0]
    assert " 1 - client=unix:" in lines[-1]
    assert all(not m.rest for m in messages)  # nothing undecodable, nothing rewritten
    proxy.stop()
    assert proxy.proc.returncode == 0 and not os.path.exists(proxy.socket_path)  # SIGTERM: a clean stop


#: What ``--json`` writes for a message and for a connection's open and close.
MESSAGE_KEYS = {"time", "conn", "dir", "program", "version", "procedure", "type", "status", "serial", "len",
                "prog", "proc"}  # fmt: skip
EVENT_KEYS = {"time", "conn", "event", "client", "server"}


def test_json_lines_of_remote_replies_only(trace_proxy: ProxyFactory) -> None:
    """``--json --program remote --type reply`` from the command line: one
    JSON object per line, the calls and the qemu program's reply (the test
    driver refuses a monitor command) left out; the open and close name
    virsh's process as the unix peer."""
    proxy = trace_proxy("--json", "--program", "remote", "--type", "reply")
    command = "domname 1; qemu-monitor-command test --hmp info"
    run = subprocess.Popen(
        [require_binary("virsh"), "-c", proxy.uri(), command], env=virsh_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = run.communicate(timeout=30)
    assert out.split()[0] == "test"
    assert "virDomainQemuMonitorCommand" in err  # the daemon's answer came back on the qemu program
    objects = [json.loads(line) for line in proxy.wait_closed()]
    events = [o for o in objects if "event" in o]
    assert [o["event"] for o in events] == ["open", "close"]
    peer = f"unix:{proxy.socket_path} pid={run.pid} uid={os.getuid()}"
    assert all(set(o) - {"reason"} == EVENT_KEYS and o["client"] == peer for o in events), events
    replies = [o for o in objects if "event" not in o]
    assert all(set(o) == MESSAGE_KEYS for o in replies), replies
    assert {(o["program"], o["type"], o["dir"], o["prog"]) for o in replies} == {("remote", "reply", "<", 0x20008086)}
    procedures = [o["procedure"] for o in replies]
    assert is_subsequence(["auth_list", "connect_open", "domain_lookup_by_id", "connect_close"], procedures)
    assert [o["serial"] for o in replies] == sorted(o["serial"] for o in replies)


def test_a_unix_peer_where_the_system_has_no_peer_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``SO_PEERCRED`` (not Linux) a unix peer is the path alone."""
    left, right = socket.socketpair()
    with left, right:
        assert peer_name(left, "unix:/p.sock") == f"unix:/p.sock pid={os.getpid()} uid={os.getuid()}"
        monkeypatch.delattr(socket, "SO_PEERCRED")
        assert peer_name(left, "unix:/p.sock") == "unix:/p.sock"


def test_virsh_list_dominfo_and_a_lifecycle(trace_proxy: ProxyFactory, libvirtd: Libvirtd, tmp_path: Path) -> None:
    xml = tmp_path / "traced.xml"
    xml.write_text(domain_xml("traced", "5a0c6a48-5d7e-4b7b-9a55-111111111111"))
    commands = f"list --all; dominfo test; define {xml}; start traced; dominfo traced; destroy traced; undefine traced"
    proxy = trace_proxy()
    through = virsh(proxy.uri(), commands)
    direct = virsh(libvirtd.uri_unix, commands)
    assert through.returncode == 0, through.stderr
    assert normalise(through.stdout) == normalise(direct.stdout)
    proxy.wait_closed()
    seen = calls(proxy.messages())
    wanted = ["connect_list_all_domains", "domain_get_info", "domain_define_xml", "domain_create",
              "domain_get_info", "domain_destroy", "domain_undefine_flags", "connect_close"]  # fmt: skip
    assert is_subsequence(wanted, seen), seen


def test_an_event_reaches_virsh_through_the_proxy(trace_proxy: ProxyFactory) -> None:
    proxy = trace_proxy("--payload")
    watcher = subprocess.Popen(
        [require_binary("virsh"), "-c", proxy.uri(), "event", "--domain", "test", "--event", "lifecycle",
         "--loop", "--timeout", "20"],
        env=virsh_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not any(m.procedure == "connect_domain_event_callback_register_any" and m.dir == "<"
                      for m in proxy.messages()):  # fmt: skip
            assert time.monotonic() < deadline and watcher.poll() is None, "virsh event did not register"
            time.sleep(0.05)
        changed = virsh(proxy.uri(), "destroy test; start test")
        assert changed.returncode == 0, changed.stderr
        deadline = time.monotonic() + 20
        while sum(m.procedure == "domain_event_callback_lifecycle" for m in proxy.messages()) < 2:
            assert time.monotonic() < deadline, proxy.lines()
            time.sleep(0.05)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    assert "event 'lifecycle' for domain 'test': Stopped Destroyed" in out
    events = [m for m in proxy.messages() if m.procedure == "domain_event_callback_lifecycle"]
    assert all(m.dir == "<" and m.type == "message" and m.status == "ok" for m in events)
    lines = proxy.lines()
    payload = lines[lines.index(next(line for line in lines if "domain_event_callback_lifecycle" in line)) + 1]
    assert payload.startswith("        RemoteDomainEventCallbackLifecycleMsg(callbackID=")
    assert "event=5, detail=1" in payload  # VIR_DOMAIN_EVENT_STOPPED, _DESTROYED


def test_a_stream_passes_byte_for_byte(trace_proxy: ProxyFactory, libvirtd: Libvirtd, tmp_path: Path) -> None:
    proxy = trace_proxy()
    through, direct = tmp_path / "through.png", tmp_path / "direct.png"
    assert virsh(proxy.uri(), "screenshot", "test", str(through)).returncode == 0
    assert virsh(libvirtd.uri_unix, "screenshot", "test", str(direct)).returncode == 0
    assert through.read_bytes() == direct.read_bytes()
    proxy.wait_closed()
    stream = [m for m in proxy.messages() if m.procedure == "domain_screenshot" and m.type == "stream"]
    data = sum(m.len - 28 for m in stream if m.status == "continue" and m.dir == "<")
    assert data == len(through.read_bytes())
    assert [m.dir for m in stream if m.status == "ok"] == [">", "<"]  # the end, both ways


def run_with_fds(uri: str, xml: Path) -> subprocess.CompletedProcess[str]:
    """``virsh create --pass-fds``: a CALL_WITH_FDS, each descriptor after
    it on its own one-byte sendmsg."""
    read_end, write_end = os.pipe()
    try:
        return subprocess.run(
            [require_binary("virsh"), "-c", uri, f"create --pass-fds {read_end},{write_end} {xml}; list --all; destroy fdtest"],
            env=virsh_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
            pass_fds=(read_end, write_end), check=False,
        )  # fmt: skip
    finally:
        os.close(read_end)
        os.close(write_end)


def test_file_descriptors_pass_through(trace_proxy: ProxyFactory, tmp_path: Path) -> None:
    """libvirtd reads each descriptor with its carrier byte; if the proxy
    lost one, the stream would be off by a byte and the next call fail."""
    xml = tmp_path / "fd.xml"
    xml.write_text(domain_xml("fdtest", "5a0c6a48-5d7e-4b7b-9a55-222222222222"))
    for options in ((), ("--delay", "domain_create_xml_with_files=0.1")):  # as read, and whole messages
        proxy = trace_proxy(*options)
        result = run_with_fds(proxy.uri(), xml)
        assert result.returncode == 0, result.stderr
        assert "fdtest" in result.stdout and "Domain 'fdtest' destroyed" in result.stdout
        proxy.wait_closed()
        (with_fds,) = [m for m in proxy.messages() if m.type == "call_with_fds"]
        assert with_fds.procedure == "domain_create_xml_with_files" and "nfds=2" in with_fds.rest
        assert calls(proxy.messages())[-1] == "connect_close"
