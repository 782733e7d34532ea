"""The ``tls`` transport: TCP + TLS (default 16514) with the client
certificate, CA check and host name check (unless ``no_verify=1``), as
libvirt's ``virnettlscontext.c`` sets it up.

After the handshake the daemon checks *our* certificate and address and then
sends one byte, :data:`TLS_CONFIRMATION`, inside the TLS session; anything
else (or EOF) means it refused us.

A server certificate that fails the checks is logged as libvirt logs it
(``Certificate check failed <why>``, a warning virsh prints); with
``no_verify=1`` the connection then goes on without the checks.  Python's
``ssl`` cannot check a certificate and carry on regardless, so that takes a
second connection, made without them.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
from typing import TYPE_CHECKING, Any

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from ..uri import LibvirtURI
from .base import (
    Deadline,
    SocketStream,
    Stream,
    Transport,
    rpc_error,
    system_error,
    timeout_error,
)
from .tcp import HANDSHAKE_FAILURES, connect_tcp, open_async_tcp

if TYPE_CHECKING:
    import asyncio

__all__ = ["TLS_CONFIRMATION", "TlsTransport", "create_tls_context"]

log = logging.getLogger(__name__)

# The byte libvirtd sends (inside TLS) once it has accepted our certificate
# and address (virNetServerClientCheckAccess); virNetClientSetTLSSession
# insists on exactly this byte.
TLS_CONFIRMATION = b"\x01"


def create_tls_context(uri: LibvirtURI, verify: bool | None = None) -> ssl.SSLContext:
    """The client TLS context for ``uri`` (see :meth:`LibvirtURI.tls_files`).

    Like libvirt: the CA certificate must exist; a CRL is used when present;
    the client certificate and key are loaded when both exist (else none is
    offered); ``verify=False`` turns off CA and host name checks (by
    default ``no_verify=1`` does).
    """
    files = uri.tls_files()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not os.path.exists(files.cacert):
        raise system_error(f"Cannot read CA certificate '{files.cacert}'", err=errno.ENOENT)
    try:
        ctx.load_verify_locations(cafile=files.cacert)
    except (ssl.SSLError, OSError) as exc:
        raise system_error(f"Unable to set x509 CA certificate: {files.cacert}", exc) from exc
    if os.path.exists(files.cacrl):
        try:
            ctx.load_verify_locations(cafile=files.cacrl)
        except (ssl.SSLError, OSError) as exc:
            raise system_error(
                f"Unable to set x509 certificate revocation list: {files.cacrl}", exc
            ) from exc
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if os.path.exists(files.clientcert) and os.path.exists(files.clientkey):
        try:
            ctx.load_cert_chain(files.clientcert, files.clientkey)
        except (ssl.SSLError, OSError) as exc:
            raise system_error(
                f"Unable to set x509 key and certificate: {files.clientkey}, {files.clientcert}",
                exc,
            ) from exc
    if verify is None:
        verify = not uri.no_verify
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


# OpenSSL's verify codes and what libvirt (gnutls) says for them
_HOST_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_REASONS = {
    **dict.fromkeys((2, 18, 19, 20, 21), "The certificate hasn't got a known issuer."),
    23: "The certificate has been revoked.",
}


def _check_failed(exc: ssl.SSLCertVerificationError, host: str) -> str:
    """Why a server certificate failed, in libvirt's words
    (virNetTLSContextValidCertificate)."""
    if exc.verify_code in _HOST_MISMATCH:
        return f"Certificate [session] owner does not match the hostname {host}"
    reason = _REASONS.get(exc.verify_code, "The certificate is not trusted.")
    return f"Certificate failed validation: {reason}"


def _verify_again_without_checks(error: LibvirtError, uri: LibvirtURI) -> bool:
    """Whether ``error``, from a handshake with the checks on, is a bad
    server certificate that ``no_verify=1`` tells us to ignore."""
    return uri.no_verify and isinstance(error.__cause__, ssl.SSLCertVerificationError)


def _handshake_error(exc: BaseException, host: str) -> LibvirtError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        # libvirt's VIR_WARN, with or without no_verify=1
        log.warning("Certificate check failed %s", _check_failed(exc, host))
        err = LibvirtError.from_code(
            ErrorNumber.VIR_ERR_AUTH_FAILED,
            "Failed to verify peer's certificate",
            domain=ErrorDomain.VIR_FROM_RPC,
        )
        err.str3 = exc.verify_message or str(exc)
        return err
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return LibvirtError.from_code(
        ErrorNumber.VIR_ERR_AUTH_FAILED,
        f"TLS handshake failed {reason}",
        domain=ErrorDomain.VIR_FROM_RPC,
    )


def _confirmation_read_error(exc: BaseException) -> LibvirtError:
    # virNetTLSSessionRead turns TLS failures into EIO.
    err = system_error("Unable to read TLS confirmation", err=errno.EIO)
    err.str3 = str(exc)
    return err


def _verification_failed() -> LibvirtError:
    return rpc_error(
        ErrorNumber.VIR_ERR_RPC, "server verification (of our certificate or IP address) failed"
    )


def _start_tls(
    sock: socket.socket, ctx: ssl.SSLContext, uri: LibvirtURI, deadline: Deadline
) -> ssl.SSLSocket:
    host = uri.connect_host
    try:
        sock.settimeout(deadline.remaining())
        # Ragged EOFs must show while waiting for the confirmation: libvirtd
        # drops clients it refuses without a TLS close, which gnutls (and so
        # libvirt) reports as a read error, not as a clean end of stream.
        tls = ctx.wrap_socket(sock, server_hostname=host, suppress_ragged_eofs=False)
    except TimeoutError as exc:
        sock.close()
        raise timeout_error(f"TLS handshake with '{host}:{uri.port}'") from exc
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        raise _handshake_error(exc, host) from exc
    try:
        tls.settimeout(deadline.remaining())
        confirm = tls.recv(1)
    except TimeoutError as exc:
        tls.close()
        raise timeout_error(f"waiting for TLS confirmation from '{host}:{uri.port}'") from exc
    except (ssl.SSLError, OSError) as exc:
        tls.close()
        raise _confirmation_read_error(exc) from exc
    if confirm != TLS_CONFIRMATION:
        tls.close()
        raise _verification_failed()
    # From here on an abrupt close is just the end of the stream, like a socket.
    # (A plain attribute of SSLSocket that typeshed does not declare.)
    setattr(tls, "suppress_ragged_eofs", True)
    return tls


async def _open_async_tls(
    uri: LibvirtURI, ctx: ssl.SSLContext, handshake_timeout: float | None, limit: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    tls: dict[str, Any] = {"ssl": ctx, "server_hostname": uri.connect_host}
    if handshake_timeout is not None:
        tls["ssl_handshake_timeout"] = max(handshake_timeout, 1e-3)
    try:
        return await open_async_tcp(uri, limit, **tls)
    except HANDSHAKE_FAILURES as exc:
        raise _handshake_error(exc, uri.connect_host) from exc


async def _read_confirmation(reader: asyncio.StreamReader) -> None:
    try:
        confirm = await reader.read(1)
    except (ssl.SSLError, OSError) as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise _confirmation_read_error(exc) from exc
    if confirm != TLS_CONFIRMATION:
        raise _verification_failed()


async def _abort(writer: asyncio.StreamWriter) -> None:
    """Drop a connection at once (no TLS close_notify dance with a peer that
    refused us) and let the loop finish closing the socket."""
    import asyncio  # asyncio only for asyncio's users

    writer.transport.abort()
    await asyncio.sleep(0)


class TlsTransport(Transport):
    """A refusing server gives libvirt's two messages: "Unable to read TLS
    confirmation: Input/output error" when it drops us without confirming,
    "server verification (of our certificate or IP address) failed" when it
    closes cleanly or sends a wrong byte.  asyncio cannot tell an abrupt TLS
    close from a clean one, so :meth:`open_async` always gives the second.
    """

    name = "tls"

    def open(self, uri: LibvirtURI, readonly: bool, deadline: Deadline) -> Stream:
        assert uri.port is not None
        # Credentials first, as libvirt does: no connection if they are unusable.
        ctx = create_tls_context(uri, verify=True)
        try:
            tls = _start_tls(connect_tcp(uri.connect_host, uri.port, deadline), ctx, uri, deadline)
        except LibvirtError as error:
            if not _verify_again_without_checks(error, uri):
                raise
            ctx = create_tls_context(uri, verify=False)
            tls = _start_tls(connect_tcp(uri.connect_host, uri.port, deadline), ctx, uri, deadline)
        return SocketStream(tls, self.name)

    async def open_async(
        self, uri: LibvirtURI, readonly: bool, timeout: float | None, limit: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ctx = create_tls_context(uri, verify=True)
        try:
            reader, writer = await _open_async_tls(uri, ctx, timeout, limit)
        except LibvirtError as error:
            if not _verify_again_without_checks(error, uri):
                raise
            reader, writer = await _open_async_tls(uri, create_tls_context(uri, verify=False), timeout, limit)
        try:
            await _read_confirmation(reader)
        except BaseException:
            await _abort(writer)
            raise
        return reader, writer
