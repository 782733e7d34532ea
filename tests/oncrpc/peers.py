"""Scripted peers: raw-socket servers whose behaviour a test writes (drop,
delay, reorder, duplicate, never answer, hang up), and raw-socket clients
that send what no well-behaved client would."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

from xdrgen.runtime.oncrpc import messages
from xdrgen.runtime.oncrpc.record import RecordReader

U32 = struct.Struct(">I")


def reply_to(call: bytes, result: bytes = b"") -> bytes:
    """A successful reply to ``call`` carrying ``result``."""
    return bytes(messages.success_reply(U32.unpack_from(call, 0)[0])) + result


def mark(record: bytes) -> bytes:
    return U32.pack(0x80000000 | len(record)) + record


def fragmented(record: bytes, size: int) -> bytes:
    """``record`` in fragments of ``size`` bytes (the last one shorter)."""
    pieces = [record[start : start + size] for start in range(0, len(record), size)]
    return b"".join(U32.pack(0x80000000 * (n == len(pieces) - 1) | len(piece)) + piece for n, piece in enumerate(pieces))


def marks(stream: bytes) -> list[tuple[bool, int]]:
    """The (last fragment?, length) of each fragment in ``stream``."""
    found = []
    offset = 0
    while offset + 4 <= len(stream):
        (word,) = U32.unpack_from(stream, offset)
        found.append((bool(word & 0x80000000), word & 0x7FFFFFFF))
        offset += 4 + (word & 0x7FFFFFFF)
    return found


class UdpPeer:
    """A UDP server on 127.0.0.1 running ``script(sock, datagram, address)``
    for each datagram; ``arrivals`` keeps (monotonic time, datagram)."""

    def __init__(self, script: Callable[[socket.socket, bytes, tuple[str, int]], None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.arrivals: list[tuple[float, bytes]] = []
        self._script = script
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop:
            try:
                data, address = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.arrivals.append((time.monotonic(), data))
            self._script(self.sock, data, address)

    def __enter__(self) -> UdpPeer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


class TcpPeer:
    """A TCP server on 127.0.0.1 that runs ``script(connection, records)``
    for its first connection; ``records()`` returns the next ``n`` call
    records that arrive."""

    def __init__(self, script: Callable[[socket.socket, Callable[[int], list[bytes]]], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self._script = script
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.connection: socket.socket | None = None

    def _run(self) -> None:
        connection, _ = self.listener.accept()
        self.connection = connection
        reader = RecordReader()
        pending: list[bytes] = []

        def records(count: int) -> list[bytes]:
            while len(pending) < count:
                data = connection.recv(65536)
                if not data:
                    break
                pending.extend(reader.feed(data))
            taken = pending[:count]
            del pending[:count]
            return taken

        try:
            self._script(connection, records)
        except OSError:
            pass  # the client went away first

    def __enter__(self) -> TcpPeer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.listener.close()
        self._thread.join(10)
        if self.connection is not None:
            self.connection.close()


def relay_to(port: int, sent: bytearray) -> Callable[[socket.socket, Callable[[int], list[bytes]]], None]:
    """A :class:`TcpPeer` script that passes the bytes both ways between
    its client and the server at ``port``, keeping in ``sent`` what the
    client sent: the wire, marks and all."""

    def pump(source: socket.socket, sink: socket.socket, keep: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if keep is not None:
                    keep += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # one side went away

    def script(connection: socket.socket, records: Callable[[int], list[bytes]]) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as upstream:
            back = threading.Thread(target=pump, args=(upstream, connection, None), daemon=True)
            back.start()
            pump(connection, upstream, sent)
            back.join(10)

    return script


def raw_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def read_record(sock: socket.socket, timeout: float = 5.0, wire: bytearray | None = None) -> bytes | None:
    """The next record from ``sock``, or None if the connection ended;
    ``wire`` gets the bytes as they came (marks and all)."""
    sock.settimeout(timeout)
    reader = RecordReader()
    while True:
        data = sock.recv(65536)
        if not data:
            return None
        if wire is not None:
            wire += data
        records = reader.feed(data)
        if records:
            return records[0]
