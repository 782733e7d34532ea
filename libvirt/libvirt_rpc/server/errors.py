"""The errors the server sends: ``remote_error`` filled as libvirtd fills it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from libvirt_rpc.virnetprotocol import VIR_NET_MESSAGE_STRING_MAX, VirNetMessageError

from ..errors import ErrorDomain, ErrorLevel, ErrorNumber, LibvirtError, error_format, error_message

if TYPE_CHECKING:
    from .calls import Call

log = logging.getLogger(__name__)


def int32(value: int) -> int:
    """``value`` as a C ``int`` holds it: the low 32 bits, signed (what
    ``%d`` prints for a header word, and what fits an XDR ``int``)."""
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def rpc_error(
    code: int,
    info: str | None = None,
    domain: int = ErrorDomain.VIR_FROM_RPC,
) -> LibvirtError:
    """The error ``virReportError(code, "%s", info)`` raises in libvirt code
    whose ``VIR_FROM_THIS`` is ``domain``: the message is libvirt's text for
    ``code`` with ``info``, ``str1`` the format used, ``str2`` the info (None
    without one), both ints -1.  This is what travels in ``remote_error``."""
    info = info if info else None
    return LibvirtError(
        error_message(code, info),
        code=code,
        domain=domain,
        level=ErrorLevel.VIR_ERR_ERROR,
        str1=error_format(code, info is not None),
        str2=info,
        int1=-1,
        int2=-1,
    )


def unsupported(call: Call) -> LibvirtError:
    """What libvirtd answers for a procedure it has no dispatcher for:
    ``VIR_ERR_RPC`` "unknown procedure: N" (libvirt's client turns this into
    ``VIR_ERR_NO_SUPPORT``).  The generated handler defaults raise it."""
    log.info(
        "client %d: %s (procedure %d) is not implemented",
        call.client.id,
        call.procedure.name,
        call.proc,
    )
    return rpc_error(ErrorNumber.VIR_ERR_RPC, f"unknown procedure: {call.proc}")


def internal_error(exc: BaseException) -> LibvirtError:
    """What a client gets for a handler's unexpected exception."""
    return rpc_error(ErrorNumber.VIR_ERR_INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


def _wire_string(value: str | None) -> str | None:
    """``value`` as the error reply can always carry it: characters UTF-8
    cannot encode (lone surrogates) become "?", and text beyond the
    protocol's string limit is cut at the last whole character.  An error
    reply must go out whatever a handler put in its error."""
    if value is None:
        return None
    raw = value.encode("utf-8", "replace")[:VIR_NET_MESSAGE_STRING_MAX]
    return raw.decode("utf-8", "ignore")  # drops only a character the cut split


def remote_error(error: LibvirtError) -> VirNetMessageError:
    """The ``remote_error`` (``virNetMessageError``) for ``error``.  Numbers
    outside a C ``int`` keep their low 32 bits; the ``dom`` and ``net``
    members are absent, as libvirtd always sends them."""
    return VirNetMessageError(
        code=int32(int(error.code)),
        domain=int32(int(error.domain)),
        message=_wire_string(error.message),
        level=int32(int(error.level)),
        dom=None,
        str1=_wire_string(error.str1),
        str2=_wire_string(error.str2),
        str3=_wire_string(error.str3),
        int1=int32(error.int1),
        int2=int32(error.int2),
        net=None,
    )


class StreamError(LibvirtError):
    """A stream cannot go on: the client aborted or finished it early, or
    disconnected."""

    default_code = ErrorNumber.VIR_ERR_RPC
    default_domain = ErrorDomain.VIR_FROM_STREAMS
