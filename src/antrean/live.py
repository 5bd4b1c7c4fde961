"""Live updates inside one server process: committed events fanned out to the server-sent-event
subscribers of each clinic and each ticket."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from antrean.domain.events import DomainEvent

QUEUE_LIMIT = 256
ENCODED_LIMIT = 4096
Subscription = asyncio.Queue["DomainEvent | None"]


class Broadcaster:
    """Fans events out to this process's subscribers, keyed by clinic and by ticket."""

    def __init__(self) -> None:
        self._subscribers: dict[tuple[str, object], set[Subscription]] = defaultdict(set)
        self._encoded: OrderedDict[int, bytes] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @contextlib.contextmanager
    def subscribe(self, key: tuple[str, object]) -> Any:
        """A queue of this stream's events. A subscriber too slow to keep up finds `None` in
        it instead of the events it missed: it must read the current state again."""
        queue: asyncio.Queue[DomainEvent | None] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers[key].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[key].discard(queue)
            if not self._subscribers[key]:
                del self._subscribers[key]

    @contextlib.contextmanager
    def subscribe_all(self, keys: Iterable[tuple[str, object]]) -> Any:
        """One queue for the events of several streams (a board showing several clinics)."""
        keys = list(dict.fromkeys(keys))
        queue: asyncio.Queue[DomainEvent | None] = asyncio.Queue(QUEUE_LIMIT)
        for key in keys:
            self._subscribers[key].add(queue)
        try:
            yield queue
        finally:
            for key in keys:
                self._subscribers[key].discard(queue)
                if not self._subscribers[key]:
                    del self._subscribers[key]

    def encoded(self, event: DomainEvent, encode: Callable[[DomainEvent], bytes]) -> bytes:
        """An event as sent to subscribers, encoded once however many it goes to."""
        found = self._encoded.get(event.id)
        if found is None:
            found = self._encoded[event.id] = encode(event)
            if len(self._encoded) > ENCODED_LIMIT:
                self._encoded.popitem(last=False)
        return found

    def interest(self) -> tuple[frozenset[int], bool]:
        clinics = frozenset(k for kind, k in self._subscribers if kind == "clinic")
        tickets = any(kind == "ticket" for kind, _ in self._subscribers)
        return clinics, tickets  # type: ignore[return-value]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def deliver(self, events: Iterable[DomainEvent]) -> None:
        """Thread-safe: may be called from any thread once bound to the event loop."""
        batch = list(events)
        if not batch or self._loop is None:
            return
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._fanout, batch)

    def _fanout(self, batch: list[DomainEvent]) -> None:
        for event in batch:
            if not event.kind.is_queue:
                continue  # live streams carry the queue; other events go to other subscribers
            for key in (("clinic", event.clinic_id), ("ticket", event.status_code)):
                for queue in self._subscribers.get(key, ()):
                    if queue.full():
                        # A stalled client never blocks the others: its missed events are
                        # dropped and replaced by one "read the current state again" marker.
                        while not queue.empty():
                            queue.get_nowait()
                        queue.put_nowait(None)
                    elif not (queue.qsize() == 1 and queue._queue[0] is None):  # type: ignore[attr-defined]
                        queue.put_nowait(event)
