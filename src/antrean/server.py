"""How `antrean serve` runs uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("antrean.server")


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


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket of this process's own on host:port, shared with the other server
    processes through SO_REUSEPORT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _serve_one(options: dict[str, Any]) -> None:
    """One server process (run in a child): its own socket, then uvicorn until told to stop."""
    config = uvicorn.Config(**options)
    try:
        sock = _listening_socket(config.host, config.port, config.backlog)
    except OSError as exc:
        log.error("cannot listen on %s:%s (%s)", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(options: dict[str, Any], workers: int, *, grace: float = 30.0) -> int:
    """Run `workers` server processes, each listening on the same port with a socket of its
    own (SO_REUSEPORT), so the kernel spreads new connections over them evenly.

    With one socket shared by all processes (what uvicorn's `workers` does), the process that
    wakes first accepts a whole burst of connections: in a load test one process got twice the
    other's share of kept-alive connections, and the other process idled.
    A process that dies is started again; one that cannot start (uvicorn's start-up failure, or
    five ends within a minute) stops the server. Returns the exit code.
    """
    # Refuse early when something else holds the port, before any child starts.
    probe = socket.socket(socket.AF_INET6 if ":" in options["host"] else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        probe.bind((options["host"], options["port"]))
    except OSError as exc:
        log.error("cannot listen on %s:%s (%s)", options["host"], options["port"], exc)
        return STARTUP_FAILURE
    finally:
        probe.close()
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> BaseProcess:
        child = spawn.Process(target=_serve_one, args=(options,), daemon=False)
        child.start()
        return child

    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    children = [start() for _ in range(workers)]
    failures: list[float] = []
    code = 0
    try:
        while not stop.wait(0.5):
            for n, child in enumerate(children):
                if child.is_alive():
                    continue
                now = time.monotonic()
                failures = [at for at in failures if now - at < 60] + [now]
                if child.exitcode == STARTUP_FAILURE or len(failures) >= 5:
                    log.error("server process %s cannot run (exit %s)", n, child.exitcode)
                    code = STARTUP_FAILURE if child.exitcode == STARTUP_FAILURE else 1
                    stop.set()
                    break
                log.warning(
                    "server process %s ended (exit %s); starting it again", n, child.exitcode
                )
                children[n] = start()
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            child.join(max(deadline - time.monotonic(), 0.1))
            if child.is_alive():
                child.kill()
                child.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
