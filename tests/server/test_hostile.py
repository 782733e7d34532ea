"""Hostile input against ``python -m libvirt_rpc.testd`` (a real process).

Each case checks: the daemon does not crash; its peak memory (VmHWM, reset
through ``/proc/PID/clear_refs`` before the case) grows by less than a stated
bound; it sends the error reply libvirtd sends where libvirtd sends one
(``test_errors_match_libvirtd`` compares the bytes with a real libvirtd);
and a well-behaved client on another connection keeps getting answers while
the hostile traffic is going on.  Measured growth is printed (``pytest -s``).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from libvirt_rpc import remote_protocol as rp
from testd_support import REMOTE, Libvirtd, RawConnection, Testd, raw_frame
from xdrgen.runtime.virnet.framing import (
    KEEPALIVE_PING,
    KEEPALIVE_PROGRAM,
    MAX_FRAME,
    MAX_MESSAGE,
    MessageStatus,
    MessageType,
    encode_message,
)

CALL, REPLY, MESSAGE, STREAM = MessageType.CALL, MessageType.REPLY, MessageType.MESSAGE, MessageType.STREAM
OK, ERROR = MessageStatus.OK, MessageStatus.ERROR
MiB = 1024

DOM = rp.RemoteNonnullDomain("test", bytes.fromhex("6695eb01f6a4830479aa97f2502e193f"), 1)
GET_INFO = bytes(encode_message(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_GET_INFO, CALL, 7, OK, rp.RemoteDomainGetInfoArgs(DOM)))
HUGE = b"\xff\xff\xff\xff"


@pytest.fixture(scope="module")
def good(testd: Testd) -> Iterator[RawConnection]:
    """A well-behaved client, open for the whole module."""
    conn = RawConnection(testd.socket_path)
    conn.handshake()
    conn.check()
    yield conn
    conn.close()


def measured(testd: Testd, good: RawConnection, name: str, bound_kib: int, case: Callable[[], None]) -> None:
    """Run ``case`` with the daemon's peak memory reset; check it is alive,
    answers ``good`` and grew its peak by less than ``bound_kib``."""
    good.check()
    testd.reset_peak()
    base = testd.rss_kib()
    case()
    good.check()
    assert testd.alive(), testd.log()
    growth = testd.peak_kib() - base
    print(f"\nhostile case {name!r}: peak RSS {base} KiB + {growth} KiB (bound {bound_kib} KiB)")
    assert growth < bound_kib


def opened(testd: Testd) -> RawConnection:
    conn = RawConnection(testd.socket_path)
    conn.handshake()
    return conn


def test_truncated_frames(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        # A valid call cut at every length, then the connection closed.
        for cut in range(1, len(GET_INFO)):
            with RawConnection(testd.socket_path) as conn:
                conn.send(GET_INFO[:cut])
            good.check()
        # A frame announcing 1 MiB that ends after 100 KiB.
        for _ in range(10):
            with RawConnection(testd.socket_path) as conn:
                conn.send(struct.pack(">I", 1 << 20) + bytes(100 * 1024))
        good.check()
        # A whole frame whose payload is cut short: libvirtd's decode error.
        with opened(testd) as conn:
            body = struct.pack(">I", 100) + b"test"
            conn.send(raw_frame(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, CALL, 99, OK, body))
            reply = conn.wait_reply(99)
            assert rp.RemoteError.decode(reply.payload).message == "Unable to decode message payload"
            conn.check()

    measured(testd, good, "truncated frames", 8 * MiB, case)


@pytest.mark.parametrize("length", [0, 1, 4, 27])
def test_length_below_header(testd: Testd, good: RawConnection, length: int) -> None:
    def case() -> None:
        with opened(testd) as conn:
            conn.send(struct.pack(">I", length) + bytes(64))
            assert conn.closed_by_server()  # as libvirtd: no reply, connection closed

    measured(testd, good, f"length {length}", 2 * MiB, case)


@pytest.mark.parametrize("length", [MAX_FRAME + 1, 0x7FFFFFFF, 0xFFFFFFFF])
def test_length_above_32_mib(testd: Testd, good: RawConnection, length: int) -> None:
    def case() -> None:
        with opened(testd) as conn:
            conn.send(struct.pack(">I", length) + bytes(24))
            assert conn.closed_by_server()

    # Refused on the length word alone: nothing is buffered.
    measured(testd, good, f"length {length:#x}", 2 * MiB, case)


# Calls whose declared string, array or opaque lengths are 0xFFFFFFFF (or
# within the bound but beyond the data): each must fail to decode without
# allocating, and the connection must stay usable.
HUGE_LENGTHS = {
    "string": (rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, HUGE),
    "string within bound": (rp.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, struct.pack(">I", 4 << 20) + b"abcd"),
    "optional string": (rp.REMOTE_PROC_CONNECT_OPEN, b"\0\0\0\1" + HUGE),
    "array": (rp.REMOTE_PROC_DOMAIN_SEND_KEY, DOM.encode() + bytes(8) + HUGE),
    "array within bound": (rp.REMOTE_PROC_DOMAIN_SEND_KEY, DOM.encode() + bytes(8) + struct.pack(">I", 16)),
    "opaque": (rp.REMOTE_PROC_DOMAIN_PIN_VCPU, DOM.encode() + bytes(4) + HUGE),
    "nested name": (rp.REMOTE_PROC_DOMAIN_GET_INFO, HUGE),
    "typed params": (rp.REMOTE_PROC_DOMAIN_SET_SCHEDULER_PARAMETERS, DOM.encode() + HUGE),
}


def test_huge_declared_lengths(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        with opened(testd) as conn:
            for serial, (proc, body) in enumerate(HUGE_LENGTHS.values(), start=100):
                conn.send(raw_frame(REMOTE, 1, proc, CALL, serial, OK, body))
                reply = conn.wait_reply(serial)
                error = rp.RemoteError.decode(reply.payload)
                assert (error.code, error.message) == (39, "Unable to decode message payload")
                good.check()
            conn.check()

    measured(testd, good, "0xFFFFFFFF string/array/opaque lengths", 2 * MiB, case)


def test_unknown_program_version_procedure(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        with opened(testd) as conn:
            for serial, (prog, vers, proc, text) in enumerate(
                [
                    (0xDEADBEEF, 1, 1, "Cannot find program -559038737 version 1"),
                    (REMOTE, 2, 1, "Cannot find program 536903814 version 2"),
                    (KEEPALIVE_PROGRAM, 1, 1, "Cannot find program 1801807216 version 1"),
                    (REMOTE, 1, 0, "unknown procedure: 0"),
                    (REMOTE, 1, -5, "unknown procedure: -5"),
                    (REMOTE, 1, 1 << 30, f"unknown procedure: {1 << 30}"),
                ],
                start=10,
            ):
                conn.send(raw_frame(prog & 0xFFFFFFFF, vers, proc, CALL, serial, OK))
                reply = conn.wait_reply(serial)
                assert (reply.prog, reply.vers, reply.proc) == (prog & 0xFFFFFFFF, vers, proc)
                error = rp.RemoteError.decode(reply.payload)
                assert (error.code, error.domain, error.message) == (39, 7, text)
            conn.check()

    measured(testd, good, "unknown program/version/procedure", 2 * MiB, case)


def test_wrong_message_type_or_status(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        with opened(testd) as conn:
            for serial, status in enumerate([1, 2, 3, -1], start=20):
                conn.send(raw_frame(REMOTE, 1, rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, CALL, serial, status))
                error = rp.RemoteError.decode(conn.wait_reply(serial).payload)
                assert error.message == f"Unexpected message status {status & 0xFFFFFFFF}"
            # Not calls: no answer (as libvirtd); the next call's reply comes next.
            for type_ in (REPLY, MESSAGE, STREAM, 5, 6, 7, -1):
                conn.send(raw_frame(REMOTE, 1, rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, type_, 30, OK))
            conn.send(raw_frame(REMOTE, 1, rp.REMOTE_PROC_CONNECT_GET_HOSTNAME, CALL, 31, OK))
            reply = conn.recv()
            assert (reply.serial, reply.status) == (31, OK)
            conn.check()

    measured(testd, good, "wrong message type or status", 2 * MiB, case)


def test_random_bytes(testd: Testd, good: RawConnection) -> None:
    rng = random.Random(6)

    def case() -> None:
        for _ in range(40):
            with RawConnection(testd.socket_path) as conn:
                try:
                    conn.send(rng.randbytes(64 * 1024))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server hung up on the garbage: fine
            good.check()
        # Random bytes after a valid header: a random-length frame.
        for _ in range(40):
            with opened(testd) as conn:
                try:
                    conn.send(rng.randbytes(rng.randrange(1, 4096)))
                except (BrokenPipeError, ConnectionResetError):
                    pass
        good.check()

    measured(testd, good, "random bytes", 8 * MiB, case)


def test_hundred_concurrent_connections(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        failures: list[BaseException] = []
        barrier = threading.Barrier(101)

        def client() -> None:
            try:
                with RawConnection(testd.socket_path) as conn:
                    conn.handshake()
                    barrier.wait(30)
                    for _ in range(20):
                        conn.check()
            except BaseException as error:  # reported below
                failures.append(error)
                barrier.abort()

        threads = [threading.Thread(target=client) for _ in range(100)]
        for thread in threads:
            thread.start()
        barrier.wait(30)  # all 100 are connected and open
        for _ in range(20):
            good.check()
        for thread in threads:
            thread.join(60)
        assert not failures, failures[:3]

    measured(testd, good, "100 concurrent connections", 16 * MiB, case)


def test_flood_of_pipelined_calls(testd: Testd, good: RawConnection) -> None:
    """A client sends 100000 calls (and 50000 keepalive pings, 7 MB in all)
    without reading: the server stops reading it, answers everyone else, and
    afterwards answers every call (none dropped)."""
    count = 100_000
    pings = 50_000

    def case() -> None:
        with opened(testd) as flooder:
            ping = encode_message(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PING, MESSAGE, 0, OK)
            data = GET_INFO * (count // 2) + bytes(ping) * pings + GET_INFO * (count // 2)
            sender = threading.Thread(target=flooder.send, args=(data,))
            sender.start()
            for _ in range(50):
                good.check()
            # The flood is still being pushed back: the server is not reading it.
            assert sender.is_alive()
            replies = pongs = 0
            while replies < count:
                message = flooder.recv()
                if message.prog == KEEPALIVE_PROGRAM:
                    pongs += 1
                else:
                    assert (message.serial, message.status) == (7, OK)
                    replies += 1
            sender.join(60)
            assert pongs == pings

    measured(testd, good, "flood of 100000 pipelined calls + 50000 pings", 16 * MiB, case)


def test_half_header_then_stall(testd: Testd, good: RawConnection) -> None:
    def case() -> None:
        stalled = [RawConnection(testd.socket_path) for _ in range(50)]
        try:
            for conn in stalled:
                conn.send(GET_INFO[:14])
            for _ in range(20):
                good.check()  # answered while 50 connections sit mid-header
            big = [RawConnection(testd.socket_path) for _ in range(8)]
            try:
                for conn in big:  # frames that announce 32 MiB and stall after 1 MiB
                    conn.send(struct.pack(">I", MAX_MESSAGE) + bytes(1 << 20))
                good.check()
            finally:
                for conn in big:
                    conn.close()
        finally:
            for conn in stalled:
                conn.close()

    measured(testd, good, "stalled half headers (and 8 stalled 32 MiB frames)", 32 * MiB, case)


def test_stalled_large_frames_cost_what_was_sent(testd: Testd, good: RawConnection) -> None:
    """24 clients each send 8 MiB of a frame that claims 32 MiB and stall:
    the daemon holds what arrived (libvirtd grows 8 MiB per client), not
    the 32 MiB each one claimed."""
    clients, sent = 24, 8 << 20
    growth: list[int] = []

    def case() -> None:
        base = testd.rss_kib()
        stalled = [RawConnection(testd.socket_path) for _ in range(clients)]
        try:
            for conn in stalled:
                conn.send(struct.pack(">I", MAX_MESSAGE) + bytes(sent - 4))
            good.check()  # answered after every stalled byte has been read
            growth.append(testd.peak_kib() - base)
        finally:
            for conn in stalled:
                conn.close()

    measured(testd, good, f"{clients} stalled frames, 8 of 32 MiB sent", clients * 12 * MiB, case)
    print(f"  {growth[0] / clients / MiB:.1f} MiB per client for {sent >> 20} MiB sent")
    assert growth[0] < clients * 10 * MiB


def test_largest_frame_is_accepted(testd: Testd, good: RawConnection) -> None:
    """32 MiB after the length word is allowed (and answered); the memory it
    takes is the frame itself, a few times over at most.  (Last of the measured cases:
    glibc keeps the freed frame's memory in the heap for reuse, which would
    hide what the cases after it allocate.)"""

    def case() -> None:
        with opened(testd) as conn:
            conn.send(raw_frame(REMOTE, 1, 99999, CALL, 5, OK, bytes(MAX_FRAME - 28)))
            reply = conn.wait_reply(5)
            assert rp.RemoteError.decode(reply.payload).message == "unknown procedure: 99999"
            conn.check()

    measured(testd, good, "one 32 MiB frame", 2 * 32 * MiB, case)


# -- the same hostile messages against libvirtd: the same bytes back --------

#: (name, frame, libvirtd answers it); sent after AUTH_LIST + CONNECT_OPEN
#: unless the name says "before open".
COMPARED = [
    ("unknown program", raw_frame(0xDEADBEEF, 1, 1, CALL, 1000, OK), True),
    ("unknown version", raw_frame(REMOTE, 3, 1, CALL, 1000, OK), True),
    ("keepalive CALL", raw_frame(KEEPALIVE_PROGRAM, 1, 1, CALL, 1000, OK), True),
    ("unknown procedure", raw_frame(REMOTE, 1, 9999, CALL, 1000, OK), True),
    ("negative procedure", raw_frame(REMOTE, 1, -1, CALL, 1000, OK), True),
    ("event procedure called", raw_frame(REMOTE, 1, 318, CALL, 1000, OK), True),
    ("status error", raw_frame(REMOTE, 1, 59, CALL, 1000, ERROR), True),
    ("status continue", raw_frame(REMOTE, 1, 59, CALL, 1000, 2), True),
    ("status 7", raw_frame(REMOTE, 1, 59, CALL, 1000, 7), True),
    ("type reply", raw_frame(REMOTE, 1, 59, REPLY, 1000, OK), False),
    ("type message", raw_frame(REMOTE, 1, 59, MESSAGE, 1000, OK), False),
    ("stray stream data", raw_frame(REMOTE, 1, 59, STREAM, 1000, OK, b"data"), False),
    ("type 7", raw_frame(REMOTE, 1, 59, 7, 1000, OK), False),
    ("keepalive ping", raw_frame(KEEPALIVE_PROGRAM, 1, 1, MESSAGE, 0, OK), True),
    ("keepalive unknown", raw_frame(KEEPALIVE_PROGRAM, 1, 3, MESSAGE, 0, OK), False),
    ("huge string", raw_frame(REMOTE, 1, 23, CALL, 1000, OK, HUGE), True),
    ("huge optional string", raw_frame(REMOTE, 1, 1, CALL, 1000, OK, b"\0\0\0\1" + HUGE), True),
    ("huge array", raw_frame(REMOTE, 1, rp.REMOTE_PROC_DOMAIN_SEND_KEY, CALL, 1000, OK, DOM.encode() + bytes(8) + HUGE), True),
    ("truncated payload", raw_frame(REMOTE, 1, 23, CALL, 1000, OK, b"\0\0\0\x10ab"), True),
    ("trailing bytes are ignored", raw_frame(REMOTE, 1, 23, CALL, 1000, OK, b"\0\0\0\4test" + bytes(8)), True),
    ("missing domain", raw_frame(REMOTE, 1, 23, CALL, 1000, OK, b"\0\0\0\6nosuch\0\0"), True),
    ("before open: hostname", raw_frame(REMOTE, 1, 59, CALL, 1000, OK), True),
    ("before open: feature 9", raw_frame(REMOTE, 1, 60, CALL, 1000, OK, struct.pack(">i", 9)), True),
    ("before open: keepalive feature", raw_frame(REMOTE, 1, 60, CALL, 1000, OK, struct.pack(">i", 10)), True),
    ("before open: event register", raw_frame(REMOTE, 1, 316, CALL, 1000, OK, bytes(8)), True),
]


def _exchange(path: str, name: str, frame: bytes, answered: bool) -> list[bytes]:
    """Send ``frame`` and then a sentinel call; return the frames that are
    not the sentinel's reply: read until that reply (and, for a frame that
    gets an answer, until the answer too: libvirtd's workers may reorder)."""
    with RawConnection(path) as conn:
        if not name.startswith("before open"):
            conn.handshake()
        conn.send(frame)
        conn.send(encode_message(REMOTE, 1, rp.REMOTE_PROC_AUTH_LIST, CALL, 5000, OK))
        answers: list[bytes] = []
        sentinel = False
        while not sentinel or (answered and not answers):
            m = conn.recv()
            if m.serial == 5000 and m.proc == rp.REMOTE_PROC_AUTH_LIST:
                sentinel = True
            else:
                answers.append(raw_frame(m.prog, m.vers, m.proc, m.type, m.serial, m.status, bytes(m.payload)))
        # The connection is still usable.
        assert conn.call(rp.REMOTE_PROC_AUTH_LIST).status == OK
        return answers


@pytest.mark.parametrize("name,frame,answered", COMPARED, ids=[c[0] for c in COMPARED])
def test_errors_match_libvirtd(
    testd: Testd, real_libvirtd: Libvirtd, name: str, frame: bytes, answered: bool
) -> None:
    ours = _exchange(testd.socket_path, name, frame, answered)
    theirs = _exchange(real_libvirtd.socket_path, name, frame, answered)
    assert ours == theirs
    assert len(ours) == int(answered)


@pytest.mark.parametrize("length", [0, 4, 27, MAX_MESSAGE + 5, 0xFFFFFFFF])
def test_bad_lengths_close_like_libvirtd(testd: Testd, real_libvirtd: Libvirtd, length: int) -> None:
    for path in (testd.socket_path, real_libvirtd.socket_path):
        with RawConnection(path) as conn:
            conn.send(struct.pack(">I", length) + bytes(24))
            assert conn.closed_by_server()


@pytest.mark.parametrize("length", [MAX_MESSAGE, MAX_MESSAGE + 1, MAX_FRAME])
def test_the_largest_frames_are_answered_like_libvirtd(testd: Testd, real_libvirtd: Libvirtd, length: int) -> None:
    """libvirtd takes 4 bytes more than 32 MiB (the length word counts
    itself): both daemons answer such a call alike."""
    frame = raw_frame(REMOTE, 1, 99999, CALL, 1000, OK, bytes(length - 28))
    ours = _exchange(testd.socket_path, "largest frame", frame, True)
    theirs = _exchange(real_libvirtd.socket_path, "largest frame", frame, True)
    assert ours == theirs
    assert rp.RemoteError.decode(memoryview(ours[0])[28:]).message == "unknown procedure: 99999"


def test_connect_close_ends_the_connection_like_libvirtd(testd: Testd, real_libvirtd: Libvirtd) -> None:
    for path in (testd.socket_path, real_libvirtd.socket_path):
        with RawConnection(path) as conn:
            conn.handshake()
            assert conn.call(rp.REMOTE_PROC_CONNECT_CLOSE).status == OK
            assert conn.closed_by_server()


def test_tcp_listener_survives_too(testd: Testd, good: RawConnection) -> None:
    """The same garbage over TCP closes that connection only."""
    with socket.create_connection(("127.0.0.1", testd.tcp_port), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(100) == b""
    with RawConnection(("127.0.0.1", testd.tcp_port)) as conn:
        conn.handshake()
        conn.check()
    good.check()
