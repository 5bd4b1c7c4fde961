"""How `antrean serve` runs uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """httptools with TCP_NODELAY on every connection.

    asyncio sets TCP_NODELAY only on sockets whose protocol number is TCP; the listening socket
    uvicorn shares between worker processes is made with protocol 0, so without this every
    small response waited for the peer's delayed ACK (about 40 ms) once there were several
    workers.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
