"""rpcbind: universal addresses, and real peers on loopback -- Debian's
rpcbind and rpcinfo -- against our rpcbind client and our server."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from oncrpc_support import system_binary
from toy import TOY_PROGRAM, Toy, ToyV2, ToyV3AsyncClient, ToyV3Client

from xdrgen.runtime.oncrpc import (
    Call,
    ConnectionClosed,
    Handler,
    ProgramMismatch,
    ProgramNotRegistered,
    ProgramUnavailable,
    ServerThread,
)
from xdrgen.runtime.oncrpc import rpcbind as rpcb
from xdrgen.runtime.oncrpc.rpcbind import PortMapping, Registration, Rpcbind
from xdrgen.runtime.xdr import XdrError

T = TypeVar("T")


# ---- universal addresses ---------------------------------------------------------


@pytest.mark.parametrize(
    ("uaddr", "host", "port"),
    [
        ("127.0.0.1.0.111", "127.0.0.1", 111),
        ("0.0.0.0.8.1", "0.0.0.0", 2049),
        ("192.0.2.7.255.255", "192.0.2.7", 65535),
        ("::1.3.232", "::1", 1000),
        ("::.0.111", "::", 111),
        ("fe80::1:2.0.0", "fe80::1:2", 0),
        ("::ffff:10.0.0.1.0.1", "::ffff:10.0.0.1", 1),
    ],
)
def test_universal_addresses(uaddr: str, host: str, port: int) -> None:
    assert rpcb.parse_universal_address(uaddr) == (host, port)
    assert rpcb.universal_address(host, port) == uaddr


@pytest.mark.parametrize("uaddr", ["", "127.0.0.1", "127.0.0.1.0", "127.0.0.1.256.0", "127.0.0.1.0.-1", "host.0.1", "1.2.3.0.1"])
def test_not_universal_addresses(uaddr: str) -> None:
    with pytest.raises(ValueError):
        rpcb.parse_universal_address(uaddr)


def test_netids() -> None:
    assert [rpcb.netid(t, h) for t in ("tcp", "udp") for h in ("10.0.0.1", "::1")] == ["tcp", "tcp6", "udp", "udp6"]
    with pytest.raises(ValueError):
        rpcb.netid("sctp", "::1")


def test_the_protocol_types() -> None:
    mapping = PortMapping(100003, 3, 6, 2049)
    out = bytearray()
    mapping.pack_into(out)
    assert bytes(out) == bytes.fromhex("000186a3 00000003 00000006 00000801")
    assert PortMapping.unpack_from(out) == (mapping, 16)
    registration = Registration(100003, 3, "tcp", "0.0.0.0.8.1", "superuser")
    out = bytearray()
    registration.pack_into(out)
    assert bytes(out) == bytes.fromhex(
        "000186a3 00000003 00000003 74637000 0000000b 302e302e302e302e382e3100 00000009 7375706572757365 72000000"
    )
    assert Registration.unpack_from(out) == (registration, len(out))
    assert registration.port == 2049
    with pytest.raises(XdrError):
        Registration.unpack_from(out[:-4])


# ---- real rpcbind and rpcinfo -------------------------------------------------------


def rpcinfo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([system_binary("rpcinfo"), *args], capture_output=True, text=True, timeout=60)


def rpcinfo_p() -> set[tuple[int, int, str, int]]:
    """``rpcinfo -p 127.0.0.1``: (program, version, proto, port)."""
    output = rpcinfo("-p", "127.0.0.1")
    assert output.returncode == 0, output.stderr
    lines = output.stdout.splitlines()
    assert lines[0].split() == ["program", "vers", "proto", "port", "service"]
    return {(int(p), int(v), proto, int(port)) for p, v, proto, port, *_ in (line.split() for line in lines[1:])}


def rpcinfo_dump() -> set[tuple[int, int, str, str, str]]:
    """``rpcinfo 127.0.0.1`` (rpcbind's DUMP): (program, version, netid, address, owner)."""
    output = rpcinfo("127.0.0.1")
    assert output.returncode == 0, output.stderr
    lines = output.stdout.splitlines()
    assert lines[0].split() == ["program", "version", "netid", "address", "service", "owner"]
    return {(int(p), int(v), netid, address, owner) for p, v, netid, address, _service, owner in (line.split() for line in lines[1:])}


def agree(ours: Callable[[], T], theirs: Callable[[], T]) -> tuple[T, T]:
    """Both views, taken again while they differ (other programs on this
    machine may register or unregister meanwhile)."""
    for _ in range(10):
        mine, reference = ours(), theirs()
        if mine == reference:
            break
        time.sleep(0.2)
    return mine, reference


def test_lists_registrations_like_rpcinfo_p(rpcbind: str) -> None:
    def ours() -> set[tuple[int, int, str, int]]:
        with Rpcbind.connect(rpcbind) as client:
            return {(m.prog, m.vers, m.protocol, m.port) for m in client.pmap_dump()}

    mine, reference = agree(ours, rpcinfo_p)
    assert mine == reference
    assert (100000, 2, "tcp", 111) in mine and (100000, 2, "udp", 111) in mine


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_dump_like_rpcinfo(rpcbind: str, transport: str) -> None:
    def ours() -> set[tuple[int, int, str, str, str]]:
        with Rpcbind.connect(rpcbind, transport=transport) as client:
            return {(r.prog, r.vers, r.netid, r.addr, r.owner) for r in client.dump()}

    mine, reference = agree(ours, rpcinfo_dump)
    assert mine == reference
    assert (100000, 4, "tcp", "0.0.0.0.0.111", "superuser") in mine


@pytest.fixture
def registered(rpcbind: str) -> Iterator[ServerThread]:
    with ServerThread([Toy(), ToyV2()], register=True) as served:
        yield served


def test_rpcinfo_reaches_a_registered_server(registered: ServerThread) -> None:
    for option in ("-t", "-u"):
        for vers in ("2", "3"):
            output = rpcinfo(option, "127.0.0.1", str(TOY_PROGRAM), vers)
            assert output.returncode == 0, output.stderr
            assert output.stdout.strip() == f"program {TOY_PROGRAM} version {vers} ready and waiting"
        # without a version rpcinfo asks for version 0, learns the range from
        # PROG_MISMATCH, and calls each
        output = rpcinfo(option, "127.0.0.1", str(TOY_PROGRAM))
        assert output.stdout.splitlines() == [
            f"program {TOY_PROGRAM} version {vers} ready and waiting" for vers in (2, 3)
        ], output.stderr
    listed = {entry for entry in rpcinfo_p() if entry[0] == TOY_PROGRAM}
    assert listed == {(TOY_PROGRAM, vers, proto, port) for vers in (2, 3) for proto, port in (("tcp", registered.tcp_port), ("udp", registered.udp_port))}


def test_clients_find_a_registered_server_through_rpcbind(registered: ServerThread) -> None:
    for transport, port in (("tcp", registered.tcp_port), ("udp", registered.udp_port)):
        assert rpcb.getport("127.0.0.1", TOY_PROGRAM, 3, transport) == port
        with ToyV3Client.connect("127.0.0.1", transport=transport) as client:
            assert client.toyproc_add(2, 2) == 4
            assert client.toyproc_whoami().machine == f"{transport} 127.0.0.1"

    async def scenario(transport: str) -> str:
        async with ToyV3AsyncClient.connect("127.0.0.1", transport=transport) as client:
            return (await client.toyproc_whoami()).machine

    assert asyncio.run(scenario("udp")) == "udp 127.0.0.1"


def test_stop_unregisters(rpcbind: str) -> None:
    served = ServerThread([Toy()], register=True).start()
    assert rpcb.getport("127.0.0.1", TOY_PROGRAM, 3, "tcp") == served.tcp_port
    served.stop()
    assert not {entry for entry in rpcinfo_p() if entry[0] == TOY_PROGRAM}
    output = rpcinfo("-t", "127.0.0.1", str(TOY_PROGRAM), "3")
    assert output.returncode != 0 and "not registered" in output.stderr
    for transport in ("tcp", "udp"):
        with pytest.raises(ProgramNotRegistered):
            rpcb.getport("127.0.0.1", TOY_PROGRAM, 3, transport)
        with pytest.raises(ProgramUnavailable):  # ProgramNotRegistered is one
            ToyV3Client.connect("127.0.0.1", transport=transport)


def test_ipv6_registration_and_lookup(rpcbind: str) -> None:
    with ServerThread([Toy()], tcp=("::1", 0), udp=("::1", 0), register=True) as served:
        assert served.tcp_port and served.udp_port
        with Rpcbind.connect("::1") as client:
            assert client.netid == "tcp6"
            assert client.getaddr(TOY_PROGRAM, 3) == f"::1.{served.tcp_port >> 8}.{served.tcp_port & 255}"
        with Rpcbind.connect("::1", transport="udp") as client:
            assert client.getport(TOY_PROGRAM, 3) == served.udp_port
        output = rpcinfo("-T", "tcp6", "::1", str(TOY_PROGRAM), "3")
        assert "ready and waiting" in output.stdout, output.stderr
        with ToyV3Client.connect("::1") as toy:
            assert toy.toyproc_whoami().machine == "tcp ::1"


def test_set_and_unset_directly(rpcbind: str) -> None:
    prog = TOY_PROGRAM + 7
    with Rpcbind.connect(rpcbind) as client:
        client.unset(prog, 1)
        assert client.set(prog, 1, "udp", "127.0.0.1.4.0")
        assert not client.set(prog, 1, "udp", "127.0.0.1.4.1")  # taken
        assert (prog, 1, "udp", 1024) in rpcinfo_p()
        with Rpcbind.connect(rpcbind, transport="udp") as over_udp:
            assert over_udp.getport(prog, 1) == 1024
        with pytest.raises(ProgramNotRegistered):  # rpcbind answers for the transport asked over
            client.getport(prog, 1)
        assert client.unset(prog, 1)
        assert not any(entry[0] == prog for entry in rpcinfo_p())


# ---- fake daemons of one version: the fallbacks ---------------------------------------


class FakeRpcbind(Handler):
    """What the fake daemons share: ``table``, (program, version,
    protocol or netid) -> where it listens."""

    PROGRAM = rpcb.RPCBIND_PROGRAM

    def __init__(self) -> None:
        self.table: dict[tuple[int, int, int | str], int | str] = {}

    def _set(self, key: tuple[int, int, int | str], where: int | str) -> bool:
        if key in self.table:
            return False
        self.table[key] = where
        return True

    def _unset(self, prog: int, vers: int, transport: int | str = "") -> bool:
        """Remove the entries of a program version (on ``transport``, or on any)."""
        keys = [key for key in self.table if key[:2] == (prog, vers) and transport in ("", key[2])]
        for key in keys:
            del self.table[key]
        return bool(keys)


class Portmapper(FakeRpcbind):
    """A version-2-only portmapper, to see our client fall back to it."""

    VERSION = 2
    PROCEDURES = {p.number: p for p in (rpcb.PMAPPROC_SET, rpcb.PMAPPROC_UNSET, rpcb.PMAPPROC_GETPORT, rpcb.PMAPPROC_DUMP)}

    async def pmapproc_set(self, call: Call, mapping: PortMapping) -> bool:
        return self._set((mapping.prog, mapping.vers, mapping.prot), mapping.port)

    async def pmapproc_unset(self, call: Call, mapping: PortMapping) -> bool:
        return self._unset(mapping.prog, mapping.vers)

    async def pmapproc_getport(self, call: Call, mapping: PortMapping) -> int:
        return int(self.table.get((mapping.prog, mapping.vers, mapping.prot), 0))

    async def pmapproc_dump(self, call: Call) -> list[PortMapping]:
        return [PortMapping(prog, vers, int(prot), int(port)) for (prog, vers, prot), port in self.table.items()]


class OneVersionRpcbind(FakeRpcbind):
    """An rpcbind that speaks one of versions 3 and 4 (their SET, UNSET
    and GETADDR are the same), to see our client find the one it has."""

    PROCEDURES = {p.number: p for p in (rpcb.RPCBPROC_SET, rpcb.RPCBPROC_UNSET, rpcb.RPCBPROC_GETADDR)}

    async def rpcbproc_set(self, call: Call, registration: Registration) -> bool:
        return self._set((registration.prog, registration.vers, registration.netid), registration.addr)

    async def rpcbproc_unset(self, call: Call, registration: Registration) -> bool:
        return self._unset(registration.prog, registration.vers, registration.netid)

    async def rpcbproc_getaddr(self, call: Call, registration: Registration) -> str:
        return str(self.table.get((registration.prog, registration.vers, registration.netid), ""))


class RpcbindV3(OneVersionRpcbind):
    VERSION = 3


class RpcbindV4(OneVersionRpcbind):
    VERSION = 4


@pytest.mark.parametrize("daemon", [Portmapper, RpcbindV3, RpcbindV4], ids=["v2", "v3", "v4"])
def test_uses_the_version_the_daemon_has(daemon: type[FakeRpcbind]) -> None:
    """Versions 4, 3 and the portmapper's 2, each the only one served."""
    with ServerThread([daemon()]) as old:
        for transport in ("tcp", "udp"):
            port = old.tcp_port if transport == "tcp" else old.udp_port
            assert port is not None
            with Rpcbind.connect("127.0.0.1", port, transport=transport) as client:
                assert client.set(TOY_PROGRAM, 3, transport, "127.0.0.1.0.99")
                assert client.getport(TOY_PROGRAM, 3) == 99
                if daemon is Portmapper:
                    assert client.pmap_dump() == [PortMapping(TOY_PROGRAM, 3, 6 if transport == "tcp" else 17, 99)]
                    with pytest.raises(ProgramMismatch) as caught:
                        client.dump()  # versions 3 and 4 only
                    assert (caught.value.low, caught.value.high) == (2, 2)
                assert client.unset(TOY_PROGRAM, 3)
                with pytest.raises(ProgramNotRegistered):
                    client.getport(TOY_PROGRAM, 3)


def test_servers_register_with_a_portmapper_too() -> None:
    portmapper = Portmapper()
    with ServerThread([portmapper], udp=None) as old:
        assert old.tcp_port
        where = ("127.0.0.1", old.tcp_port)
        with ServerThread([Toy(), ToyV2()], register=True, rpcbind_address=where) as served:
            assert portmapper.table == {
                (TOY_PROGRAM, vers, proto): port
                for vers in (2, 3)
                for proto, port in ((6, served.tcp_port), (17, served.udp_port))
            }
        assert portmapper.table == {}


def test_servers_register_with_an_rpcbind_of_version_3() -> None:
    daemon = RpcbindV3()
    with ServerThread([daemon], udp=None) as fake:
        assert fake.tcp_port
        with ServerThread([Toy()], register=True, rpcbind_address=("127.0.0.1", fake.tcp_port)) as served:
            assert daemon.table == {
                (TOY_PROGRAM, 3, "tcp"): rpcb.universal_address("127.0.0.1", served.tcp_port or 0),
                (TOY_PROGRAM, 3, "udp"): rpcb.universal_address("127.0.0.1", served.udp_port or 0),
            }
        assert daemon.table == {}


def test_a_failed_registration_stops_the_server() -> None:
    with ServerThread([Portmapper()], udp=None) as placeholder:
        closed = placeholder.tcp_port
    assert closed
    served = ServerThread([Toy()], register=True, rpcbind_address=("127.0.0.1", closed))
    with pytest.raises(ConnectionClosed):
        served.start()
    assert served._thread is not None and not served._thread.is_alive()

