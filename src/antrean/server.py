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


def _port_taken(host: str, port: int) -> bool:
    """Whether something else holds the port (checked before any child starts)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        log.error("cannot listen on %s:%s (%s)", host, port, exc)
        return True
    finally:
        probe.close()
    return False


def _stop_all(children: list[BaseProcess], grace: float) -> None:
    for child in children:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(deadline - time.monotonic(), 0.1))
        if child.is_alive():
            child.kill()
            child.join()


class _Supervisor:
    """Starts the server processes and starts again any that ends, until told to stop or
    until one cannot run (uvicorn's start-up failure, or five ends within a minute)."""

    def __init__(self, options: dict[str, Any], workers: int, stop: threading.Event) -> None:
        self.options = options
        self.spawn = multiprocessing.get_context("spawn")
        self.stop = stop
        self.failures: list[float] = []
        self.code = 0
        self.children = [self.start() for _ in range(workers)]

    def start(self) -> BaseProcess:
        child = self.spawn.Process(target=_serve_one, args=(self.options,), daemon=False)
        child.start()
        return child

    def check(self, n: int, child: BaseProcess) -> None:
        now = time.monotonic()
        self.failures = [at for at in self.failures if now - at < 60] + [now]
        if child.exitcode == STARTUP_FAILURE or len(self.failures) >= 5:
            log.error("server process %s cannot run (exit %s)", n, child.exitcode)
            self.code = STARTUP_FAILURE if child.exitcode == STARTUP_FAILURE else 1
            self.stop.set()
            return
        log.warning("server process %s ended (exit %s); starting it again", n, child.exitcode)
        self.children[n] = self.start()

    def watch(self) -> None:
        while not self.stop.wait(0.5):
            for n, child in enumerate(self.children):
                if not child.is_alive():
                    self.check(n, child)
                if self.stop.is_set():
                    return


def serve_processes(options: dict[str, Any], workers: int, *, grace: float = 30.0) -> int:
    """Run `workers` server processes, each listening on the same port with a socket of its
    own (SO_REUSEPORT), so the kernel spreads new connections over them evenly.

    With one socket shared by all processes (what uvicorn's `workers` does), the process that
    wakes first accepts a whole burst of connections: in a load test one process got twice the
    other's share of kept-alive connections, and the other process idled.
    A process that dies is started again; one that cannot start (uvicorn's start-up failure, or
    five ends within a minute) stops the server. Returns the exit code.
    """
    if _port_taken(options["host"], options["port"]):
        return STARTUP_FAILURE
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    supervisor = _Supervisor(options, workers, stop)
    try:
        supervisor.watch()
    finally:
        _stop_all(supervisor.children, grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return supervisor.code
