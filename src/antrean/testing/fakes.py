"""A unit of work over in-memory fakes of every storage port (unit tests use it; integration
tests use the real stores). A transaction works on a copy of the store; `commit()` makes the
copy the store, leaving the block without committing throws the copy away. One contract test
suite (`tests/contract`) runs the same checks on these fakes, SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from antrean.domain.audit import (
    AuditEntry,
    AuditFilter,
    AuditSubject,
    ChainReport,
    RequestInfo,
    actor_label,
)
from antrean.domain.common import Clock, Page
from antrean.domain.events import DomainEvent
from antrean.domain.notifications import OutboxDraft
from antrean.services.access import current_use_case, request_info
from antrean.testing.fake_accounts import (
    FakeDeviceLinks,
    FakeFacilities,
    FakeIdempotency,
    FakeSequences,
    FakeSignIns,
    FakeTwoFactors,
    FakeUsers,
)
from antrean.testing.fake_booking import FakeAppointments, FakeHolds, FakePatients, FakeSlots
from antrean.testing.fake_catalog import FakeCatalog, FakeSchedules
from antrean.testing.fake_messages import FakeContacts, FakeJobs, FakeMessageTexts, FakeOutbox
from antrean.testing.fake_queue import FakeEvents, FakeTickets
from antrean.testing.memory_store import Store, StorePart


class FakeAuditLog(StorePart):
    """The log kept as a list: entries are found like the SQL store finds them; there is no
    chain to verify in memory."""

    def find(self, facility_id: int, flt: AuditFilter, page: Page) -> tuple[list[AuditEntry], int]:
        found = [
            e
            for e in reversed(self.s.audit)
            if e.facility_id == facility_id
            and (flt.actor_user_id is None or e.actor_user_id == flt.actor_user_id)
            and (flt.not_actor_user_id is None or e.actor_user_id != flt.not_actor_user_id)
            and (flt.patient_id is None or e.patient_id == flt.patient_id)
            and not (flt.not_anonymous and e.actor == "anonymous")
            and (flt.action is None or e.action == flt.action)
            and (flt.record_type is None or e.record_type == flt.record_type)
            and (flt.record_id is None or e.record_id == flt.record_id)
            and (flt.since is None or e.at >= flt.since)
            and (flt.until is None or e.at < flt.until)
        ]
        return found[page.offset : page.offset + page.size], len(found)

    def verify(self, facility_id: int) -> list[ChainReport]:
        return []


class FakeUnitOfWork:
    """Reusable like the SQL one: `with uow(write=True): ...; uow.commit()`."""

    def __init__(self, clock: Clock, store: Store | None = None) -> None:
        self.clock = clock
        self.store = store or Store()
        self.commits = 0
        self._work: Store | None = None
        self.published: list[DomainEvent] = []  # events of committed transactions
        self._pending: list[DomainEvent] = []
        self._subjects: list[AuditSubject] = []

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
        self.holds = FakeHolds(w)
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
        self.audit_log = FakeAuditLog(w)
        return self

    def audit(self, *subjects: AuditSubject) -> None:
        self._subjects.extend(subjects)

    def _record(self, store: Store) -> None:
        """The audit entries of this unit of work, as the SQL one makes them (no chain)."""
        found = current_use_case()
        subjects, self._subjects = self._subjects, []
        if found is None:
            return
        action, actor = found
        from_events = [
            AuditSubject(
                "ticket" if e.ticket_id else "appointment" if e.appointment_id else "patient",
                str(e.ticket_id or e.appointment_id or e.patient_id),
                e.patient_id,
            )
            for e in self._pending
            if e.ticket_id or e.appointment_id or e.patient_id
        ]
        info = request_info.get() or RequestInfo()
        for s in list(dict.fromkeys([*subjects, *from_events])) or [AuditSubject("", "")]:
            store.audit.append(
                AuditEntry(
                    facility_id=actor.facility_id,
                    chain=0,
                    seq=len(store.audit) + 1,
                    at=self.clock.now(),
                    actor_user_id=actor.user_id or None,
                    actor=actor_label(actor),
                    roles=" ".join(sorted(r.value for r in actor.roles)),
                    action=action,
                    record_type=s.record_type,
                    record_id=s.record_id,
                    patient_id=s.patient_id,
                    client_address=info.client_address,
                    request_id=info.request_id,
                    id=len(store.audit) + 1,
                )
            )

    def publish(self, event: DomainEvent, messages: Sequence[OutboxDraft] = ()) -> DomainEvent:
        stored = self.events.add(event)
        for draft in messages:
            self.outbox.add(draft, event.at)
        self._pending.append(stored)
        return stored

    def commit(self) -> None:
        assert self._work is not None, "commit outside a transaction"
        self._record(self._work)
        self.store = self._work
        self.commits += 1
        self.published += self._pending
        self._pending = []

    def __exit__(self, exc_type: object, *args: object) -> None:
        if exc_type is None and self._subjects:
            self._record(self.store)  # what a read opened
        self._subjects = []
        self._work = None
        self._pending = []
