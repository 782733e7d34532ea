"""The asyncio side of :mod:`.sasl`: :func:`wrap_async` puts a SASL
security layer under asyncio streams (a transport that encodes every write
into packets, a protocol that decodes what arrives).  Apart so that
blocking users never import asyncio.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .base import writer_error_output
from .sasl import PacketReader, SecurityLayer

__all__ = ["wrap_async"]


class _Decoding(asyncio.Protocol):
    """Sits on the real transport: decodes what arrives for the protocol
    above (the one :class:`_SaslTransport` was given)."""

    def __init__(self, transport: _SaslTransport, below: asyncio.BaseProtocol) -> None:
        self._sasl = transport
        self._below = below  # the streams' protocol it replaced, told of the end too
        self._lost = False

    def data_received(self, data: bytes) -> None:
        try:
            pieces = self._sasl.packets.feed(data)
        except OSError as exc:
            self._sasl.abort()
            self.connection_lost(exc)
            return
        for piece in pieces:
            self._sasl.above.data_received(piece)

    def eof_received(self) -> bool | None:
        return self._sasl.above.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._lost:
            self._lost = True
            self._sasl.layer.close()
            self._sasl.above.connection_lost(exc)
            self._below.connection_lost(exc)  # its writer's wait_closed() ends

    def pause_writing(self) -> None:
        self._sasl.above.pause_writing()

    def resume_writing(self) -> None:
        self._sasl.above.resume_writing()


class _SaslTransport(asyncio.Transport):
    """What the protocol above writes to: every write becomes packets on
    ``inner``; the rest (buffer sizes, closing, extra info) is inner's."""

    def __init__(self, inner: asyncio.Transport, layer: SecurityLayer, above: asyncio.Protocol) -> None:
        super().__init__()
        self.inner = inner
        self.layer = layer
        self.above = above
        self.packets = PacketReader(layer)
        inner.set_protocol(_Decoding(self, inner.get_protocol()))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        step = self.layer.max_out
        with memoryview(data) as view:
            for start in range(0, len(view), step):
                self.inner.write(self.layer.encode(bytes(view[start : start + step])))

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)  # one that takes data
        self.above = protocol

    def get_protocol(self) -> asyncio.Protocol:
        return self.above

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def is_reading(self) -> bool:
        return self.inner.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)


class _SaslWriter(asyncio.StreamWriter):
    """The writer over a :class:`_SaslTransport`; closing it closes the
    writer it replaced (which may own a helper process: ssh, ext)."""

    def __init__(
        self,
        transport: _SaslTransport,
        protocol: asyncio.StreamReaderProtocol,
        reader: asyncio.StreamReader,
        below: asyncio.StreamWriter,
    ) -> None:
        super().__init__(transport, protocol, reader, asyncio.get_running_loop())
        self._below = below

    def close(self) -> None:
        self._below.close()

    async def wait_closed(self) -> None:
        await self._below.wait_closed()

    def error_output(self) -> str:
        """What a helper process wrote to stderr (see :class:`~.command.CommandStreamWriter`)."""
        return writer_error_output(self._below)


def wrap_async(
    writer: asyncio.StreamWriter, layer: SecurityLayer, limit: int = 2**16
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """New asyncio streams whose bytes travel inside ``layer``'s packets over
    ``writer``'s transport (the old reader gets nothing more; nothing may
    be waiting in it)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    inner = writer.transport
    assert isinstance(inner, asyncio.Transport)
    transport = _SaslTransport(inner, layer, protocol)
    protocol.connection_made(transport)
    return reader, _SaslWriter(transport, protocol, reader, writer)
