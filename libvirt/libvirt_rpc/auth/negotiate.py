"""libvirt's client authentication, without I/O: ``remoteAuthenticate``,
``remoteAuthSASL``, ``remoteAuthInteract`` and ``remoteAuthPolkit`` of
``src/remote/remote_driver.c``, with libvirt's error messages.

:func:`negotiate` is a generator: it yields what it needs done --
:class:`RemoteCall` (a remote procedure; send back its decoded reply, or
throw its :class:`~..errors.LibvirtError` in) and :class:`AskCredentials`
(run the caller's callback; send back None, or what went wrong) -- and
returns the SASL session whose security layer must carry every later
message, or None.  :mod:`.handshake` drives it for the blocking and the
asyncio client, so both behave the same.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from libvirt_rpc import remote_protocol as rp

from ..errors import ErrorDomain, ErrorNumber, LibvirtError
from ..uri import LibvirtURI
from . import sasl_ids
from .config import AuthConfig, auth_config_path
from .credentials import ConnectAuth, Credential, CredentialType

if TYPE_CHECKING:
    from . import cyrus
    from xdrgen.runtime.rpc import Packable
    from xdrgen.runtime.xdr import XdrStruct

__all__ = ["Link", "RemoteCall", "AskCredentials", "Request", "negotiate"]

# libvirt refuses a weaker security layer on an insecure channel (plain
# TCP): 56 bits is DES, "good for Kerberos"; the ceiling is "very strong".
_MIN_SSF = 56
_MAX_SSF = 100000

_SASL_FOR: dict[CredentialType, int] = {
    CredentialType.VIR_CRED_USERNAME: sasl_ids.SASL_CB_USER,
    CredentialType.VIR_CRED_AUTHNAME: sasl_ids.SASL_CB_AUTHNAME,
    CredentialType.VIR_CRED_LANGUAGE: sasl_ids.SASL_CB_LANGUAGE,
    CredentialType.VIR_CRED_CNONCE: sasl_ids.SASL_CB_CNONCE,
    CredentialType.VIR_CRED_PASSPHRASE: sasl_ids.SASL_CB_PASS,
    CredentialType.VIR_CRED_ECHOPROMPT: sasl_ids.SASL_CB_ECHOPROMPT,
    CredentialType.VIR_CRED_NOECHOPROMPT: sasl_ids.SASL_CB_NOECHOPROMPT,
    CredentialType.VIR_CRED_REALM: sasl_ids.SASL_CB_GETREALM,
}
_CREDENTIAL_FOR = {sasl: vir for vir, sasl in _SASL_FOR.items()}
# the auth.conf key for what SASL asks (remoteAuthFillFromConfig)
_CONFIG_KEY = {
    sasl_ids.SASL_CB_USER: "username",
    sasl_ids.SASL_CB_AUTHNAME: "authname",
    sasl_ids.SASL_CB_PASS: "password",
    sasl_ids.SASL_CB_GETREALM: "realm",
}


@dataclass(frozen=True)
class Link:
    """What the authentication needs to know about the connection.

    ``secure``: TLS, a unix socket or a helper process (ssh, ext) already
    protect it, so SASL need not (libvirt's ``priv->is_secure``);
    ``tls_ssf``: the TLS cipher's key size in bits (0 without TLS);
    ``local``/``remote``: "ADDRESS;PORT" of an IP connection, else None.
    """

    secure: bool
    tls_ssf: int = 0
    local: str | None = None
    remote: str | None = None


@dataclass(frozen=True)
class RemoteCall:
    """Call remote procedure ``proc`` with ``args``; its reply is decoded
    as ``result`` (None: no reply data)."""

    proc: int
    args: Packable | None
    result: type[XdrStruct] | None


@dataclass(frozen=True)
class AskCredentials:
    """Run ``auth.callback(credentials)``."""

    auth: ConnectAuth
    credentials: list[Credential]


Request = Union[RemoteCall, AskCredentials]
Flow = Generator[Request, Any, Any]


def _auth_failed(detail: str, domain: ErrorDomain = ErrorDomain.VIR_FROM_REMOTE) -> LibvirtError:
    return LibvirtError.from_code(ErrorNumber.VIR_ERR_AUTH_FAILED, detail, domain=domain)


def negotiate(
    uri: LibvirtURI, auth: ConnectAuth, link: Link
) -> Generator[Request, Any, cyrus.ClientSession | None]:
    """AUTH_LIST, then the authentication the server asks for first (or
    the one ``auth=`` in the URI picks: ``sasl``, ``sasl.MECHANISM``,
    ``polkit``).  Returns the SASL session if it has a security layer."""
    try:
        offered = (yield RemoteCall(rp.REMOTE_PROC_AUTH_LIST, None, rp.RemoteAuthListRet)).types
    except LibvirtError as error:
        if error.code == ErrorNumber.VIR_ERR_NO_SUPPORT:
            return None  # an old server without the procedure
        raise
    if not offered:
        return None
    wanted = uri.auth
    kind = _chosen(wanted, offered) if wanted else offered[0]
    if kind == rp.RemoteAuthType.REMOTE_AUTH_NONE:
        return None
    if kind == rp.RemoteAuthType.REMOTE_AUTH_SASL:
        mechanism = wanted[5:] if wanted and wanted[:5].lower() == "sasl." else None
        session: cyrus.ClientSession | None = yield from _sasl(uri, auth, link, mechanism)
        return session
    if kind == rp.RemoteAuthType.REMOTE_AUTH_POLKIT:
        # libvirtd asks polkit whether our process may connect; an answer
        # at all means yes (a refusal comes back as the call's error)
        yield RemoteCall(rp.REMOTE_PROC_AUTH_POLKIT, None, rp.RemoteAuthPolkitRet)
        return None
    raise _auth_failed(f"unsupported authentication type {int(offered[0])}")


def _chosen(wanted: str, offered: list[rp.RemoteAuthType]) -> rp.RemoteAuthType:
    if wanted.lower() == "sasl" or wanted[:5].lower() == "sasl.":
        kind = rp.RemoteAuthType.REMOTE_AUTH_SASL
    elif wanted.lower() == "polkit":
        kind = rp.RemoteAuthType.REMOTE_AUTH_POLKIT
    else:
        raise _auth_failed(f"unknown authentication type {wanted}")
    if kind not in offered:
        raise _auth_failed(f"requested authentication type {wanted} rejected")
    return kind


def _sasl_data(data: bytes | None) -> tuple[int, list[int]]:
    """(nil, data) as the protocol carries SASL data: "no data" and empty
    data differ; bytes travel as signed chars."""
    if data is None:
        return 1, []
    if len(data) > rp.REMOTE_AUTH_SASL_DATA_MAX:
        raise _auth_failed(f"SASL negotiation data too long: {len(data)} bytes")
    return 0, [byte - 256 if byte > 127 else byte for byte in data]


def _server_data(reply: Any) -> bytes | None:
    return None if reply.nil else bytes(value & 0xFF for value in reply.data)


def _sasl(
    uri: LibvirtURI, auth: ConnectAuth, link: Link, mechanism: str | None
) -> Generator[Request, Any, cyrus.ClientSession | None]:
    """remoteAuthSASL."""
    callbacks = [_SASL_FOR[t] for t in auth.credtypes if t in _SASL_FOR]
    from . import cyrus  # ctypes and libsasl2 only when a server asks for SASL

    session = cyrus.ClientSession("libvirt", uri.connect_host, link.local, link.remote, callbacks)
    try:
        if link.tls_ssf:
            session.set_external_ssf(link.tls_ssf)
        # On a channel that is secure already any mechanism will do; else
        # only one that brings a strong enough layer of its own.
        if link.secure:
            session.set_security(0, 0, allow_anonymous=True)
        else:
            session.set_security(_MIN_SSF, _MAX_SSF, allow_anonymous=False)
        mechlist = (yield RemoteCall(rp.REMOTE_PROC_AUTH_SASL_INIT, None, rp.RemoteAuthSaslInitRet)).mechlist
        if mechanism is not None:
            if mechanism not in mechlist:  # libvirt's strstr
                raise _auth_failed(f"SASL mechanism {mechanism} not supported by server")
            mechlist = mechanism
        interaction = _Interaction(uri, auth)
        step = session.start(mechlist)
        while step.status == sasl_ids.INTERACT:
            yield from interaction.answer(session, step.prompts)
            step = session.start(mechlist)
        assert step.mechanism is not None
        nil, data = _sasl_data(step.data)
        reply = yield RemoteCall(
            rp.REMOTE_PROC_AUTH_SASL_START,
            rp.RemoteAuthSaslStartArgs(step.mechanism, nil, data),
            rp.RemoteAuthSaslStartRet,
        )
        # Even a server that is done gets one more client step: the client
        # checks the server's last word (mutual authentication).
        while True:
            complete, server_data = reply.complete, _server_data(reply)
            step = session.step(server_data)
            while step.status == sasl_ids.INTERACT:
                yield from interaction.answer(session, step.prompts)
                step = session.step(server_data)
            if complete and step.status == sasl_ids.COMPLETE:
                break
            nil, data = _sasl_data(step.data)
            reply = yield RemoteCall(
                rp.REMOTE_PROC_AUTH_SASL_STEP, rp.RemoteAuthSaslStepArgs(nil, data), rp.RemoteAuthSaslStepRet
            )
            if reply.complete and step.status == sasl_ids.COMPLETE:
                break
        ssf = session.ssf
        if not link.secure and ssf < _MIN_SSF:
            raise _auth_failed(f"negotiation SSF {ssf} was not strong enough")
    except BaseException:
        session.close()
        raise
    if ssf == 0:  # no layer: the messages go on as they are
        session.close()
        return None
    return session


class _Interaction:
    """remoteAuthInteract: what a mechanism asks for comes from auth.conf
    first (read once, when first needed), the rest from the callback."""

    def __init__(self, uri: LibvirtURI, auth: ConnectAuth) -> None:
        self._uri = uri
        self._auth = auth
        self._config: AuthConfig | None = None
        self._looked = False
        self._rounds = 0

    # A mechanism asks once or twice per step; one that keeps asking would
    # otherwise keep us here for ever.
    _MAX_ROUNDS = 16

    def _from_config(self, prompt: cyrus.Prompt) -> str | None:
        if not self._looked:
            self._looked = True
            path = auth_config_path(self._uri)
            self._config = AuthConfig.load(path) if path else None
        key = _CONFIG_KEY.get(prompt.id)
        if self._config is None or key is None:
            return None
        return self._config.lookup("libvirt", self._uri.host, key)

    def answer(self, session: cyrus.ClientSession, prompts: list[cyrus.Prompt]) -> Flow:
        self._rounds += 1
        if self._rounds > self._MAX_ROUNDS:
            raise _auth_failed("Failed to collect auth credentials: the SASL mechanism keeps asking")
        for prompt in prompts:
            prompt.result = self._from_config(prompt)
        missing = [p for p in prompts if p.result is None]
        if missing:
            if any(p.id not in _CREDENTIAL_FOR for p in missing):
                raise _auth_failed("Failed to make auth credentials")
            if self._auth.callback is None:
                raise _auth_failed("No authentication callback available")
            credentials = [
                Credential(_CREDENTIAL_FOR[p.id], p.prompt or "", p.challenge, p.defresult) for p in missing
            ]
            problem = yield AskCredentials(self._auth, credentials)
            if problem is not None:
                error = _auth_failed("Failed to collect auth credentials")
                if isinstance(problem, BaseException):
                    raise error from problem
                raise error
            for prompt, credential in zip(missing, credentials):
                prompt.result = credential.result or ""
        session.answer(prompts)
