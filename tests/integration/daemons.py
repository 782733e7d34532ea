"""Real daemons for integration tests: a private libvirtd and a private sshd.

Both run from a fresh temp dir, listen on loopback only, use no authentication
(unless a libvirtd is told to: ``auth=`` and ``sasl=``) and never touch the
system's configuration, so several can run side by side (also next to a
system libvirtd).  The system packages come from
``.ci/install-system-packages.sh``.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Callable, Self

INSTALL_HINT = "run `bash .ci/install-system-packages.sh` (as root) first"

START_TIMEOUT = 30.0  # seconds to wait for a daemon to accept connections
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and the SIGKILL fallback


class DaemonError(RuntimeError):
    """A daemon could not be started (the message carries its log tail)."""


def require_binary(name: str) -> str:
    """Absolute path of ``name``; fail loudly (never skip) when it is missing."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        raise DaemonError(f"`{name}` not found: {INSTALL_HINT}")
    return path


def ext_uri(directory: Path, command: str) -> str:
    """A ``test+ext`` URI whose command is a script running ``command``."""
    helper = directory / "to-libvirtd"
    helper.write_text(f"#!/bin/sh\nexec {command}\n")
    helper.chmod(0o755)
    return f"test+ext:///default?command={helper}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _can_connect(family: int, address: str | tuple[str, int]) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
        except OSError:
            return False
        return True


def unix_accepts(path: str | os.PathLike[str]) -> bool:
    return os.path.exists(path) and _can_connect(socket.AF_UNIX, os.fspath(path))


def tcp_accepts(port: int, host: str = "127.0.0.1") -> bool:
    return _can_connect(socket.AF_INET, (host, port))


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path.name} is empty)"


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    """Run a setup command; on failure raise with its output."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DaemonError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )


def _terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL; the whole session (process group) goes too.

    Each daemon is started with ``start_new_session=True``, so its pid is also its
    process group id and any helper it forked dies with it.
    """
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)  # stragglers, even if the leader exited
    proc.wait()


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the daemon if the test process dies without stop().

    The setting survives the exec chain (unshare and sh exec, they do not fork),
    so it reaches the daemon itself.  It fires when the *thread* that started
    the daemon exits, so start daemons from a long-lived thread (pytest's main).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


class _Daemon:
    """Common lifecycle: a temp dir, one child process, stop()/context manager."""

    name = "daemon"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"xdrgen-{self.name}-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise DaemonError(f"{self.name} is not running")
        return self._proc.pid

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the daemon at once (for "the server dies" tests).

        The temp dir stays (its log can still be read) until stop().
        """
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def stop(self) -> None:
        """Terminate the daemon and remove its temp dir; safe to call twice."""
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, cmd: list[str], output: Path, env: Mapping[str, str] | None = None) -> None:
        with open(output, "wb") as out:
            self._proc = subprocess.Popen(
                cmd,
                env=None if env is None else {**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,  # own process group: stop() kills it all
                preexec_fn=_die_with_parent,
            )

    def _wait_ready(self, ready: Callable[[], bool], logs: list[Path]) -> None:
        """Poll ``ready()`` until true; on exit or timeout kill the daemon and
        raise with its log tails (the temp dir stays for stop() to remove)."""
        deadline = time.monotonic() + START_TIMEOUT
        assert self._proc is not None
        while True:
            if ready():
                return
            code = self._proc.poll()
            if code is not None:
                why = f"exited with status {code}"
                break
            if time.monotonic() > deadline:
                why = f"not ready after {START_TIMEOUT:.0f} s"
                break
            time.sleep(0.05)
        _terminate(self._proc)
        self._proc = None
        tails = "\n".join(f"--- {p.name} ---\n{_tail(p)}" for p in logs)
        raise DaemonError(f"{self.name} {why}\n{tails}")


def make_pki(pki_dir: Path, server_names: str = "IP:127.0.0.1,DNS:localhost") -> None:
    """A CA, a server cert for ``server_names`` (its subjectAltName) and a
    client cert, all in ``pki_dir``.

    Client files use the names libvirt's ``pkipath=`` expects (cacert.pem,
    clientcert.pem, clientkey.pem); the server's are servercert.pem/serverkey.pem.
    EC P-256 keys: instant to generate, and GnuTLS accepts them.
    """
    openssl = require_binary("openssl")
    pki_dir.mkdir(parents=True, exist_ok=True)
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _run(
        [openssl, "req", "-x509", *newkey, "-days", "3650",
         "-subj", "/CN=xdrgen test CA",
         "-keyout", "cakey.pem", "-out", "cacert.pem",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        cwd=pki_dir,
    )  # fmt: skip
    # libvirt checks keyUsage/extendedKeyUsage of both leaf certificates.
    leaf = (
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
    )
    exts = {
        "server": leaf
        + f"extendedKeyUsage=serverAuth\nsubjectAltName={server_names}\n",
        "client": leaf + "extendedKeyUsage=clientAuth\n",
    }
    for role, cn in (("server", "127.0.0.1"), ("client", "xdrgen test client")):
        (pki_dir / f"{role}.ext").write_text(exts[role])
        _run(
            [openssl, "req", "-new", *newkey, "-subj", f"/CN={cn}",
             "-keyout", f"{role}key.pem", "-out", f"{role}.csr"],
            cwd=pki_dir,
        )  # fmt: skip
        _run(
            [openssl, "x509", "-req", "-in", f"{role}.csr", "-days", "3650",
             "-CA", "cacert.pem", "-CAkey", "cakey.pem", "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")),
             "-extfile", f"{role}.ext", "-out", f"{role}cert.pem"],
            cwd=pki_dir,
        )  # fmt: skip


@dataclass
class Sasl:
    """The SASL set-up of a libvirtd: its mechanisms (Cyrus SASL's
    ``mech_list``) and users (name -> password, in a private sasldb made with
    ``saslpasswd2``), found through ``SASL_CONF_PATH``."""

    mechanisms: str = "scram-sha-256 digest-md5"
    users: Mapping[str, str] = field(default_factory=lambda: {"alice": "secret"})

    def write(self, directory: Path) -> dict[str, str]:
        """Write the sasldb and ``libvirt.conf`` into ``directory``; the
        environment libvirtd needs to use them."""
        saslpasswd2 = require_binary("saslpasswd2")
        directory.mkdir(parents=True, exist_ok=True)
        database = directory / "passwd.db"
        for user, password in self.users.items():
            proc = subprocess.run(
                [saslpasswd2, "-p", "-f", str(database), "-a", "libvirt", "-c", user],
                input=password, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise DaemonError(f"saslpasswd2 failed ({proc.returncode}): {proc.stderr}")
        (directory / "libvirt.conf").write_text(f"mech_list: {self.mechanisms}\nsasldb_path: {database}\n")
        return {"SASL_CONF_PATH": str(directory)}


class Libvirtd(_Daemon):
    """A private ``libvirtd --listen`` serving unix, TCP and TLS on loopback.

    It runs in its own mount namespace with a tmpfs on /run/libvirt, where a
    root libvirtd keeps its pid file and driver state; so it never collides with
    the system daemon or with other instances.
    """

    name = "libvirtd"

    def __init__(
        self,
        start: bool = True,
        server_names: str = "IP:127.0.0.1,DNS:localhost",
        auth: Mapping[str, str] | None = None,
        sasl: Sasl | None = None,
    ) -> None:
        """``server_names``: whom its TLS certificate names (subjectAltName);
        ``auth``: libvirtd.conf's ``auth_unix_rw``, ``auth_unix_ro``,
        ``auth_tcp``, ``auth_tls`` ("none" unless given: "sasl", "polkit");
        ``sasl``: its SASL mechanisms and users."""
        super().__init__()
        self.server_names = server_names
        self.auth = dict(auth or {})
        self.sasl = sasl
        self.socket_path = str(self.dir / "libvirt-sock")
        self.ro_socket_path = str(self.dir / "libvirt-sock-ro")
        self.admin_socket_path = str(self.dir / "libvirt-admin-sock")
        self.pki_dir = str(self.dir / "pki")
        self.log_path = self.dir / "libvirtd.log"
        self.tcp_port = 0
        self.tls_port = 0
        if start:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise

    @property
    def uri_unix(self) -> str:
        return f"test+unix:///default?socket={self.socket_path}"

    @property
    def uri_unix_ro(self) -> str:
        return f"test+unix:///default?socket={self.ro_socket_path}"

    @property
    def uri_tcp(self) -> str:
        return f"test+tcp://127.0.0.1:{self.tcp_port}/default"

    @property
    def uri_tls(self) -> str:
        return f"test+tls://127.0.0.1:{self.tls_port}/default?pkipath={self.pki_dir}"

    def start(self) -> None:
        libvirtd = require_binary("libvirtd")
        unshare = require_binary("unshare")
        make_pki(Path(self.pki_dir), self.server_names)
        # A fresh machine lacks the mount point for the private tmpfs.
        os.makedirs("/run/libvirt", exist_ok=True)
        env = self.sasl.write(self.dir / "sasl") if self.sasl is not None else None
        # free_port() can race with another process grabbing the port; if
        # libvirtd then fails to bind, retry with new ports.
        for attempt in range(3):
            self.tcp_port, self.tls_port = free_port(), free_port()
            while self.tls_port == self.tcp_port:
                self.tls_port = free_port()
            conf = self.dir / "libvirtd.conf"
            conf.write_text(self._config())
            pid_file = self.dir / "libvirtd.pid"
            script = (
                "mount -t tmpfs tmpfs /run/libvirt && exec "
                f"{libvirtd} -f {conf} --listen --pid-file {pid_file}"
            )
            self._spawn([unshare, "-m", "sh", "-c", script], self.dir / "stdout.log", env)
            try:
                self._wait_ready(self._ready, [self.dir / "stdout.log", self.log_path])
                return
            except DaemonError as e:
                if attempt == 2 or "Address already in use" not in str(e):
                    raise

    def _ready(self) -> bool:
        return (
            unix_accepts(self.socket_path)
            and tcp_accepts(self.tcp_port)
            and tcp_accepts(self.tls_port)
        )

    def _config(self) -> str:
        pki = self.pki_dir
        auth = {key: self.auth.get(key, "none") for key in ("auth_unix_ro", "auth_unix_rw", "auth_tcp", "auth_tls")}
        return (
            f'unix_sock_dir = "{self.dir}"\n'
            'unix_sock_ro_perms = "0777"\n'
            'unix_sock_rw_perms = "0777"\n'
            f'auth_unix_ro = "{auth["auth_unix_ro"]}"\n'
            f'auth_unix_rw = "{auth["auth_unix_rw"]}"\n'
            'listen_addr = "127.0.0.1"\n'
            "listen_tcp = 1\n"
            f'tcp_port = "{self.tcp_port}"\n'
            f'auth_tcp = "{auth["auth_tcp"]}"\n'
            "listen_tls = 1\n"
            f'tls_port = "{self.tls_port}"\n'
            f'auth_tls = "{auth["auth_tls"]}"\n'
            f'ca_file = "{pki}/cacert.pem"\n'
            f'cert_file = "{pki}/servercert.pem"\n'
            f'key_file = "{pki}/serverkey.pem"\n'
            # Warnings and errors only: enough for a failure's log tail.
            f'log_outputs = "3:file:{self.log_path}"\n'
        )


class Sshd(_Daemon):
    """A private sshd on loopback that lets root in with a generated key."""

    name = "sshd"

    def __init__(self, start: bool = True) -> None:
        super().__init__()
        self.host_key = str(self.dir / "ssh_host_ed25519_key")
        self.client_key = str(self.dir / "id_ed25519")
        self.authorized_keys = str(self.dir / "authorized_keys")
        self.known_hosts = str(self.dir / "known_hosts")
        self.config_path = str(self.dir / "sshd_config")
        self.log_path = self.dir / "sshd.log"
        self.port = 0
        if start:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise

    def uri_ssh(self, libvirtd: Libvirtd) -> str:
        """A libvirt ``test+ssh://`` URI reaching ``libvirtd``'s unix socket."""
        return (
            f"test+ssh://root@127.0.0.1:{self.port}/default"
            f"?keyfile={self.client_key}&socket={libvirtd.socket_path}&no_verify=1"
        )

    def ssh_args(self) -> list[str]:
        """``ssh`` options for scripted logins: this key, this known_hosts only.

        ssh takes ~/.ssh from the passwd entry, not $HOME; ``-F /dev/null`` plus
        these options keep it from reading or writing the real home.
        """
        return [
            "-F", "/dev/null",
            "-p", str(self.port),
            "-i", self.client_key,
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-l", "root",
        ]  # fmt: skip

    def start(self) -> None:
        sshd = require_binary("sshd")  # must be absolute: sshd re-execs itself
        keygen = require_binary("ssh-keygen")
        require_binary("nc")  # the remote end of libvirt's ssh transport
        for key in (self.host_key, self.client_key):
            _run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", key])
        shutil.copyfile(self.client_key + ".pub", self.authorized_keys)
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation dir
        host_pub = Path(self.host_key + ".pub").read_text().split()
        for attempt in range(3):
            self.port = free_port()
            Path(self.config_path).write_text(self._config())
            # The host key is known up front, so ssh never prompts.
            Path(self.known_hosts).write_text(
                f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n"
            )
            # -D: stay in the foreground so we own the process; -e: log to stderr.
            self._spawn([sshd, "-D", "-e", "-f", self.config_path], self.log_path)
            try:
                self._wait_ready(lambda: tcp_accepts(self.port), [self.log_path])
                return
            except DaemonError as e:
                if attempt == 2 or "Address already in use" not in str(e):
                    raise

    def _config(self) -> str:
        return (
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            # The temp dir is not root-only in the way StrictModes wants.
            "StrictModes no\n"
            # No PAM: no session accounting, no prompts, no system config.
            "UsePAM no\n"
            "LogLevel VERBOSE\n"
        )


_virsh_home: str | None = None

# libvirt's ssh transport runs "ssh" from PATH.  OpenSSH finds ~/.ssh through the
# passwd entry, not $HOME, so with no_verify=1 it would append host keys to the
# real /root/.ssh/known_hosts; this wrapper keeps them in the throwaway HOME.
_SSH_WRAPPER = """#!/bin/sh
exec {ssh} -F /dev/null -o UserKnownHostsFile="$HOME/.ssh/known_hosts" \\
    -o GlobalKnownHostsFile=/dev/null "$@"
"""


def virsh_env() -> dict[str, str]:
    """Environment for virsh: C locale, a throwaway HOME, the ssh wrapper.

    virsh (as any libvirt client) may create ~/.cache/libvirt and
    ~/.config/libvirt; point those at a temp dir removed at exit.
    """
    global _virsh_home
    if _virsh_home is None:
        home = tempfile.mkdtemp(prefix="xdrgen-virsh-home-")
        atexit.register(shutil.rmtree, home, True)
        os.mkdir(os.path.join(home, ".ssh"), 0o700)
        os.mkdir(os.path.join(home, "bin"))
        wrapper = Path(home, "bin", "ssh")
        wrapper.write_text(_SSH_WRAPPER.format(ssh=require_binary("ssh")))
        wrapper.chmod(0o755)
        _virsh_home = home
    env = dict(os.environ)
    for var in ("LIBVIRT_DEFAULT_URI", "VIRSH_DEFAULT_CONNECT_URI", "LANGUAGE"):
        env.pop(var, None)
    env.update(
        LC_ALL="C",
        HOME=_virsh_home,
        PATH=os.path.join(_virsh_home, "bin") + os.pathsep + env.get("PATH", ""),
        XDG_CONFIG_HOME=os.path.join(_virsh_home, ".config"),
        XDG_CACHE_HOME=os.path.join(_virsh_home, ".cache"),
        XDG_RUNTIME_DIR=os.path.join(_virsh_home, "run"),
    )
    return env


def virsh(
    uri: str, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the real ``virsh -c URI ARGS...``; never raises on a non-zero exit."""
    cmd = [require_binary("virsh"), "-c", uri, *args]
    return subprocess.run(
        cmd,
        env=virsh_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
