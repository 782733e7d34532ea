"""Where a proxy listens and connects (``unix:PATH``, ``tcp:HOST:PORT``)
and the TLS contexts for either side.

TLS takes libvirt's certificate layout: a ``pkipath`` directory holding
``cacert.pem`` (and ``cacrl.pem`` when there is one), ``servercert.pem``
and ``serverkey.pem`` for the side that accepts, ``clientcert.pem`` and
``clientkey.pem`` for the side that connects; without one, libvirt's
system locations under ``/etc/pki``.  A proxy that holds these keys sees
the traffic in clear.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from dataclasses import dataclass


class AddressError(ValueError):
    """An address or a TLS set-up that cannot be used."""


@dataclass(frozen=True, slots=True)
class Address:
    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, _, rest = text.partition(":")
        if kind == "unix" and rest:
            return cls("unix", path=rest)
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
            if host and port.isdigit() and int(port) < 65536:
                return cls("tcp", host=host, port=int(port))
        raise AddressError(f"{text!r}: expected unix:PATH or tcp:HOST:PORT")

    @property
    def family(self) -> int:
        if self.kind == "unix":
            return socket.AF_UNIX
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def sockaddr(self) -> str | tuple[str, int]:
        if self.kind == "unix":
            # libvirt's convention: a leading '@' names an abstract socket.
            return "\0" + self.path[1:] if self.path.startswith("@") else self.path
        return (self.host, self.port)

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def peer_name(sock: socket.socket, fallback: str) -> str:
    """A socket's peer as ``tcp:HOST:PORT``; a unix peer (which has no
    name) as ``fallback`` and, as libvirt logs its unix clients, the
    process that connected: ``unix:/path/sock pid=1234 uid=0`` where the
    system tells (Linux's ``SO_PEERCRED``)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host, port = sock.getpeername()[:2]
        return str(Address("tcp", host=host, port=port))
    credentials = _peer_credentials(sock)
    return fallback if credentials is None else f"{fallback} pid={credentials[0]} uid={credentials[1]}"


_UCRED = struct.Struct("3i")  # Linux's struct ucred: pid, uid, gid


def _peer_credentials(sock: socket.socket) -> tuple[int, int] | None:
    """(pid, uid) of a unix socket's peer, or None where the system has no
    ``SO_PEERCRED``."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or sock.family != socket.AF_UNIX:
        return None
    try:
        pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size))
    except OSError:
        return None
    return pid, uid


@dataclass(frozen=True, slots=True)
class PkiFiles:
    cacert: str
    cacrl: str
    cert: str
    key: str

    @classmethod
    def of(cls, pkipath: str | None, role: str) -> PkiFiles:
        """``role`` "server" (the side that accepts) or "client"."""
        if pkipath is not None:
            return cls(
                f"{pkipath}/cacert.pem", f"{pkipath}/cacrl.pem", f"{pkipath}/{role}cert.pem", f"{pkipath}/{role}key.pem"
            )
        # libvirt's defaults (virnettlsconfig.c) when no pkipath is given.
        return cls(
            "/etc/pki/CA/cacert.pem",
            "/etc/pki/CA/cacrl.pem",
            f"/etc/pki/libvirt/{role}cert.pem",
            f"/etc/pki/libvirt/private/{role}key.pem",
        )


def tls_context(pkipath: str | None, *, server: bool, verify: bool = True) -> ssl.SSLContext:
    """A TLS context for the accepting side (``server``) or the connecting
    side; ``verify`` False: no CA or host name checks (libvirt's
    ``no_verify=1``; the accepting side then asks for no client
    certificate)."""
    files = PkiFiles.of(pkipath, "server" if server else "client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    try:
        if verify or server:
            context.load_verify_locations(cafile=files.cacert)
        if os.path.exists(files.cacrl):
            context.load_verify_locations(cafile=files.cacrl)
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        if server or (os.path.exists(files.cert) and os.path.exists(files.key)):
            context.load_cert_chain(files.cert, files.key)
    except (ssl.SSLError, OSError) as error:
        raise AddressError(f"TLS set-up from {os.path.dirname(files.cert)!r} failed: {error}") from error
    if server:
        context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        # No TLS 1.3 session tickets: libvirt's client waits for the socket
        # to be readable and then reads its one confirmation byte; a ticket
        # arriving first makes that read fail ("Unable to read TLS
        # confirmation: Resource temporarily unavailable").
        context.num_tickets = 0
    elif not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
