"""The in-memory store behind the fakes: plain dictionaries, copied per transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from antrean.domain.audit import AuditEntry
from antrean.domain.booking import Appointment, SlotHold
from antrean.domain.catalog import Clinic, Doctor, Facility, Service
from antrean.domain.devices import DeviceLink
from antrean.domain.eta import EwmaServiceTime
from antrean.domain.events import DomainEvent
from antrean.domain.identity import Throttle, User
from antrean.domain.notifications import Medium, Message, MessageKind, MessageText
from antrean.domain.patients import Patient
from antrean.domain.queue import Ticket
from antrean.domain.scheduling import Schedule, ScheduleException
from antrean.services.ports import (
    RefreshTokenRow,
    TwoFactorRow,
)


@dataclass
class SlotRow:
    id: int
    facility_id: int
    doctor_id: int
    clinic_id: int
    day: date
    start_at: datetime
    end_at: datetime
    capacity: int
    booked: int = 0
    active: bool = True


@dataclass
class Store:
    ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    facilities: dict[int, Facility] = field(default_factory=dict)
    clinics: dict[int, Clinic] = field(default_factory=dict)
    services: dict[int, Service] = field(default_factory=dict)
    doctors: dict[int, Doctor] = field(default_factory=dict)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    exceptions: dict[int, ScheduleException] = field(default_factory=dict)
    slots: dict[int, SlotRow] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    appointments: dict[int, Appointment] = field(default_factory=dict)
    holds: dict[int, SlotHold] = field(default_factory=dict)
    day_counts: dict[tuple[int, int, date], int] = field(default_factory=dict)
    conflicts: dict[int, tuple[int, int, str, datetime, datetime | None]] = field(
        default_factory=dict
    )
    users: dict[int, User] = field(default_factory=dict)
    refresh: dict[str, RefreshTokenRow] = field(default_factory=dict)
    sign_ins: dict[tuple[int, str], Throttle] = field(default_factory=dict)
    two_factors: dict[int, TwoFactorRow] = field(default_factory=dict)
    recovery_codes: dict[int, dict[str, datetime | None]] = field(default_factory=dict)
    external: dict[tuple[int, str, str], int] = field(default_factory=dict)
    idempotency: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    sequences: dict[tuple[int, str], int] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    service_points: dict[tuple[int, str], bool] = field(default_factory=dict)
    service_times: dict[int, EwmaServiceTime] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)
    devices: dict[int, tuple[DeviceLink, str]] = field(default_factory=dict)
    outbox: dict[int, Message] = field(default_factory=dict)
    dedupe_keys: dict[str, int] = field(default_factory=dict)
    message_texts: dict[tuple[int, MessageKind, str], MessageText] = field(default_factory=dict)
    optouts: set[tuple[int, Medium, str]] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)
    conversations: dict[tuple[int, str], tuple[datetime, str | None]] = field(default_factory=dict)
    inbound: set[tuple[str, str]] = field(default_factory=set)
    jobs: dict[str, datetime] = field(default_factory=dict)
    # The facility of rows whose domain type does not carry it (services, doctors, ...).
    owners: dict[tuple[str, int], int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def own(self, kind: str, row_id: int, facility_id: int) -> int:
        self.owners[(kind, row_id)] = facility_id
        return row_id

    def owned(self, kind: str, row_id: int, facility_id: int) -> bool:
        return self.owners.get((kind, row_id)) == facility_id


class StorePart:
    """A fake repository over the shared in-memory store."""

    def __init__(self, store: Store) -> None:
        self.s = store
