"""File descriptors in both clients' calls: what a call sends, and who owns
what a reply brings.

A call that sends descriptors sends copies (as libvirt's client does): the
caller's own stay open and theirs, whatever becomes of the call, and the
copies belong to the connection, which closes them once sent.  A reply's
descriptors belong to the caller of ``call_receiving_fds`` once it has its
result; every other path closes them: a reply to another kind of call, a
reply nobody waits for any more, a call that fails.
"""

from __future__ import annotations

import os

from xdrgen.runtime.rpc import Files, Packable, fileno
from xdrgen.runtime.virnet.descriptors import close_fds
from xdrgen.runtime.virnet.framing import MAX_FDS, Message, MessageStatus, MessageType, encode_message

from ..errors import ErrorDomain, ErrorNumber, LibvirtError


def copies_to_send(files: Files, can_pass: bool) -> list[int]:
    """Copies of ``files`` for a call to send; refused as libvirt refuses
    them: more than it allows, or over a transport that cannot carry any."""
    if len(files) > MAX_FDS:
        raise LibvirtError.from_code(
            ErrorNumber.VIR_ERR_RPC,
            f"Too many FDs to send {len(files)}, expected {MAX_FDS} maximum",
            domain=ErrorDomain.VIR_FROM_RPC,
        )
    if not can_pass:
        raise LibvirtError.from_code(
            ErrorNumber.VIR_ERR_INTERNAL_ERROR,
            "Sending file descriptors is not supported on this socket",
            domain=ErrorDomain.VIR_FROM_RPC,
        )
    copies: list[int] = []
    try:
        for file in files:
            fd = fileno(file)
            copies.append(os.dup(fd))
    except (OSError, ValueError, TypeError) as exc:
        close_fds(copies)
        raise LibvirtError.from_code(
            ErrorNumber.VIR_ERR_SYSTEM_ERROR,
            f"Cannot duplicate FD {file!r}: {exc}",
            domain=ErrorDomain.VIR_FROM_RPC,
        ) from exc
    return copies


def call_with_fds(
    prog: int, vers: int, proc: int, serial: int, args: Packable | None, files: Files, can_pass: bool
) -> tuple[bytearray, list[int]]:
    """A CALL_WITH_FDS frame and the copies of ``files`` it announces."""
    copies = copies_to_send(files, can_pass)
    try:
        frame = encode_message(prog, vers, proc, MessageType.CALL_WITH_FDS, serial, MessageStatus.OK, args, len(copies))
    except BaseException:
        close_fds(copies)
        raise
    return frame, copies


def close_received(message: Message) -> None:
    """Close the descriptors ``message`` brought (nobody takes them)."""
    if message.fds:
        close_fds(message.fds)


def take_received(message: Message) -> list[int]:
    """The descriptors ``message`` brought, now the caller's."""
    fds = message.fds
    message.fds = ()
    return list(fds)
