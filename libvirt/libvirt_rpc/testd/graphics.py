"""The far end of a graphics socket: what a guest's VNC server says to a
viewer, up to the framebuffer's description (RFB 3.8, RFC 6143).

libvirtd hands a socket to QEMU's VNC (or SPICE) server for
virDomainOpenGraphics and virDomainOpenGraphicsFD; here :func:`serve_vnc`
plays that server: the version banner, security "None", and a
``ServerInit`` naming the domain.  What the viewer asks for next is read
and left unanswered, until it hangs up.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

log = logging.getLogger(__name__)

BANNER = b"RFB 003.008\n"
_SECURITY_NONE = 1
_WIDTH, _HEIGHT = 720, 400  # QEMU's text console
# 32 bits per pixel, depth 24, little-endian true colour, 8 bits per primary
_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


async def serve_vnc(sock: socket.socket, name: str) -> None:
    """Greet a viewer on ``sock`` (which this closes) as a VNC server."""
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(BANNER)
        version = await reader.readexactly(12)
        if version == b"RFB 003.003\n":  # the server picks the type
            writer.write(struct.pack(">I", _SECURITY_NONE))
        else:
            writer.write(bytes([1, _SECURITY_NONE]))
            await reader.readexactly(1)  # the client's choice
            if version == BANNER:
                writer.write(struct.pack(">I", 0))  # SecurityResult: OK
        await reader.readexactly(1)  # ClientInit
        title = name.encode()
        writer.write(struct.pack(">HH", _WIDTH, _HEIGHT) + _PIXEL_FORMAT + struct.pack(">I", len(title)) + title)
        while await reader.read(4096):
            pass  # requests no framebuffer will ever answer
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the viewer went away
    finally:
        writer.close()


class Displays:
    """The VNC servers running for graphics sockets, so that none is
    left behind (nor garbage collected while it runs)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, sock: socket.socket, name: str) -> None:
        task = asyncio.get_running_loop().create_task(serve_vnc(sock, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.debug("VNC server for domain %s on fd %d", name, sock.fileno())
