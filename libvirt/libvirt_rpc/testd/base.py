"""What every procedure mixin builds on: the shared :class:`~.model.Hypervisor`,
each client's connection state, and the checks libvirtd makes before a
driver sees a call (connection open, not read-only)."""

from __future__ import annotations

import dataclasses

from libvirt_rpc.remote_protocol_server import RemoteHandler

from ..errors import ErrorDomain
from ..errors import ErrorNumber as E
from ..server import Call, rpc_error
from .model import Hypervisor

#: The key of a client's :class:`Connection` in ``Client.data``.
CONNECTION = "testd"


@dataclasses.dataclass
class Connection:
    """Per-client state: whether CONNECT_OPEN was called, and how."""

    uri: str | None = None
    read_only: bool = False


def c_string(text: str, size: int | None = None) -> list[int]:
    """A NUL-terminated C char array as the XDR ``char x[N]``/``<N>`` lists."""
    data = list(text.encode()) + [0]
    if size is not None:
        data += [0] * (size - len(data))
    return data


class ProceduresBase(RemoteHandler):
    """The base of the procedure mixins that :class:`~.handler.TestDaemon`
    joins; the daemon sets :attr:`hv`."""

    hv: Hypervisor

    def _connection(self, call: Call) -> Connection:
        """The calling client's connection state, open or not."""
        conn: Connection = call.client.data[CONNECTION]
        return conn

    def _open(self, call: Call) -> Connection:
        """The client's connection; libvirtd's error when it is not open."""
        conn = self._connection(call)
        if conn.uri is None:
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, "hypervisor connection not open")
        return conn

    def _writable(self, call: Call, api: str) -> Connection:
        conn = self._open(call)
        if conn.read_only:
            raise rpc_error(
                E.VIR_ERR_OPERATION_DENIED,
                f"read only access prevents {api}",
                domain=ErrorDomain.VIR_FROM_DOMAIN,  # libvirt-domain.c's check
            )
        return conn
