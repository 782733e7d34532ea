"""A byte relay that keeps what the client sent, to look at the wire of an
authenticated connection (tests/integration/test_auth.py)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import threading
from dataclasses import dataclass

from xdrgen.runtime.virnet.framing import FRAME_HEADER, MessageType

from libvirt_rpc import remote_protocol as rp


class Relay:
    """Listens on loopback TCP (``family="tcp"``) or a unix socket, passes
    every connection on to ``target`` (a port, or a socket path) and keeps
    the bytes each client sent (:meth:`sent`)."""

    def __init__(self, target: int | str) -> None:
        self.target = target
        self.dir = tempfile.mkdtemp(prefix="xdrgen-relay-")
        if isinstance(target, int):
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        else:
            self.path = os.path.join(self.dir, "relay.sock")
            self._listener = socket.socket(socket.AF_UNIX)
            self._listener.bind(self.path)
            self._listener.listen()
            self.address = self.path
        self._sent: list[bytearray] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _upstream(self) -> socket.socket:
        if isinstance(self.target, int):
            return socket.create_connection(("127.0.0.1", self.target))
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.target)
        return upstream

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = self._upstream()
            record = bytearray()
            with self._lock:
                self._sent.append(record)
            for source, sink, keep in ((client, upstream, record), (upstream, client, None)):
                thread = threading.Thread(target=self._pump, args=(source, sink, keep), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, keep: bytearray | None) -> None:
        try:
            while data := source.recv(1 << 16):
                if keep is not None:
                    with self._lock:
                        keep += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (sink, source):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def sent(self, index: int = 0) -> bytes:
        """What the ``index``-th client sent."""
        with self._lock:
            return bytes(self._sent[index])

    def close(self) -> None:
        self._listener.close()
        for thread in self._threads:
            thread.join(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Wire:
    """What a client sent: the procedures of its plain libvirt calls, then
    the SASL packets (their lengths) that carried the rest."""

    calls: list[int]
    mechanism: str | None
    packets: list[int]
    rest: bytes


def split_wire(data: bytes) -> Wire:
    """Read plain CALL frames of the remote program from the start, then
    length-prefixed SASL packets to the end."""
    calls: list[int] = []
    mechanism = None
    offset = 0
    while offset + FRAME_HEADER.size <= len(data):
        length, prog, vers, proc, type_, _serial, _status = FRAME_HEADER.unpack_from(data, offset)
        if prog != rp.REMOTE_PROGRAM or vers != rp.REMOTE_PROTOCOL_VERSION or type_ != MessageType.CALL:
            break
        if proc == rp.REMOTE_PROC_AUTH_SASL_START:
            args = rp.RemoteAuthSaslStartArgs.decode(data[offset + FRAME_HEADER.size : offset + length])
            mechanism = args.mech
        calls.append(proc)
        offset += length
    rest = data[offset:]
    packets: list[int] = []
    position = 0
    while position + 4 <= len(rest):
        (size,) = struct.unpack_from(">I", rest, position)
        packets.append(size)
        position += 4 + size
    assert position == len(rest), "the SASL packets do not fill the rest of the stream"
    return Wire(calls, mechanism, packets, rest)
