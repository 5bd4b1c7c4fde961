"""Pydantic models at the API edge for the queue and its displays."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from antrean.adapters.rest.schemas import Out, Strict
from antrean.domain.fields import MAX_ID
from antrean.domain.patients import Sex

# --- queue ---------------------------------------------------------------------------------


class WalkInIn(Strict):
    clinic_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    mrn: str | None = Field(default=None, max_length=32, description="Matched when known")
    sex: Sex = Sex.UNKNOWN
    priority: Literal["normal", "priority", "emergency"] = "normal"
    priority_reason: str = Field(default="", max_length=200)


class TicketStatusOut(BaseModel):
    ticket: str = Field(description="The number called out and shown, e.g. A-007")
    clinic_id: int = Field(ge=1, le=MAX_ID)
    clinic_name: str
    state: str
    people_ahead: int
    estimated_call_at: datetime
    estimated_call_earliest: datetime
    estimated_call_latest: datetime
    status_code: str = Field(description="Open /api/v1/queue/status/{status_code} to follow it")


class CallNextIn(Strict):
    counter: str = Field(min_length=1, max_length=32, description="Counter or room, e.g. Loket 1")


class TransferIn(Strict):
    clinic_id: int = Field(ge=1, le=MAX_ID)


class OperatorTicketOut(Out):
    id: int
    label: str
    clinic_id: int = Field(ge=1, le=MAX_ID)
    state: str
    counter: str | None
    recalls: int
    patient_id: int


class CounterIn(Strict):
    name: str = Field(min_length=1, max_length=32, description="e.g. Loket 1, Ruang 2")


class CalledOut(BaseModel):
    ticket: str
    counter: str | None
    state: str


class BoardOut(BaseModel):
    """What a waiting-room display shows: numbers and counters, no names."""

    clinic_id: int
    clinic_name: str
    day: date
    calling: list[CalledOut] = Field(description="Called or being served, latest first")
    waiting: int
    next_up: list[str] = Field(description="The next numbers, in the order they will be called")
    last_event_id: int = Field(description="Go on from here with the clinic's event stream")


class StaffTicketOut(BaseModel):
    """A ticket as staff see it: with the patient, the wait and the place in line."""

    id: int
    label: str
    state: str
    priority: int
    priority_reason: str
    source: str
    counter: str | None
    recalls: int
    patient_id: int
    patient_name: str
    mrn: str
    issued_at: datetime
    waited_minutes: int | None = Field(
        description="From issue to the first call, or to now while waiting; null for a ticket "
        "that left the line without being called"
    )
    position: int | None = Field(description="Place in line (1 = next) while waiting")
