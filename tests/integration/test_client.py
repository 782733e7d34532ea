"""The pure-Python client against a real libvirtd (test driver, and the
storage driver for streams): transports, calls, errors, events, streams,
keepalive, a dying daemon."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import libvirt_rpc
from libvirt_rpc.remote_protocol import RemoteTypedParamValueI, RemoteTypedParamValueUi
from libvirt_rpc.errors import ConnectionClosedError

from daemons import Libvirtd, Sshd

VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0
VIR_DOMAIN_EVENT_STARTED = 2
VIR_DOMAIN_EVENT_STOPPED = 5
VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1
VIR_DOMAIN_RUNNING = 1
VIR_DOMAIN_PAUSED = 3

DOMAIN_XML = """<domain type='test'>
  <name>{name}</name>
  <memory unit='KiB'>262144</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>"""


def uris(libvirtd: Libvirtd, sshd: Sshd) -> dict[str, str]:
    return {
        "unix": libvirtd.uri_unix,
        "tcp": libvirtd.uri_tcp,
        "tls": libvirtd.uri_tls,
        "ssh": f"{sshd.uri_ssh(libvirtd)}&known_hosts={sshd.known_hosts}",
    }


@pytest.mark.parametrize("transport", ["unix", "tcp", "tls", "ssh"])
def test_open_list_lookup_info(libvirtd: Libvirtd, sshd: Sshd, transport: str) -> None:
    with libvirt_rpc.open(uris(libvirtd, sshd)[transport], timeout=20) as conn:
        listed = conn.connect_list_all_domains(need_results=1, flags=0)
        assert [d.name for d in listed.domains] == ["test"] and listed.ret == 1
        dom = conn.domain_lookup_by_name(name="test").dom
        assert dom.name == "test" and dom.id == 1 and len(dom.uuid) == 16
        info = conn.domain_get_info(dom=dom)
        assert info.state == VIR_DOMAIN_RUNNING
        assert info.nrVirtCpu == 2 and info.maxMem == 8388608
        assert conn.connect_get_uri().uri == "test:///default"


@pytest.mark.parametrize("transport", ["unix", "tcp", "tls", "ssh"])
def test_asyncio_open_list_lookup_info(libvirtd: Libvirtd, sshd: Sshd, transport: str) -> None:
    # the asyncio client takes each transport over from asyncio's streams
    async def main() -> None:
        async with await libvirt_rpc.open_async(uris(libvirtd, sshd)[transport], timeout=20) as conn:
            listed = await conn.connect_list_all_domains(need_results=1, flags=0)
            assert [d.name for d in listed.domains] == ["test"] and listed.ret == 1
            dom = (await conn.domain_lookup_by_name(name="test")).dom
            infos = await asyncio.gather(*(conn.domain_get_info(dom=dom) for _ in range(8)))
            assert {(info.state, info.nrVirtCpu) for info in infos} == {(VIR_DOMAIN_RUNNING, 2)}
            assert (await conn.connect_get_uri()).uri == "test:///default"
        assert conn.rpc.closed

    asyncio.run(asyncio.wait_for(main(), 60))


def test_readme_example(libvirtd: Libvirtd) -> None:
    """The five lines of the README, over unix and TCP."""
    for uri in (libvirtd.uri_unix, libvirtd.uri_tcp):
        with libvirt_rpc.open(uri) as conn:
            dom = conn.domain_lookup_by_name(name="test").dom
            info = conn.domain_get_info(dom=dom)
            assert (dom.name, info.state) == ("test", 1)


def test_missing_domain_raises_libvirt_error(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_lookup_by_name(name="no-such-domain")
    error = caught.value
    assert error.code == libvirt_rpc.ErrorNumber.VIR_ERR_NO_DOMAIN == 42
    assert error.get_error_code() == 42
    assert str(error).startswith("Domain not found")


def test_domain_lifecycle_on_one_connection(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        dom = conn.domain_define_xml(xml=DOMAIN_XML.format(name="lifecycle")).dom
        assert dom.name == "lifecycle" and dom.id == -1
        conn.domain_create(dom=dom)
        running = conn.domain_lookup_by_name(name="lifecycle").dom
        assert conn.domain_get_info(dom=running).state == VIR_DOMAIN_RUNNING
        conn.domain_suspend(dom=running)
        assert conn.domain_get_info(dom=running).state == VIR_DOMAIN_PAUSED
        conn.domain_resume(dom=running)
        assert conn.domain_get_info(dom=running).state == VIR_DOMAIN_RUNNING
        conn.domain_destroy(dom=running)
        assert conn.domain_get_info(dom=running).state == 5  # shut off
        conn.domain_undefine(dom=running)
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_lookup_by_name(name="lifecycle")
        assert caught.value.code == 42
    # the test driver keeps state per connection: a new one starts afresh
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        assert conn.connect_num_of_defined_domains().num == 0


def test_typed_parameters(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        kind = conn.domain_get_scheduler_type(dom=dom)
        assert kind.type == "fair" and kind.nparams == 1
        params = conn.domain_get_scheduler_parameters(dom=dom, nparams=kind.nparams).params
        assert [p.field for p in params] == ["weight"]
        assert params[0].value == RemoteTypedParamValueUi(ui=50)
        stats = conn.connect_get_all_domain_stats(doms=[], stats=0, flags=0).retStats
        assert [s.dom.name for s in stats] == ["test"]
        fields = {p.field: p.value for p in stats[0].params}
        assert fields["state.state"] == RemoteTypedParamValueI(i=VIR_DOMAIN_RUNNING)


def test_lifecycle_events_for_start_and_destroy(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        seen: list[int] = []
        arrived = threading.Event()

        def on_event(event: object) -> None:
            seen.append(event.message.msg.event)  # type: ignore[attr-defined]
            if VIR_DOMAIN_EVENT_STOPPED in seen:
                arrived.set()

        callback_id = conn.on_domain_event(VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event)
        dom = conn.domain_define_xml(xml=DOMAIN_XML.format(name="events")).dom
        conn.domain_create(dom=dom)
        running = conn.domain_lookup_by_name(name="events").dom
        conn.domain_destroy(dom=running)
        assert arrived.wait(10), seen
        assert VIR_DOMAIN_EVENT_STARTED in seen and VIR_DOMAIN_EVENT_STOPPED in seen
        assert seen.index(VIR_DOMAIN_EVENT_STARTED) < seen.index(VIR_DOMAIN_EVENT_STOPPED)
        conn.connect_domain_event_callback_deregister_any(callbackID=callback_id)


def test_event_handler_can_call_back(libvirtd: Libvirtd) -> None:
    # Handlers run on the connection's background thread, outside any read:
    # a call made there reads its own reply like any other caller.
    with libvirt_rpc.open(libvirtd.uri_unix, timeout=10) as conn:
        states: list[int] = []
        done = threading.Event()

        def on_event(event: object) -> None:
            dom = event.message.msg.dom  # type: ignore[attr-defined]
            states.append(conn.domain_get_info(dom=dom).state)
            names = [d.name for d in conn.connect_list_all_domains(need_results=1, flags=0).domains]
            assert dom.name in names
            done.set()

        callback_id = conn.on_domain_event(VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event)
        dom = conn.domain_define_xml(xml=DOMAIN_XML.format(name="callback")).dom
        assert done.wait(10), "the handler's calls did not return"
        assert states and states[0] == 5  # VIR_DOMAIN_SHUTOFF: defined, not started
        assert conn.domain_get_info(dom=dom).state == 5  # the connection still works
        conn.connect_domain_event_callback_deregister_any(callbackID=callback_id)
        conn.domain_undefine(dom=dom)


def test_events_as_an_iterator(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        conn.connect_domain_event_callback_register_any(
            eventID=VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom=None
        )
        dom = conn.domain_lookup_by_name(name="test").dom
        events = conn.events(timeout=10)
        conn.domain_suspend(dom=dom)
        event = next(events)
        assert event.name == "domain_event_callback_lifecycle"
        assert event.message.msg.dom.name == "test"  # type: ignore[attr-defined]


def _pool_xml(pool_dir: Path) -> str:
    return (
        f"<pool type='dir'><name>xdrgen-{os.getpid()}-{pool_dir.parent.name}</name>"
        f"<target><path>{pool_dir}</path></target></pool>"
    )


def _volume_xml(size: int) -> str:
    return (
        "<volume><name>data.img</name>"
        f"<capacity unit='bytes'>{size}</capacity>"
        "<target><format type='raw'/></target></volume>"
    )


def test_storage_volume_upload_then_download(libvirtd: Libvirtd, tmp_path: Path) -> None:
    """The test driver has no volume streams; the daemon's storage driver has
    them, on a transient directory pool of the test's own."""
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    uri = f"storage:///system?socket={libvirtd.socket_path}"
    payload = os.urandom(300_000) + b"tail"
    with libvirt_rpc.open(uri) as conn:
        pool = conn.storage_pool_create_xml(xml=_pool_xml(pool_dir), flags=0).pool
        try:
            vol = conn.storage_vol_create_xml(pool=pool, xml=_volume_xml(len(payload)), flags=0).vol
            upload = conn.storage_vol_upload(vol=vol, offset=0, length=len(payload), flags=0)
            upload.write(payload)
            upload.finish()
            assert (pool_dir / "data.img").read_bytes()[: len(payload)] == payload
            download = conn.storage_vol_download(vol=vol, offset=0, length=0, flags=0)
            data = download.read()
            download.finish()
            assert data[: len(payload)] == payload
            conn.storage_vol_delete(vol=vol, flags=0)
        finally:
            conn.storage_pool_destroy(pool=pool)


def test_asyncio_storage_volume_upload_then_download(libvirtd: Libvirtd, tmp_path: Path) -> None:
    # Megabytes each way: many STREAM packets, the write buffer fills (the
    # asyncio client waits for it to drain) and replies arrive in pieces.
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    uri = f"storage:///system?socket={libvirtd.socket_path}"
    payload = os.urandom(6_000_000) + b"tail"

    async def main() -> None:
        async with await libvirt_rpc.open_async(uri) as conn:
            pool = (await conn.storage_pool_create_xml(xml=_pool_xml(pool_dir), flags=0)).pool
            try:
                vol = (await conn.storage_vol_create_xml(pool=pool, xml=_volume_xml(len(payload)), flags=0)).vol
                upload = await conn.storage_vol_upload(vol=vol, offset=0, length=len(payload), flags=0)
                await upload.write(payload)
                await upload.finish()
                assert (pool_dir / "data.img").read_bytes()[: len(payload)] == payload
                download = await conn.storage_vol_download(vol=vol, offset=0, length=0, flags=0)
                data = await download.read()
                await download.finish()
                assert data[: len(payload)] == payload
                await conn.storage_vol_delete(vol=vol, flags=0)
            finally:
                await conn.storage_pool_destroy(pool=pool)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_screenshot_stream(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        stream = conn.domain_screenshot(dom=dom, screen=0, flags=0)
        assert stream.result.mime == "image/png"
        image = b"".join(stream)
        stream.finish()
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
        # the connection is still usable afterwards
        assert conn.domain_get_info(dom=dom).state == VIR_DOMAIN_RUNNING


def test_many_threads_share_one_connection(libvirtd: Libvirtd) -> None:
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(50):
                    assert conn.domain_get_info(dom=dom).nrVirtCpu == 2
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


def test_asyncio_client(libvirtd: Libvirtd) -> None:
    async def main() -> None:
        async with await libvirt_rpc.open_async(libvirtd.uri_tcp) as conn:
            dom = (await conn.domain_lookup_by_name(name="test")).dom
            infos = await asyncio.gather(*(conn.domain_get_info(dom=dom) for _ in range(8)))
            assert {info.state for info in infos} == {VIR_DOMAIN_RUNNING}
            with pytest.raises(libvirt_rpc.LibvirtError) as caught:
                await conn.domain_lookup_by_name(name="missing")
            assert caught.value.code == 42
            await conn.connect_domain_event_callback_register_any(
                eventID=VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom=None
            )
            events = conn.events()
            await conn.domain_suspend(dom=dom)
            async with asyncio.timeout(10):
                async for event in events:
                    assert event.message.msg.dom.name == "test"  # type: ignore[attr-defined]
                    break

    asyncio.run(main())


@pytest.mark.parametrize("socket", ["rw socket, read-only flag", "read-only socket"])
def test_read_only_connection_is_refused_writes(libvirtd: Libvirtd, socket: str) -> None:
    # the flag asks CONNECT_OPEN for a read-only connection; on libvirtd's
    # read-only socket the daemon makes it one without being asked
    if socket == "read-only socket":
        opened = libvirt_rpc.open(libvirtd.uri_unix_ro)
    else:
        opened = libvirt_rpc.open(libvirtd.uri_unix, readonly=True)
    with opened as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_suspend(dom=dom)
        assert caught.value.code == libvirt_rpc.ErrorNumber.VIR_ERR_OPERATION_DENIED


def test_keepalive_pings_are_answered(libvirtd: Libvirtd) -> None:
    """libvirtd pings a client that supports keepalive; our own pings are
    answered by libvirtd's PONGs, which keep the connection alive."""
    with libvirt_rpc.open(libvirtd.uri_unix) as conn:
        assert conn.keepalive_supported
        conn.set_keepalive(interval=0.2, count=2)
        before = conn.rpc.last_received
        time.sleep(1.5)  # far longer than interval * (count + 1) without calls
        assert conn.rpc.last_received > before  # PONGs arrived
        assert not conn.rpc.closed
        assert conn.connect_get_hostname().hostname


def test_keepalive_closes_a_frozen_connection(fresh_libvirtd: Libvirtd) -> None:
    conn = libvirt_rpc.open(fresh_libvirtd.uri_unix, timeout=30)
    os.kill(fresh_libvirtd.pid, signal.SIGSTOP)
    try:
        conn.set_keepalive(interval=0.2, count=2)
        deadline = time.monotonic() + 5
        while not conn.rpc.closed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert conn.rpc.closed
        with pytest.raises(ConnectionClosedError, match="keepalive"):
            conn.connect_get_hostname()
    finally:
        os.kill(fresh_libvirtd.pid, signal.SIGCONT)
        conn.close()


def test_killed_daemon_fails_pending_and_later_calls(fresh_libvirtd: Libvirtd) -> None:
    conn = libvirt_rpc.open(fresh_libvirtd.uri_unix, timeout=30)
    dom = conn.domain_lookup_by_name(name="test").dom
    os.kill(fresh_libvirtd.pid, signal.SIGSTOP)  # the call below stays pending
    outcome: list[BaseException] = []

    def pending_call() -> None:
        try:
            conn.domain_get_info(dom=dom)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    caller = threading.Thread(target=pending_call)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    fresh_libvirtd.kill()
    caller.join(10)
    assert not caller.is_alive()
    assert time.monotonic() - started < 5  # at once, not after the 30 s timeout
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosedError)
    with pytest.raises(ConnectionClosedError):
        conn.domain_get_info(dom=dom)
    conn.close()


def test_per_call_timeout(fresh_libvirtd: Libvirtd) -> None:
    conn = libvirt_rpc.open(fresh_libvirtd.uri_unix)
    conn.timeout = 0.5
    os.kill(fresh_libvirtd.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.connect_get_hostname()
        assert caught.value.code == libvirt_rpc.ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
        assert time.monotonic() - started < 5
    finally:
        os.kill(fresh_libvirtd.pid, signal.SIGCONT)
    conn.timeout = 10
    assert conn.connect_get_hostname().hostname  # the late reply did no harm
    conn.close()


def test_sparse_streams_carry_holes(libvirtd: Libvirtd, tmp_path: Path) -> None:
    """Sparse upload (STREAM_HOLE from us) and sparse download (STREAM_HOLE
    from libvirtd) of a volume with a hole in the middle."""
    sparse_upload, sparse_download = 1, 1  # VIR_STORAGE_VOL_{UP,DOWN}LOAD_SPARSE_STREAM
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    head, hole, tail = b"H" * 4096, 1 << 20, b"T" * 4096
    size = len(head) + hole + len(tail)
    with libvirt_rpc.open(f"storage:///system?socket={libvirtd.socket_path}") as conn:
        pool = conn.storage_pool_create_xml(
            xml=f"<pool type='dir'><name>sparse-{os.getpid()}</name>"
            f"<target><path>{pool_dir}</path></target></pool>",
            flags=0,
        ).pool
        try:
            vol = conn.storage_vol_create_xml(
                pool=pool,
                xml="<volume><name>sparse.img</name>"
                f"<capacity unit='bytes'>{size}</capacity><allocation>0</allocation>"
                "<target><format type='raw'/></target></volume>",
                flags=0,
            ).vol
            upload = conn.storage_vol_upload(vol=vol, offset=0, length=size, flags=sparse_upload)
            upload.write(head)
            upload.send_hole(hole)
            upload.write(tail)
            upload.finish()
            written = (pool_dir / "sparse.img").read_bytes()
            assert written == head + bytes(hole) + tail

            download = conn.storage_vol_download(vol=vol, offset=0, length=0, flags=sparse_download)
            pieces: list[bytes | int] = []
            while (piece := download.read_chunk()) != b"":
                pieces.append(piece)
            download.finish()
            holes = [p for p in pieces if isinstance(p, int)]
            data = b"".join(p if isinstance(p, bytes) else bytes(p) for p in pieces)
            assert holes and sum(holes) >= hole // 2  # the hole came as STREAM_HOLE
            assert data == written
        finally:
            conn.storage_pool_destroy(pool=pool)


def test_failed_open_returns_at_once(libvirtd: Libvirtd) -> None:
    """CONNECT_OPEN refused: the error comes back without waiting on the
    reader thread."""
    started = time.monotonic()
    with pytest.raises(libvirt_rpc.LibvirtError):
        libvirt_rpc.open(f"nosuchdriver:///x?socket={libvirtd.socket_path}")
    assert time.monotonic() - started < 2


def test_asyncio_per_call_timeout(fresh_libvirtd: Libvirtd) -> None:
    async def main() -> None:
        conn = await libvirt_rpc.open_async(fresh_libvirtd.uri_unix)
        conn.timeout = 0.5
        os.kill(fresh_libvirtd.pid, signal.SIGSTOP)
        try:
            with pytest.raises(libvirt_rpc.LibvirtError) as caught:
                await conn.connect_get_hostname()
            assert caught.value.code == libvirt_rpc.ErrorNumber.VIR_ERR_OPERATION_TIMEOUT
        finally:
            os.kill(fresh_libvirtd.pid, signal.SIGCONT)
        conn.timeout = 10
        assert (await conn.connect_get_hostname()).hostname
        await conn.close()

    asyncio.run(main())
