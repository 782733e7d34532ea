"""What a caller gives :func:`libvirt_rpc.open` to authenticate with, in
the spirit of libvirt's ``virConnectOpenAuth``: the credential types it
can supply and a callback that fills :class:`Credential` requests.

``open(uri, auth=callback)`` offers libvirt's default types
(:data:`DEFAULT_CREDENTIAL_TYPES`, those of ``virConnectAuthPtrDefault``);
``auth=ConnectAuth(types, callback)`` names them.  Whatever the client's
``auth.conf`` holds is used first (see :mod:`.config`); the callback is
asked only for the rest, all at once.  :func:`console_callback` asks on
the terminal, as virsh does.
"""

from __future__ import annotations

import enum
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "CredentialType",
    "Credential",
    "AuthCallback",
    "ConnectAuth",
    "DEFAULT_CREDENTIAL_TYPES",
    "console_callback",
    "connect_auth",
]


class CredentialType(enum.IntEnum):
    """``virConnectCredentialType``."""

    VIR_CRED_USERNAME = 1  # identity to act as
    VIR_CRED_AUTHNAME = 2  # identity to authorize as
    VIR_CRED_LANGUAGE = 3  # RFC 1766 languages, comma separated
    VIR_CRED_CNONCE = 4  # client supplies a nonce
    VIR_CRED_PASSPHRASE = 5  # passphrase secret
    VIR_CRED_ECHOPROMPT = 6  # challenge response
    VIR_CRED_NOECHOPROMPT = 7  # challenge response, not echoed
    VIR_CRED_REALM = 8  # authentication realm
    VIR_CRED_EXTERNAL = 9  # externally managed credential


@dataclass
class Credential:
    """One credential request (``virConnectCredential``): the callback
    sets :attr:`result` (``None`` is taken as an empty answer)."""

    type: CredentialType
    prompt: str
    challenge: str | None = None
    defresult: str | None = None
    result: str | None = None


#: ``callback(credentials)`` fills each ``result``; returning ``False``
#: (or a negative number, libvirt's way) or raising refuses.  With
#: :func:`libvirt_rpc.open_async` it may be a coroutine function.
AuthCallback = Callable[[list[Credential]], "object | Awaitable[object]"]

#: ``virConnectCredTypeDefault``: what virsh's own callback answers.
DEFAULT_CREDENTIAL_TYPES: tuple[CredentialType, ...] = (
    CredentialType.VIR_CRED_AUTHNAME,
    CredentialType.VIR_CRED_ECHOPROMPT,
    CredentialType.VIR_CRED_REALM,
    CredentialType.VIR_CRED_PASSPHRASE,
    CredentialType.VIR_CRED_NOECHOPROMPT,
    CredentialType.VIR_CRED_EXTERNAL,
)


@dataclass(frozen=True)
class ConnectAuth:
    """``virConnectAuth``: the credential types the caller can supply and
    the callback that supplies them (None: only what ``auth.conf`` holds)."""

    credtypes: Sequence[CredentialType] = DEFAULT_CREDENTIAL_TYPES
    callback: AuthCallback | None = None


def connect_auth(auth: ConnectAuth | AuthCallback | None) -> ConnectAuth:
    """What :func:`libvirt_rpc.open`'s ``auth=`` means: a :class:`ConnectAuth`
    as it is, a callback with the default types, None: ``auth.conf`` only."""
    if isinstance(auth, ConnectAuth):
        return auth
    return ConnectAuth(DEFAULT_CREDENTIAL_TYPES, auth)


def refused(outcome: object) -> bool:
    """Whether a callback's return value says no (libvirt: ``< 0``)."""
    if outcome is False:
        return True
    return isinstance(outcome, int) and not isinstance(outcome, bool) and outcome < 0


_ECHOED = (
    CredentialType.VIR_CRED_USERNAME,
    CredentialType.VIR_CRED_AUTHNAME,
    CredentialType.VIR_CRED_ECHOPROMPT,
    CredentialType.VIR_CRED_REALM,
)
_SECRET = (CredentialType.VIR_CRED_PASSPHRASE, CredentialType.VIR_CRED_NOECHOPROMPT)


def console_callback(credentials: list[Credential]) -> bool:
    """Ask on the terminal, as ``virConnectAuthPtrDefault`` (virsh) does:
    "PROMPT: " on stdout and a line from stdin, passphrases without echo;
    an empty answer takes the default.  False at end of input or for a
    type it cannot ask for."""
    for credential in credentials:
        if credential.type in _ECHOED:
            sys.stdout.write(f"{credential.prompt}: ")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                return False
            answer = line.rstrip("\n")
        elif credential.type in _SECRET:
            try:
                answer = getpass.getpass(f"{credential.prompt}: ")
            except EOFError:
                return False
        else:
            return False
        credential.result = answer or credential.defresult or ""
    return True
