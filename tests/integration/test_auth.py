"""Authentication against a real libvirtd, next to the real virsh.

A libvirtd that wants SASL on its read-write unix socket, TCP and TLS
(``sasl_libvirtd``: SCRAM-SHA-256 and DIGEST-MD5, user alice, password
"secret").  Over the unix socket and TLS the channel is secure already, so
SCRAM-SHA-256 is used and the messages go on as they are; over plain TCP
libvirt wants a security layer of at least 56 bits, so DIGEST-MD5 with
``auth-conf`` is used and every later message travels encrypted inside
SASL packets.  Credentials come from an ``auth.conf`` (as virsh reads it)
or from a callback; the blocking and the asyncio client behave the same;
failures read as virsh's.  Then polkit.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import libvirt_rpc
from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.auth import ConnectAuth, Credential, CredentialType
from libvirt_rpc.errors import ErrorNumber

from daemons import Libvirtd, Sshd, ext_uri, require_binary, virsh_env
from relay import Relay, split_wire

AUTH_CONF = """\
[credentials-test]
authname=alice
password={password}

[auth-libvirt-localhost]
credentials=test

[auth-libvirt-default]
credentials=test
"""

TRANSPORTS = ("unix", "tcp", "tls")
BIG = 300_000  # bytes of domain description: several SASL packets each way


def uri_of(daemon: Libvirtd, transport: str, extra: str = "", sshd: Sshd | None = None) -> str:
    if transport == "ssh":
        assert sshd is not None
        uri = f"{sshd.uri_ssh(daemon)}&known_hosts={sshd.known_hosts}"
    else:
        uri = {"unix": daemon.uri_unix, "tcp": daemon.uri_tcp, "tls": daemon.uri_tls}[transport]
    return uri + ("&" if "?" in uri else "?") + extra if extra else uri


@pytest.fixture(autouse=True)
def no_user_auth_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither our client nor virsh may find an auth.conf of the machine's:
    their own XDG config directory, and none named unless a test does."""
    monkeypatch.delenv("LIBVIRT_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """``auth_file(text)``: write an auth.conf and name it in
    ``LIBVIRT_AUTH_FILE`` (read by our client and, through the environment
    daemons.virsh passes on, by virsh)."""

    def write(text: str) -> Path:
        path = tmp_path / "auth.conf"
        path.write_text(text)
        monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(path))
        return path

    return write


def virsh_says(
    uri: str, *args: str, env: dict[str, str] | None = None, user: int | None = None
) -> tuple[int, str, str]:
    """virsh's exit status, output and last error line (without "error: "),
    run with daemons.virsh_env() and ``env``, as ``user`` if given."""
    done = subprocess.run(
        [require_binary("virsh"), "-c", uri, *args],
        env={**virsh_env(), **(env or {})}, user=user, group=user, extra_groups=None if user is None else [],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    errors = [line.removeprefix("error: ") for line in done.stderr.splitlines() if line.startswith("error: ")]
    return done.returncode, done.stdout.strip(), errors[-1] if errors else ""


def answer(password: str, authname: str = "alice") -> Callable[[list[Credential]], None]:
    def callback(credentials: list[Credential]) -> None:
        for credential in credentials:
            if credential.type == CredentialType.VIR_CRED_AUTHNAME:
                credential.result = authname
            elif credential.type == CredentialType.VIR_CRED_PASSPHRASE:
                credential.result = password

    return callback


def open_and_name(uri: str, client: str, auth: Any = None) -> str:
    """Connect with the blocking or the asyncio client; the name of domain 1."""
    if client == "blocking":
        with libvirt_rpc.open(uri, timeout=20, auth=auth) as conn:
            return conn.domain_lookup_by_id(id=1).dom.name

    async def run() -> str:
        async with await libvirt_rpc.open_async(uri, timeout=20, auth=auth) as conn:
            return (await conn.domain_lookup_by_id(id=1)).dom.name

    return asyncio.run(run())


def failure(uri: str, client: str, auth: Any = None) -> libvirt_rpc.LibvirtError:
    with pytest.raises(libvirt_rpc.LibvirtError) as caught:
        open_and_name(uri, client, auth)
    return caught.value


# -- credentials from auth.conf, as virsh ------------------------------------


@pytest.mark.parametrize("password", ["secret", "wrong"])
@pytest.mark.parametrize("client", ["blocking", "asyncio"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sasl_with_credentials_from_auth_conf(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], transport: str, client: str, password: str
) -> None:
    """virsh and our client with the same auth.conf: both in, or both
    refused with libvirtd's VIR_ERR_AUTH_FAILED."""
    auth_file(AUTH_CONF.format(password=password))
    uri = uri_of(sasl_libvirtd, transport)
    status, out, said = virsh_says(uri, "domname", "1")
    if password == "secret":
        assert (status, out, said) == (0, "test", "")
        assert open_and_name(uri, client) == "test"
    else:
        assert status == 1 and said == "authentication failed: authentication failed"
        error = failure(uri, client)
        assert str(error) == said and error.code == ErrorNumber.VIR_ERR_AUTH_FAILED


def test_auth_conf_host_group_comes_before_the_default(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path]
) -> None:
    """``[auth-libvirt-127.0.0.1]`` (the URI's host) wins over the default
    group, and a credential it lacks is not taken from the default."""
    uri = uri_of(sasl_libvirtd, "tcp")
    good = "[credentials-good]\nauthname=alice\npassword=secret\n"
    auth_file(good + "[credentials-bad]\nauthname=alice\npassword=wrong\n"
              "[auth-libvirt-127.0.0.1]\ncredentials=good\n[auth-libvirt-default]\ncredentials=bad\n")  # fmt: skip
    assert virsh_says(uri, "domname", "1")[0] == 0
    assert open_and_name(uri, "blocking") == "test"
    auth_file(good + "[credentials-half]\nauthname=alice\n"
              "[auth-libvirt-127.0.0.1]\ncredentials=half\n[auth-libvirt-default]\ncredentials=good\n")  # fmt: skip
    # the password is asked for: virsh's prompt reads nothing, ours has no callback
    assert virsh_says(uri, "domname", "1")[2] == "authentication failed: authentication failed"
    assert str(failure(uri, "blocking")) == "authentication failed: No authentication callback available"
    assert open_and_name(uri, "blocking", answer("secret")) == "test"


@pytest.mark.parametrize(
    "text",
    [
        # blanks around keys and before values go; after values they stay
        "  [auth-libvirt-default]  \n  credentials  =   test\n[credentials-test]\n authname = alice\npassword=  secret\n",
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\npassword=secret \n",
        # a later key wins; a group seen twice is one group; CRLF lines
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\npassword=x\npassword=secret\n",
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\n[credentials-test]\npassword=secret\n",
        "[auth-libvirt-default]\r\ncredentials=test\r\n[credentials-test]\r\nauthname=alice\r\npassword=secret\r\n",
        # escapes
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\npassword=sec\\sret\n",
        # the last line without its newline
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\npassword=secret",
        "[auth-libvirt-default]\ncredentials=test\n[credentials-test]\nauthname=alice\npassword=secre",
    ],
)
def test_auth_conf_is_read_as_virsh_reads_it(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], text: str
) -> None:
    auth_file(text)
    uri = uri_of(sasl_libvirtd, "unix")
    status, _, said = virsh_says(uri, "domname", "1")
    if status == 0:
        assert open_and_name(uri, "blocking") == "test"
    else:
        assert str(failure(uri, "blocking")) == said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[auth-libvirt-default]\nfoo=bar\n",
         "configuration file syntax error: Missing item 'credentials' in group 'auth-libvirt-default' in '{path}'"),
        ("[auth-libvirt-default]\ncredentials=nope\n",
         "configuration file syntax error: Missing group 'credentials-nope' referenced from group "
         "'auth-libvirt-default' in '{path}'"),
    ],
)  # fmt: skip
def test_auth_conf_errors_read_as_virsh(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], text: str, said: str
) -> None:
    path = auth_file(text)
    uri = uri_of(sasl_libvirtd, "unix")
    expected = said.format(path=path)
    assert virsh_says(uri, "domname", "1")[2] == expected
    error = failure(uri, "blocking")
    assert str(error) == expected and error.code == ErrorNumber.VIR_ERR_CONF_SYNTAX


def test_auth_conf_from_the_xdg_config_directory(sasl_libvirtd: Libvirtd, tmp_path: Path) -> None:
    """Without LIBVIRT_AUTH_FILE: $XDG_CONFIG_HOME/libvirt/auth.conf."""
    config = Path(os.environ["XDG_CONFIG_HOME"], "libvirt")
    config.mkdir(parents=True)
    (config / "auth.conf").write_text(AUTH_CONF.format(password="secret"))
    uri = uri_of(sasl_libvirtd, "unix")
    assert virsh_says(uri, "domname", "1", env={"XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]})[0] == 0
    assert open_and_name(uri, "blocking") == "test"


def test_auth_conf_named_in_the_uri(sasl_libvirtd: Libvirtd, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.conf"
    path.write_text(AUTH_CONF.format(password="secret"))
    uri = uri_of(sasl_libvirtd, "unix", f"authfile={path}")
    assert virsh_says(uri, "domname", "1")[0] == 0
    assert open_and_name(uri, "blocking") == "test"


# -- credentials from a callback ----------------------------------------------


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sasl_with_a_callback(sasl_libvirtd: Libvirtd, transport: str, client: str) -> None:
    asked: list[list[tuple[CredentialType, str, str | None]]] = []
    fill = answer("secret")

    def callback(credentials: list[Credential]) -> None:
        asked.append([(c.type, c.prompt, c.challenge) for c in credentials])
        fill(credentials)

    assert open_and_name(uri_of(sasl_libvirtd, transport), client, callback) == "test"
    # one round, both at once, worded by the mechanism (SCRAM and DIGEST-MD5 alike)
    assert asked == [[
        (CredentialType.VIR_CRED_AUTHNAME, "Please enter your authentication name", "Authentication Name"),
        (CredentialType.VIR_CRED_PASSPHRASE, "Please enter your password", "Password"),
    ]]  # fmt: skip


def test_asyncio_callback_may_be_a_coroutine(sasl_libvirtd: Libvirtd) -> None:
    async def callback(credentials: list[Credential]) -> bool:
        await asyncio.sleep(0)
        answer("secret")(credentials)
        return True

    assert open_and_name(uri_of(sasl_libvirtd, "tcp"), "asyncio", callback) == "test"


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_auth_conf_comes_before_the_callback(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], client: str
) -> None:
    """As in libvirt: what auth.conf has is not asked for."""
    auth_file(AUTH_CONF.format(password="secret"))
    assert open_and_name(uri_of(sasl_libvirtd, "unix"), client, answer("wrong")) == "test"
    auth_file("[credentials-test]\nauthname=alice\n[auth-libvirt-default]\ncredentials=test\n")
    asked: list[CredentialType] = []

    def callback(credentials: list[Credential]) -> None:
        asked.extend(c.type for c in credentials)
        answer("secret")(credentials)

    assert open_and_name(uri_of(sasl_libvirtd, "unix"), client, callback) == "test"
    assert asked == [CredentialType.VIR_CRED_PASSPHRASE]


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_password_from_the_callback(sasl_libvirtd: Libvirtd, transport: str, client: str) -> None:
    error = failure(uri_of(sasl_libvirtd, transport), client, answer("wrong"))
    assert str(error) == "authentication failed: authentication failed"
    assert error.code == ErrorNumber.VIR_ERR_AUTH_FAILED


@pytest.mark.parametrize(("transport", "step"), [("unix", "start"), ("tcp", "step"), ("tls", "start")])
def test_an_empty_name_fails_as_in_virsh(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], transport: str, step: str
) -> None:
    """virsh's prompt reads an empty name from /dev/null; libsasl2 words
    the refusal, when the mechanism looks at the name (SCRAM at once,
    DIGEST-MD5 after the server's challenge)."""
    auth_file("")
    uri = uri_of(sasl_libvirtd, transport)
    said = virsh_says(uri, "domname", "1")[2]
    assert said == (
        f"authentication failed: Failed to {step} SASL negotiation: -1 "
        "(SASL(-1): generic failure: All-whitespace username.)"
    )
    assert str(failure(uri, "blocking", answer("", authname=""))) == said


def test_refusing_callback(sasl_libvirtd: Libvirtd) -> None:
    """libvirt-python's openAuth with a callback returning -1 says this."""
    uri = uri_of(sasl_libvirtd, "unix")
    for refusal in (lambda creds: False, lambda creds: -1, lambda creds: 1 / 0):
        error = failure(uri, "blocking", refusal)
        assert str(error) == "authentication failed: Failed to collect auth credentials"
    assert isinstance(error.__cause__, ZeroDivisionError)


def test_no_credentials_anywhere(sasl_libvirtd: Libvirtd) -> None:
    for client in ("blocking", "asyncio"):
        error = failure(uri_of(sasl_libvirtd, "unix"), client)
        assert str(error) == "authentication failed: No authentication callback available"


def test_credential_types_offered_decide_the_mechanisms(sasl_libvirtd: Libvirtd) -> None:
    """A caller that can give no password leaves no mechanism to use, as
    libvirt-python's openAuth([[VIR_CRED_AUTHNAME], ...]) finds."""
    auth = ConnectAuth([CredentialType.VIR_CRED_AUTHNAME], answer("secret"))
    error = failure(uri_of(sasl_libvirtd, "unix"), "blocking", auth)
    assert str(error) == (
        "authentication failed: Failed to start SASL negotiation: -4 "
        "(SASL(-4): no mechanism available: No worthy mechs found)"
    )


@pytest.mark.parametrize(
    ("choice", "said"),
    [
        ("sasl", None),
        ("SASL", None),
        ("sasl.DIGEST-MD5", None),
        ("sasl.PLAIN", "authentication failed: SASL mechanism PLAIN not supported by server"),
        ("sasl.digest-md5", "authentication failed: SASL mechanism digest-md5 not supported by server"),
        ("polkit", "authentication failed: requested authentication type polkit rejected"),
        ("bogus", "authentication failed: unknown authentication type bogus"),
    ],
)
def test_auth_type_from_the_uri(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], choice: str, said: str | None
) -> None:
    auth_file(AUTH_CONF.format(password="secret"))
    uri = uri_of(sasl_libvirtd, "unix", f"auth={choice}")
    status, out, virsh_said = virsh_says(uri, "domname", "1")
    if said is None:
        assert (status, out) == (0, "test")
        assert open_and_name(uri, "blocking") == "test"
    else:
        assert virsh_said == said
        assert str(failure(uri, "blocking")) == said


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
@pytest.mark.parametrize(
    ("transport", "mechanism"),
    [("unix", "SCRAM-SHA-256"), ("unix", "DIGEST-MD5"), ("tls", "SCRAM-SHA-256"), ("tls", "DIGEST-MD5"),
     ("tcp", "DIGEST-MD5"), ("tcp", "SCRAM-SHA-256"), ("ssh", "SCRAM-SHA-256"), ("ssh", "DIGEST-MD5")],
)  # fmt: skip
def test_each_mechanism_on_each_transport_as_virsh(
    sasl_libvirtd: Libvirtd,
    sshd: Sshd,
    auth_file: Callable[[str], Path],
    transport: str,
    mechanism: str,
    client: str,
) -> None:
    """The matrix: every mechanism where virsh gets in (ssh reaches the
    unix socket); where it does not (SCRAM on plain TCP: no layer, so
    libvirtd does not offer it there), the same refusal."""
    auth_file(AUTH_CONF.format(password="secret"))
    uri = uri_of(sasl_libvirtd, transport, f"auth=sasl.{mechanism}", sshd)
    status, out, said = virsh_says(uri, "domname", "1")
    if (transport, mechanism) == ("tcp", "SCRAM-SHA-256"):
        assert said == "authentication failed: SASL mechanism SCRAM-SHA-256 not supported by server"
        assert str(failure(uri, client)) == said
    else:
        assert (status, out, said) == (0, "test", "")
        assert open_and_name(uri, client) == "test"


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_ext_is_not_trusted_so_a_layer_is_required(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], tmp_path: Path, client: str
) -> None:
    """``ext`` runs a command nobody can vouch for: as libvirt's client,
    ours wants a security layer over it.  Through nc to the TCP port:
    DIGEST-MD5 with its layer, over the helper process's stream.  Through
    nc to the unix socket, where libvirtd offers no layer (it trusts the
    socket): refused, in libsasl2's words, as virsh is."""
    auth_file(AUTH_CONF.format(password="secret"))
    nc = require_binary("nc")
    with Relay(sasl_libvirtd.tcp_port) as relay:
        uri = ext_uri(tmp_path, f"{nc} {relay.address.replace(':', ' ')}")
        assert virsh_says(uri, "domname", "1") == (0, "test", "")
        assert open_and_name(uri, client) == "test"
        for index in (0, 1):  # virsh's connection and ours
            wire = split_wire(relay.sent(index))
            assert wire.mechanism == "DIGEST-MD5" and wire.packets
    uri = ext_uri(tmp_path, f"{nc} -U {sasl_libvirtd.socket_path}")
    said = virsh_says(uri, "domname", "1")[2]
    assert said == (
        "authentication failed: Failed to step SASL negotiation: -15 "
        "(SASL(-15): mechanism too weak for this user: Can't find an acceptable layer)"
    )
    assert str(failure(uri, client)) == said


# -- on the wire ---------------------------------------------------------------


def big_domain(name: str) -> str:
    """A domain definition larger than several SASL packets."""
    return (
        f"<domain type='test'><name>{name}</name><description>{'x' * BIG}</description>"
        "<memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    )


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_tcp_messages_travel_in_sasl_packets(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path], client: str
) -> None:
    """Plain TCP: DIGEST-MD5, then nothing but SASL packets; a message
    larger than a packet (both ways) arrives whole."""
    auth_file(AUTH_CONF.format(password="secret"))
    xml = big_domain(f"big-{client}")
    with Relay(sasl_libvirtd.tcp_port) as relay:
        uri = f"test+tcp://{relay.address}/default"
        if client == "blocking":
            with libvirt_rpc.open(uri, timeout=30) as conn:
                dom = conn.domain_define_xml(xml=xml).dom
                back = conn.domain_get_xml_desc(dom=dom, flags=0).xml
                conn.domain_undefine(dom=dom)
        else:

            async def run() -> str:
                async with await libvirt_rpc.open_async(uri, timeout=30) as conn:
                    dom = (await conn.domain_define_xml(xml=xml)).dom
                    back = (await conn.domain_get_xml_desc(dom=dom, flags=0)).xml
                    await conn.domain_undefine(dom=dom)
                    return back

            back = asyncio.run(run())
        wire = split_wire(relay.sent())
    assert back.count("x") >= BIG
    assert wire.mechanism == "DIGEST-MD5"
    assert wire.calls == [rp.REMOTE_PROC_AUTH_LIST, rp.REMOTE_PROC_AUTH_SASL_INIT,
                          rp.REMOTE_PROC_AUTH_SASL_START, rp.REMOTE_PROC_AUTH_SASL_STEP]  # fmt: skip
    # the big definition took several packets, none over libvirt's 64 KiB,
    # and nothing of it can be read on the wire
    assert len(wire.packets) > BIG // 65536 and max(wire.packets) <= 65536
    assert b"xxxxxxxx" not in wire.rest and b"test:///default" not in wire.rest


def test_unix_socket_keeps_plain_messages_after_scram(
    sasl_libvirtd: Libvirtd, auth_file: Callable[[str], Path]
) -> None:
    """A unix socket is secure already: SCRAM-SHA-256, no layer, the
    messages go on as they are."""
    auth_file(AUTH_CONF.format(password="secret"))
    with Relay(sasl_libvirtd.socket_path) as relay:
        with libvirt_rpc.open(f"test+unix:///default?socket={relay.path}", timeout=20) as conn:
            assert conn.connect_get_uri().uri == "test:///default"
        wire = split_wire(relay.sent())
    assert wire.mechanism == "SCRAM-SHA-256" and not wire.packets
    assert wire.calls[:3] == [
        rp.REMOTE_PROC_AUTH_LIST,
        rp.REMOTE_PROC_AUTH_SASL_INIT,
        rp.REMOTE_PROC_AUTH_SASL_START,
    ]
    assert rp.REMOTE_PROC_CONNECT_OPEN in wire.calls and rp.REMOTE_PROC_CONNECT_GET_URI in wire.calls


# -- polkit --------------------------------------------------------------------

NOBODY = 65534


def _as_nobody(uri: str) -> str:
    """Open ``uri`` with our client in a child running as nobody; what
    happened ("ok", or the error's text)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest from here on
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                with libvirt_rpc.open(uri, timeout=20) as conn:
                    conn.connect_get_uri()
                said = "ok"
            except libvirt_rpc.LibvirtError as error:
                said = f"{int(error.code)}|{error}"
            os.write(write, said.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    return said


@pytest.fixture
def nobody_home() -> Iterator[str]:
    home = tempfile.mkdtemp(prefix="xdrgen-nobody-")
    os.chmod(home, 0o777)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_polkit_as_libvirtd_answers_it(polkit_libvirtd: Libvirtd, nobody_home: str) -> None:
    """root is let in without polkit (libvirtd offers it auth "none"); any
    other user makes libvirtd ask polkit, which is not running here: the
    error libvirtd sends is what virsh shows, word for word."""
    uri = polkit_libvirtd.uri_unix
    assert virsh_says(uri, "domname", "1") == (0, "test", "")
    assert open_and_name(uri, "blocking") == "test"
    os.chmod(polkit_libvirtd.dir, 0o755)  # the socket is 0777; its directory let nobody in
    home = {name: nobody_home for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")}
    status, _, said = virsh_says(uri, "domname", "1", env=home, user=NOBODY)
    assert status == 1 and said
    code, _, text = _as_nobody(uri).partition("|")
    assert text == said and int(code) != 0
