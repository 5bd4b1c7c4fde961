"""Seed data for tests and benchmarks, made through the same services the API uses."""

from __future__ import annotations

from datetime import time

from antrean.bootstrap import Container
from antrean.domain.catalog import ClinicDraft, DoctorDraft, OpeningHours
from antrean.domain.identity import Actor
from antrean.domain.scheduling import Schedule
from antrean.services import catalog, scheduling

ADMIN = Actor.system(facility_id=1)


def open_all_week_clinic(
    c: Container,
    *,
    doctors: int,
    start: time,
    end: time,
    slot_minutes: int,
    capacity: int,
) -> tuple[int, list[int]]:
    """One clinic open around the clock every day, with doctors working every day from `start`
    to `end`. Returns the clinic id and the doctor ids; slots exist over the booking horizon."""
    clinic = catalog.create_clinic(
        c.uow(),
        actor=ADMIN,
        policy=c.policy,
        draft=ClinicDraft(
            code="UMUM",
            name="Poli Umum",
            queue_prefix="A",
            hours=tuple(OpeningHours(d, time.min, time.max) for d in range(7)),
        ),
    )
    doctor_ids = []
    for n in range(doctors):
        doctor = catalog.create_doctor(c.uow(), actor=ADMIN, draft=DoctorDraft(f"dr. Uji {n + 1}"))
        doctor_ids.append(doctor.id)
        for weekday in range(7):
            scheduling.save_schedule(
                c.uow(),
                actor=ADMIN,
                policy=c.policy,
                schedule=Schedule(
                    0, doctor.id, clinic.id, weekday, start, end, slot_minutes, capacity
                ),
            )
    return clinic.id, doctor_ids
