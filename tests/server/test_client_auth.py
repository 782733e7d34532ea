"""The client's authentication protocol against our own server, whose
answers a test controls: AUTH_LIST's choices, AUTH_POLKIT, old servers
without AUTH_LIST, the order of the handshake, a server that stops
answering (a server that breaks the exchange: tests/runtime/test_auth_exchange.py;
libvirtd itself: tests/integration/test_auth.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import libvirt_rpc
from libvirt_rpc import remote_protocol as rp
from libvirt_rpc.errors import ErrorDomain, ErrorNumber, LibvirtError
from libvirt_rpc.server import Call, ServerThread, rpc_error, start_in_thread
from libvirt_rpc.testd import TestDaemon

NONE, SASL, POLKIT = (
    rp.RemoteAuthType.REMOTE_AUTH_NONE,
    rp.RemoteAuthType.REMOTE_AUTH_SASL,
    rp.RemoteAuthType.REMOTE_AUTH_POLKIT,
)


class Gatekeeper(TestDaemon):
    """The test daemon, offering what a test says and noting the calls."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[rp.RemoteAuthType] | LibvirtError = [NONE]
        self.polkit: LibvirtError | None = None  # AUTH_POLKIT's refusal, if any
        self.calls: list[str] = []
        self.silent = False  # never answer AUTH_POLKIT

    async def auth_list(self, call: Call) -> rp.RemoteAuthListRet:
        self.calls.append("auth_list")
        if isinstance(self.offered, LibvirtError):
            raise self.offered
        return rp.RemoteAuthListRet(list(self.offered))

    async def auth_polkit(self, call: Call) -> rp.RemoteAuthPolkitRet:
        self.calls.append("auth_polkit")
        if self.silent:
            await asyncio.sleep(3600)
        if self.polkit is not None:
            raise self.polkit
        return rp.RemoteAuthPolkitRet(1)

    async def connect_open(self, call: Call, args: rp.RemoteConnectOpenArgs) -> None:
        self.calls.append("connect_open")
        await super().connect_open(call, args)


@pytest.fixture
def gatekeeper(tmp_path: Path) -> Iterator[tuple[Gatekeeper, str]]:
    handler = Gatekeeper()
    with start_in_thread([handler], unix=tmp_path / "sock") as thread:
        yield handler, uri(thread)


def uri(thread: ServerThread, extra: str = "") -> str:
    return f"test+unix:///default?socket={thread.unix_path}{extra}"


def name_of_domain_1(uri: str, client: str, timeout: float = 10) -> str:
    if client == "blocking":
        with libvirt_rpc.open(uri, timeout=timeout) as conn:
            return conn.domain_lookup_by_id(id=1).dom.name

    async def run() -> str:
        async with await libvirt_rpc.open_async(uri, timeout=timeout) as conn:
            return (await conn.domain_lookup_by_id(id=1)).dom.name

    return asyncio.run(run())


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_polkit_is_asked_for_then_the_connection_opens(
    gatekeeper: tuple[Gatekeeper, str], client: str
) -> None:
    handler, address = gatekeeper
    handler.offered = [POLKIT]
    assert name_of_domain_1(address, client) == "test"
    assert handler.calls == ["auth_list", "auth_polkit", "connect_open"]


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_a_polkit_refusal_is_the_servers_error(gatekeeper: tuple[Gatekeeper, str], client: str) -> None:
    """What libvirtd sends when polkit says no reaches the caller as sent."""
    handler, address = gatekeeper
    handler.offered = [POLKIT]
    handler.polkit = rpc_error(
        ErrorNumber.VIR_ERR_AUTH_FAILED, "access denied by policy", ErrorDomain.VIR_FROM_REMOTE
    )
    with pytest.raises(LibvirtError) as caught:
        name_of_domain_1(address, client)
    assert str(caught.value) == "authentication failed: access denied by policy"
    assert caught.value.code == ErrorNumber.VIR_ERR_AUTH_FAILED
    assert caught.value.domain == ErrorDomain.VIR_FROM_REMOTE
    assert "connect_open" not in handler.calls


def test_the_first_type_offered_is_used_unless_the_uri_says(gatekeeper: tuple[Gatekeeper, str]) -> None:
    handler, address = gatekeeper
    handler.offered = [NONE, POLKIT]
    assert name_of_domain_1(address, "blocking") == "test"
    assert handler.calls == ["auth_list", "connect_open"]
    handler.calls.clear()
    assert name_of_domain_1(address + "&auth=polkit", "blocking") == "test"
    assert handler.calls == ["auth_list", "auth_polkit", "connect_open"]
    with pytest.raises(
        LibvirtError, match=r"^authentication failed: requested authentication type sasl rejected$"
    ):
        name_of_domain_1(address + "&auth=sasl", "blocking")


def test_an_empty_list_and_an_old_server_mean_none(gatekeeper: tuple[Gatekeeper, str]) -> None:
    handler, address = gatekeeper
    handler.offered = []
    assert name_of_domain_1(address, "asyncio") == "test"
    handler.offered = rpc_error(ErrorNumber.VIR_ERR_NO_SUPPORT, "unknown procedure: 66")
    assert name_of_domain_1(address, "blocking") == "test"
    handler.offered = rpc_error(ErrorNumber.VIR_ERR_INTERNAL_ERROR, "broken")
    with pytest.raises(LibvirtError, match="^internal error: broken$"):
        name_of_domain_1(address, "blocking")


@pytest.mark.parametrize("client", ["blocking", "asyncio"])
def test_no_reply_while_authenticating_ends_by_the_timeout(
    gatekeeper: tuple[Gatekeeper, str], client: str
) -> None:
    handler, address = gatekeeper
    handler.offered = [POLKIT]
    handler.silent = True
    with pytest.raises(libvirt_rpc.errors.CallTimeoutError) as caught:
        name_of_domain_1(address, client, timeout=0.5)
    assert (
        str(caught.value)
        == f"Timed out during operation: no reply to procedure {rp.REMOTE_PROC_AUTH_POLKIT} in 0.5 s"
    )
