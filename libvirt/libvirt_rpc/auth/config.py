"""libvirt's client ``auth.conf``: where it is and what it says.

Found as ``virAuthGetConfigFilePathURI`` finds it: ``$LIBVIRT_AUTH_FILE``
(used even if unreadable), the URI's ``authfile=``, then
``$XDG_CONFIG_HOME/libvirt/auth.conf`` (``~/.config/libvirt/auth.conf``)
and ``/etc/libvirt/auth.conf``, each if readable.

The file is a GLib key file (libvirt reads it with ``GKeyFile``)::

    [credentials-test]
    authname=alice
    password=secret

    [auth-libvirt-myhost]
    credentials=test

    [auth-libvirt-default]
    credentials=test

A lookup (``virAuthConfigLookup``) takes the group ``auth-libvirt-HOST``
(HOST: the URI's server, else ``localhost``), else ``auth-libvirt-default``,
then the group ``credentials-NAME`` its ``credentials`` key names, then
the key asked for (``authname``, ``username``, ``password``, ``realm``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from ..uri import LibvirtURI

__all__ = ["AuthConfig", "auth_config_path", "SYSTEM_AUTH_FILE"]

SYSTEM_AUTH_FILE = "/etc/libvirt/auth.conf"
_MAX_SIZE = 1024 * 1024  # what libvirt reads of a config file
_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def auth_config_path(uri: LibvirtURI | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The auth file libvirt's client would read for ``uri`` (None: none)."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("LIBVIRT_AUTH_FILE")
    if explicit:
        return explicit
    if uri is not None:
        named = uri.param("authfile")
        if named:
            return named
    config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config"
    )
    for path in (os.path.join(config_home, "libvirt", "auth.conf"), SYSTEM_AUTH_FILE):
        if os.access(path, os.R_OK):
            return path
    return None


def _syntax_error(detail: str) -> LibvirtError:
    return LibvirtError.from_code(ErrorNumber.VIR_ERR_CONF_SYNTAX, detail, domain=ErrorDomain.VIR_FROM_NONE)


def _unescape(value: str, path: str, line: int) -> str:
    """g_key_file_get_string's escapes: ``\\s \\n \\t \\r \\\\``."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        if escaped not in _ESCAPES:
            raise _syntax_error(f"{path}:{line}: invalid escape sequence '\\{escaped}' in a value")
        out.append(_ESCAPES[escaped])
    return "".join(out)


class AuthConfig:
    """A parsed auth file: groups of keys, as ``GKeyFile`` reads them
    (a later group of the same name adds to it, a later key wins; blanks
    around the key and before the value go, those after the value stay)."""

    def __init__(self, path: str, groups: dict[str, dict[str, str]]) -> None:
        self.path = path
        self.groups = groups

    @classmethod
    def load(cls, path: str) -> AuthConfig:
        """Read ``path``; a file that cannot be read or parsed raises
        :class:`~..errors.LibvirtError` naming it (where virsh only says
        "An error occurred, but the cause is unknown")."""
        try:
            with open(path, "rb") as file:
                data = file.read(_MAX_SIZE + 1)
        except OSError as exc:
            detail = f"Failed to open file '{path}': {exc.strerror or exc}"
            raise LibvirtError.from_code(
                ErrorNumber.VIR_ERR_SYSTEM_ERROR, detail, domain=ErrorDomain.VIR_FROM_NONE
            ) from exc
        if len(data) > _MAX_SIZE:
            raise _syntax_error(f"{path}: larger than {_MAX_SIZE} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _syntax_error(f"{path}: not UTF-8 ({exc})") from exc
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: str = "<auth.conf>") -> AuthConfig:
        groups: dict[str, dict[str, str]] = {}
        group: dict[str, str] | None = None
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw.removesuffix("\r").lstrip(" \t\n\v\f\r")
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                name, close, rest = line[1:].partition("]")
                if not close or rest.strip(" \t") or "[" in name:
                    raise _syntax_error(f"{path}:{number}: malformed group line '{raw}'")
                group = groups.setdefault(name, {})
                continue
            key, equals, value = line.partition("=")
            key = key.rstrip(" \t\n\v\f\r")
            if not equals or not key:
                raise _syntax_error(
                    f"{path}:{number}: line '{raw}' is not a key-value pair, group, or comment"
                )
            if group is None:
                raise _syntax_error(f"{path}:{number}: key '{key}' before the first group")
            group[key] = _unescape(value.lstrip(" \t\n\v\f\r"), path, number)
        return cls(path, groups)

    def lookup(self, service: str, host: str | None, credential: str) -> str | None:
        """``virAuthConfigLookup``: the value of ``credential`` for
        ``service`` ("libvirt") on ``host`` (None: "localhost"), or None."""
        group = f"auth-{service}-{host or 'localhost'}"
        if group not in self.groups:
            group = f"auth-{service}-default"
        if group not in self.groups:
            return None
        name = self.groups[group].get("credentials")
        if name is None:
            raise _syntax_error(f"Missing item 'credentials' in group '{group}' in '{self.path}'")
        credentials = self.groups.get(f"credentials-{name}")
        if credentials is None:
            raise _syntax_error(
                f"Missing group 'credentials-{name}' referenced from group '{group}' in '{self.path}'"
            )
        return credentials.get(credential)
