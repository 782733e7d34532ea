"""Connection-level procedures: authentication, opening and closing the
connection, and what it says about itself (type, versions, host name, URI,
features)."""

from __future__ import annotations

import socket

from libvirt_rpc import remote_protocol as rp

from ...errors import ErrorDomain
from ...errors import ErrorNumber as E
from ...server import Call, Client, rpc_error
from ..base import CONNECTION, Connection, ProceduresBase
from ..registry import ObjectKind, register

VIR_CONNECT_RO = 1

# virDrvFeature numbers libvirt 9.0.0 asks about (the keepalive one, 10, is
# answered by the server runtime itself)
_FEATURES = {
    8: 1,  # FD_PASSING: as libvirtd answers (the client knows its transport)
    9: 1,  # TYPED_PARAM_STRING
    14: 1,  # REMOTE_CLOSE_CALLBACK
    15: 1,  # REMOTE_EVENT_CALLBACK
    16: 1,  # NETWORK_UPDATE_HAS_CORRECT_ORDER
}


def hostname() -> str:
    """What libvirt's virGetHostname() returns: the host name, or its
    canonical name when the short name is not qualified."""
    name = socket.gethostname()
    if name.startswith("localhost") or "." in name:
        return name
    try:
        infos = socket.getaddrinfo(name, None, 0, 0, 0, socket.AI_CANONNAME)
    except OSError:
        return name
    canon = infos[0][3] if infos else ""
    if not canon or canon.startswith("localhost"):
        return name
    return canon


class ConnectProcedures(ProceduresBase):
    """The ``connect_*`` procedures that concern no object kind, and the
    client hooks."""

    def client_connected(self, client: Client) -> None:
        client.data[CONNECTION] = Connection()

    def client_closed(self, client: Client) -> None:
        client.data[CONNECTION].close()
        self.hv.forget(client)

    async def auth_list(self, call: Call) -> rp.RemoteAuthListRet:
        return rp.RemoteAuthListRet([rp.RemoteAuthType.REMOTE_AUTH_NONE])

    async def connect_open(self, call: Call, args: rp.RemoteConnectOpenArgs) -> None:
        conn = self._connection(call)
        name = args.name or "test:///default"
        if not name.startswith("test://"):
            raise rpc_error(E.VIR_ERR_NO_CONNECT, name, domain=ErrorDomain.VIR_FROM_NONE)
        conn.uri = "test:///default"
        conn.read_only = bool(args.flags & VIR_CONNECT_RO)

    async def connect_close(self, call: Call) -> None:
        conn = self._connection(call)
        conn.uri = None
        conn.close()
        self.hv.forget(call.client)
        call.close_after_reply = True  # as libvirtd does

    async def connect_supports_feature(
        self, call: Call, args: rp.RemoteConnectSupportsFeatureArgs
    ) -> rp.RemoteConnectSupportsFeatureRet:
        self._open(call)
        return rp.RemoteConnectSupportsFeatureRet(_FEATURES.get(args.feature, 0))

    async def connect_register_close_callback(self, call: Call) -> None:
        self._open(call)

    async def connect_unregister_close_callback(self, call: Call) -> None:
        self._open(call)

    async def connect_get_type(self, call: Call) -> rp.RemoteConnectGetTypeRet:
        self._open(call)
        return rp.RemoteConnectGetTypeRet("TEST")

    async def connect_get_version(self, call: Call) -> rp.RemoteConnectGetVersionRet:
        self._open(call)
        return rp.RemoteConnectGetVersionRet(2)  # "0.0.2", as the test driver

    async def connect_get_lib_version(self, call: Call) -> rp.RemoteConnectGetLibVersionRet:
        self._open(call)
        return rp.RemoteConnectGetLibVersionRet(9000000)  # the protocol's libvirt 9.0.0

    async def connect_get_hostname(self, call: Call) -> rp.RemoteConnectGetHostnameRet:
        self._open(call)
        return rp.RemoteConnectGetHostnameRet(self.hv[CONNECT])

    async def connect_get_uri(self, call: Call) -> rp.RemoteConnectGetUriRet:
        conn = self._open(call)
        assert conn.uri is not None
        return rp.RemoteConnectGetUriRet(conn.uri)

    async def connect_is_secure(self, call: Call) -> rp.RemoteConnectIsSecureRet:
        self._open(call)
        return rp.RemoteConnectIsSecureRet(1)

    async def connect_get_max_vcpus(
        self, call: Call, args: rp.RemoteConnectGetMaxVcpusArgs
    ) -> rp.RemoteConnectGetMaxVcpusRet:
        self._open(call)
        return rp.RemoteConnectGetMaxVcpusRet(32)


#: The connection's state: the :func:`hostname`, looked up once.
CONNECT = register(ObjectKind("connect", ConnectProcedures, hostname))
