"""Trace lines from captures: tcpdump on the loopback interface while the
real virsh talks TCP to libvirtd (and our client to our daemon), read back
by ``python -m libvirt_rpc.trace read``; the same capture with its
segments split, reordered, retransmitted or lost (rewritten with dpkt)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest

import libvirt_rpc
from daemons import Libvirtd, virsh
from testd_support import Testd
from trace_support import Tcpdump, message_lines, read_capture

VIRSH_COMMANDS = "domname 1; list --all; dominfo test; dominfo nosuch; screenshot test {shot}"


@pytest.fixture(scope="module")
def virsh_capture(libvirtd: Libvirtd, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("capture")
    tcpdump = Tcpdump(directory / "virsh.pcap", libvirtd.tcp_port)
    result = virsh(libvirtd.uri_tcp, VIRSH_COMMANDS.format(shot=directory / "shot.png"))
    path = tcpdump.stop()
    assert tcpdump.dropped == 0, tcpdump.stderr
    assert "Screenshot saved" in result.stdout and "failed to get domain 'nosuch'" in result.stderr, result.stderr
    return path


def procedures(lines: list[str]) -> list[str]:
    return [f"{m.dir}{m.procedure}:{m.type}:{m.status}" for m in message_lines(lines)]


def test_a_tcpdump_capture_of_virsh_reads_back_with_names(virsh_capture: Path, libvirtd: Libvirtd) -> None:
    result = read_capture(virsh_capture)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[2:] == ["+", lines[0].split()[3], f"server=tcp:127.0.0.1:{libvirtd.tcp_port}"]
    assert lines[0].split()[3].startswith("client=tcp:127.0.0.1:")
    assert lines[-1].split()[2] == "-"
    seen = procedures(lines)
    for wanted in (">auth_list:call:ok", "<auth_list:reply:ok", ">connect_open:call:ok", ">domain_lookup_by_id:call:ok",
                   ">connect_list_all_domains:call:ok", "<domain_get_info:reply:ok",
                   "<domain_lookup_by_name:reply:error", "<domain_screenshot:stream:continue",
                   ">domain_screenshot:stream:ok", "<connect_close:reply:ok"):  # fmt: skip
        assert wanted in seen, wanted
    assert not [line for line in lines if "undecodable" in line or "unframed" in line]
    assert "1 TCP connections, 1 traced" in result.stderr
    # with the port named, the same
    assert read_capture(virsh_capture, "--port", str(libvirtd.tcp_port)).stdout == result.stdout


def test_payloads_and_json_from_a_capture(virsh_capture: Path) -> None:
    shown = read_capture(virsh_capture, "--payload", "--procedure", "domain_lookup_by_name").stdout.splitlines()
    error = shown[shown.index(next(line for line in shown if "(reply, error," in line)) + 1]
    assert error.startswith("        VirNetMessageError(code=42, domain=12, message='Domain not found'")
    as_json = read_capture(virsh_capture, "--json", "--type", "stream").stdout.splitlines()
    assert as_json and all('"type": "stream"' in line or '"event"' in line for line in as_json)


def rewritten(source: Path, target: Path, *, lose: int | None = None, pcapng: bool = False) -> Path:
    """The capture with every data segment split in two, neighbours swapped,
    earlier segments sent again (whole and overlapping), and optionally the
    data segment number ``lose`` left out."""
    with open(source, "rb") as file:
        reader = dpkt.pcap.Reader(file)
        linktype = reader.datalink()
        packets = [(ts, dpkt.ethernet.Ethernet(buf)) for ts, buf in reader]
    split: list[tuple[float, dpkt.ethernet.Ethernet]] = []
    for ts, frame in packets:
        tcp = frame.data.data
        if len(tcp.data) < 2:
            split.append((ts, frame))
            continue
        half = len(tcp.data) // 2
        for offset, chunk in ((0, tcp.data[:half]), (half, tcp.data[half:])):
            split.append((ts, segment(frame, tcp.seq + offset, chunk)))
    data_at = [i for i, (_, frame) in enumerate(split) if frame.data.data.data]
    for a, b in zip(data_at[::2], data_at[1::2]):
        split[a], split[b] = split[b], split[a]  # each pair out of order
    out = list(split)
    for count, i in enumerate(data_at[2::3]):
        ts, frame = split[i]
        out.insert(i + 1 + 2 * count, (ts, copy.deepcopy(frame)))  # a retransmission
        tcp = frame.data.data
        overlap = segment(frame, tcp.seq + len(tcp.data) // 2, tcp.data[len(tcp.data) // 2 :] + b"")
        out.insert(i + 2 + 2 * count, (ts, overlap))  # and one that overlaps it
    if lose is not None:
        lost = [i for i, (_, frame) in enumerate(out) if frame.data.data.data][lose]
        lost_seq = out[lost][1].data.data.seq
        out = [(ts, f) for ts, f in out if not (f.data.data.data and f.data.data.seq == lost_seq)]
    with open(target, "wb") as file:
        writer = (dpkt.pcapng.Writer if pcapng else dpkt.pcap.Writer)(file, linktype=linktype)
        for ts, frame in out:
            writer.writepkt(bytes(frame), ts=ts)
    return target


def segment(frame: dpkt.ethernet.Ethernet, seq: int, data: bytes) -> dpkt.ethernet.Ethernet:
    new = copy.deepcopy(frame)
    new.data.data.seq = seq & 0xFFFFFFFF
    new.data.data.data = data
    new.data.data.sum = 0
    new.data.sum = 0  # dpkt recomputes the lengths and checksums
    return dpkt.ethernet.Ethernet(bytes(new))


@pytest.mark.parametrize("pcapng", [False, True])
def test_reordered_and_retransmitted_segments_read_the_same(virsh_capture: Path, tmp_path: Path, pcapng: bool) -> None:
    original = read_capture(virsh_capture).stdout.splitlines()
    crafted = rewritten(virsh_capture, tmp_path / "crafted.cap", pcapng=pcapng)
    result = read_capture(crafted)
    assert result.returncode == 0, result.stderr
    assert [m.call for m in message_lines(result.stdout.splitlines())] == [m.call for m in message_lines(original)]


def test_lost_bytes_are_reported_and_reading_goes_on(virsh_capture: Path, tmp_path: Path) -> None:
    original = message_lines(read_capture(virsh_capture).stdout.splitlines())
    result = read_capture(rewritten(virsh_capture, tmp_path / "lossy.pcap", lose=12))
    lines = result.stdout.splitlines()
    assert any("bytes lost" in line for line in lines), lines
    assert "gap(s) of lost bytes" in result.stderr
    after = message_lines(lines)
    assert after[-1].call == original[-1].call  # the messages after the gap, in their place
    assert len(original) - 2 <= len(after) < len(original)  # the message(s) in the lost segment


def packet_offsets(capture: bytes) -> list[int]:
    """Where each packet record of a pcap file starts."""
    offsets, offset = [], 24  # the file header
    while offset < len(capture):
        offsets.append(offset)
        offset += 16 + int.from_bytes(capture[offset + 8 : offset + 12], "little")  # record header + caplen
    return offsets


@pytest.mark.parametrize("where", ["in a packet's data", "in a packet's record header"])
def test_a_capture_cut_short_reads_up_to_the_cut(virsh_capture: Path, tmp_path: Path, where: str) -> None:
    data = virsh_capture.read_bytes()
    tenth = packet_offsets(data)[10]
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: tenth + (30 if where == "in a packet's data" else 8)])
    result = read_capture(cut)
    assert result.returncode == 0 and "10 packets" in result.stderr and "the file ends inside a packet" in result.stderr
    lines = message_lines(result.stdout.splitlines())
    assert lines and lines[0].procedure == "auth_list"
    assert not [line for line in result.stdout.splitlines() if "undecodable" in line]


@pytest.fixture(scope="module")
def own_capture(testd: Testd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Our client talking to our daemon over TCP, two connections at once."""
    directory = tmp_path_factory.mktemp("own")
    tcpdump = Tcpdump(directory / "own.pcap", testd.tcp_port)
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with libvirt_rpc.open(testd.uri_tcp) as conn:
                dom = conn.domain_lookup_by_name(name="test").dom
                for _ in range(50):
                    conn.domain_get_info(dom=dom)
                conn.connect_list_all_domains(need_results=1, flags=0)
                conn.connect_get_hostname()
                try:
                    conn.domain_lookup_by_name(name="nosuch")
                except libvirt_rpc.LibvirtError:
                    pass
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    path = tcpdump.stop()
    assert not errors, errors
    assert tcpdump.dropped == 0, tcpdump.stderr
    yield path


def test_our_own_traffic_decodes_without_a_single_undecodable_frame(own_capture: Path) -> None:
    result = read_capture(own_capture, "--payload")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if "undecodable" in line or "unframed" in line or "raw:" in line]
    messages = message_lines(lines)
    assert {m.conn for m in messages} == {1, 2}
    assert sum(m.procedure == "domain_get_info" for m in messages) == 2 * 50 * 2
    assert "2 TCP connections, 2 traced" in result.stderr


def test_tls_connections_are_recognised_and_left_out(libvirtd: Libvirtd, tmp_path: Path) -> None:
    tcpdump = Tcpdump(tmp_path / "both.pcap", libvirtd.tls_port)
    assert virsh(libvirtd.uri_tls, "domname 1").returncode == 0
    result = read_capture(tcpdump.stop())
    assert result.stdout == ""
    assert "1 TCP connections, 0 traced, 1 not, 1 of them TLS (encrypted: not decodable)" in result.stderr
