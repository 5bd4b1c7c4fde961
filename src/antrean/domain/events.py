"""Domain events: every change a patient, a display or another system cares about, as one
general type. Services publish them through the unit of work, which stores each in the same
transaction as the change and hands it to subscribers once that transaction commits. Live
displays, phones, the notification outbox and FHIR subscriptions all start from here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Scalar = str | int | float | bool | None


class EventKind(StrEnum):
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
    APPOINTMENT_CHECKED_IN = "appointment.checked_in"
    APPOINTMENT_NO_SHOW = "appointment.no_show"
    SLOT_CONFLICT = "appointment.slot_conflict"
    CONFLICT_RESOLVED = "appointment.conflict_resolved"
    TICKET_ISSUED = "ticket.issued"
    TICKET_CALLED = "ticket.called"
    TICKET_RECALLED = "ticket.recalled"
    TICKET_STARTED = "ticket.started"
    TICKET_FINISHED = "ticket.finished"
    TICKET_SKIPPED = "ticket.skipped"
    TICKET_REQUEUED = "ticket.requeued"
    TICKET_CANCELLED = "ticket.cancelled"
    TICKET_TRANSFERRED = "ticket.transferred"
    TICKET_NO_SHOW = "ticket.no_show"
    TICKET_UNDONE = "ticket.undone"

    @property
    def is_queue(self) -> bool:
        return self.value.startswith("ticket.")


# The timeline action of a ticket change, and the event kind it is announced as.
QUEUE_KINDS: dict[str, EventKind] = {
    "issue": EventKind.TICKET_ISSUED,
    "check_in": EventKind.TICKET_ISSUED,
    "transfer_in": EventKind.TICKET_ISSUED,
    "call": EventKind.TICKET_CALLED,
    "recall": EventKind.TICKET_RECALLED,
    "start": EventKind.TICKET_STARTED,
    "finish": EventKind.TICKET_FINISHED,
    "skip": EventKind.TICKET_SKIPPED,
    "requeue": EventKind.TICKET_REQUEUED,
    "cancel": EventKind.TICKET_CANCELLED,
    "transfer": EventKind.TICKET_TRANSFERRED,
    "undo": EventKind.TICKET_UNDONE,
}


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Ids of what changed and the few facts a subscriber needs (a ticket's label and state, an
    appointment's day and time), never names or other personal data. `id` is given when the
    event is stored: one global order, and the id live streams resume from."""

    kind: EventKind
    facility_id: int
    at: datetime
    clinic_id: int | None = None
    ticket_id: int | None = None
    appointment_id: int | None = None
    patient_id: int | None = None
    actor_user_id: int | None = None
    data: Mapping[str, Scalar] = field(default_factory=dict)
    id: int = 0

    def stored_as(self, event_id: int) -> DomainEvent:
        # Spelled out rather than `dataclasses.replace`: this runs on every change.
        return DomainEvent(
            self.kind,
            self.facility_id,
            self.at,
            self.clinic_id,
            self.ticket_id,
            self.appointment_id,
            self.patient_id,
            self.actor_user_id,
            self.data,
            event_id,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "kind": self.kind.value,
                "facility_id": self.facility_id,
                "at": self.at.isoformat(),
                "clinic_id": self.clinic_id,
                "ticket_id": self.ticket_id,
                "appointment_id": self.appointment_id,
                "patient_id": self.patient_id,
                "actor_user_id": self.actor_user_id,
                "data": dict(self.data),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> DomainEvent:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            id=int(raw["id"]),
            kind=EventKind(raw["kind"]),
            facility_id=int(raw["facility_id"]),
            at=datetime.fromisoformat(raw["at"]),
            clinic_id=raw.get("clinic_id"),
            ticket_id=raw.get("ticket_id"),
            appointment_id=raw.get("appointment_id"),
            patient_id=raw.get("patient_id"),
            actor_user_id=raw.get("actor_user_id"),
            data=dict(raw.get("data") or {}),
        )

    @property
    def status_code(self) -> str | None:
        """The ticket's public status code, for its own live stream."""
        value = self.data.get("status_code")
        return str(value) if value is not None else None

    def public(self) -> dict[str, Scalar]:
        """What a display board or a patient's phone is sent about a ticket: no personal data,
        nor the ticket's status code."""
        return {
            "event": self.kind.value,
            "ticket": self.data.get("label"),
            "clinic_id": self.clinic_id,
            "state": self.data.get("state"),
            "action": self.data.get("action"),
            "counter": self.data.get("counter"),
        }
