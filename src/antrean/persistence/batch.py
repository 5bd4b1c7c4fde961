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
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from antrean.events import EventBus
from antrean.persistence.engine import Database
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
        self._flushing = False
        self.batches = 0  # how many shared transactions were committed (for tests and stats)
        self.calls = 0

    async def run(self, call: Callable[[], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((call, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                async with self._db.writer_turn_async():
                    # The calls that came in while waiting for the turn join this batch.
                    batch = [
                        self._pending.popleft() for _ in range(min(self.limit, len(self._pending)))
                    ]
                    self._run(batch)
        finally:
            self._flushing = False

    def _run(self, batch: list[_Call]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            with SharedTransaction(self._db, self._bus) as shared:
                for call, future in batch:
                    if future.cancelled():
                        continue
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
