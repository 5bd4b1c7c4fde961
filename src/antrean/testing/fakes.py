"""A unit of work over in-memory fakes of every storage port (unit tests use it; integration
tests use the real stores). A transaction works on a copy of the store; `commit()` makes the
copy the store, leaving the block without committing throws the copy away. One contract test
suite (`tests/contract`) runs the same checks on these fakes, SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from antrean.domain.common import Clock
from antrean.domain.events import DomainEvent
from antrean.domain.notifications import OutboxDraft
from antrean.testing.fake_accounts import (
    FakeDeviceLinks,
    FakeFacilities,
    FakeIdempotency,
    FakeSequences,
    FakeSignIns,
    FakeTwoFactors,
    FakeUsers,
)
from antrean.testing.fake_booking import FakeAppointments, FakePatients, FakeSlots
from antrean.testing.fake_catalog import FakeCatalog, FakeSchedules
from antrean.testing.fake_messages import FakeContacts, FakeJobs, FakeMessageTexts, FakeOutbox
from antrean.testing.fake_queue import FakeEvents, FakeTickets
from antrean.testing.memory_store import Store


class FakeUnitOfWork:
    """Reusable like the SQL one: `with uow(write=True): ...; uow.commit()`."""

    def __init__(self, clock: Clock, store: Store | None = None) -> None:
        self.clock = clock
        self.store = store or Store()
        self.commits = 0
        self._work: Store | None = None
        self.published: list[DomainEvent] = []  # events of committed transactions
        self._pending: list[DomainEvent] = []

    def __call__(self, *, write: bool = False) -> FakeUnitOfWork:
        return self

    def __enter__(self) -> FakeUnitOfWork:
        self._work = copy.deepcopy(self.store)
        w = self._work
        self.catalog = FakeCatalog(w)
        self.schedules = FakeSchedules(w)
        self.slots = FakeSlots(w)
        self.patients = FakePatients(w)
        self.appointments = FakeAppointments(w)
        self.users = FakeUsers(w)
        self.sign_ins = FakeSignIns(w)
        self.two_factors = FakeTwoFactors(w)
        self.idempotency = FakeIdempotency(w)
        self.sequences = FakeSequences(w)
        self.facilities = FakeFacilities(w)
        self.devices = FakeDeviceLinks(w)
        self.tickets = FakeTickets(w)
        self.events = FakeEvents(w)
        self.outbox = FakeOutbox(w)
        self.message_texts = FakeMessageTexts(w)
        self.contacts = FakeContacts(w)
        self.jobs = FakeJobs(w)
        return self

    def publish(self, event: DomainEvent, messages: Sequence[OutboxDraft] = ()) -> DomainEvent:
        stored = self.events.add(event)
        for draft in messages:
            self.outbox.add(draft, event.at)
        self._pending.append(stored)
        return stored

    def commit(self) -> None:
        assert self._work is not None, "commit outside a transaction"
        self.store = self._work
        self.commits += 1
        self.published += self._pending
        self._pending = []

    def __exit__(self, *args: object) -> None:
        self._work = None
        self._pending = []
