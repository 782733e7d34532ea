"""Wire checks: Debian's tshark with the libvirt-wireshark dissector decodes
a capture of virsh talking to our daemon over loopback TCP, and our own
client (``libvirt_rpc.open``) gets from our daemon what it gets from libvirtd."""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import libvirt_rpc
from testd_support import REMOTE, Libvirtd, Testd, require_binary, virsh_env

VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0


class LiveCapture:
    """tshark on the loopback interface, dissecting one TCP port as libvirt
    and printing one line per packet as it goes (``-l``), read by a thread."""

    FIELDS = (
        "frame.number", "libvirt.program", "libvirt.serial", "libvirt.procedure",
        "libvirt.type", "libvirt.status", "_ws.malformed", "libvirt.unknown",
    )  # fmt: skip

    def __init__(self, port: int) -> None:
        args = [require_binary("tshark"), "-i", "lo", "-f", f"tcp port {port}", "-l"]
        args += ["-d", f"tcp.port=={port},libvirt", "-T", "fields"]
        args += ["-E", "occurrence=a", "-E", "aggregator=,"]
        for field in self.FIELDS:
            args += ["-e", field]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.rows: list[dict[str, list[str]]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            values = line.rstrip("\n").split("\t")
            row = {f: (v.split(",") if v else []) for f, v in zip(self.FIELDS, values)}
            with self._cond:
                self.rows.append(row)
                self._cond.notify_all()

    def messages(self) -> list[tuple[str, ...]]:
        """(program, serial, procedure, type, status) of every libvirt message."""
        with self._cond:
            out = []
            for row in self.rows:
                columns = [row.get(f, []) for f in self.FIELDS[1:6]]
                out.extend(zip(*columns))
            return out

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        self._reader.join(60)


KEEPALIVE = "0x6b656570"


def test_tshark_decodes_virsh_and_our_daemon(testd: Testd, tmp_path: Path) -> None:
    port = testd.tcp_port
    capture = LiveCapture(port)
    try:
        # Capturing has begun once a keepalive ping of ours shows up.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as marker:
            ping = struct.pack(">IIIiiIi", 28, 0x6B656570, 1, 1, 2, 0, 0)
            for _ in range(150):  # hang guard
                marker.sendall(ping)
                assert len(marker.recv(28)) == 28
                if capture.wait_for(lambda c: any(m[0] == KEEPALIVE for m in c.messages()), 0.2):
                    break
            else:
                pytest.fail("tshark never started capturing")
        session = (
            "list --all; dominfo test; dumpxml test; domstate --reason test; nodeinfo; "
            "hostname; dominfo nosuch; screenshot test shot.png"
        )
        result = subprocess.run(
            [require_binary("virsh"), "-c", testd.uri_tcp, session],
            env=virsh_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Screenshot saved to shot.png" in result.stdout, result.stdout + result.stderr
        # A positive control on its own connection: a call whose string
        # length runs past the frame, which the dissector cannot decode.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            body = struct.pack(">I", 100) + b"test"
            sock.sendall(struct.pack(">IIIiiIi", 28 + len(body), REMOTE, 1, 23, 0, 4242, 0) + body)
            assert sock.recv(4096)
        assert capture.wait_for(
            lambda c: ("0x20008086", "4242", "23", "1", "1") in c.messages()
            and any(m[2:4] == ("2", "1") for m in c.messages())
        ), capture.messages()
    finally:
        capture.stop()
    messages = [m for m in capture.messages() if m[0] == "0x20008086" and m[1] != "4242"]
    procedures = {int(m[2]) for m in messages}
    # The handshake, the commands and the stream all reached the dissector.
    assert {66, 60, 1, 360, 273, 212, 23, 19, 16, 14, 6, 59, 211, 361, 2} <= procedures
    assert ("211", "3", "2") in [m[2:] for m in messages]  # STREAM / CONTINUE
    assert ("211", "3", "0") in [m[2:] for m in messages]  # STREAM / OK
    # Nothing malformed, and every payload decoded to its end but the control's.
    assert [r for r in capture.rows if r.get("_ws.malformed")] == []
    undecoded = [r["libvirt.serial"] for r in capture.rows if r.get("libvirt.unknown")]
    assert undecoded == [["4242"]]


def _client_session(uri: str) -> list[Any]:
    """What libvirt_rpc's blocking client sees, minus the time of day."""
    out: list[Any] = []
    with libvirt_rpc.open(uri, timeout=30) as conn:
        out.append(conn.connect_get_uri().uri)
        listed = conn.connect_list_all_domains(need_results=1, flags=3)
        out.append([(d.name, d.uuid, d.id) for d in listed.domains])
        dom = conn.domain_lookup_by_name(name="test").dom
        info = conn.domain_get_info(dom=dom)
        out.append((info.state, info.maxMem, info.memory, info.nrVirtCpu))
        out.append(conn.domain_get_xml_desc(dom=dom, flags=0).xml)
        out.append(conn.node_get_info())
        out.append(conn.connect_get_hostname().hostname)
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_lookup_by_name(name="missing")
        error = caught.value
        out.append((int(error.code), int(error.domain), error.message, error.str1, error.str2))
        # Events: suspend and resume on this connection.
        events = conn.events(timeout=20)
        callback = conn.connect_domain_event_callback_register_any(
            eventID=VIR_DOMAIN_EVENT_ID_LIFECYCLE, dom=None
        ).callbackID
        conn.domain_suspend(dom=dom)
        conn.domain_resume(dom=dom)
        for _ in range(2):
            event = next(events)
            msg = event.message.msg  # type: ignore[attr-defined]
            out.append((event.name, msg.dom.name, msg.event, msg.detail))
        conn.connect_domain_event_callback_deregister_any(callbackID=callback)
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_resume(dom=dom)
        out.append((int(caught.value.code), caught.value.message))
        # A read stream.
        stream = conn.domain_screenshot(dom=dom, screen=0, flags=0)
        out.append(stream.result.mime)
        image = b"".join(stream)
        stream.finish()
        out.append(image[:8])
        # Eight threads on one connection.
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(25):
                    assert conn.domain_get_info(dom=dom).nrVirtCpu == 2
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out.append(errors)
    with libvirt_rpc.open(uri, readonly=True, timeout=30) as conn:
        dom = conn.domain_lookup_by_name(name="test").dom
        with pytest.raises(libvirt_rpc.LibvirtError) as caught:
            conn.domain_suspend(dom=dom)
        error = caught.value
        out.append((int(error.code), int(error.domain), error.message))
    return out


def test_our_client_gets_from_our_daemon_what_libvirtd_gives(
    fresh_testd: Testd, real_libvirtd: Libvirtd
) -> None:
    ours = _client_session(fresh_testd.uri_unix)
    theirs = _client_session(real_libvirtd.uri_unix)
    assert ours[0] == "test:///default"
    assert ours[1:] == theirs[1:]


def test_async_client_over_tcp(fresh_testd: Testd) -> None:
    async def main() -> None:
        async with await libvirt_rpc.open_async(fresh_testd.uri_tcp, timeout=30) as conn:
            dom = (await conn.domain_lookup_by_name(name="test")).dom
            infos = await asyncio.gather(*(conn.domain_get_info(dom=dom) for _ in range(20)))
            assert {info.state for info in infos} == {1}
            await conn.connect_domain_event_callback_register_any(eventID=0, dom=None)
            events = conn.events()
            await conn.domain_destroy(dom=dom)
            async with asyncio.timeout(20):  # hang guard
                async for event in events:
                    msg = event.message.msg  # type: ignore[attr-defined]
                    assert (msg.dom.name, msg.event, msg.detail) == ("test", 5, 1)
                    break
            with pytest.raises(libvirt_rpc.LibvirtError) as caught:
                await conn.domain_destroy(dom=dom)
            assert caught.value.message == "Requested operation is not valid: domain is not running"

    asyncio.run(main())
