"""What every procedure mixin builds on: the shared hypervisor, each
client's connection state, the checks libvirtd makes before a driver sees a
call (connection open, not read-only), and the errors the test driver's
helpers raise.

Every procedure of the protocol that no mixin implements answers here as
libvirtd answers for an API the test driver lacks (:mod:`.api`)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.remote_protocol_server import RemoteHandler
from xdrgen.runtime.virnet.descriptors import close_fds

from ..errors import ErrorDomain, ErrorLevel, LibvirtError
from ..errors import ErrorNumber as E
from ..server import Call, rpc_error
from .api import answers_not_supported

if TYPE_CHECKING:
    from .model import Domain, Hypervisor

#: The key of a client's :class:`Connection` in ``Client.data``.
CONNECTION = "testd"

FROM_TEST = ErrorDomain.VIR_FROM_TEST


@dataclasses.dataclass
class Connection:
    """Per-client state: whether CONNECT_OPEN was called, and how; the
    descriptors it associated with domains (virDomainFDAssociate: by domain
    UUID and group name, held while the connection lasts)."""

    uri: str | None = None
    read_only: bool = False
    fd_groups: dict[tuple[bytes, str], list[int]] = dataclasses.field(default_factory=dict)

    def close(self) -> None:
        """The connection is gone: so are the descriptors it associated."""
        for fds in self.fd_groups.values():
            close_fds(fds)
        self.fd_groups.clear()


def c_string(text: str, size: int | None = None) -> list[int]:
    """A NUL-terminated C char array as the XDR ``char x[N]``/``<N>`` lists."""
    data = list(text.encode()) + [0]
    if size is not None:
        data += [0] * (size - len(data))
    return data


def invalid_argument(
    message: str, function: str, domain: int = FROM_TEST, argument: str = "flags"
) -> LibvirtError:
    """virReportInvalidArg in libvirt's ``function``: the message as is, the
    function and argument names in str1 and str2."""
    return LibvirtError(
        message,
        code=E.VIR_ERR_INVALID_ARG,
        domain=domain,
        level=ErrorLevel.VIR_ERR_ERROR,
        str1=function,
        str2=argument,
        int1=0,
        int2=0,
    )


def check_flags(flags: int, supported: int, function: str) -> None:
    """virCheckFlags in the test driver's ``function``."""
    extra = flags & ~supported
    if extra:
        raise invalid_argument(f"unsupported flags ({extra:#x}) in function {function}", function)


def system_error(message: str, errno: int) -> LibvirtError:
    """virReportSystemError in the test driver: the message with
    strerror(errno) appended, the errno in int1."""
    text = f"{message}: {os.strerror(errno) if errno else 'Success'}"
    return LibvirtError(
        text,
        code=E.VIR_ERR_SYSTEM_ERROR,
        domain=FROM_TEST,
        level=ErrorLevel.VIR_ERR_ERROR,
        str1="%s",
        str2=text,
        int1=errno,
        int2=-1,
    )


def error_without_error() -> LibvirtError:
    """What libvirtd sends when an API failed without saying why (the test
    driver's virNodeGetFreePages reports no pages)."""
    return LibvirtError(
        "Library function returned error but did not set virError",
        code=E.VIR_ERR_INTERNAL_ERROR,
        domain=ErrorDomain.VIR_FROM_RPC,
        level=ErrorLevel.VIR_ERR_ERROR,
        int1=0,
        int2=0,
    )


def driver_error(code: int, info: str | None = None) -> LibvirtError:
    """An error the test driver reports (``VIR_FROM_TEST``)."""
    return rpc_error(code, info, domain=FROM_TEST)


def not_running() -> LibvirtError:
    """virDomainObjCheckActive's error."""
    return driver_error(E.VIR_ERR_OPERATION_INVALID, "domain is not running")


class ProceduresBase(RemoteHandler):
    """The base of the procedure mixins that :class:`~.handler.TestDaemon`
    joins; the daemon sets :attr:`hv`."""

    __test__ = False  # not a pytest test class, whatever its subclasses' names

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

    def _writable(self, call: Call, api: str, domain: int = ErrorDomain.VIR_FROM_DOMAIN) -> Connection:
        """The client's connection, which must not be read-only for ``api``
        (the check of the public API's source file, error ``domain``)."""
        conn = self._open(call)
        if conn.read_only:
            raise rpc_error(E.VIR_ERR_OPERATION_DENIED, f"read only access prevents {api}", domain=domain)
        return conn

    def _register_event(self, call: Call, kind: str, event_id: int, last: int, key: bytes | str | None) -> int:
        """A client's registration for ``kind``'s events (libvirtd checks the
        event ID: "unsupported network event ID 7"), its callback ID."""
        self._open(call)
        if not 0 <= event_id < last:
            what = "" if kind == "domain" else kind.replace("_", " ") + " "
            raise rpc_error(E.VIR_ERR_INTERNAL_ERROR, f"unsupported {what}event ID {event_id}")
        return self.hv.register(call.client, kind, event_id, key)

    def _deregister_event(self, call: Call, callback_id: int) -> None:
        self._open(call)
        self.hv.deregister(call.client, callback_id)

    def _domain(self, call: Call, handle: rp.RemoteNonnullDomain) -> Domain:
        """The domain a call's handle names, on an open connection."""
        self._open(call)
        return self.hv.of(handle)

    def _active_domain(self, call: Call, handle: rp.RemoteNonnullDomain) -> Domain:
        """The running domain a call's handle names."""
        d = self._domain(call, handle)
        if not d.active:
            raise not_running()
        return d


# The procedures no mixin implements: libvirtd's "not supported" answer.
# Authentication is libvirtd's own, not a driver's: it keeps the generated
# answer.
for _procedure in RemoteHandler.PROCEDURES.values():
    if _procedure.kind == "call" and not _procedure.method.startswith("auth_"):
        setattr(ProceduresBase, _procedure.method, answers_not_supported(_procedure.method))
