"""Authentication as libvirtd offers it, done the way libvirt's client
does it (``src/remote/remote_driver.c``):

- ``none``;
- ``sasl``: any mechanism the system's Cyrus SASL library has a plugin for
  (SCRAM-SHA-256, libvirt's recommendation; DIGEST-MD5; GSSAPI ...), through
  that very library (:mod:`.cyrus`, loaded only when a server asks for
  SASL).  On plain TCP libvirt insists on a SASL security layer of at least
  56 bits (DIGEST-MD5 ``auth-conf``), which then carries every message
  (:mod:`..transport.sasl`);
- ``polkit``: libvirtd asks polkit about our process; the client only asks
  libvirtd to (AUTH_POLKIT).

Credentials come from libvirt's client ``auth.conf`` (:mod:`.config`)
and, for the rest, from a callback (:mod:`.credentials`):
``libvirt_rpc.open(uri, auth=callback)``.  :mod:`.negotiate` is the
exchange without I/O, :mod:`.handshake` runs it on a new connection.
"""

from __future__ import annotations

from .config import AuthConfig, auth_config_path
from .credentials import (
    DEFAULT_CREDENTIAL_TYPES,
    AuthCallback,
    ConnectAuth,
    Credential,
    CredentialType,
    connect_auth,
    console_callback,
)

__all__ = [
    "AuthCallback",
    "AuthConfig",
    "ConnectAuth",
    "Credential",
    "CredentialType",
    "DEFAULT_CREDENTIAL_TYPES",
    "auth_config_path",
    "connect_auth",
    "console_callback",
]
