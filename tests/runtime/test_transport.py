"""Transports to libvirtd (libvirt_rpc.transport).

Everything runs against real local endpoints started here: UNIX and TCP echo
servers on loopback in threads, a TLS echo server with certificates made by
``openssl`` that sends libvirtd's confirmation byte, real child processes for
the ext and ssh transports (ssh replaced by a script that runs the remote
command locally, the way sshd would), and descriptor passing over real
sockets.  Only loopback addresses are used.
"""

from __future__ import annotations

import array
import asyncio
import io
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from libvirt_rpc.errors import (
    CallTimeoutError,
    ErrorDomain,
    ErrorNumber,
    LibvirtError,
)
from libvirt_rpc.transport import (
    REGISTRY,
    TLS_CONFIRMATION,
    CommandStream,
    CommandStreamWriter,
    SocketStream,
    Stream,
    UnixStream,
    command_argv,
    open_async_stream,
    open_stream,
    ssh_argv,
    ssh_remote_command,
)
from libvirt_rpc.uri import TRANSPORTS, LibvirtURI

LOOPBACK = "127.0.0.1"

# -- servers ---------------------------------------------------------------------

Handler = Callable[[socket.socket], None]


class Server:
    """Accepts connections on ``listener`` in a thread; one thread per client."""

    def __init__(self, listener: socket.socket, handler: Handler) -> None:
        self.listener = listener
        self.handler = handler
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        listener.settimeout(0.05)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            self.threads.append(worker)

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except (OSError, ssl.SSLError):
            pass  # clients that fail on purpose
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()
        for worker in self.threads:
            worker.join(5)


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def tcp_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    sock.listen(16)
    return sock


def port_of(server: Server) -> int:
    port: int = server.listener.getsockname()[1]
    return port


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: AF_UNIX paths are limited to 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="xdrt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_echo(short_dir: Path) -> Iterator[str]:
    path = str(short_dir / "sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    server = Server(listener, echo)
    yield path
    server.close()


@pytest.fixture
def tcp_echo() -> Iterator[int]:
    server = Server(tcp_listener(), echo)
    yield port_of(server)
    server.close()


def recv_exactly(stream: Stream, size: int) -> bytes:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = stream.recv_into(view[got:])
        assert n, "unexpected EOF"
        got += n
    return bytes(buf)


def round_trip(stream: Stream, payload: bytes = b"\x00\x00\x00\x1chello libvirt") -> None:
    stream.sendall(payload)
    assert recv_exactly(stream, len(payload)) == payload


# -- certificates ------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(d: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )


def _make_leaf(d: Path, name: str, ca: str, cn: str, extensions: str) -> None:
    (d / f"{name}.ext").write_text(extensions)
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
        cwd=d,
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
        "-out", f"{name}.pem", "-extfile", f"{name}.ext",
        cwd=d,
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CA, server and client certificates; ``client/`` is a libvirt pkipath."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: run .ci/install-system-packages.sh")
    d = tmp_path_factory.mktemp("pki")
    _make_ca(d, "ca")
    _make_ca(d, "rogue-ca")
    _make_leaf(
        d, "server", "ca", LOOPBACK,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName=IP:{LOOPBACK},DNS:localhost\n",
    )
    _make_leaf(
        d, "wrong-name", "ca", "elsewhere.invalid",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:elsewhere.invalid\n",
    )
    _make_leaf(
        d, "client", "ca", "client",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n",
    )
    client = d / "client"
    client.mkdir()
    shutil.copy(d / "ca.pem", client / "cacert.pem")
    shutil.copy(d / "client.pem", client / "clientcert.pem")
    shutil.copy(d / "client.key", client / "clientkey.pem")
    # Same client credentials, but trusting another CA.
    rogue = d / "rogue"
    rogue.mkdir()
    shutil.copy(d / "rogue-ca.pem", rogue / "cacert.pem")
    shutil.copy(d / "client.pem", rogue / "clientcert.pem")
    shutil.copy(d / "client.key", rogue / "clientkey.pem")
    # Only the CA: no client certificate to offer.
    anonymous = d / "anonymous"
    anonymous.mkdir()
    shutil.copy(d / "ca.pem", anonymous / "cacert.pem")
    return d


def server_context(pki: Path, cert: str = "server") -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    ctx.load_verify_locations(pki / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED  # libvirtd checks client certificates
    return ctx


CLEAN_CLOSE = b"close_notify"


def tls_handler(ctx: ssl.SSLContext, confirm: bytes | None) -> Handler:
    """Like libvirtd: handshake, check the client, send the confirmation byte.

    ``confirm=None`` refuses like libvirtd (drop the connection, no TLS
    close); ``CLEAN_CLOSE`` ends the TLS session properly without a byte.
    """

    def handle(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            if confirm is None:
                return
            if confirm == CLEAN_CLOSE:
                tls.unwrap()
                return
            tls.sendall(confirm)
            echo(tls)

    return handle


@pytest.fixture
def tls_server(pki: Path) -> Iterator[Callable[..., int]]:
    servers: list[Server] = []

    def start(confirm: bytes | None = TLS_CONFIRMATION, cert: str = "server") -> int:
        server = Server(tcp_listener(), tls_handler(server_context(pki, cert), confirm))
        servers.append(server)
        return port_of(server)

    yield start
    for server in servers:
        server.close()


def hang(stop: threading.Event) -> Handler:
    def handle(conn: socket.socket) -> None:
        stop.wait(10)

    return handle


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts and never says anything."""
    stop = threading.Event()
    server = Server(tcp_listener(), hang(stop))
    yield port_of(server)
    stop.set()
    server.close()


# -- unix ---------------------------------------------------------------------------


def test_unix_round_trip(unix_echo: str) -> None:
    with open_stream(LibvirtURI.parse(f"test+unix:///default?socket={unix_echo}"), 5) as stream:
        assert isinstance(stream, UnixStream)
        assert stream.transport == "unix" and stream.supports_fds
        assert stream.gettimeout() is None
        assert stream.fileno() >= 0
        round_trip(stream)
        stream.sendall(b"abc")
        assert recv_exactly(stream, 3) == b"abc"
    assert stream.closed
    stream.close()  # idempotent


def test_unix_plain_uri_string(unix_echo: str) -> None:
    with open_stream(f"qemu:///system?socket={unix_echo}") as stream:
        round_trip(stream)


def test_unix_abstract_socket() -> None:
    name = f"xdrgen-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(4)
    server = Server(listener, echo)
    try:
        with open_stream(f"test+unix:///default?socket=@{name}", 5) as stream:
            round_trip(stream)
    finally:
        server.close()


def test_unix_missing_socket(short_dir: Path) -> None:
    path = short_dir / "nope"
    with pytest.raises(LibvirtError) as info:
        open_stream(f"test+unix:///default?socket={path}", 5)
    err = info.value
    assert err.code is ErrorNumber.VIR_ERR_SYSTEM_ERROR
    assert err.domain is ErrorDomain.VIR_FROM_RPC
    assert str(err) == f"Failed to connect socket to '{path}': No such file or directory"
    assert err.int1 == 2


def test_eof_reads_as_zero(short_dir: Path) -> None:
    path = str(short_dir / "sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    server = Server(listener, lambda conn: None)  # closes at once
    try:
        with open_stream(f"test+unix:///d?socket={path}", 5) as stream:
            assert stream.recv_into(bytearray(10)) == 0
            assert stream.recv(10) == b""
    finally:
        server.close()


# -- descriptor passing -------------------------------------------------------------------


def test_fd_wire_format_one_byte_per_fd() -> None:
    """libvirt sends each descriptor with its own sendmsg of one NUL byte."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        UnixStream(ours).send_fds(b"msg", [w1, w2])
        assert theirs.recv(3) == b"msg"
        for _ in range(2):
            data, anc, flags, _ = theirs.recvmsg(16, socket.CMSG_SPACE(8 * 4))
            assert data == b"\0"
            assert len(anc) == 1
            level, kind, payload = anc[0]
            assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
            fds = array.array("i")
            fds.frombytes(payload)
            assert len(fds) == 1
            os.close(fds[0])
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)
        ours.close()
        theirs.close()


def test_fd_round_trip_over_socketpair(tmp_path: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    left, right = UnixStream(a), UnixStream(b)
    files = []
    for i in range(3):
        f = tmp_path / f"f{i}"
        f.write_text(f"content {i}")
        files.append(os.open(f, os.O_RDONLY))
    try:
        left.send_fds(b"\x00\x00\x00\x03", files)
        assert recv_exactly(right, 4) == b"\x00\x00\x00\x03"
        got = right.recv_fds(3)
        assert len(got) == 3
        for i, fd in enumerate(got):
            assert fd not in files
            assert not os.get_inheritable(fd)  # close-on-exec, like libvirt
            assert os.pread(fd, 100, 0) == f"content {i}".encode()
            os.close(fd)
        # After the descriptors, ordinary data flows again.
        right.sendall(b"ok")
        assert recv_exactly(left, 2) == b"ok"
    finally:
        for fd in files:
            os.close(fd)
        left.close()
        right.close()


def test_fd_passing_with_a_real_server(short_dir: Path) -> None:
    """Both directions over a connection made by open_stream."""
    path = str(short_dir / "sock")

    def handler(conn: socket.socket) -> None:
        stream = UnixStream(conn)
        assert recv_exactly(stream, 5) == b"HELLO"
        for fd, text in zip(stream.recv_fds(2), (b"one", b"two")):
            os.write(fd, text)
            os.close(fd)
        r, w = os.pipe()
        os.write(w, b"from server")
        os.close(w)
        stream.send_fds(b"X", [r])
        os.close(r)
        recv_exactly(stream, 1)  # wait for the client to finish

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    server = Server(listener, handler)
    pipes = [os.pipe(), os.pipe()]
    try:
        with open_stream(f"test+unix:///default?socket={path}", 5) as stream:
            stream.send_fds(b"HELLO", [pipes[0][1], pipes[1][1]])
            for _, w in pipes:
                os.close(w)
            assert recv_exactly(stream, 1) == b"X"
            (fd,) = stream.recv_fds(1)
            assert os.read(fd, 100) == b"from server"
            os.close(fd)
            assert os.read(pipes[0][0], 10) == b"one"
            assert os.read(pipes[1][0], 10) == b"two"
            stream.sendall(b".")
    finally:
        for r, _ in pipes:
            os.close(r)
        server.close()


def test_recv_fds_at_eof() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b.close()
    # Stream reads fail like socket reads (EOFError/OSError), not LibvirtError.
    with UnixStream(a) as stream, pytest.raises(EOFError):
        stream.recv_fds(1)


def test_recv_fds_without_descriptor() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b.sendall(b"\0")  # the byte, but no SCM_RIGHTS
    with UnixStream(a) as stream, pytest.raises(OSError):
        stream.recv_fds(1)
    b.close()


def test_too_many_fds() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with UnixStream(a) as stream, pytest.raises(ValueError):
        stream.send_fds(b"x", list(range(33)))
    b.close()


# -- tcp -----------------------------------------------------------------------------


def test_tcp_round_trip(tcp_echo: int) -> None:
    with open_stream(f"test+tcp://{LOOPBACK}:{tcp_echo}/default", 5) as stream:
        assert isinstance(stream, SocketStream)
        assert stream.transport == "tcp" and not stream.supports_fds
        round_trip(stream)
        with pytest.raises(LibvirtError, match="not supported on this socket"):
            stream.send_fds(b"x", [0])
        with pytest.raises(OSError, match="not supported on this socket"):
            stream.recv_fds(1)


def test_tcp_refused() -> None:
    probe = tcp_listener()
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(LibvirtError) as info:
        open_stream(f"test+tcp://{LOOPBACK}:{port}/default", 5)
    assert str(info.value) == (
        f"unable to connect to server at '{LOOPBACK}:{port}': Connection refused"
    )
    assert info.value.code is ErrorNumber.VIR_ERR_SYSTEM_ERROR


def test_tcp_connect_timeout() -> None:
    """A listener whose accept queue is full drops SYNs: connect must time out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(20):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect((LOOPBACK, port))
            except TimeoutError:
                break
        else:
            pytest.fail("the full accept queue kept accepting: cannot provoke a connect timeout")
        start = time.monotonic()
        with pytest.raises(CallTimeoutError) as info:
            open_stream(f"test+tcp://{LOOPBACK}:{port}/default", 0.5)
        assert time.monotonic() - start < 5
        assert str(info.value).startswith("Timed out during operation: ")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- tls -----------------------------------------------------------------------------


def tls_uri(port: int, pkipath: Path, extra: str = "") -> str:
    return f"test+tls://{LOOPBACK}:{port}/default?pkipath={pkipath}{extra}"


def test_tls_round_trip(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server()
    with open_stream(tls_uri(port, pki / "client"), 5) as stream:
        assert stream.transport == "tls"
        assert isinstance(stream, SocketStream)
        assert isinstance(stream.socket, ssl.SSLSocket)
        # The confirmation byte was consumed: what comes back is our data.
        round_trip(stream)


def test_tls_with_localhost_name(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server()
    # The name is checked against the certificate (DNS:localhost); use IPv4
    # loopback only, the server listens there.
    uri = LibvirtURI.parse(tls_uri(port, pki / "client"))
    uri = LibvirtURI.parse(uri.text.replace(LOOPBACK, "localhost"))
    try:
        stream = open_stream(uri, 5)
    except LibvirtError as err:
        # "localhost" may resolve to ::1 first, where nothing listens.
        pytest.fail(f"localhost did not reach the IPv4 listener: {err}")
    with stream:
        round_trip(stream)


@pytest.mark.parametrize("confirm", [b"\x00", b"\x02", CLEAN_CLOSE])
def test_tls_refused_by_server(pki: Path, tls_server: Callable[..., int], confirm: bytes) -> None:
    port = tls_server(confirm=confirm)
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(port, pki / "client"), 5)
    err = info.value
    assert str(err) == "server verification (of our certificate or IP address) failed"
    assert err.code is ErrorNumber.VIR_ERR_RPC
    assert err.domain is ErrorDomain.VIR_FROM_RPC


def test_tls_dropped_by_server(pki: Path, tls_server: Callable[..., int]) -> None:
    """libvirtd drops refused clients without a TLS close; libvirt reports EIO."""
    port = tls_server(confirm=None)
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(port, pki / "client"), 5)
    err = info.value
    assert str(err) == "Unable to read TLS confirmation: Input/output error"
    assert err.code is ErrorNumber.VIR_ERR_SYSTEM_ERROR
    assert err.domain is ErrorDomain.VIR_FROM_RPC


def test_tls_stream_eof_after_confirmation(pki: Path) -> None:
    """Once confirmed, an abrupt close is a plain end of stream."""
    ctx = server_context(pki)

    def handler(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(TLS_CONFIRMATION + b"bye")

    server = Server(tcp_listener(), handler)
    try:
        with open_stream(tls_uri(port_of(server), pki / "client"), 5) as stream:
            stream.settimeout(5)
            assert recv_exactly(stream, 3) == b"bye"
            assert stream.recv(10) == b""
    finally:
        server.close()


def test_tls_untrusted_server(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server()
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(port, pki / "rogue"), 5)
    assert info.value.code is ErrorNumber.VIR_ERR_AUTH_FAILED
    assert str(info.value) == "authentication failed: Failed to verify peer's certificate"


def test_tls_wrong_host_name(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server(cert="wrong-name")
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(port, pki / "client"), 5)
    assert info.value.code is ErrorNumber.VIR_ERR_AUTH_FAILED


NO_ISSUER = "Certificate failed validation: The certificate hasn't got a known issuer."
NOT_OWNER = "Certificate [session] owner does not match the hostname 127.0.0.1"


@pytest.mark.parametrize(
    ("client", "cert", "warning"),
    [("rogue", "server", NO_ISSUER), ("client", "wrong-name", NOT_OWNER), ("client", "server", None)],
)
def test_tls_no_verify(
    pki: Path,
    tls_server: Callable[..., int],
    caplog: pytest.LogCaptureFixture,
    client: str,
    cert: str,
    warning: str | None,
) -> None:
    """The checks fail, libvirt's warning says why, and the connection goes on."""
    caplog.set_level(logging.WARNING, logger="libvirt_rpc.transport")
    port = tls_server(cert=cert)
    with open_stream(tls_uri(port, pki / client, "&no_verify=1"), 5) as stream:
        round_trip(stream)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("libvirt_rpc.transport")]
    assert said == ([] if warning is None else [f"Certificate check failed {warning}"])


def test_tls_without_client_certificate(pki: Path, tls_server: Callable[..., int]) -> None:
    """libvirtd wants a client certificate; without one the connection fails."""
    port = tls_server()
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(port, pki / "anonymous"), 5)
    # TLS 1.3 finishes our side of the handshake before the server objects,
    # so this surfaces while reading the confirmation byte.
    assert info.value.code in (ErrorNumber.VIR_ERR_SYSTEM_ERROR, ErrorNumber.VIR_ERR_AUTH_FAILED)


def test_tls_missing_ca(tmp_path: Path, silent_server: int) -> None:
    with pytest.raises(LibvirtError) as info:
        open_stream(tls_uri(silent_server, tmp_path), 5)
    assert str(info.value) == (
        f"Cannot read CA certificate '{tmp_path}/cacert.pem': No such file or directory"
    )


def test_tls_handshake_timeout(pki: Path, silent_server: int) -> None:
    start = time.monotonic()
    with pytest.raises(CallTimeoutError):
        open_stream(tls_uri(silent_server, pki / "client"), 0.5)
    assert time.monotonic() - start < 5


def test_tls_confirmation_timeout(pki: Path) -> None:
    stop = threading.Event()
    ctx = server_context(pki)

    def handler(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True):
            stop.wait(10)  # handshake done, but never confirm

    server = Server(tcp_listener(), handler)
    try:
        start = time.monotonic()
        with pytest.raises(CallTimeoutError):
            open_stream(tls_uri(port_of(server), pki / "client"), 0.7)
        assert time.monotonic() - start < 5
    finally:
        stop.set()
        server.close()


# -- ext and ssh (child processes) --------------------------------------------------------


def test_ext_round_trip() -> None:
    uri = LibvirtURI.parse("test+ext:///default?command=/bin/cat")
    assert command_argv(uri) == ["/bin/cat"]
    with open_stream(uri, 5) as stream:
        assert isinstance(stream, CommandStream)
        assert stream.transport == "ext"
        round_trip(stream)
        process = stream.process
    assert process.returncode is not None


def test_ext_child_failure_shows_stderr(tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'Permission denied (publickey).' >&2\nexit 255\n")
    script.chmod(0o755)
    stream = open_stream(f"test+ext:///default?command={script}", 5)
    try:
        stream.settimeout(5)
        assert stream.recv(10) == b""
        stream.close()
        assert stream.error_output() == "Permission denied (publickey)."
    finally:
        stream.close()


def test_the_childs_stderr_is_not_closed_under_a_reader() -> None:
    """The blocking client's reader thread asks for the child's stderr when
    a read fails, as the connection's close (on another thread) keeps the
    text and closes the file: the close waits, and both get the text (it
    was a ValueError in the reader thread, "I/O operation on closed file")."""
    from libvirt_rpc.transport.command import _ChildStderr

    reading, go_on = threading.Event(), threading.Event()

    class PausingFile(io.BytesIO):
        def seek(self, *args: int) -> int:  # the reader's first seek waits
            if not reading.is_set():
                reading.set()
                go_on.wait(5)
            return super().seek(*args)

    stderr = _ChildStderr(PausingFile(b"Host key verification failed.\n"))
    texts: list[str] = []
    reader = threading.Thread(target=lambda: texts.append(stderr.text()))
    reader.start()
    assert reading.wait(5)
    closer = threading.Thread(target=stderr.finish)
    closer.start()
    closer.join(0.3)  # time to close the file, were it not held
    go_on.set()
    reader.join(5)
    closer.join(5)
    assert texts == ["Host key verification failed."]
    assert stderr.text() == texts[0]


def test_ext_child_is_ended_on_close(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.sh"
    # Ignores EOF on stdin: only a signal ends it.
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    stream = open_stream(f"test+ext:///default?command={script}", 5)
    assert isinstance(stream, CommandStream)
    start = time.monotonic()
    stream.close()
    assert time.monotonic() - start < 5
    assert stream.process.returncode is not None


def test_missing_command() -> None:
    with pytest.raises(LibvirtError, match="Cannot run '/nonexistent/ssh'"):
        open_stream("test+ssh://127.0.0.1/default?command=/nonexistent/ssh", 5)


@pytest.mark.parametrize("transport", ["libssh", "libssh2"])
def test_libssh_transports_refused(transport: str) -> None:
    uri = f"test+{transport}://127.0.0.1/default"
    message = f"transport '{transport}' needs an in-process SSH library; use '+ssh'"
    with pytest.raises(LibvirtError, match=re.escape(message)) as info:
        open_stream(uri, 5)
    assert info.value.code is ErrorNumber.VIR_ERR_NO_SUPPORT
    with pytest.raises(LibvirtError, match=re.escape(message)) as info:
        asyncio.run(open_async_stream(uri, 5))
    assert info.value.code is ErrorNumber.VIR_ERR_NO_SUPPORT


def test_command_argv_only_for_command_transports() -> None:
    with pytest.raises(ValueError, match="transport 'tcp' does not run a command"):
        command_argv(LibvirtURI.parse("test+tcp://127.0.0.1/default"))


# -- the registry -------------------------------------------------------------------------


def test_registry_covers_every_uri_transport() -> None:
    """Every transport a URI may name has one entry, filed under its own name."""
    assert sorted(REGISTRY) == sorted(TRANSPORTS)
    assert all(entry.name == name for name, entry in REGISTRY.items())


# ssh command lines as libvirt 9.0's virsh runs them (recorded with a fake ssh
# binary given as command=); the process runs as root here, hence -sock paths.
AUTO_NC = (
    "if 'nc' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0;"
    "else ARG=;fi;'nc' $ARG -U /var/run/libvirt/libvirt-sock"
)
SSH_CASES = [
    (
        "test+ssh://root@127.0.0.1:2222/default?no_verify=1",
        False,
        ["-p", "2222", "-l", "root", "-T", "-e", "none", "-o", "StrictHostKeyChecking=no",
         "--", "127.0.0.1",
         "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
         f"virt-ssh-helper 'test:///default'; else    {AUTO_NC}; fi'"],
    ),
    (
        "test+ssh://u@h/default?socket=/tmp/my%20sock&netcat=/usr/bin/my%20nc&no_tty=1&keyfile=/k",
        False,
        ["-l", "u", "-i", "/k", "-T", "-e", "none", "-o", "BatchMode=yes", "--", "h",
         "sh -c 'if '''\\''/usr/bin/my nc'\\'''' -q 2>&1 | grep \"requires an argument\" "
         ">/dev/null 2>&1; then ARG=-q0;else ARG=;fi;'''\\''/usr/bin/my nc'\\'''' $ARG "
         "-U /tmp/my sock'"],
    ),
    (
        "test+ssh://h/default?netcat=nc",
        True,
        ["-T", "-e", "none", "--", "h",
         "sh -c 'if 'nc' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then "
         "ARG=-q0;else ARG=;fi;'nc' $ARG -U /var/run/libvirt/libvirt-sock-ro'"],
    ),
    (
        "qemu+ssh://h/system?proxy=native&foo=a%20b&mode=legacy",
        True,
        ["-T", "-e", "none", "--", "h",
         "sh -c 'virt-ssh-helper -r '''\\''qemu:///system?foo=a%20b'\\'''''"],
    ),
    (
        "qemu+ssh://h/system?name=xen:///x",
        False,
        ["-T", "-e", "none", "--", "h",
         "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
         f"virt-ssh-helper 'xen:///x'; else    {AUTO_NC}; fi'"],
    ),
    (
        "remote+ssh://h/system",
        False,
        ["-T", "-e", "none", "--", "h",
         "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
         f"virt-ssh-helper '''\\'''\\''''; else    {AUTO_NC}; fi'"],
    ),
    (
        "qemu+ssh://o'neil@h/system?x=it's",
        False,
        ["-l", "o'neil", "-T", "-e", "none", "--", "h",
         "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
         "virt-ssh-helper '''\\''qemu:///system?x=it%27s'\\''''; else    "
         f"{AUTO_NC}; fi'"],
    ),
    (
        "qemu+ssh://[::1]:22/system?name=",
        False,
        ["-p", "22", "-T", "-e", "none", "--", "::1",
         "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then     "
         f"virt-ssh-helper '''\\'''\\''''; else    {AUTO_NC}; fi'"],
    ),
]


@pytest.mark.parametrize(("text", "readonly", "expected"), SSH_CASES)
def test_ssh_argv_matches_libvirt(
    monkeypatch: pytest.MonkeyPatch, text: str, readonly: bool, expected: list[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    uri = LibvirtURI.parse(text)
    assert ssh_argv(uri, readonly) == ["ssh", *expected]
    assert ssh_remote_command(uri, readonly) == expected[-1]


def test_ssh_argv_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    uri = LibvirtURI.parse(
        "qemu+ssh://127.0.0.1/system?command=/opt/ssh&known_hosts=/kh&no_verify=1&no_tty=1"
        "&socket=/s"
    )
    argv = ssh_argv(uri)
    assert argv[0] == "/opt/ssh"
    assert argv[1:11] == [
        "-T", "-e", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/kh", "--",
    ]
    # Non-root session URIs go through virt-ssh-helper.
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    session = LibvirtURI.parse("qemu+ssh://127.0.0.1/session")
    assert ssh_remote_command(session) == "sh -c 'virt-ssh-helper 'qemu:///session''"


@pytest.fixture
def fake_ssh(tmp_path: Path) -> Path:
    """An ``ssh`` that runs the remote command here, as sshd would (via a shell)."""
    if shutil.which("nc") is None:
        pytest.fail("nc is not installed: run .ci/install-system-packages.sh")
    script = tmp_path / "ssh"
    script.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n" "$@" > "$0.argv"\n'
        'for last; do :; done\n'
        'exec /bin/sh -c "$last"\n'
    )
    script.chmod(0o755)
    return script


def _nc_supports_unix() -> bool:
    nc = shutil.which("nc")
    if nc is None:
        return False
    result = subprocess.run([nc, "-h"], capture_output=True, text=True, timeout=10)
    return "-U" in result.stdout + result.stderr


def test_ssh_through_netcat(fake_ssh: Path, unix_echo: str, short_dir: Path) -> None:
    """The generated remote command really reaches the socket (quoting and all)."""
    if not _nc_supports_unix():
        pytest.fail("nc cannot do UNIX sockets: install netcat-openbsd")
    # A netcat path with a space exercises libvirt's double escaping.
    nc_dir = short_dir / "my tools"
    nc_dir.mkdir()
    (nc_dir / "nc").symlink_to(shutil.which("nc") or "nc")
    text = (
        f"test+ssh://root@127.0.0.1:2222/default?command={fake_ssh}&socket={unix_echo}"
        f"&netcat={nc_dir}/nc&no_tty=1"
    ).replace(" ", "%20")
    with open_stream(text, 5) as stream:
        assert isinstance(stream, CommandStream) and stream.transport == "ssh"
        stream.settimeout(10)
        round_trip(stream)
        round_trip(stream, b"second message")
    argv = Path(f"{fake_ssh}.argv").read_text().splitlines()
    assert argv[:8] == ["-p", "2222", "-l", "root", "-T", "-e", "none", "-o"]


# -- asyncio ------------------------------------------------------------------------------


async def _async_round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"async hello"
) -> None:
    writer.write(payload)
    await writer.drain()
    assert await reader.readexactly(len(payload)) == payload


def test_async_unix(unix_echo: str) -> None:
    async def main() -> None:
        reader, writer = await open_async_stream(f"test+unix:///d?socket={unix_echo}", 5)
        await _async_round_trip(reader, writer)
        writer.close()
        await writer.wait_closed()

    asyncio.run(main())


def test_async_unix_missing(short_dir: Path) -> None:
    async def main() -> None:
        await open_async_stream(f"test+unix:///d?socket={short_dir}/nope", 5)

    with pytest.raises(LibvirtError, match="Failed to connect socket to"):
        asyncio.run(main())


def test_async_tcp(tcp_echo: int) -> None:
    async def main() -> None:
        reader, writer = await open_async_stream(f"test+tcp://{LOOPBACK}:{tcp_echo}/d", 5)
        await _async_round_trip(reader, writer)
        writer.close()
        await writer.wait_closed()

    asyncio.run(main())


def test_async_tls(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server()

    async def main() -> None:
        reader, writer = await open_async_stream(tls_uri(port, pki / "client"), 5)
        assert writer.get_extra_info("ssl_object") is not None
        await _async_round_trip(reader, writer)
        writer.close()
        await writer.wait_closed()

    asyncio.run(main())


@pytest.mark.parametrize("confirm", [b"\x00", CLEAN_CLOSE, None])
def test_async_tls_refused(
    pki: Path, tls_server: Callable[..., int], confirm: bytes | None
) -> None:
    port = tls_server(confirm=confirm)

    async def main() -> None:
        await open_async_stream(tls_uri(port, pki / "client"), 5)

    with pytest.raises(LibvirtError) as info:
        asyncio.run(main())
    assert info.value.code is ErrorNumber.VIR_ERR_RPC


def test_async_tls_untrusted(pki: Path, tls_server: Callable[..., int]) -> None:
    port = tls_server()

    async def main() -> None:
        await open_async_stream(tls_uri(port, pki / "rogue"), 5)

    with pytest.raises(LibvirtError) as info:
        asyncio.run(main())
    assert info.value.code is ErrorNumber.VIR_ERR_AUTH_FAILED


def test_async_timeout(pki: Path, silent_server: int) -> None:
    async def main() -> None:
        await open_async_stream(tls_uri(silent_server, pki / "client"), 0.5)

    start = time.monotonic()
    with pytest.raises(CallTimeoutError):
        asyncio.run(main())
    assert time.monotonic() - start < 5


def test_async_ext() -> None:
    async def main() -> None:
        reader, writer = await open_async_stream("test+ext:///d?command=/bin/cat", 5)
        assert isinstance(writer, CommandStreamWriter)
        await _async_round_trip(reader, writer)
        writer.close()
        await writer.wait_closed()
        assert writer.process.returncode is not None

    asyncio.run(main())


def test_async_ssh_through_netcat(fake_ssh: Path, unix_echo: str) -> None:
    if not _nc_supports_unix():
        pytest.fail("nc cannot do UNIX sockets: install netcat-openbsd")

    async def main() -> None:
        reader, writer = await open_async_stream(
            f"test+ssh://127.0.0.1/d?command={fake_ssh}&socket={unix_echo}", 5
        )
        await _async_round_trip(reader, writer)
        writer.close()
        await writer.wait_closed()
        assert isinstance(writer, CommandStreamWriter)
        assert writer.process.returncode is not None

    asyncio.run(main())


def test_async_ext_failure_stderr(tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'Host key verification failed.' >&2\nexit 255\n")
    script.chmod(0o755)

    async def main() -> str:
        reader, writer = await open_async_stream(f"test+ext:///d?command={script}", 5)
        assert await reader.read(10) == b""
        writer.close()
        await writer.wait_closed()
        assert isinstance(writer, CommandStreamWriter)
        return writer.error_output()

    assert asyncio.run(main()) == "Host key verification failed."
