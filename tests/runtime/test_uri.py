"""libvirt URI parsing (libvirt_rpc.uri).

Expected values for the forwarded name, socket paths and errors were taken
from libvirt 9.0's own client (``virsh`` with debug logging: "proceeding with
name = ...", "Chosen UNIX sockname=...").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from libvirt_rpc.errors import ErrorDomain, ErrorNumber, LibvirtError
from libvirt_rpc.uri import (
    CLIENT_PARAMS,
    InvalidURIError,
    LibvirtURI,
    TLSFiles,
)

parse = LibvirtURI.parse


# -- basic fields ---------------------------------------------------------------


def test_fields_of_a_full_uri() -> None:
    uri = parse("qemu+ssh://root@example.test:2222/system?keyfile=/k&foo=a%20b#frag")
    assert uri.driver == "qemu"
    assert uri.transport == "ssh"
    assert uri.user == "root"
    assert uri.host == "example.test"
    assert uri.port == 2222 and uri.port_given
    assert uri.path == "/system"
    assert uri.params == (("keyfile", "/k"), ("foo", "a b"))
    assert uri.fragment == "frag"
    assert uri.keyfile == "/k"
    assert str(uri) == "qemu+ssh://root@example.test:2222/system?keyfile=/k&foo=a%20b#frag"


@pytest.mark.parametrize(
    ("text", "transport", "port", "host"),
    [
        # No transport: a host means TLS, no host a local UNIX socket.
        ("qemu:///system", "unix", None, None),
        ("qemu://example.test/system", "tls", 16514, "example.test"),
        ("test+tcp://127.0.0.1/default", "tcp", 16509, "127.0.0.1"),
        ("test+tls://127.0.0.1/default", "tls", 16514, "127.0.0.1"),
        ("test+ssh://127.0.0.1/default", "ssh", 22, "127.0.0.1"),
        ("test+libssh2://127.0.0.1/default", "libssh2", 22, "127.0.0.1"),
        ("test+libssh://127.0.0.1/default", "libssh", 22, "127.0.0.1"),
        ("test+unix:///default", "unix", None, None),
        ("test+ext:///default?command=/bin/cat", "ext", None, None),
        # Transport names are case-insensitive; "tcp:/path" has no host.
        ("test+TCP://127.0.0.1/default", "tcp", 16509, "127.0.0.1"),
        ("test+tcp:/default", "tcp", 16509, None),
        ("test+tcp:///default", "tcp", 16509, None),
    ],
)
def test_transport_and_port_defaults(
    text: str, transport: str, port: int | None, host: str | None
) -> None:
    uri = parse(text)
    assert (uri.transport, uri.port, uri.host) == (transport, port, host)
    assert not uri.port_given


def test_connect_host_defaults_to_localhost() -> None:
    assert parse("test+tcp:///default").connect_host == "localhost"
    assert parse("test+tcp://127.0.0.1/default").connect_host == "127.0.0.1"


def test_ipv6_host_and_decoding() -> None:
    uri = parse("test+tcp://[::1]:1234/default")
    assert (uri.host, uri.port, uri.port_given) == ("::1", 1234, True)
    uri = parse("test+tcp://us%20er:pw@127.0.0.1:1/d%C3%A9f")
    # libxml2 keeps "user:password" together as the user.
    assert uri.user == "us er:pw"
    assert uri.path == "/d\u00e9f"


def test_frozen() -> None:
    uri = parse("qemu:///system")
    with pytest.raises(dataclasses.FrozenInstanceError):
        uri.host = "x"  # type: ignore[misc]
    assert uri == parse("qemu:///system")


# -- parameters -----------------------------------------------------------------


def test_params_ordered_and_decoded() -> None:
    uri = parse("test+tcp://127.0.0.1/d?b=2&a=%2F+%7e&flag&e=&&=ignored&%6eame=z")
    # '+' stays '+' (no form decoding); "&&" and "=value" are skipped.
    assert uri.params == (("b", "2"), ("a", "/+~"), ("flag", ""), ("e", ""), ("name", "z"))


def test_semicolon_only_separates_when_no_ampersand_follows() -> None:
    # libvirt's virURIParseParams looks for '&' first.
    assert parse("test:///d?foo=1;bar=2&x=3").params == (("foo", "1;bar=2"), ("x", "3"))
    assert parse("test:///d?p=1;q=2").params == (("p", "1"), ("q", "2"))


def test_param_lookup_is_case_insensitive_last_wins() -> None:
    uri = parse("test+tcp://127.0.0.1/d?SOCKET=/a&socket=/b&Keyfile=/k")
    assert uri.param("socket") == "/b"
    assert uri.param("KEYFILE") == "/k"
    assert uri.param("missing") is None


def test_client_params() -> None:
    uri = parse(
        "test+tls://127.0.0.1/d?pkipath=/p&no_verify=1&no_tty=1&netcat=/bin/nc"
        "&command=/usr/bin/ssh&known_hosts=/kh&keyfile=/k&x=1"
    )
    assert uri.pkipath == "/p"
    assert uri.no_verify is True
    assert uri.no_tty is True
    assert uri.netcat == "/bin/nc"
    assert uri.command == "/usr/bin/ssh"
    assert uri.known_hosts == "/kh"
    assert uri.keyfile == "/k"
    assert uri.server_params == (("x", "1"),)
    plain = parse("test+tls://127.0.0.1/d?no_verify=0")
    assert plain.no_verify is False and plain.no_tty is False and plain.pkipath is None
    assert {"name", "socket", "mode", "proxy", "tls_priority", "sshauth"} <= CLIENT_PARAMS


@pytest.mark.parametrize("value", ["x", "1x", "", "0x1", "99999999999"])
def test_bad_boolean_params(value: str) -> None:
    with pytest.raises(InvalidURIError) as info:
        parse(f"test+tcp://127.0.0.1/d?no_verify={value}")
    assert str(info.value) == "invalid argument: Failed to parse value of URI component no_verify"


# -- the URI forwarded to the daemon ----------------------------------------------

# (input URI, what libvirt 9.0's client sends in CONNECT_OPEN)
FORWARDED = [
    ("test+tcp://127.0.0.1:1234/default", "test:///default"),
    ("qemu+ssh://root@host/system", "qemu:///system"),
    ("qemu:///system", "qemu:///system"),
    ("qemu:///session", "qemu:///session"),
    ("test+tcp://127.0.0.1:1/default?foo=1;bar=2&x=%2F+%7e", "test:///default?foo=1%3Bbar%3D2&x=%2F%2B~"),
    ("test+tcp://127.0.0.1:1/def%20ault#frag", "test:///def%20ault#frag"),
    ("test+tcp://127.0.0.1:1", "test://"),
    ("test+tcp://[::1]:1/default", "test:///default"),
    ("test+tcp://127.0.0.1:1/a:b~c!d*(e)$f,g;h@i&j=k+l", "test:///a%3Ab~c!d*(e)$f,g;h@i&j=k+l"),
    ("test+tcp://127.0.0.1:1/a%C3%A9?q=%C3%A9#f%20g", "test:///a%C3%A9?q=%C3%A9#f%20g"),
    ("TEST+TCP://127.0.0.1:1/a", "TEST:///a"),
    ("test+tcp://127.0.0.1:1/a?&&=v&flag&e=&NAME=q", "q"),
    ("test+tcp://127.0.0.1:1/a?%6eame=z", "z"),
    ("test+tcp://127.0.0.1:1/a?&&=v&flag&e=&x=1&a%20b=%20;c", "test:///a?flag=&e=&x=1&a b=%20&c="),
    ("test+tcp://127.0.0.1:1/a?p=1;q=2", "test:///a?p=1&q=2"),
    (
        "test+tcp://127.0.0.1:1/a?no_verify=1&No_Tty=1&PKIPATH=/x&authfile=/f&auth=sasl&x=y",
        "test:///a?x=y",
    ),
    ("test+tcp://127.0.0.1:1?x=1", "test://?x=1"),
    ("test+tcp://127.0.0.1:1/?x=1", "test:///?x=1"),
    ("test+tcp://127.0.0.1:1/a#", "test:///a#"),
    ("test+tcp://127.0.0.1:1/a?", "test:///a"),
    ("test+tcp:/a", "test:///a"),
    ("qemu:system", "qemu://system"),
    ("test+tcp://u:pw@127.0.0.1:1/a", "test:///a"),
    ("test+tcp://127.0.0.1:1//a", "test:////a"),
    ("test+tcp://127.0.0.1:1/a?x=a%00b", "test:///a?x=a"),
    ("qemu+ssh://h/system?proxy=native&foo=a%20b&mode=legacy", "qemu:///system?foo=a%20b"),
    ("qemu+ssh://h/system?name=xen:///x", "xen:///x"),
    ("qemu+ssh://h/system?name=", ""),
    ("remote+ssh://h/system", ""),
    ("remote:///", ""),
]


@pytest.mark.parametrize(("text", "name"), FORWARDED)
def test_name_for_server(text: str, name: str) -> None:
    assert parse(text).name_for_server == name


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "test+tcp://127.0.0.1:1/def ault",
        "test+tcp://127.0.0.1:1/a|b",
        "test+tcp://127.0.0.1:x/a",
        "test+tcp://127.0.0.1:/a",
        "test+tcp://127.0.0.1:1/a%zz",
        "test+tcp://127.0.0.1:1/a?x=[1]",
        "test+tcp://[::1/a",
        "test+tcp://[not-ip]/a",
        "test+tcp://127.0.0.1:1/a?x=%2",
        "test+tcp://127.0.0.1:1/a?x=\u00e9",
        "test+tcp://127.0.0.1:99999/a",
        "1qemu:///system",
    ],
)
def test_unparsable(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, LibvirtError)
    assert err.code is ErrorNumber.VIR_ERR_INTERNAL_ERROR
    assert err.domain is ErrorDomain.VIR_FROM_URI
    assert str(err).startswith(f"internal error: Unable to parse URI {text} (")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default", "invalid argument: missing scheme for URI"),
        ("/var/run/x", "invalid argument: missing scheme for URI"),
        (
            "test+foo:///default",
            "invalid argument: remote_open: transport in URL not recognised "
            "(should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
        ),
        (
            "test+unix://h/default",
            "invalid argument: using unix socket and remote server 'h' is not supported.",
        ),
        (
            "test+ext:///default",
            "invalid argument: remote_open: for 'ext' transport, command is required",
        ),
        ("qemu:///system?mode=bogus", "invalid argument: Unknown remote mode 'bogus'"),
        ("qemu+ssh://h/system?proxy=bogus", "invalid argument: Unnkown proxy type 'bogus'"),
        (
            "qemu+ssh://h/system?mode=direct",
            "Operation not supported: Cannot use direct socket mode for ssh transport",
        ),
        (
            "qemu+ssh://h/system?proxy=native&netcat=nc",
            "invalid argument: netcat path not valid with native proxy mode",
        ),
    ],
)
def test_rejected_like_libvirt(text: str, message: str) -> None:
    with pytest.raises(InvalidURIError) as info:
        parse(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        parse(b"qemu:///system")  # type: ignore[arg-type]


# -- socket paths -------------------------------------------------------------------

ENV = {"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/u"}


def never(path: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("text", "readonly", "euid", "expected"),
    [
        ("qemu:///system", False, 0, "/var/run/libvirt/libvirt-sock"),
        ("qemu:///system", True, 0, "/var/run/libvirt/libvirt-sock-ro"),
        ("qemu:///system", False, 1000, "/var/run/libvirt/libvirt-sock"),
        # root always uses the system daemon, even for /session.
        ("qemu:///session", False, 0, "/var/run/libvirt/libvirt-sock"),
        ("qemu:///session", False, 1000, "/run/user/1000/libvirt/libvirt-sock"),
        # The per-user socket has no read-only twin.
        ("qemu:///session", True, 1000, "/run/user/1000/libvirt/libvirt-sock"),
        # Any "test+..." scheme means the session daemon for non-root.
        ("test+unix:///default", False, 1000, "/run/user/1000/libvirt/libvirt-sock"),
        ("test:///default", False, 1000, "/var/run/libvirt/libvirt-sock"),
        ("test+ssh://h/default", False, 0, "/var/run/libvirt/libvirt-sock"),
        ("test+ssh://h/default", True, 0, "/var/run/libvirt/libvirt-sock-ro"),
        ("qemu:///system?mode=direct", False, 0, "/var/run/libvirt/virtqemud-sock"),
        ("qemu:///system?mode=direct", True, 0, "/var/run/libvirt/virtqemud-sock-ro"),
        ("qemu:///session?mode=direct", False, 1000, "/run/user/1000/libvirt/virtqemud-sock"),
        ("qemu:///system?mode=legacy", False, 0, "/var/run/libvirt/libvirt-sock"),
        ("qemu:///system?socket=/tmp/s", True, 0, "/tmp/s"),
        ("qemu+ssh://h/system?socket=/tmp/s", False, 0, "/tmp/s"),
        ("test+tcp://127.0.0.1/default", False, 0, None),
        ("test+tls://127.0.0.1/default", False, 0, None),
        ("test+ext:///default?command=/bin/cat", False, 0, None),
    ],
)
def test_socket_path(text: str, readonly: bool, euid: int, expected: str | None) -> None:
    uri = parse(text)
    assert uri.socket_path(readonly, euid=euid, environ=ENV, exists=never) == expected


def test_socket_path_auto_mode_prefers_existing_driver_socket() -> None:
    existing = {"/var/run/libvirt/virtqemud-sock"}
    uri = parse("qemu:///system")
    assert uri.socket_path(euid=0, exists=existing.__contains__) == "/var/run/libvirt/virtqemud-sock"
    # Only for the unix transport: a remote host can't be probed.
    remote = parse("qemu+ssh://h/system")
    assert remote.socket_path(euid=0, exists=existing.__contains__) == "/var/run/libvirt/libvirt-sock"


def test_session_socket_without_xdg_runtime_dir() -> None:
    uri = parse("qemu:///session")
    env = {"HOME": "/home/u"}
    assert uri.socket_path(euid=1000, environ=env, exists=never) == "/home/u/.cache/libvirt/libvirt-sock"
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": "/c"}
    assert uri.socket_path(euid=1000, environ=env, exists=never) == "/c/libvirt/libvirt-sock"


def test_socket_property_uses_this_process() -> None:
    assert parse("qemu:///system?socket=/x/y").socket == "/x/y"
    assert parse("test+tcp://127.0.0.1/d").socket is None
    assert parse("qemu:///system").socket in (
        "/var/run/libvirt/libvirt-sock",
        "/var/run/libvirt/virtqemud-sock",
    )


def test_proxy_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert parse("qemu+ssh://h/system").proxy == "auto"
    assert parse("qemu+ssh://h/system?socket=/s").proxy == "netcat"
    assert parse("qemu+ssh://h/system?proxy=native").proxy == "native"
    assert parse("qemu+ssh://h/session").proxy == "auto"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert parse("qemu+ssh://h/session").proxy == "native"
    assert parse("test+ssh://h/default").proxy == "native"


# -- TLS files -------------------------------------------------------------------


def test_tls_files_with_pkipath() -> None:
    uri = parse("test+tls://127.0.0.1/default?pkipath=/etc/mypki")
    assert uri.tls_files() == TLSFiles(
        cacert="/etc/mypki/cacert.pem",
        cacrl="/etc/mypki/cacrl.pem",
        clientcert="/etc/mypki/clientcert.pem",
        clientkey="/etc/mypki/clientkey.pem",
    )
    assert uri.tls_cacert == "/etc/mypki/cacert.pem"
    assert uri.tls_clientcert == "/etc/mypki/clientcert.pem"
    assert uri.tls_clientkey == "/etc/mypki/clientkey.pem"


def test_tls_files_defaults_for_root(tmp_path: Path) -> None:
    uri = parse("test+tls://127.0.0.1/default")
    assert uri.tls_files(euid=0, environ={"HOME": str(tmp_path)}) == TLSFiles(
        cacert="/etc/pki/CA/cacert.pem",
        cacrl="/etc/pki/CA/cacrl.pem",
        clientcert="/etc/pki/libvirt/clientcert.pem",
        clientkey="/etc/pki/libvirt/private/clientkey.pem",
    )


def test_tls_files_user_pki_dir(tmp_path: Path) -> None:
    uri = parse("test+tls://127.0.0.1/default")
    env = {"HOME": str(tmp_path)}
    pki = tmp_path / ".pki" / "libvirt"
    pki.mkdir(parents=True)
    # Nothing there yet: the system files.
    assert uri.tls_files(euid=1000, environ=env).cacert == "/etc/pki/CA/cacert.pem"
    (pki / "cacert.pem").write_text("x")
    (pki / "clientcert.pem").write_text("x")
    files = uri.tls_files(euid=1000, environ=env)
    assert files.cacert == f"{pki}/cacert.pem"
    # Certificate and key only count as a pair.
    assert files.clientcert == "/etc/pki/libvirt/clientcert.pem"
    (pki / "clientkey.pem").write_text("x")
    files = uri.tls_files(euid=1000, environ=env)
    assert (files.clientcert, files.clientkey) == (f"{pki}/clientcert.pem", f"{pki}/clientkey.pem")
    # root never looks in $HOME.
    assert uri.tls_files(euid=0, environ=env).cacert == "/etc/pki/CA/cacert.pem"


def test_built_by_hand() -> None:
    uri = LibvirtURI("qemu", "tcp", None, "127.0.0.1", 16509, "/system")
    assert uri.scheme == "qemu+tcp"
    assert uri.name_for_server == "qemu:///system"
    assert str(uri) == "qemu+tcp://127.0.0.1/system"


def test_format_round_trip() -> None:
    for text in [
        "qemu+ssh://root@h:2222/system?keyfile=/k&x=a%20b#f",
        "test+tcp://[::1]:16509/default",
        "qemu:///system",
    ]:
        uri = parse(text)
        assert parse(uri.format()) == uri
