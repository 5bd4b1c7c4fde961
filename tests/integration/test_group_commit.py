"""Group commit: write use cases gathered on the event loop share one transaction, each in a
savepoint of its own. Run on both databases (the server uses it for SQLite)."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import threading
from datetime import date, time

import pytest
from sqlalchemy import create_engine, func, select

from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import PatientDraft
from antrean.domain.queue import WalkInDraft
from antrean.persistence import tables as t
from antrean.persistence.batch import WriteBatcher
from antrean.persistence.engine import WriterQueue
from antrean.services import queue
from antrean.services.patients import new_patient
from antrean.testing.seed import open_all_week_clinic

OPERATOR = Actor(user_id=1, facility_id=1, roles=frozenset({Role.OPERATOR}))


class RecordingBus:
    """Records what another connection sees of the tickets when events go out."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.seen_at_publish: list[int] = []
        self.published: list[str] = []

    def commit(self, conn, tx, events) -> None:
        tx.commit()
        with self.engine.connect() as conn:
            self.seen_at_publish.append(
                conn.execute(select(func.count()).select_from(t.ticket)).scalar_one()
            )
        self.published += [e.data["label"] for e in events]


def _count(url: str, table) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return found


def test_writes_that_arrive_together_commit_together_and_fail_alone(container):
    c = container
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    url = c.db.engine.url.render_as_string(hide_password=False)
    bus = RecordingBus(url)
    batcher = WriteBatcher(c.db, bus)

    def walk_in(clinic: int, name: str):
        return functools.partial(
            queue.issue_walk_in,
            c.uow(),
            actor=OPERATOR,
            policy=c.policy,
            phones=c.phones,
            walk_in=WalkInDraft(clinic_id=clinic, name=name, birth_date=date(1980, 1, 1)),
        )

    def half_done():
        uow = c.uow()
        with uow(write=True):
            new_patient(
                uow,
                facility_id=1,
                policy=c.policy,
                phones=c.phones,
                draft=PatientDraft(name="Ghost", birth_date=date(1990, 1, 1)),
            )
            raise AntreanError("clinic_closed")

    async def submit_together():
        calls = [walk_in(clinic_id, f"Pasien {n}") for n in range(4)]
        calls += [walk_in(clinic_id + 999, "Nobody"), half_done]
        calls += [walk_in(clinic_id, f"Pasien {n}") for n in range(4, 8)]
        return await asyncio.gather(*(batcher.run(call) for call in calls), return_exceptions=True)

    outcomes = asyncio.run(submit_together())
    bus.engine.dispose()

    tickets = [o.ticket for o in outcomes if isinstance(o, queue.IssuedTicket)]
    assert [k.number for k in tickets] == list(range(1, 9)), "in order, nothing skipped"
    errors = [o for o in outcomes if isinstance(o, AntreanError)]
    assert [e.code for e in errors] == ["not_found", "clinic_closed"]
    assert batcher.batches == 1, "one transaction for all ten"
    # The failed use case's own write is undone; everybody else's is stored.
    assert _count(url, t.ticket) == 8 and _count(url, t.domain_event) == 8
    with c.db.engine.connect() as conn:  # its engine has the keys that open the names
        names = conn.execute(select(t.patient.c.name)).scalars().all()
    assert "Ghost" not in names and len(names) == 8
    # Events go out once, after the commit made every ticket visible to others.
    assert bus.seen_at_publish == [8]
    assert bus.published == [k.label for k in tickets]


def test_later_batches_go_on_from_earlier_ones_and_stay_within_the_limit(container):
    c = container
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    batcher = WriteBatcher(c.db, None, limit=3)
    issue = functools.partial(
        queue.issue_walk_in,
        actor=OPERATOR,
        policy=c.policy,
        phones=c.phones,
        walk_in=WalkInDraft(clinic_id=clinic_id, name="Pasien", birth_date=date(1980, 1, 1)),
    )

    async def run():
        results = await asyncio.gather(
            *(batcher.run(functools.partial(issue, c.uow())) for _ in range(7))
        )
        return [r.ticket.number for r in results]

    assert asyncio.run(run()) == list(range(1, 8))
    assert batcher.batches == 3, "at most `limit` use cases share a transaction"
    assert batcher.calls == 7
    # The same batcher serves a later event loop (a server restarting its loop, a test client).
    assert asyncio.run(run()) == list(range(8, 15))


def _hold_turn_in_thread(queue_lock: WriterQueue):
    """Another writer (a thread here; another process works the same through the file lock)
    holds the turn until told to let go."""
    held, let_go = threading.Event(), threading.Event()

    def hold() -> None:
        with queue_lock:
            held.set()
            let_go.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    return thread, let_go


def test_waiting_for_the_writer_turn_leaves_the_event_loop_free(tmp_path):
    queue_lock = WriterQueue(tmp_path / "db.writer-lock")
    thread, let_go = _hold_turn_in_thread(queue_lock)
    order: list[str] = []

    async def writer() -> None:
        async with queue_lock.turn():
            order.append("writer has the turn")

    async def other_request() -> None:
        for _ in range(20):
            await asyncio.sleep(0)
        order.append("loop served another request")
        let_go.set()

    async def run() -> None:
        await asyncio.wait_for(asyncio.gather(writer(), other_request()), timeout=10)

    asyncio.run(run())
    thread.join(5)
    assert order == ["loop served another request", "writer has the turn"]


def test_a_write_on_the_loop_while_the_batch_waits_for_another_process_does_not_deadlock(
    tmp_path,
):
    """The batch waits for another server process's write; meanwhile the event loop writes
    inline (a read's audit entry takes the turn with a blocking wait). Had the batch kept this
    process's lock while waiting, the loop would block on it and the batch could never run
    again to let it go."""
    path = tmp_path / "db.writer-lock"
    queue_lock = WriterQueue(path)
    other = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # another process's own open file
    fcntl.flock(other, fcntl.LOCK_EX)
    order: list[str] = []

    async def batch() -> None:
        async with queue_lock.turn():
            order.append("batch")

    async def run() -> None:
        waiting = asyncio.create_task(batch())
        await asyncio.sleep(0)  # one pass of the loop: the batch runs until it waits
        # The other process finishes its write, at whatever moment its thread gets to it.
        threading.Thread(target=fcntl.flock, args=(other, fcntl.LOCK_UN)).start()
        with queue_lock:  # a write on the loop thread itself
            order.append("inline")
        await waiting

    finished = threading.Event()
    scenario = threading.Thread(target=lambda: (asyncio.run(run()), finished.set()), daemon=True)
    scenario.start()
    assert finished.wait(10), "the event loop deadlocked"
    os.close(other)
    assert order == ["inline", "batch"]


def test_a_cancelled_wait_for_the_turn_gives_the_lock_back(tmp_path):
    queue_lock = WriterQueue(tmp_path / "db.writer-lock")
    thread, let_go = _hold_turn_in_thread(queue_lock)

    async def run() -> None:
        waiter = asyncio.create_task(queue_lock.turn().__aenter__())
        for _ in range(20):
            await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        let_go.set()

    asyncio.run(run())
    thread.join(5)
    # Nobody holds the turn now: another writer gets it at once.
    again, let_go_again = _hold_turn_in_thread(queue_lock)
    let_go_again.set()
    again.join(5)
    assert not again.is_alive()


def test_one_use_case_alone_is_a_batch_of_one(container):
    c = container
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    batcher = WriteBatcher(c.db, None)

    async def run():
        return await batcher.run(
            functools.partial(
                queue.issue_walk_in,
                c.uow(),
                actor=OPERATOR,
                policy=c.policy,
                phones=c.phones,
                walk_in=WalkInDraft(clinic_id=clinic_id, name="Satu", birth_date=date(1980, 1, 1)),
            )
        )

    first = asyncio.run(run())
    status = queue.status_of(c.uow(), actor=OPERATOR, issued=first, queue=c.queue_policy)
    assert first.ticket.label == "A-001" and status.people_ahead == 0
    assert (batcher.batches, batcher.calls) == (1, 1)
