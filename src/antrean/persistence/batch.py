"""Group commit for SQLite: use cases that write, gathered on the event loop, run in one
transaction.

SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for the disk
while holding the write lock. Each server process runs its database calls on its event loop,
so a process waiting for the lock (or for another process's disk flush) could do nothing
else. Here the writes that arrive together are queued; one flush takes the writer's turn
without blocking the loop, runs them one after another in one transaction, each in a savepoint
(see `SharedTransaction`), commits once, and then answers each caller with its own result or
error. A caller's answer is sent only after the commit that made its change durable.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from antrean.persistence.engine import Database
from antrean.persistence.event_bus import EventBus
from antrean.persistence.unit_of_work import SharedTransaction

log = logging.getLogger(__name__)

_Call = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class WriteBatcher:
    """Runs write use cases submitted from one event loop in shared transactions of at most
    `limit` use cases each."""

    def __init__(self, db: Database, bus: EventBus | None, limit: int = 64) -> None:
        self._db = db
        self._bus = bus
        self.limit = limit
        self._pending: deque[_Call] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # how many shared transactions were committed (for tests and stats)
        self.calls = 0

    async def run(self, call: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        # Run in the caller's context (who is asking, from where: the audit log reads it),
        # not the flusher's, which is whichever caller started it.
        self._pending.append((functools.partial(contextvars.copy_context().run, call), future))
        flusher = self._flusher
        # One flusher per loop; a new one if the last has ended (or its loop is gone).
        if flusher is None or flusher.done() or flusher.get_loop() is not loop:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            async with self._db.writer_turn_async():
                # The calls that came in while waiting for the turn join this batch.
                batch = [
                    self._pending.popleft() for _ in range(min(self.limit, len(self._pending)))
                ]
                self._run(batch)

    def _run(self, batch: list[_Call]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with SharedTransaction(self._db, self._bus) as shared:
                for call, future in batch:
                    if future.cancelled() or future.get_loop().is_closed():
                        continue  # nobody is waiting for this answer any more
                    try:
                        outcomes.append((future, call(), None))
                    except Exception as exc:  # the use case's own error, for its caller
                        outcomes.append((future, None, exc))
                shared.commit()
        except Exception as exc:  # the shared transaction failed: nothing of it is stored
            log.warning("write batch of %d failed (%s)", len(batch), exc.__class__.__name__)
            for _call, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.calls += len(outcomes)
        for future, value, error in outcomes:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
