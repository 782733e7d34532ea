"""Changing messages on their way, with real clients on the other side:
error texts of any length reach virsh, libvirt-python and our client while
the connection keeps working; drops, delays, rewrite files; messages that
cannot be decoded pass untouched; TLS on either side."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

import libvirt_rpc
from trace_support import ProxyFactory
from daemons import Libvirtd, virsh, virsh_env
from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.errors import CallTimeoutError
from testd_support import RawConnection
from xdrgen.runtime.virnet.framing import MessageStatus, MessageType, encode_message

LENGTHS = [1, 2, 3, 7, 64, 301]

LIBVIRT_PYTHON = r"""
import json, sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(sys.argv[1])
try:
    conn.lookupByName("nosuch")
    message = None
except libvirt.libvirtError as error:
    message = error.get_error_message()
info = conn.lookupByName("test").info()
conn.close()
print(json.dumps({"message": message, "info": info}))
"""


def text_of(length: int) -> str:
    return ("replaced by the proxy: " + "0123456789" * 31)[:length]


@pytest.mark.parametrize("length", LENGTHS)
def test_error_text_of_any_length(trace_proxy: ProxyFactory, libvirtd: Libvirtd, length: int) -> None:
    """The text is looked for in virsh's client log (what libvirt's client
    library decoded) and in what libvirt-python and our client raise, not in
    what ``virsh dominfo nosuch`` prints, because virsh 9.0 prints only
    "error: failed to get domain 'nosuch'" for a failed lookup, with the
    proxy or without it."""
    text = text_of(length)
    proxy = trace_proxy("--error", f"domain_lookup_by_name={text}")
    env = virsh_env() | {"LIBVIRT_LOG_OUTPUTS": "4:stderr"}
    result = subprocess.run(
        ["virsh", "-c", proxy.uri(), "dominfo nosuch; dominfo test"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    logged = [line for line in result.stderr.splitlines() if " error : virNetClientProgramDispatchError" in line]
    assert len(logged) == 1 and logged[0].endswith(f" : {text}"), result.stderr
    assert "error: failed to get domain 'nosuch'" in result.stderr
    assert "Name:           test" in result.stdout  # the next calls on the connection work

    reference = subprocess.run(
        ["/usr/bin/python3", "-c", LIBVIRT_PYTHON, proxy.uri()],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    answer = json.loads(reference.stdout)
    assert answer["message"] == text and answer["info"][1] == 8388608

    with libvirt_rpc.open(proxy.uri()) as conn:
        with pytest.raises(libvirt_rpc.LibvirtError) as raised:
            conn.domain_lookup_by_name(name="nosuch")
        assert raised.value.message == text
        dom = conn.domain_lookup_by_name(name="test").dom
        assert conn.domain_get_info(dom=dom).maxMem == 8388608

    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        with pytest.raises(libvirt_rpc.LibvirtError) as raised:
            conn.domain_lookup_by_name(name="nosuch")
        original = raised.value.message
    proxy.wait_closed(3)
    rewritten = [m for m in proxy.messages() if m.procedure == "domain_lookup_by_name" and m.status == "error"]
    assert len(rewritten) == 3
    for line in rewritten:
        was = re.fullmatch(r" \[rewritten, was len=(\d+)\]", line.rest)
        assert was is not None, line
        # only the string's padded length changed
        assert line.len - int(was.group(1)) == padded(text) - padded(original)


def padded(text: str) -> int:
    return (len(text.encode()) + 3) // 4 * 4


def test_drop_and_delay(trace_proxy: ProxyFactory) -> None:
    proxy = trace_proxy("--drop", "connect_get_hostname:reply", "--delay", "domain_get_info:reply=0.5")
    with libvirt_rpc.open(proxy.uri(), timeout=10) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        start = time.monotonic()
        conn.domain_get_info(dom=dom)
        assert time.monotonic() - start >= 0.5
        start = time.monotonic()
        conn.connect_get_version()
        assert time.monotonic() - start < 0.4
        conn.timeout = 1.0
        with pytest.raises(CallTimeoutError):
            conn.connect_get_hostname()
        conn.timeout = 10
        assert conn.domain_get_info(dom=dom).maxMem == 8388608
    lines = proxy.wait_closed()
    assert any("connect_get_hostname(reply, ok," in line and line.endswith("[dropped]") for line in lines)
    assert any("domain_get_info(reply, ok," in line and line.endswith("[delayed 0.5s]") for line in lines)


def test_a_rewrite_file(trace_proxy: ProxyFactory, tmp_path: Path) -> None:
    rules = tmp_path / "rules.py"
    rules.write_text(
        "def rewrite(message):\n"
        "    if message.procedure_name == 'connect_get_hostname' and message.is_reply and not message.is_error:\n"
        "        message.payload.hostname = 'a-' + message.payload.hostname + '-seen-through-the-proxy'\n"
        "    return message\n"
    )
    proxy = trace_proxy("--rewrite", str(rules))
    result = virsh(proxy.uri(), "hostname; domname 1")
    assert result.returncode == 0, result.stderr
    hostname, domname = result.stdout.split()
    assert hostname.startswith("a-") and hostname.endswith("-seen-through-the-proxy") and domname == "test"
    proxy.wait_closed()
    (reply,) = [m for m in proxy.messages() if m.procedure == "connect_get_hostname" and m.dir == "<"]
    assert "[rewritten, was len=" in reply.rest
    assert all("rewritten" not in m.rest for m in proxy.messages() if m.procedure != "connect_get_hostname")


def test_undecodable_messages_pass_untouched(trace_proxy: ProxyFactory, libvirtd: Libvirtd, tmp_path: Path) -> None:
    rules = tmp_path / "rules.py"
    rules.write_text("def rewrite(message):\n    return message\n")
    proxy = trace_proxy("--rewrite", str(rules))
    garbage = b"\x00\x00\x00\x40" + b"\xff" * 8  # a string length beyond the bytes

    def lookup_garbage(address: str) -> bytes:
        with RawConnection(address) as raw:
            raw.handshake()
            serial = raw.next_serial()
            raw.send(encode_message(rp.REMOTE_PROGRAM, 1, rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, MessageType.CALL,
                                    serial, MessageStatus.OK, garbage))  # fmt: skip
            reply = raw.wait_reply(serial)
            raw.check()  # and the connection goes on
            return bytes(reply.payload)

    assert lookup_garbage(proxy.socket_path) == lookup_garbage(libvirtd.socket_path)
    proxy.wait_closed()
    (call,) = [m for m in proxy.messages() if m.procedure == "domain_lookup_by_name" and m.dir == ">"
               and "undecodable" in m.rest]  # fmt: skip
    assert call.len == 28 + len(garbage) and "[undecodable: XdrError" in call.rest


@pytest.mark.parametrize("listen, upstream", [("tls", "tls"), ("tcp", "tls"), ("tls", "unix")])
def test_tls_on_either_side(trace_proxy: ProxyFactory, libvirtd: Libvirtd, listen: str, upstream: str) -> None:
    """A proxy holding the certificates sees TLS traffic in clear; libvirt's
    confirmation byte after the handshake is added or removed when only one
    side is TLS."""
    options = ["--pkipath", libvirtd.pki_dir]
    if listen == "tls":
        options.append("--listen-tls")
    if upstream == "tls":
        options.append("--upstream-tls")
        target = f"tcp:127.0.0.1:{libvirtd.tls_port}"
    else:
        target = f"unix:{libvirtd.socket_path}"
    proxy = trace_proxy(*options, upstream=target, listen="tcp:127.0.0.1:0")
    query = f"?pkipath={libvirtd.pki_dir}" if listen == "tls" else ""
    result = virsh(proxy.uri(listen, query), "domname 1; hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "test"
    proxy.wait_closed()
    procedures = [m.procedure for m in proxy.messages()]
    assert procedures[:2] == ["auth_list", "auth_list"] and "connect_get_hostname" in procedures
    assert all(not m.rest for m in proxy.messages())
    assert proxy.lines()[0].split()[3].startswith("client=tcp:127.0.0.1:")
