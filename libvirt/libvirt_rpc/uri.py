"""libvirt connection URIs, parsed the way libvirt's remote client does.

``driver[+transport]://[user@][host][:port]/path[?params][#fragment]``

The rules come from libvirt's ``src/util/viruri.c`` (parsing, query
parameters), ``src/remote/remote_sockets.c`` (transport choice, default UNIX
socket paths) and ``doRemoteOpen`` in ``src/remote/remote_driver.c`` (client
parameters, the URI forwarded to the daemon in ``CONNECT_OPEN``).  Where
libvirt has quirks (``;`` only separates parameters when no ``&`` follows,
parameter names are not re-escaped, ``-U`` socket paths are not quoted) they
are kept, so the results match what ``virsh`` does byte for byte.

Only the standard library is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from .errors import ErrorDomain, ErrorNumber, LibvirtError, error_message

__all__ = [
    "LibvirtURI",
    "InvalidURIError",
    "TLSFiles",
    "TRANSPORTS",
    "CLIENT_PARAMS",
    "DEFAULT_TCP_PORT",
    "DEFAULT_TLS_PORT",
    "DEFAULT_SSH_PORT",
    "SYSTEM_SOCKET_DIR",
    "LIBVIRT_CACERT",
    "LIBVIRT_CACRL",
    "LIBVIRT_CLIENTCERT",
    "LIBVIRT_CLIENTKEY",
]

# remoteDriverTransport, in libvirt's order.
TRANSPORTS = ("tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh")
_MODES = ("auto", "legacy", "direct")
_PROXIES = ("auto", "netcat", "native")

DEFAULT_TCP_PORT = 16509  # LIBVIRTD_TCP_PORT
DEFAULT_TLS_PORT = 16514  # LIBVIRTD_TLS_PORT
DEFAULT_SSH_PORT = 22

# libvirt builds system socket paths from LOCALSTATEDIR "/run/libvirt", not
# RUNSTATEDIR, on purpose: the path may be used on a remote host (ssh), which
# is only guaranteed to have /var/run.  Locally /var/run links to /run.
SYSTEM_SOCKET_DIR = "/var/run/libvirt"

# Default TLS credentials (SYSCONFDIR "/pki/...").
LIBVIRT_CACERT = "/etc/pki/CA/cacert.pem"
LIBVIRT_CACRL = "/etc/pki/CA/cacrl.pem"
LIBVIRT_CLIENTCERT = "/etc/pki/libvirt/clientcert.pem"
LIBVIRT_CLIENTKEY = "/etc/pki/libvirt/private/clientkey.pem"

# Parameters doRemoteOpen consumes itself; everything else is passed through
# to the daemon inside the forwarded URI.  Matched case-insensitively.
CLIENT_PARAMS = frozenset(
    {
        "name",
        "command",
        "socket",
        "auth",
        "sshauth",
        "netcat",
        "keyfile",
        "pkipath",
        "known_hosts",
        "known_hosts_verify",
        "tls_priority",
        "mode",
        "proxy",
        "no_sanity",
        "no_verify",
        "no_tty",
        "authfile",
    }
)
_BOOL_PARAMS = ("no_sanity", "no_verify", "no_tty")

# RFC 3986 pieces, as libxml2's xmlParseURI enforces them.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_SPLIT_RE = re.compile(
    r"(?P<scheme>[^:/?#]+):"
    r"(?://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?#]*)"
    r"(?:\?(?P<query>[^#]*))?"
    r"(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_PATH_RE = re.compile(rf"(?:{_PCHAR}|/)*")
_QUERY_RE = re.compile(rf"(?:{_PCHAR}|[/?])*")
_USERINFO_RE = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*")
_REGNAME_RE = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*")
# strtol() with the whole string consumed: leading blanks and a sign allowed.
_STRTOL_RE = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")

# Bytes xmlSaveUri leaves alone in a path / fragment; glib's URI escaping
# (used for parameter values) keeps only RFC 3986 "unreserved".
_XML_MARK = b"-_.!~*'()"
_PATH_SAFE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + _XML_MARK + b"/;@&=+$,"
)
_FRAGMENT_SAFE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    + _XML_MARK
    + b";/?:@&=+$,[]"
)
_PARAM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HOST_SAFE = _PARAM_SAFE | frozenset(b"!$&'()*+,;=")
_USERINFO_SAFE = _HOST_SAFE | frozenset(b":")


class InvalidURIError(LibvirtError, ValueError):
    """A malformed URI or unusable connection parameters.

    A ``ValueError`` for Python callers and a :class:`LibvirtError` carrying the
    code libvirt reports for the same problem (mostly ``VIR_ERR_INVALID_ARG``).
    """

    default_code = ErrorNumber.VIR_ERR_INVALID_ARG
    default_domain = ErrorDomain.VIR_FROM_REMOTE


def _invalid(code: ErrorNumber, detail: str, domain: ErrorDomain = ErrorDomain.VIR_FROM_REMOTE) -> InvalidURIError:
    return InvalidURIError(error_message(code, detail), code=code, domain=domain, str2=detail)


def _decode(raw: str) -> str:
    """Percent-decode like xmlURIUnescapeString: no '+' -> ' ', C-string semantics.

    Undecodable bytes survive as surrogates so re-encoding gives them back.
    """
    text = unquote_to_bytes(raw).decode("utf-8", "surrogateescape")
    # libvirt keeps C strings: an encoded NUL ends the value.
    return text.split("\0", 1)[0]


def _encode(text: str, safe: frozenset[int]) -> str:
    """Percent-encode with upper-case hex, keeping the bytes in ``safe``."""
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        out.append(chr(byte) if byte in safe else f"%{byte:02X}")
    return "".join(out)


def _split_params(query: str | None) -> tuple[tuple[str, str], ...]:
    """virURIParseParams: split a raw query into decoded (name, value) pairs."""
    if not query:
        return ()
    params: list[tuple[str, str]] = []
    pos = 0
    while pos < len(query):
        # libvirt looks for the next '&' in the whole rest first and only falls
        # back to ';' when there is none: "a=1;b=2&c=3" is a="1;b=2", c="3".
        end = query.find("&", pos)
        if end < 0:
            end = query.find(";", pos)
        if end < 0:
            end = len(query)
        part = query[pos:end]
        pos = end + 1
        if not part:
            continue  # "&&"
        name, eq, value = part.partition("=")
        if eq and not name:
            continue  # "=value" is ignored, as CGI.pm does
        params.append((_decode(name), _decode(value)))
    return tuple(params)


def _parse_bool(name: str, value: str) -> bool:
    """EXTRACT_URI_ARG_BOOL: an int, non-zero meaning true."""
    if not _STRTOL_RE.fullmatch(value) or not -(2**31) <= int(value) < 2**31:
        raise _invalid(
            ErrorNumber.VIR_ERR_INVALID_ARG, f"Failed to parse value of URI component {name}"
        )
    return int(value) != 0


def _shell_escape(text: str) -> str:
    """virBufferEscapeShell: quote for /bin/sh only when needed."""
    if not text:
        return "''"
    if not any(ch in "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~" for ch in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def shell_escape_twice(text: str) -> str:
    """virNetClientDoubleEscapeShell: ssh runs the command through a shell,
    which runs ``sh -c`` again, so arguments are quoted for both."""
    return _shell_escape(_shell_escape(text))


def _user_runtime_dir(environ: Mapping[str, str]) -> str:
    """virGetUserRuntimeDirectory: g_get_user_runtime_dir() + "/libvirt"."""
    base = environ.get("XDG_RUNTIME_DIR") or environ.get("XDG_CACHE_HOME")
    if not base:
        base = os.path.join(_home_dir(environ), ".cache")
    return os.path.join(base, "libvirt")


def _home_dir(environ: Mapping[str, str]) -> str:
    """virGetUserDirectory: $HOME, else the password database."""
    home = environ.get("HOME")
    if home:
        return home
    return os.path.expanduser("~")


@dataclass(frozen=True)
class TLSFiles:
    """The TLS credential files the client uses (virNetTLSContextLocateCredentials)."""

    cacert: str
    cacrl: str
    clientcert: str
    clientkey: str


@dataclass(frozen=True)
class LibvirtURI:
    """A parsed libvirt connection URI.

    Build one with :meth:`parse`.  Fields hold what the URI says (``user``,
    ``host``, ``path`` and ``fragment`` percent-decoded, ``params`` decoded
    and in order); ``port`` is filled in with the transport's default when the
    URI has none (``port_given`` tells which).  Properties derive what the
    client needs: the socket path, the URI forwarded to the daemon, the
    client-side parameters.
    """

    driver: str
    transport: str
    user: str | None
    host: str | None
    port: int | None
    path: str
    params: tuple[tuple[str, str], ...] = ()
    fragment: str | None = None
    port_given: bool = False
    scheme: str = ""
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Built by hand rather than parsed: spell the scheme out in full.
        if not self.scheme:
            object.__setattr__(self, "scheme", f"{self.driver}+{self.transport}")

    # -- parsing ---------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> LibvirtURI:
        """Parse ``text``; raise :class:`InvalidURIError` (a ValueError) if bad.

        Errors use libvirt's wording: "Unable to parse URI ..." for syntax,
        "transport in URL not recognised ..." for unknown transports, and so on.
        """
        if not isinstance(text, str):
            raise TypeError(f"URI must be a str, not {type(text).__name__}")
        match = _SPLIT_RE.fullmatch(text)
        if match is None:
            # No "scheme:" at all: libvirt would try an alias or probe; a
            # client of its own has nothing to go on.
            raise _invalid(ErrorNumber.VIR_ERR_INVALID_ARG, "missing scheme for URI")
        scheme = match["scheme"]
        authority = match["authority"]
        raw_path = match["path"]
        query = match["query"]
        raw_fragment = match["fragment"]

        def unparsable(why: str) -> InvalidURIError:
            return InvalidURIError(
                f"{error_message(ErrorNumber.VIR_ERR_INTERNAL_ERROR, 'Unable to parse URI ' + text)}"
                f" ({why})",
                code=ErrorNumber.VIR_ERR_INTERNAL_ERROR,
                domain=ErrorDomain.VIR_FROM_URI,
            )

        if not _SCHEME_RE.fullmatch(scheme):
            raise unparsable(f"bad scheme {scheme!r}")
        if not _PATH_RE.fullmatch(raw_path):
            raise unparsable("bad character in path")
        if query is not None and not _QUERY_RE.fullmatch(query):
            raise unparsable("bad character in query")
        if raw_fragment is not None and not _QUERY_RE.fullmatch(raw_fragment):
            raise unparsable("bad character in fragment")

        user: str | None = None
        host: str | None = None
        port: int | None = None
        if authority is not None:
            userinfo, at, hostport = authority.rpartition("@")
            if at:
                if not _USERINFO_RE.fullmatch(userinfo):
                    raise unparsable("bad character in user")
                user = _decode(userinfo)
            if hostport.startswith("["):
                close = hostport.find("]")
                if close < 0:
                    raise unparsable("unterminated '[' in host")
                literal = hostport[1:close]
                try:
                    ipaddress.IPv6Address(literal.split("%", 1)[0])
                except ValueError:
                    raise unparsable(f"bad IPv6 address {literal!r}") from None
                host_raw, rest = literal, hostport[close + 1 :]
                if rest and not rest.startswith(":"):
                    raise unparsable("junk after ']'")
                port_raw = rest[1:] if rest else None
            else:
                host_raw, colon, port_text = hostport.partition(":")
                port_raw = port_text if colon else None
                if not _REGNAME_RE.fullmatch(host_raw):
                    raise unparsable("bad character in host")
                host_raw = _decode(host_raw)
            if port_raw is not None:
                if not port_raw.isascii() or not port_raw.isdigit():
                    raise unparsable(f"bad port {port_raw!r}")
                port = int(port_raw)
                if port > 65535:
                    raise unparsable(f"port {port} out of range")
            host = host_raw or None
            if host is None:
                # libvirt ignores a port given without a server.
                port = None
            if port == 0:
                port = None

        driver, plus, transport_raw = scheme.partition("+")
        if plus:
            transport = transport_raw.lower()
            if transport not in TRANSPORTS:
                raise _invalid(
                    ErrorNumber.VIR_ERR_INVALID_ARG,
                    "remote_open: transport in URL not recognised "
                    "(should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
                )
            if transport == "unix" and host:
                raise _invalid(
                    ErrorNumber.VIR_ERR_INVALID_ARG,
                    f"using unix socket and remote server '{host}' is not supported.",
                )
        else:
            # libvirt's rule: a server means TLS, no server means a local socket.
            transport = "tls" if host else "unix"

        port_given = port is not None
        if port is None:
            port = {
                "tcp": DEFAULT_TCP_PORT,
                "tls": DEFAULT_TLS_PORT,
                "ssh": DEFAULT_SSH_PORT,
                "libssh": DEFAULT_SSH_PORT,
                "libssh2": DEFAULT_SSH_PORT,
            }.get(transport)

        uri = cls(
            driver=driver,
            transport=transport,
            user=user,
            host=host,
            port=port,
            path=_decode(raw_path),
            params=_split_params(query),
            fragment=_decode(raw_fragment) if raw_fragment is not None else None,
            port_given=port_given,
            scheme=scheme,
            text=text,
        )
        uri._validate()
        return uri

    def _validate(self) -> None:
        """Reject parameter values doRemoteOpen would reject."""
        for name, value in self.params:
            if name.lower() in _BOOL_PARAMS:
                _parse_bool(name, value)
        mode = self.param("mode")
        if mode is not None and mode not in _MODES:
            raise _invalid(ErrorNumber.VIR_ERR_INVALID_ARG, f"Unknown remote mode '{mode}'")
        proxy = self.param("proxy")
        if proxy is not None and proxy not in _PROXIES:
            # (sic) libvirt's spelling.
            raise _invalid(ErrorNumber.VIR_ERR_INVALID_ARG, f"Unnkown proxy type '{proxy}'")
        if self.transport == "ext" and self.command is None:
            raise _invalid(
                ErrorNumber.VIR_ERR_INVALID_ARG,
                "remote_open: for 'ext' transport, command is required",
            )
        if (
            mode == "direct"
            and self.transport in ("ssh", "libssh", "libssh2")
            and self.param("socket") is None
        ):
            raise _invalid(
                ErrorNumber.VIR_ERR_OPERATION_UNSUPPORTED,
                f"Cannot use direct socket mode for {self.transport} transport",
            )
        if (
            self.transport in ("ssh", "libssh", "libssh2")
            and self.proxy == "native"
            and self.netcat is not None
        ):
            raise _invalid(
                ErrorNumber.VIR_ERR_INVALID_ARG, "netcat path not valid with native proxy mode"
            )

    # -- parameters ------------------------------------------------------

    def param(self, name: str) -> str | None:
        """Value of parameter ``name`` (case-insensitive; the last one wins)."""
        wanted = name.lower()
        found: str | None = None
        for key, value in self.params:
            if key.lower() == wanted:
                found = value
        return found

    def _flag(self, name: str) -> bool:
        last: tuple[str, str] | None = None
        for key, value in self.params:
            if key.lower() == name:
                last = (key, value)
        return _parse_bool(*last) if last is not None else False

    @property
    def server_params(self) -> tuple[tuple[str, str], ...]:
        """The parameters forwarded to the daemon (all but :data:`CLIENT_PARAMS`)."""
        return tuple((k, v) for k, v in self.params if k.lower() not in CLIENT_PARAMS)

    @property
    def command(self) -> str | None:
        """``command=``: the ssh binary (ssh) or the program to run (ext)."""
        return self.param("command")

    @property
    def netcat(self) -> str | None:
        """``netcat=``: the netcat binary on the remote host (default ``nc``)."""
        return self.param("netcat")

    @property
    def keyfile(self) -> str | None:
        """``keyfile=``: the ssh private key."""
        return self.param("keyfile")

    @property
    def known_hosts(self) -> str | None:
        """``known_hosts=``: the ssh known-hosts file."""
        return self.param("known_hosts")

    @property
    def pkipath(self) -> str | None:
        """``pkipath=``: directory holding cacert.pem, clientcert.pem, clientkey.pem."""
        return self.param("pkipath")

    @property
    def tls_priority(self) -> str | None:
        """``tls_priority=``: a GnuTLS priority string (informational here)."""
        return self.param("tls_priority")

    @property
    def auth(self) -> str | None:
        """``auth=``: the requested authentication type."""
        return self.param("auth")

    @property
    def no_verify(self) -> bool:
        """``no_verify=1``: skip the server's certificate / host key checks."""
        return self._flag("no_verify")

    @property
    def no_tty(self) -> bool:
        """``no_tty=1``: ssh must not prompt (``-o BatchMode=yes``)."""
        return self._flag("no_tty")

    @property
    def no_sanity(self) -> bool:
        """``no_sanity=1``: skip the sanity checks of our own certificates."""
        return self._flag("no_sanity")

    @property
    def mode(self) -> str:
        """``mode=``: auto (default), legacy (libvirtd) or direct (virtXXXd)."""
        return self.param("mode") or "auto"

    # -- derived ---------------------------------------------------------

    @property
    def connect_host(self) -> str:
        """The host to connect to; libvirt defaults to "localhost"."""
        return self.host or "localhost"

    @property
    def name_for_server(self) -> str:
        """The URI the client sends in ``CONNECT_OPEN``.

        An explicit ``name=`` wins.  A ``remote`` driver sends "" (the daemon
        picks).  Otherwise the URI is rebuilt without transport, user, host,
        port and client-only parameters: ``test+tcp://h:1234/default`` gives
        ``test:///default``.
        """
        name = self.param("name")
        if name is not None:
            return name
        if self.scheme == "remote" or self.scheme.startswith("remote+"):
            return ""
        # remoteConnectFormatURI + xmlSaveUri: no server, so "//" then the path.
        out = [self.driver, "://", _encode(self.path, _PATH_SAFE)]
        query = "&".join(
            f"{name}={_encode(value, _PARAM_SAFE)}" for name, value in self.server_params
        )
        if query:
            out += ["?", query]
        if self.fragment is not None:
            out += ["#", _encode(self.fragment, _FRAGMENT_SAFE)]
        return "".join(out)

    def _user_session(self, euid: int) -> bool:
        """remoteGetURIDaemonInfo: use the per-user daemon?"""
        return euid > 0 and (self.path == "/session" or self.scheme.startswith("test+"))

    @property
    def proxy(self) -> str:
        """``proxy=`` or libvirt's default: how ssh reaches the socket remotely.

        "netcat" when a ``socket=`` is given, "native" (virt-ssh-helper) for a
        per-user session, "auto" (helper if installed, else nc) otherwise.
        """
        proxy = self.param("proxy")
        if proxy is not None:
            return proxy
        if self.param("socket") is not None:
            return "netcat"
        if self._user_session(os.geteuid()):
            return "native"
        return "auto"

    @property
    def socket(self) -> str | None:
        """The UNIX socket path used (unix, ssh, libssh*), else None.

        ``socket=`` if given, otherwise libvirt's default for a read-write
        connection; see :meth:`socket_path`.
        """
        return self.socket_path()

    def socket_path(
        self,
        readonly: bool = False,
        *,
        euid: int | None = None,
        environ: Mapping[str, str] | None = None,
        exists: Callable[[str], bool] = os.path.exists,
    ) -> str | None:
        """The UNIX socket path, as remoteGetUNIXSocket chooses it.

        - root, or not a session URI: ``/var/run/libvirt/libvirt-sock`` (or
          ``-sock-ro`` when ``readonly``);
        - non-root with ``/session`` (or any ``test+...`` scheme):
          ``$XDG_RUNTIME_DIR/libvirt/libvirt-sock``;
        - ``mode=direct`` uses the per-driver daemon's socket instead
          (``virtqemud-sock``); ``mode=auto`` picks direct only for the unix
          transport and only if that socket exists, else the libvirtd one.

        ``euid``, ``environ`` and ``exists`` default to this process's.
        """
        explicit = self.param("socket")
        if explicit is not None:
            return explicit
        if self.transport not in ("unix", "ssh", "libssh", "libssh2"):
            return None
        euid = os.geteuid() if euid is None else euid
        environ = os.environ if environ is None else environ
        user = self._user_session(euid)

        def helper(prefix: str) -> str:
            if user:
                # The per-user socket has no read-only variant.
                return f"{_user_runtime_dir(environ)}/{prefix}-sock"
            return f"{SYSTEM_SOCKET_DIR}/{prefix}-{'sock-ro' if readonly else 'sock'}"

        direct = helper(f"virt{self.driver}d") if self.driver else None
        legacy = helper("libvirt")
        mode = self.mode
        if mode == "auto":
            if self.transport == "unix" and direct is not None and exists(direct):
                mode = "direct"
            else:
                # Remote hosts can't be probed; local ones fall back to
                # libvirtd's socket when no per-driver socket exists.
                mode = "legacy"
        if mode == "direct":
            if self.transport != "unix":
                raise _invalid(
                    ErrorNumber.VIR_ERR_OPERATION_UNSUPPORTED,
                    f"Cannot use direct socket mode for {self.transport} transport",
                )
            return direct
        return legacy

    def tls_files(
        self, *, euid: int | None = None, environ: Mapping[str, str] | None = None
    ) -> TLSFiles:
        """Where the TLS CA, CRL, client certificate and key are read from.

        With ``pkipath=DIR``: ``DIR/cacert.pem``, ``DIR/cacrl.pem``,
        ``DIR/clientcert.pem``, ``DIR/clientkey.pem`` (used whether or not they
        exist).  Otherwise a non-root user's ``~/.pki/libvirt/`` files are used
        where present (certificate and key only as a pair), and the system
        defaults under ``/etc/pki`` for the rest.
        """
        pki = self.pkipath
        if pki is not None:
            return TLSFiles(
                cacert=f"{pki}/cacert.pem",
                cacrl=f"{pki}/cacrl.pem",
                clientcert=f"{pki}/clientcert.pem",
                clientkey=f"{pki}/clientkey.pem",
            )
        euid = os.geteuid() if euid is None else euid
        environ = os.environ if environ is None else environ
        cacert, cacrl, cert, key = LIBVIRT_CACERT, LIBVIRT_CACRL, LIBVIRT_CLIENTCERT, LIBVIRT_CLIENTKEY
        if euid != 0:
            user_dir = f"{_home_dir(environ)}/.pki/libvirt"
            if os.path.exists(f"{user_dir}/cacert.pem"):
                cacert = f"{user_dir}/cacert.pem"
            if os.path.exists(f"{user_dir}/cacrl.pem"):
                cacrl = f"{user_dir}/cacrl.pem"
            if os.path.exists(f"{user_dir}/clientkey.pem") and os.path.exists(
                f"{user_dir}/clientcert.pem"
            ):
                cert = f"{user_dir}/clientcert.pem"
                key = f"{user_dir}/clientkey.pem"
        return TLSFiles(cacert=cacert, cacrl=cacrl, clientcert=cert, clientkey=key)

    @property
    def tls_cacert(self) -> str:
        """The CA certificate file (see :meth:`tls_files`)."""
        return self.tls_files().cacert

    @property
    def tls_clientcert(self) -> str:
        """The client certificate file (see :meth:`tls_files`)."""
        return self.tls_files().clientcert

    @property
    def tls_clientkey(self) -> str:
        """The client private key file (see :meth:`tls_files`)."""
        return self.tls_files().clientkey

    def format(self) -> str:
        """Rebuild the full URI (transport, user, host, port, all parameters)."""
        out = [self.scheme, "://"]
        if self.user is not None:
            out += [_encode(self.user, _USERINFO_SAFE), "@"]
        if self.host:
            out.append(f"[{self.host}]" if ":" in self.host else _encode(self.host, _HOST_SAFE))
        if self.port_given and self.port is not None:
            out.append(f":{self.port}")
        out.append(_encode(self.path, _PATH_SAFE))
        if self.params:
            pairs = (f"{_encode(k, _PARAM_SAFE)}={_encode(v, _PARAM_SAFE)}" for k, v in self.params)
            out += ["?", "&".join(pairs)]
        if self.fragment is not None:
            out += ["#", _encode(self.fragment, _FRAGMENT_SAFE)]
        return "".join(out)

    def __str__(self) -> str:
        return self.text or self.format()
