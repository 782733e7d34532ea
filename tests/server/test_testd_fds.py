"""File descriptors between real clients and our test daemon: virsh's
``create --pass-fds`` and ``dom-fd-associate``, libvirt-python's
``openGraphicsFD``/``openGraphics``/``createWithFiles``, and our own two
clients, compared with libvirtd's test driver where it implements the call
(the ``*WithFiles`` creations; it lacks the others, which follow the public
API's documentation and the QEMU driver)."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

import libvirt_rpc
from libvirt_rpc.errors import ErrorNumber, LibvirtError
from testd_support import Libvirtd, Testd, ext_uri, require_binary, virsh_env, virsh_in

PYTHON = "/usr/bin/python3"  # Debian's python3-libvirt

FDTEST = (
    "<domain type='test'><name>fdtest</name><uuid>5a0c6a48-5d7e-4b7b-9a55-222222222222</uuid>"
    "<memory>8192</memory><os><type>hvm</type></os></domain>"
)
VNC = (
    "<domain type='test'><name>vnc</name><uuid>5a0c6a48-5d7e-4b7b-9a55-333333333333</uuid>"
    "<memory>8192</memory><os><type>hvm</type></os>"
    "<devices><graphics type='vnc' port='-1' autoport='yes'/><graphics type='sdl'/></devices></domain>"
)


def pipe_links(pid: int, fd: int) -> int:
    """How many of process ``pid``'s descriptors are the pipe ``fd`` is one
    end of."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    found = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            found += os.readlink(f"/proc/{pid}/fd/{name}") == target
        except OSError:
            pass
    return found


def wait_for(predicate: object, what: str) -> None:
    for _ in range(500):
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"never: {what}")


def run_python(script: str, *args: str) -> object:
    """Run ``script`` with libvirt-python; what it prints, as JSON."""
    result = subprocess.run(
        [PYTHON, "-c", script, *args], env=virsh_env(), capture_output=True, text=True, timeout=120
    )
    if "No module named 'libvirt'" in result.stderr:
        pytest.fail(f"libvirt-python is not installed for {PYTHON}: run .ci/install-system-packages.sh")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---- virsh ------------------------------------------------------------------


def test_virsh_create_with_passed_fds_as_with_libvirtd(
    fresh_testd: Testd, real_libvirtd: Libvirtd, tmp_path: Path
) -> None:
    (tmp_path / "fd.xml").write_text(FDTEST)
    outputs = []
    for uri in (fresh_testd.uri_unix, real_libvirtd.uri_unix):
        read_end, write_end = os.pipe()
        try:
            result = subprocess.run(
                [require_binary("virsh"), "-c", uri,
                 f"create fd.xml --pass-fds {read_end},{write_end}; domstate fdtest; destroy fdtest"],
                env=virsh_env(), cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=60, pass_fds=(read_end, write_end),
            )  # fmt: skip
        finally:
            os.close(read_end)
            os.close(write_end)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("Domain 'fdtest' created from fd.xml\n\nrunning\n")


class InteractiveVirsh:
    """``virsh -q -c URI`` reading commands from a pipe; :meth:`run` waits
    for a command's end by the output of an ``echo --shell`` after it
    (quoted otherwise than the echoed command line)."""

    def __init__(self, uri: str, pass_fds: tuple[int, ...]) -> None:
        self.proc = subprocess.Popen(
            [require_binary("virsh"), "-q", "-c", uri],
            env=virsh_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
        )  # fmt: skip
        self._output = b""
        self._marks = 0

    def run(self, *commands: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._marks += 1
        mark = f"mark {self._marks}"
        self.proc.stdin.write("".join(f"{c}\n" for c in (*commands, f'echo --shell "{mark}"')).encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + 30
        while f"'{mark}'".encode() not in self._output:
            assert time.monotonic() < deadline, self._output
            ready, _, _ = select.select([self.proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                assert chunk, self._output
                self._output += chunk
        return self._output.decode()

    def quit(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(30)


def test_virsh_dom_fd_associate_holds_them_while_connected(fresh_testd: Testd) -> None:
    read_end, write_end = os.pipe()
    virsh = InteractiveVirsh(fresh_testd.uri_unix, (write_end,))
    try:
        # virsh 9.0's syntax, with options or positional
        output = virsh.run(f"dom-fd-associate test --name disk0 --pass-fds {write_end}")
        assert pipe_links(fresh_testd.pid, write_end) == 1
        output = virsh.run(
            f"dom-fd-associate test disk1 {write_end}",  # another group
            f"dom-fd-associate test disk0 {write_end} --seclabel-writable",  # replaces the first
        )
        assert pipe_links(fresh_testd.pid, write_end) == 2
        assert "error" not in output
        assert virsh.quit() == 0
    finally:
        os.close(write_end)
        if virsh.proc.poll() is None:
            virsh.proc.kill()
    # the connection is gone, and so are the daemon's copies: the pipe ends
    wait_for(lambda: pipe_links(fresh_testd.pid, read_end) == 0, "the daemon closed the associated descriptors")
    assert os.read(read_end, 1) == b""
    os.close(read_end)


def test_virsh_dom_fd_associate_errors(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    result = virsh_in(fresh_testd.uri_unix, "dom-fd-associate nosuch --name x --pass-fds 0")
    assert result.stderr.startswith("error: failed to get domain 'nosuch'")
    result = virsh_in(real_libvirtd.uri_unix, "dom-fd-associate test --name x --pass-fds 0")
    assert "this function is not supported by the connection driver: virDomainFDAssociate" in result.stderr


# ---- libvirt-python ---------------------------------------------------------

GRAPHICS = """\
import json, socket, struct, sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(sys.argv[1])
out = {}
def attempt(key, function):
    try:
        out[key] = function()
    except libvirt.libvirtError as e:
        out[key] = f"error {e.get_error_code()} {e.get_error_domain()}: {e}"
def greet(s):
    banner = s.recv(12)
    s.sendall(banner)
    types = s.recv(2)
    s.sendall(b"\\x01")
    result = s.recv(4)
    s.sendall(b"\\x01")
    init = s.recv(100)
    s.close()
    return [banner.decode(), list(types), list(result), list(struct.unpack(">HH", init[:4])), init[24:].decode()]
d = c.lookupByName("test")
attempt("no graphics", lambda: d.openGraphicsFD(0))
v = c.defineXML(sys.argv[2])
attempt("inactive", lambda: v.openGraphicsFD(0))
v.create()
attempt("vnc", lambda: greet(socket.socket(fileno=v.openGraphicsFD(0))))
attempt("skipauth", lambda: greet(socket.socket(fileno=v.openGraphicsFD(0, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH))))
attempt("sdl", lambda: v.openGraphicsFD(1))
attempt("index", lambda: v.openGraphicsFD(2))
attempt("flags", lambda: v.openGraphicsFD(0, 2))
ours, theirs = socket.socketpair()
attempt("open graphics", lambda: v.openGraphics(0, theirs.fileno()))
theirs.close()
out["given socket"] = greet(ours)
print(json.dumps(out))
"""


def test_libvirt_python_open_graphics_fd_greets_as_vnc(fresh_testd: Testd) -> None:
    out = run_python(GRAPHICS, fresh_testd.uri_unix, VNC)
    handshake = ["RFB 003.008\n", [1, 1], [0, 0, 0, 0], [720, 400], "vnc"]
    assert out == {
        "no graphics": "error 1 12: internal error: No graphics backend with index 0",
        "inactive": "error 55 12: Requested operation is not valid: domain is not running",
        "vnc": handshake,
        "skipauth": handshake,
        "sdl": "error 67 12: unsupported configuration: Can only open VNC or SPICE graphics backends, not sdl",
        "index": "error 1 12: internal error: No graphics backend with index 2",
        "flags": "error 8 12: unsupported flags (0x2) in function testDomainOpenGraphicsFD",
        "open graphics": 0,
        "given socket": handshake,
    }


WITH_FILES = """\
import json, os, sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(sys.argv[1])
out = []
def attempt(function):
    try:
        out.append(repr(function()))
    except libvirt.libvirtError as e:
        out.append(f"error {e.get_error_code()} {e.get_error_domain()}: {e}")
r, w = os.pipe()
xml = sys.argv[2]
attempt(lambda: c.createXMLWithFiles(xml, [r, w], 0x100))
attempt(lambda: c.createXMLWithFiles(xml, [r, w]).state())
attempt(lambda: c.lookupByName("fdtest").createWithFiles([r]))
attempt(lambda: c.lookupByName("fdtest").destroy())
d = c.defineXML(xml)
attempt(lambda: d.createWithFiles([r], libvirt.VIR_DOMAIN_START_PAUSED))
attempt(lambda: d.createWithFiles([r, w]))
attempt(lambda: d.state())
attempt(lambda: (d.destroy(), d.undefine()))
os.close(r)
os.close(w)
print(json.dumps(out))
"""


def test_libvirt_python_create_with_files_as_with_libvirtd(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    ours = run_python(WITH_FILES, fresh_testd.uri_unix, FDTEST)
    theirs = run_python(WITH_FILES, real_libvirtd.uri_unix, FDTEST)
    assert ours == theirs
    assert ours[1] == "[1, 1]" and ours[2].startswith("error 1 12: internal error: Domain 'fdtest' is already running")


# ---- our clients --------------------------------------------------------------


def test_our_clients_create_with_files_on_both_daemons(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    read_end, write_end = os.pipe()
    for uri in (fresh_testd.uri_unix, real_libvirtd.uri_unix):
        with libvirt_rpc.open(uri) as conn:
            dom = conn.domain_create_xml_with_files(xml_desc=FDTEST, files=[read_end, write_end]).dom
            assert conn.domain_get_state(dom=dom).state == 1
            conn.domain_destroy(dom=dom)
            dom = conn.domain_define_xml(xml=FDTEST).dom
            assert conn.domain_create_with_files(dom=dom, files=[read_end]).dom.id > 0
            conn.domain_destroy(dom=dom)
            conn.domain_undefine(dom=dom)

        async def scenario() -> None:
            conn = await libvirt_rpc.open_async(uri)
            async with conn:
                dom = (await conn.domain_create_xml_with_files(xml_desc=FDTEST, files=[read_end])).dom
                assert (await conn.domain_get_state(dom=dom)).state == 1
                await conn.domain_destroy(dom=dom)

        asyncio.run(scenario())
    for fd in (read_end, write_end):
        os.fstat(fd)  # still ours
        os.close(fd)


def test_our_clients_open_graphics_fd(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(fresh_testd.uri_unix) as conn:
        dom = conn.domain_create_xml(xml_desc=VNC).dom
        with conn.domain_open_graphics_fd(dom=dom, idx=0) as reply:
            (fd,) = reply.fds
            assert socket.socket(fileno=os.dup(fd)).recv(12) == b"RFB 003.008\n"
    with libvirt_rpc.open(real_libvirtd.uri_unix) as conn:
        with pytest.raises(LibvirtError, match="not supported by the connection driver: virDomainOpenGraphicsFD"):
            conn.domain_open_graphics_fd(dom=conn.domain_lookup_by_name(name="test").dom, idx=0)

    async def scenario() -> bytes:
        conn = await libvirt_rpc.open_async(fresh_testd.uri_unix)
        async with conn:
            dom = (await conn.domain_lookup_by_name(name="vnc")).dom
            with await conn.domain_open_graphics_fd(dom=dom, idx=0) as reply:
                reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=os.dup(reply.fds[0])))
                banner = await reader.readexactly(12)
                writer.close()
                return banner

    assert asyncio.run(scenario()) == b"RFB 003.008\n"


@pytest.fixture(params=["tcp", "ext"])
def no_fd_uri(request: pytest.FixtureRequest, fresh_testd: Testd, tmp_path: Path) -> str:
    """A URI to the daemon over a transport that cannot carry descriptors:
    TCP, or ext through ``nc -U`` to its unix socket (a pipe to a helper)."""
    if request.param == "tcp":
        return fresh_testd.uri_tcp
    return ext_uri(tmp_path, f"{require_binary('nc')} -U {fresh_testd.socket_path}")


NO_FDS = "internal error: Sending file descriptors is not supported on this socket"


def test_our_client_refuses_files_where_they_cannot_pass(no_fd_uri: str) -> None:
    read_end, write_end = os.pipe()
    with libvirt_rpc.open(no_fd_uri) as conn:
        with pytest.raises(LibvirtError) as raised:
            conn.domain_create_xml_with_files(xml_desc=FDTEST, files=[read_end])
        assert (raised.value.code, str(raised.value)) == (ErrorNumber.VIR_ERR_INTERNAL_ERROR, NO_FDS)
        assert conn.connect_get_hostname().hostname  # the connection goes on
        assert [d.name for d in conn.connect_list_all_domains(need_results=1, flags=0).domains] == ["test"]
    os.close(read_end)
    os.close(write_end)


def test_our_asyncio_client_refuses_files_where_they_cannot_pass(no_fd_uri: str) -> None:
    read_end, write_end = os.pipe()

    async def scenario() -> None:
        conn = await libvirt_rpc.open_async(no_fd_uri, timeout=30)
        async with conn:
            with pytest.raises(LibvirtError) as raised:
                await conn.domain_create_xml_with_files(xml_desc=FDTEST, files=[read_end])
            assert (raised.value.code, str(raised.value)) == (ErrorNumber.VIR_ERR_INTERNAL_ERROR, NO_FDS)
            assert (await conn.connect_get_hostname()).hostname  # the connection goes on
            assert [d.name for d in (await conn.connect_list_all_domains(need_results=1, flags=0)).domains] == ["test"]

    asyncio.run(scenario())
    for fd in (read_end, write_end):
        os.fstat(fd)  # still ours
        os.close(fd)


def error_of(call: object) -> tuple[int, int, str, str | None, str | None, int, int]:
    try:
        call()  # type: ignore[operator]
    except LibvirtError as error:
        return int(error.code), int(error.domain), error.message, error.str1, error.str2, error.int1, error.int2
    raise AssertionError("no error")


def test_checks_before_the_driver_as_libvirtds(fresh_testd: Testd, real_libvirtd: Libvirtd) -> None:
    """The daemon's checks before a driver sees the call, compared with
    libvirtd's (whose test driver then says "not supported": which also
    shows that our client sent the descriptors the table says it sends)."""
    answers = []
    for uri in (fresh_testd.uri_unix, real_libvirtd.uri_unix):
        sock, _ = socket.socketpair()
        pipe_read, pipe_write = os.pipe()
        with libvirt_rpc.open(uri) as conn, libvirt_rpc.open(uri, readonly=True) as ro:
            dom = conn.domain_lookup_by_name(name="test").dom
            answers.append(
                [
                    error_of(lambda: conn.domain_open_graphics(dom=dom, idx=0)),
                    error_of(lambda: conn.domain_open_graphics(dom=dom, idx=0, files=[pipe_read]))[:2],
                    error_of(lambda: conn.domain_fd_associate(dom=dom, name="x")),
                    error_of(lambda: ro.domain_fd_associate(dom=dom, name="x", files=[pipe_read])),
                    error_of(lambda: ro.domain_open_graphics(dom=dom, idx=0, files=[sock])),
                    error_of(lambda: ro.domain_open_graphics_fd(dom=dom, idx=0)),
                    error_of(lambda: ro.domain_create_xml_with_files(xml_desc=FDTEST, files=[pipe_read])),
                    error_of(lambda: ro.domain_create_with_files(dom=dom, files=[pipe_read])),
                ]
            )
            if uri == real_libvirtd.uri_unix:  # with the descriptor, past the dispatcher's checks
                for call in (
                    lambda: conn.domain_open_graphics(dom=dom, idx=0, files=[sock]),
                    lambda: conn.domain_fd_associate(dom=dom, name="x", files=[pipe_read]),
                ):
                    assert error_of(call)[2].startswith("this function is not supported by the connection driver")
        for fd in (pipe_read, pipe_write):
            os.close(fd)
        sock.close()
    assert answers[0] == answers[1]
    assert answers[0][0][2] == "internal error: No FD available at slot 0"
    assert answers[0][2][2] == "nfds in virDomainFDAssociate must not be zero"
