"""Trace lines from a capture file (pcap or pcapng, as tcpdump and
Wireshark write them).

dpkt (the ``[trace]`` extra) reads the file and the link, IP, TCP and
UDP headers; :mod:`xdrgen.trace.reassembly` puts each direction's segments
back in order; the framing splits the streams into messages.  Which TCP
connections carry the protocol: those on the ``--port`` numbers given, or
else those whose first bytes look like a message of a program the catalog
knows (any port).  The client is the side that sent the SYN (or, when the
capture began later, the side that sent the first call).

For a protocol that also speaks over UDP (ONC RPC: the framing's
:meth:`~xdrgen.trace.framing.Framing.datagrams`), every datagram is one
message; a conversation (two addresses) is traced from its first call on
(on the ``--port`` numbers, or of a program the catalog knows), its client
being the side that sent it.  IP fragments are not reassembled: a datagram
split into several (larger than the link's MTU) is counted and skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .framing import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Framing, FramingSession, Splitter, other_direction
from .reassembly import Delivery, Direction, Gap
from .tracer import Tracer

SNIFF_SIZE = 28  # bytes of a stream's start that tell whether it is the protocol
_TLS_HANDSHAKE = b"\x16\x03"


class CaptureError(Exception):
    """The file is no capture dpkt can read, or dpkt is missing."""


@dataclass(frozen=True, slots=True)
class Packet:
    time: float
    source: tuple[str, int]
    destination: tuple[str, int]
    data: bytes


@dataclass(frozen=True, slots=True)
class Segment(Packet):
    seq: int
    syn: bool
    ack: bool
    acknowledged: int  # the ACK number (when ``ack``)
    fin: bool
    rst: bool


@dataclass(frozen=True, slots=True)
class Datagram(Packet):
    """A UDP datagram."""


@dataclass(slots=True)
class Summary:
    """What the reader saw besides the traced messages (printed at the end)."""

    packets: int = 0
    connections: int = 0
    traced: int = 0
    tls: int = 0
    gaps: int = 0
    truncated: bool = False
    conversations: int = 0  # UDP
    conversations_traced: int = 0
    fragments: int = 0  # IP fragments skipped

    def text(self) -> str:
        other = self.connections - self.traced
        tls = f", {self.tls} of them TLS (encrypted: not decodable)" if self.tls else ""
        gaps = f"; {self.gaps} gap(s) of lost bytes" if self.gaps else ""
        cut = "; the file ends inside a packet" if self.truncated else ""
        counts = f"{self.packets} packets, {self.connections} TCP connections, {self.traced} traced, {other} not"
        if self.conversations:
            counts += f"; {self.conversations} UDP conversations, {self.conversations_traced} traced"
        if self.fragments:
            counts += f"; {self.fragments} IP fragments skipped (not reassembled)"
        return f"{counts}{tls}{gaps}{cut}"


def packets(file: BinaryIO, summary: Summary | None = None) -> Iterator[Segment | Datagram]:
    """The TCP segments and UDP datagrams of a capture, with their time
    since the first packet; ``summary`` learns whether the file ends inside
    a packet and how many IP fragments were skipped."""
    summary = summary if summary is not None else Summary()
    try:
        import dpkt  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as error:
        raise CaptureError("reading captures needs dpkt: pip install 'xdrgen-py[trace]'") from error
    reads = _ShortReads(file)
    try:
        reader = dpkt.pcap.UniversalReader(reads)
    except (ValueError, dpkt.UnpackError) as error:
        raise CaptureError(f"not a pcap or pcapng file: {error}") from error
    reads.short = False  # (the first try, as pcap, may have read past a short pcapng file)
    link = _link_decoder(dpkt, reader.datalink())
    start: float | None = None
    packets = iter(reader)
    while True:
        try:
            timestamp, frame = next(packets)
        except StopIteration:
            return
        except dpkt.UnpackError:
            reads.short = True
        if reads.short:  # the file ends inside this packet
            summary.truncated = True
            return
        try:
            ip = link(frame)
        except (dpkt.UnpackError, IndexError, ValueError):
            continue
        if isinstance(ip, dpkt.ip.IP) and (ip.offset or ip.mf):
            summary.fragments += 1  # not reassembled (loopback's MTU is 64 KiB: nothing is split there)
            continue
        transport = getattr(ip, "data", None)
        if not isinstance(transport, (dpkt.tcp.TCP, dpkt.udp.UDP)) or isinstance(ip, bytes):
            continue
        if start is None:
            start = float(timestamp)
        time = float(timestamp) - start
        source = (str(ipaddress.ip_address(ip.src)), transport.sport)
        destination = (str(ipaddress.ip_address(ip.dst)), transport.dport)
        if isinstance(transport, dpkt.udp.UDP):
            yield Datagram(time, source, destination, bytes(transport.data))
            continue
        tcp, flags = transport, transport.flags
        yield Segment(
            time,
            source,
            destination,
            bytes(tcp.data),
            tcp.seq,
            bool(flags & dpkt.tcp.TH_SYN),
            bool(flags & dpkt.tcp.TH_ACK),
            tcp.ack,
            bool(flags & dpkt.tcp.TH_FIN),
            bool(flags & dpkt.tcp.TH_RST),
        )


class _ShortReads:
    """The capture file, noting a read that its end cut short: dpkt's pcap
    reader hands out the last packet as far as it goes."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.short = False

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        if 0 < len(data) < size:
            self.short = True
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _link_decoder(dpkt: Any, datalink: int) -> Any:
    """A function from a link-layer frame to its IP packet."""
    decoders = {
        dpkt.pcap.DLT_EN10MB: lambda b: dpkt.ethernet.Ethernet(b).data,
        dpkt.pcap.DLT_LINUX_SLL: lambda b: dpkt.sll.SLL(b).data,
        276: lambda b: dpkt.sll2.SLL2(b).data,  # DLT_LINUX_SLL2 (tcpdump -i any)
        dpkt.pcap.DLT_NULL: lambda b: dpkt.loopback.Loopback(b).data,
        dpkt.pcap.DLT_LOOP: lambda b: dpkt.loopback.Loopback(b).data,
    }
    if datalink in decoders:
        return decoders[datalink]
    if datalink in (dpkt.pcap.DLT_RAW, 12, 14, 228, 229):  # raw IPv4/IPv6
        return lambda b: (dpkt.ip6.IP6 if b[0] >> 4 == 6 else dpkt.ip.IP)(b)
    raise CaptureError(f"link type {datalink} is not supported (Ethernet, Linux cooked, loopback, raw IP are)")


@dataclass(slots=True)
class _Connection:
    """One TCP connection of the capture, from its first segment on."""

    ends: tuple[tuple[str, int], tuple[str, int]]  # (client, server) as far as known
    opened: float
    client_known: bool = False
    number: int = 0  # its number in the trace, once it is traced
    verdict: bool | None = None  # traced or not, once known
    streams: dict[str, Direction] = field(default_factory=lambda: {CLIENT_TO_SERVER: Direction(), SERVER_TO_CLIENT: Direction()})
    sniffed: dict[str, bytes] = field(default_factory=lambda: {CLIENT_TO_SERVER: b"", SERVER_TO_CLIENT: b""})
    session: FramingSession | None = None
    splitters: dict[str, Splitter] = field(default_factory=dict)
    closing: str = ""

    def direction(self, source: tuple[str, int]) -> str:
        return CLIENT_TO_SERVER if source == self.ends[0] else SERVER_TO_CLIENT

    def swap(self) -> None:
        """The side taken for the client is the server."""
        self.ends = (self.ends[1], self.ends[0])
        self.streams = {d: self.streams[other_direction(d)] for d in self.streams}
        self.sniffed = {d: self.sniffed[other_direction(d)] for d in self.sniffed}
        self.client_known = True


class CaptureReader:
    """Feeds a capture's segments through reassembly and the tracer."""

    def __init__(self, tracer: Tracer, framing: Framing, ports: Iterable[int] = ()) -> None:
        self.tracer = tracer
        self.framing = framing
        self.ports = frozenset(ports)
        self.summary = Summary()
        self._numbers = 0
        self._connections: dict[frozenset[tuple[str, int]], _Connection] = {}
        self._keep = tracer.wants_payload
        datagrams = framing.datagrams()
        self._udp = None if datagrams is None else _Datagrams(self, datagrams)

    def number(self) -> int:
        """The number of the next connection or conversation traced."""
        self._numbers += 1
        return self._numbers

    def read(self, file: BinaryIO) -> Summary:
        time = 0.0
        for packet in packets(file, self.summary):
            time = packet.time
            self.summary.packets += 1
            if isinstance(packet, Segment):
                self._segment(packet)
            elif self._udp is not None:
                self._udp.datagram(packet)
        for connection in list(self._connections.values()):
            for direction, stream in connection.streams.items():
                self._deliver(connection, direction, stream.flush(), time)
            self._end(connection, time, connection.closing or "capture ended")
        if self._udp is not None:
            self._udp.end(time)
        return self.summary

    def _segment(self, segment: Segment) -> None:
        key = frozenset((segment.source, segment.destination))
        connection = self._connections.get(key)
        if connection is None:
            if not segment.data and not segment.syn:
                return  # the end (or a bare ack) of a connection no longer followed
            connection = self._new(segment)
            self._connections[key] = connection
        direction = connection.direction(segment.source)
        stream = connection.streams[direction]
        if segment.syn:
            stream.syn(segment.seq)
            return
        if segment.rst:
            self._end(connection, segment.time, f"reset by {'client' if direction == CLIENT_TO_SERVER else 'server'}")
            return
        delivered = stream.segment(segment.seq, segment.data, segment.fin)
        self._deliver(connection, direction, delivered, segment.time)
        if segment.ack:
            other = other_direction(direction)
            self._deliver(connection, other, connection.streams[other].acked(segment.acknowledged), segment.time)
        if stream.finished and not connection.closing:
            connection.closing = f"closed by {'client' if direction == CLIENT_TO_SERVER else 'server'}"
        if all(s.finished for s in connection.streams.values()):
            self._end(connection, segment.time, connection.closing)

    def _new(self, segment: Segment) -> _Connection:
        self.summary.connections += 1
        source, destination = segment.source, segment.destination
        if segment.syn and not segment.ack:
            ends, known = (source, destination), True
        elif segment.syn:
            ends, known = (destination, source), True
        elif source[1] in self.ports:
            ends, known = (destination, source), True
        else:
            ends, known = (source, destination), bool(self.ports) and destination[1] in self.ports
        connection = _Connection(ends, segment.time, known)
        if self.ports:
            connection.verdict = connection.ends[1][1] in self.ports
        return connection

    def _deliver(self, connection: _Connection, direction: str, delivered: list[Delivery], time: float) -> None:
        if connection.verdict is None:
            self._sniff(connection, direction, delivered, time)
            return
        if not connection.verdict or not delivered:
            return
        self._start(connection)
        splitter = connection.splitters[direction]
        for item in delivered:
            if isinstance(item, Gap):
                self.summary.gaps += 1
                pieces = splitter.gap(item.size)
            else:
                pieces = splitter.feed(item)
            for piece in pieces:
                self.tracer.piece(connection.number, direction, time, piece)

    def _sniff(self, connection: _Connection, direction: str, delivered: list[Delivery], time: float) -> None:
        """Hold a stream's first bytes until they tell whether it is the
        protocol; then trace everything held, the client's bytes first."""
        data = connection.sniffed[direction]
        for item in delivered:
            if isinstance(item, Gap):
                connection.verdict = False  # cannot tell where messages start
                return
            data += item
        connection.sniffed[direction] = data
        if len(data) < SNIFF_SIZE:
            return
        if data.startswith(_TLS_HANDSHAKE):
            self.summary.tls += 1
            connection.verdict = False
            return
        if not self.framing.plausible(data, self.tracer.codecs.catalog.knows):
            other = other_direction(direction)
            if len(connection.sniffed[other]) >= SNIFF_SIZE or connection.streams[other].finished:
                connection.verdict = False
            return
        connection.verdict = True
        if not connection.client_known and self.framing.is_call(data) != (direction == CLIENT_TO_SERVER):
            connection.swap()
        held, connection.sniffed = connection.sniffed, {}
        for each in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
            if held.get(each):
                self._deliver(connection, each, [held[each]], time)

    def _start(self, connection: _Connection) -> None:
        if connection.number:
            return
        self.summary.traced += 1
        connection.number = self.number()
        connection.session = self.framing.session(self.tracer.codecs.catalog.knows)
        for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
            connection.splitters[direction] = connection.session.splitter(direction, keep=self._keep)
        self.tracer.opened(connection.opened, connection.number, *_names("tcp", connection.ends))

    def _end(self, connection: _Connection, time: float, reason: str) -> None:
        key = frozenset(connection.ends)
        if self._connections.pop(key, None) is None:
            return
        if not connection.number:
            return
        for direction, splitter in connection.splitters.items():
            for piece in splitter.end():
                self.tracer.piece(connection.number, direction, time, piece)
        self.tracer.closed(time, connection.number, *_names("tcp", connection.ends), reason)


@dataclass(slots=True)
class _Conversation:
    """One UDP conversation (two addresses) of the capture."""

    ends: tuple[tuple[str, int], tuple[str, int]]  # (client, server) once known
    number: int = 0
    splitters: dict[str, Splitter] = field(default_factory=dict)
    seen: int = 0  # datagrams before it was judged


class _Datagrams:
    """The UDP side of a capture: every datagram one message."""

    JUDGED_AFTER = 8  # datagrams without a call: not the protocol

    def __init__(self, reader: CaptureReader, framing: Framing) -> None:
        self.reader = reader
        self.framing = framing
        self.summary = reader.summary
        self.tracer = reader.tracer
        self._conversations: dict[frozenset[tuple[str, int]], _Conversation | None] = {}

    def datagram(self, datagram: Datagram) -> None:
        key = frozenset((datagram.source, datagram.destination))
        if key not in self._conversations:
            self.summary.conversations += 1
            self._conversations[key] = _Conversation((datagram.source, datagram.destination))
        conversation = self._conversations[key]
        if conversation is None:
            return  # not the protocol
        if not conversation.number and not self._judge(key, conversation, datagram):
            return
        direction = CLIENT_TO_SERVER if datagram.source == conversation.ends[0] else SERVER_TO_CLIENT
        for piece in conversation.splitters[direction].feed(datagram.data):
            self.tracer.piece(conversation.number, direction, datagram.time, piece)

    def _judge(self, key: frozenset[tuple[str, int]], conversation: _Conversation, datagram: Datagram) -> bool:
        """Whether the conversation is traced from this datagram on (it is a
        call, on a port given or of a program the catalog knows)."""
        ports = self.reader.ports
        data = datagram.data
        if ports:
            server = datagram.destination if datagram.destination[1] in ports else datagram.source
            wanted = server[1] in ports and self.framing.is_call(data) == (server is datagram.destination)
        else:
            wanted = self.framing.plausible(data, self.tracer.codecs.catalog.knows)
            server = datagram.destination
        if not wanted:
            conversation.seen += 1
            if conversation.seen >= self.JUDGED_AFTER:
                self._conversations[key] = None
            return False
        client = datagram.source if server is datagram.destination else datagram.destination
        conversation.ends = (client, server)
        conversation.number = self.reader.number()
        self.summary.conversations_traced += 1
        session = self.framing.session(self.tracer.codecs.catalog.knows)
        keep = self.tracer.wants_payload
        conversation.splitters = {d: session.splitter(d, keep=keep) for d in (CLIENT_TO_SERVER, SERVER_TO_CLIENT)}
        self.tracer.opened(datagram.time, conversation.number, *_names("udp", conversation.ends))
        return True

    def end(self, time: float) -> None:
        for conversation in self._conversations.values():
            if conversation is not None and conversation.number:
                self.tracer.closed(time, conversation.number, *_names("udp", conversation.ends), "capture ended")


def _names(transport: str, ends: tuple[tuple[str, int], tuple[str, int]]) -> tuple[str, str]:
    client, server = (f"{transport}:{host}:{port}" for host, port in ends)
    return client, server
