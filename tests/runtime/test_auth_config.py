"""libvirt's client auth.conf: where it is looked for, how it is read, what
a lookup gives (against virsh: tests/integration/test_auth.py); and the
error when the SASL library is missing."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import pytest

from libvirt_rpc.auth import AuthConfig, auth_config_path, cyrus
from libvirt_rpc.auth import config as config_module
from libvirt_rpc.errors import ErrorNumber, LibvirtError
from libvirt_rpc.uri import LibvirtURI

URI = LibvirtURI.parse("qemu+tcp://host.example/system")


def test_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LIBVIRT_AUTH_FILE (readable or not), the URI's authfile=, the user's
    config directory, the system file -- the last two only if readable."""
    system = tmp_path / "etc-auth.conf"
    monkeypatch.setattr(config_module, "SYSTEM_AUTH_FILE", str(system))
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    assert auth_config_path(URI, env) is None
    system.write_text("")
    assert auth_config_path(URI, env) == str(system)
    user = home / ".config" / "libvirt" / "auth.conf"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert auth_config_path(URI, env) == str(user)
    xdg = tmp_path / "xdg" / "libvirt" / "auth.conf"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert auth_config_path(URI, env) == str(system)  # the XDG directory replaces ~/.config
    xdg.parent.mkdir(parents=True)
    xdg.write_text("")
    assert auth_config_path(URI, env) == str(xdg)
    named = LibvirtURI.parse("qemu+tcp://h/system?authfile=/named.conf")
    assert auth_config_path(named, env) == "/named.conf"
    env["LIBVIRT_AUTH_FILE"] = "/nowhere.conf"
    assert auth_config_path(named, env) == "/nowhere.conf"


TEXT = """\
# comment
[credentials-a]
authname = alice
password=  two words  \n\
realm=tab\\there\\\\
[auth-libvirt-host.example]
credentials=a
[auth-libvirt-default]
credentials=b
[credentials-b]
authname=bob
"""


def test_values_as_a_glib_key_file_has_them() -> None:
    config = AuthConfig.parse(TEXT)
    assert config.lookup("libvirt", "host.example", "authname") == "alice"
    assert config.lookup("libvirt", "host.example", "password") == "two words  "
    assert config.lookup("libvirt", "host.example", "realm") == "tab\there\\"
    # no fallback to the default group for what the host's credentials lack
    assert config.lookup("libvirt", "host.example", "username") is None
    assert config.lookup("libvirt", "other", "authname") == "bob"
    assert config.lookup("libvirt", None, "authname") == "bob"  # "localhost": the default group
    assert AuthConfig.parse("").lookup("libvirt", None, "authname") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("key=value\n", "f.conf:1: key 'key' before the first group"),
        (
            "[g]\nno equals sign\n",
            "f.conf:2: line 'no equals sign' is not a key-value pair, group, or comment",
        ),
        ("[g]\n=value\n", "f.conf:2: line '=value' is not a key-value pair, group, or comment"),
        ("[g\n", "f.conf:1: malformed group line '[g'"),
        ("[g] x\n", "f.conf:1: malformed group line '[g] x'"),
        ("[g]\nk=a\\qb\n", "f.conf:2: invalid escape sequence '\\q' in a value"),
    ],
)
def test_syntax_errors_name_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(LibvirtError) as caught:
        AuthConfig.parse(text, "f.conf")
    assert str(caught.value) == f"configuration file syntax error: {message}"
    assert caught.value.code == ErrorNumber.VIR_ERR_CONF_SYNTAX


def test_lookup_errors_read_as_libvirt() -> None:
    with pytest.raises(
        LibvirtError,
        match=r"^configuration file syntax error: Missing item 'credentials' in group 'auth-libvirt-default' in 'f.conf'$",
    ):
        AuthConfig.parse("[auth-libvirt-default]\n", "f.conf").lookup("libvirt", None, "authname")
    with pytest.raises(
        LibvirtError,
        match=r"^configuration file syntax error: Missing group 'credentials-x ' referenced from group 'auth-libvirt-h' in 'f.conf'$",
    ):
        AuthConfig.parse("[auth-libvirt-h]\ncredentials=x \n", "f.conf").lookup("libvirt", "h", "authname")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.conf"
    with pytest.raises(LibvirtError) as caught:
        AuthConfig.load(str(missing))
    assert str(caught.value) == f"Failed to open file '{missing}': No such file or directory"
    assert caught.value.code == ErrorNumber.VIR_ERR_SYSTEM_ERROR
    (tmp_path / "latin1.conf").write_bytes(b"[g]\nk=\xe9\n")
    with pytest.raises(LibvirtError, match="not UTF-8"):
        AuthConfig.load(str(tmp_path / "latin1.conf"))


def test_without_libsasl2_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cyrus, "_library", None)
    monkeypatch.setattr(cyrus, "_NAMES", ("libxdrgen-no-such-sasl.so.9",))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(LibvirtError) as caught:
        cyrus.library()
    assert caught.value.code == ErrorNumber.VIR_ERR_AUTH_FAILED
    assert "libsasl2" in str(caught.value) and "libsasl2-modules" in str(caught.value)
