"""In-memory fakes of the message ports: the outbox, texts, contacts and scheduled jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from antrean.domain.booking import AppointmentStatus
from antrean.domain.common import Page
from antrean.domain.notifications import (
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
    OutboxDraft,
    Outcome,
    delivery_moves,
)
from antrean.testing.memory_store import StorePart

_UNFINISHED = (MessageState.PENDING, MessageState.SENDING)


class FakeOutbox(StorePart):
    def add(self, draft: OutboxDraft, now: datetime) -> None:
        if draft.dedupe_key is not None and draft.dedupe_key in self.s.dedupe_keys:
            return
        mid = self.s.next_id("outbox")
        self.s.outbox[mid] = Message(
            id=mid,
            facility_id=draft.facility_id,
            kind=draft.kind,
            state=MessageState.PENDING,
            patient_id=draft.patient_id,
            appointment_id=draft.appointment_id,
            ticket_id=draft.ticket_id,
            order_key=draft.order_key,
            medium=draft.medium,
            transport=None,
            address=draft.address,
            lang=draft.lang,
            data=dict(draft.data),
            due_at=draft.due_at,
            expires_at=draft.expires_at,
            tries=0,
            claimed_until=None,
            last_error=None,
            provider_id=None,
            delivery_status=None,
            delivery_error=None,
            created_at=now,
            sent_at=None,
        )
        if draft.dedupe_key is not None:
            self.s.dedupe_keys[draft.dedupe_key] = mid

    def _blocked(self, m: Message, now: datetime) -> bool:
        return any(
            p.order_key == m.order_key
            and p.id < m.id
            and p.state in _UNFINISHED
            and (
                p.state is MessageState.SENDING
                or p.tries > 0
                or p.last_error is not None
                or p.due_at <= now
            )
            for p in self.s.outbox.values()
        )

    def has_due(self, now: datetime) -> bool:
        return any(m.state in _UNFINISHED and m.due_at <= now for m in self.s.outbox.values())

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
        due = sorted(
            (
                m
                for m in self.s.outbox.values()
                if m.state in _UNFINISHED
                and m.due_at <= now
                and (
                    m.state is MessageState.PENDING
                    or (m.claimed_until is not None and m.claimed_until < now)
                )
                and not self._blocked(m, now)
            ),
            key=lambda m: (m.due_at, m.id),
        )[:limit]
        taken = []
        for m in due:
            m = replace(m, state=MessageState.SENDING, claimed_until=lease_until)
            self.s.outbox[m.id] = m
            taken.append(m)
        return taken

    def finish(self, outcomes: Sequence[Outcome], now: datetime) -> int:
        stored = 0
        for o in outcomes:
            m = self.s.outbox.get(o.id)
            if (
                m is None
                or m.state is not MessageState.SENDING
                or m.claimed_until != o.claimed_until
            ):
                continue
            self.s.outbox[o.id] = replace(
                m,
                state=o.state,
                tries=o.tries,
                due_at=o.due_at,
                medium=o.medium or m.medium,
                transport=o.transport or m.transport,
                address=o.address or m.address,
                lang=o.lang or m.lang,
                last_error=(o.last_error or "")[:500] or None,
                provider_id=o.provider_id,
                sent_at=o.sent_at,
                delivery_status="accepted" if o.state is MessageState.SENT else None,
                claimed_until=None,
            )
            stored += 1
        return stored

    def get(self, facility_id: int, message_id: int) -> Message | None:
        m = self.s.outbox.get(message_id)
        return m if m is not None and m.facility_id == facility_id else None

    def find(self, facility_id: int, flt: MessageFilter, page: Page) -> tuple[list[Message], int]:
        found = [
            m
            for m in sorted(self.s.outbox.values(), key=lambda m: -m.id)
            if m.facility_id == facility_id
            and (flt.state is None or m.state is flt.state)
            and (flt.kind is None or m.kind is flt.kind)
            and (flt.medium is None or m.medium is flt.medium)
            and (flt.patient_id is None or m.patient_id == flt.patient_id)
            and (not flt.search or (m.address or "").lower() == flt.search.lower())
        ]
        start = (page.number - 1) * page.size
        return found[start : start + page.size], len(found)

    def counts(self, facility_id: int) -> dict[MessageState, int]:
        counts: dict[MessageState, int] = {}
        for m in self.s.outbox.values():
            if m.facility_id == facility_id:
                counts[m.state] = counts.get(m.state, 0) + 1
        return counts

    def send_again(self, facility_id: int, message_id: int, now: datetime) -> bool:
        m = self.get(facility_id, message_id)
        if m is None or m.state not in (MessageState.FAILED, MessageState.SKIPPED):
            return False
        self.s.outbox[m.id] = replace(
            m,
            state=MessageState.PENDING,
            tries=0,
            due_at=now,
            expires_at=None,
            claimed_until=None,
            last_error=None,
            delivery_status=None,
            delivery_error=None,
        )
        return True

    def record_delivery(
        self, transport: str, provider_id: str, status: str, error: str | None, now: datetime
    ) -> bool:
        for m in self.s.outbox.values():
            if m.provider_id == provider_id and m.transport == transport:
                if not delivery_moves(m.delivery_status, status):
                    return False
                self.s.outbox[m.id] = replace(m, delivery_status=status, delivery_error=error)
                return True
        return False

    def add_reminders(
        self,
        facility_id: int,
        *,
        day: date,
        booked_before: datetime,
        due_at: datetime,
        now: datetime,
    ) -> int:
        added = 0
        for a in sorted(self.s.appointments.values(), key=lambda a: a.id):
            if (
                a.facility_id != facility_id
                or a.day != day
                or a.status is not AppointmentStatus.BOOKED
                or a.created_at >= booked_before
                or f"reminder:{a.id}" in self.s.dedupe_keys
            ):
                continue
            self.add(
                OutboxDraft(
                    kind=MessageKind.REMINDER,
                    facility_id=facility_id,
                    due_at=due_at,
                    patient_id=a.patient_id,
                    appointment_id=a.id,
                    dedupe_key=f"reminder:{a.id}",
                ),
                now,
            )
            added += 1
        return added


class FakeMessageTexts(StorePart):
    def edited(self, facility_id: int) -> dict[tuple[MessageKind, str], MessageText]:
        return {
            (k, lang): t for (f, k, lang), t in self.s.message_texts.items() if f == facility_id
        }

    def save(self, facility_id: int, text: MessageText, by: int | None) -> None:
        self.s.message_texts[(facility_id, text.kind, text.lang)] = text

    def reset(self, facility_id: int, kind: MessageKind, lang: str) -> None:
        self.s.message_texts.pop((facility_id, kind, lang), None)


class FakeContacts(StorePart):
    def opted_out(self, facility_id: int, address: str) -> set[Medium]:
        return {m for f, m, a in self.s.optouts if f == facility_id and a == address}

    def opted_out_many(self, facility_id: int, addresses: list[str]) -> dict[str, set[Medium]]:
        return {a: self.opted_out(facility_id, a) for a in addresses}

    def conversations(
        self, facility_id: int, addresses: list[str]
    ) -> dict[str, tuple[datetime, str | None]]:
        found = ((a, self.conversation(facility_id, a)) for a in set(addresses))
        return {a: talk for a, talk in found if talk is not None}

    def set_opt_out(
        self, facility_id: int, medium: Medium, address: str, out: bool, now: datetime
    ) -> None:
        if out:
            self.s.optouts.add((facility_id, medium, address))
        else:
            self.s.optouts.discard((facility_id, medium, address))

    def conversation(self, facility_id: int, address: str) -> tuple[datetime, str | None] | None:
        return self.s.conversations.get((facility_id, address))

    def heard_from(self, facility_id: int, address: str, lang: str | None, now: datetime) -> None:
        before = self.s.conversations.get((facility_id, address))
        self.s.conversations[(facility_id, address)] = (
            now,
            lang or (before[1] if before else None),
        )

    def first_delivery(
        self, facility_id: int, transport: str, message_id: str, now: datetime
    ) -> bool:
        key = (transport, message_id[:200])
        if key in self.s.inbound:
            return False
        self.s.inbound.add(key)
        return True


class FakeJobs(StorePart):
    def take(self, name: str, now: datetime, next_due: datetime) -> bool:
        due = self.s.jobs.get(name)
        if due is not None and due > now:
            return False
        self.s.jobs[name] = next_due
        return True

    def due_at(self, name: str) -> datetime | None:
        return self.s.jobs.get(name)


__all__ = ["FakeContacts", "FakeJobs", "FakeMessageTexts", "FakeOutbox"]
