"""rpcbind (RFC 1833) and the portmapper (RFC 1833 section 3, program
100000 version 2): where a program listens, what is registered, and
registering a server.

:class:`Rpcbind` speaks version 4, falling back to 3 and then to the
portmapper's version 2 when the daemon is older.  Addresses travel as
*universal addresses*: ``"h1.h2.h3.h4.p1.p2"`` for IPv4, the IPv6 text
form followed by ``".p1.p2"`` for IPv6, the port being ``p1 * 256 + p2``.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from .. import xdr
from ..xdr import Buffer
from . import tracing, transports
from .channel import DEFAULT_TIMEOUT
from .client_sync import SyncChannel
from .codecs import BOOL, UINT, Chain, String
from .errors import ProcedureUnavailable, ProgramMismatch, ProgramNotRegistered, RpcError
from .procedures import Procedure

R = TypeVar("R")

RPCBIND_PROGRAM = 100000
RPCBIND_PORT = 111
IPPROTO_TCP = 6
IPPROTO_UDP = 17
_PROTOCOLS = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP}
_PROTOCOL_NAMES = {number: name for name, number in _PROTOCOLS.items()}

# What an older daemon answers for a version or procedure it lacks.
_OLDER = (ProgramMismatch, ProcedureUnavailable)


# ---- universal addresses ----------------------------------------------------


def universal_address(host: str, port: int) -> str:
    """``host`` (an IP address) and ``port`` as a universal address."""
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} is out of range")
    ipaddress.ip_address(host)  # an address, not a name
    return f"{host}.{port >> 8}.{port & 0xFF}"


def parse_universal_address(uaddr: str) -> tuple[str, int]:
    """The (IP address, port) of a universal address."""
    host, _, rest = uaddr.rpartition(".")
    host, _, high = host.rpartition(".")
    try:
        p1, p2 = int(high), int(rest)
        if not (0 <= p1 <= 0xFF and 0 <= p2 <= 0xFF):
            raise ValueError
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{uaddr!r} is not a universal address") from None
    return host, p1 * 256 + p2


def netid(transport: str, host: str) -> str:
    """The netid of ``transport`` ("tcp" or "udp") for an address:
    ``tcp``/``udp`` for IPv4, ``tcp6``/``udp6`` for IPv6."""
    return transports.check(transport) + ("6" if ipaddress.ip_address(host).version == 6 else "")


# ---- the protocol's types ---------------------------------------------------

_MAPPING = struct.Struct(">4I")
_PROG_VERS = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class PortMapping:
    """``struct pmap`` (portmapper version 2): a program version's port."""

    prog: int
    vers: int
    prot: int  # IPPROTO_TCP or IPPROTO_UDP
    port: int

    @property
    def protocol(self) -> str:
        """"tcp", "udp", or the protocol's number as text."""
        return _PROTOCOL_NAMES.get(self.prot, str(self.prot))

    def pack_into(self, out: bytearray) -> None:
        try:
            out += _MAPPING.pack(self.prog, self.vers, self.prot, self.port)
        except struct.error:
            xdr.pack_failed_fields("pmap", len(out), self, "prog vers prot port", ">IIII")

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[PortMapping, int]:
        try:
            fields = _MAPPING.unpack_from(data, offset)
        except struct.error:
            xdr.truncated("pmap", offset, data)
        return cls(*fields), offset + 16


_TEXT = String(name="rpcb")


@dataclass(frozen=True, slots=True)
class Registration:
    """``struct rpcb`` (rpcbind versions 3 and 4): where a program version
    listens on one transport, and who registered it."""

    prog: int
    vers: int
    netid: str
    addr: str  # universal address
    owner: str = ""

    def pack_into(self, out: bytearray) -> None:
        try:
            out += _PROG_VERS.pack(self.prog, self.vers)
        except struct.error:
            xdr.pack_failed_fields("rpcb", len(out), self, "prog vers", ">II")
        for text in (self.netid, self.addr, self.owner):
            _TEXT.pack_into(text, out)

    @classmethod
    def unpack_from(cls, data: Buffer, offset: int = 0) -> tuple[Registration, int]:
        try:
            prog, vers = _PROG_VERS.unpack_from(data, offset)
        except struct.error:
            xdr.truncated("rpcb", offset, data)
        offset += 8
        netid, offset = _TEXT.unpack_from(data, offset)
        addr, offset = _TEXT.unpack_from(data, offset)
        owner, offset = _TEXT.unpack_from(data, offset)
        return cls(prog, vers, netid, addr, owner), offset

    @property
    def port(self) -> int:
        return parse_universal_address(self.addr)[1]


PMAPPROC_SET = Procedure(1, "PMAPPROC_SET", "pmapproc_set", (PortMapping,), BOOL)
PMAPPROC_UNSET = Procedure(2, "PMAPPROC_UNSET", "pmapproc_unset", (PortMapping,), BOOL)
PMAPPROC_GETPORT = Procedure(3, "PMAPPROC_GETPORT", "pmapproc_getport", (PortMapping,), UINT)
PMAPPROC_DUMP = Procedure(4, "PMAPPROC_DUMP", "pmapproc_dump", (), Chain(PortMapping, "pmaplist"))
RPCBPROC_SET = Procedure(1, "RPCBPROC_SET", "rpcbproc_set", (Registration,), BOOL)
RPCBPROC_UNSET = Procedure(2, "RPCBPROC_UNSET", "rpcbproc_unset", (Registration,), BOOL)
RPCBPROC_GETADDR = Procedure(3, "RPCBPROC_GETADDR", "rpcbproc_getaddr", (Registration,), String(name="uaddr"))
RPCBPROC_DUMP = Procedure(4, "RPCBPROC_DUMP", "rpcbproc_dump", (), Chain(Registration, "rp__list"))

# names in trace lines (the portmapper is version 2 of the same program)
tracing.register(RPCBIND_PROGRAM, 2, "rpcbind", {p.number: p for p in (PMAPPROC_SET, PMAPPROC_UNSET, PMAPPROC_GETPORT, PMAPPROC_DUMP)})
for _version in (3, 4):
    tracing.register(RPCBIND_PROGRAM, _version, "rpcbind", {p.number: p for p in (RPCBPROC_SET, RPCBPROC_UNSET, RPCBPROC_GETADDR, RPCBPROC_DUMP)})


# ---- the client -------------------------------------------------------------


class Rpcbind:
    """Calls to one rpcbind daemon over ``channel``, a ``transport``
    ("tcp" or "udp") connection to the daemon at ``host`` (an IP address).

    rpcbind answers GETADDR for the transport the question came over (it
    ignores the netid asked for), so a port is looked up over the transport
    it is wanted for."""

    def __init__(self, channel: SyncChannel, host: str, transport: str) -> None:
        self.channel = channel
        self.host = host
        self.transport = transport
        self.netid = netid(transport, host)

    @classmethod
    def connect(
        cls,
        host: str = "127.0.0.1",
        port: int = RPCBIND_PORT,
        *,
        transport: str = "tcp",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Self:
        channel = transports.SYNC[transports.check(transport)].connect(host, port, timeout=timeout)
        return cls(channel, channel.peer[0], transport)

    def _call(self, vers: int, procedure: Procedure[R], *args: Any) -> R:
        return self.channel.call(RPCBIND_PROGRAM, vers, procedure, args)

    def _newest(self, procedure: Procedure[R], *args: Any) -> R:
        """Call ``procedure`` in version 4, or in 3 if the daemon is older."""
        try:
            return self._call(4, procedure, *args)
        except _OLDER:
            return self._call(3, procedure, *args)

    # ---- looking up
    def getaddr(self, prog: int, vers: int) -> str:
        """The universal address of program ``prog`` version ``vers`` on
        this connection's transport (``""`` if it is not registered; like
        TI-RPC, rpcbind may give that of another version of the program
        if this one is not registered: its server then answers
        PROG_MISMATCH)."""
        return self._newest(RPCBPROC_GETADDR, Registration(prog, vers, self.netid, "", ""))

    def getport(self, prog: int, vers: int) -> int:
        """The port of program ``prog`` version ``vers`` on this
        connection's transport (raises ProgramNotRegistered if there is
        none); a portmapper's GETPORT when the daemon is that old."""
        try:
            uaddr = self.getaddr(prog, vers)
        except _OLDER:
            port = self._call(2, PMAPPROC_GETPORT, PortMapping(prog, vers, _PROTOCOLS[self.transport], 0))
        else:
            port = parse_universal_address(uaddr)[1] if uaddr else 0
        if port == 0:
            raise ProgramNotRegistered(
                f"program {prog} version {vers} is not registered for {self.transport} at {self.host}"
            )
        return port

    def dump(self) -> list[Registration]:
        """Every registration (version 4 or 3 DUMP, like ``rpcinfo``)."""
        return self._newest(RPCBPROC_DUMP)

    def pmap_dump(self) -> list[PortMapping]:
        """The portmapper's list (version 2 DUMP, like ``rpcinfo -p``)."""
        return self._call(2, PMAPPROC_DUMP)

    # ---- registering
    def set(self, prog: int, vers: int, netid: str, addr: str, owner: str | None = None) -> bool:
        """Register a program version at a universal address (version 4
        or 3; the portmapper's SET for tcp and udp if the daemon is that old)."""
        owner = str(os.getuid()) if owner is None else owner
        try:
            return self._newest(RPCBPROC_SET, Registration(prog, vers, netid, addr, owner))
        except _OLDER:
            port = parse_universal_address(addr)[1]
            return self._call(2, PMAPPROC_SET, PortMapping(prog, vers, _PROTOCOLS[netid.rstrip("6")], port))

    def unset(self, prog: int, vers: int, netid: str = "", owner: str | None = None) -> bool:
        """Remove the registrations of a program version (on every netid
        when ``netid`` is empty)."""
        owner = str(os.getuid()) if owner is None else owner
        try:
            return self._newest(RPCBPROC_UNSET, Registration(prog, vers, netid, "", owner))
        except _OLDER:
            return self._call(2, PMAPPROC_UNSET, PortMapping(prog, vers, 0, 0))

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def getport(
    host: str,
    prog: int,
    vers: int,
    transport: str = "tcp",
    *,
    port: int = RPCBIND_PORT,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Ask the rpcbind of ``host`` (over ``transport`` itself) for the port
    of program ``prog`` version ``vers`` on ``transport``."""
    with Rpcbind.connect(host, port, transport=transport, timeout=timeout) as rpcbind:
        return rpcbind.getport(prog, vers)


# ---- registering a server ---------------------------------------------------


def register(
    programs: Iterable[tuple[int, int]],
    listeners: Sequence[tuple[str, Any]],
    *,
    host: str = "127.0.0.1",
    port: int = RPCBIND_PORT,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Register each (program, version) at each listener (a ("tcp" or
    "udp", socket address) pair) with the rpcbind at ``host``, replacing
    what was registered for them before."""
    with Rpcbind.connect(host, port, timeout=timeout) as rpcbind:
        for prog, vers in programs:
            rpcbind.unset(prog, vers)
            for transport, address in listeners:
                where = universal_address(address[0], address[1])
                if not rpcbind.set(prog, vers, netid(transport, address[0]), where):
                    raise RpcError(f"rpcbind refused to register program {prog} version {vers} at {transport} {where}")


def unregister(
    programs: Iterable[tuple[int, int]],
    *,
    host: str = "127.0.0.1",
    port: int = RPCBIND_PORT,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    with Rpcbind.connect(host, port, timeout=timeout) as rpcbind:
        for prog, vers in programs:
            rpcbind.unset(prog, vers)

