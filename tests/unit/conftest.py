from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from antrean.domain.booking import BookingPolicy
from antrean.domain.catalog import ClinicDraft, DoctorDraft, OpeningHours
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import PatientDraft, Sex
from antrean.domain.scheduling import Schedule
from antrean.integrations.phones import PhonenumbersParser
from antrean.services import catalog, patients, scheduling
from antrean.testing import FakeUnitOfWork, FrozenClock

JKT = ZoneInfo("Asia/Jakarta")
# Sunday 22 November 2026, 08:00 in Jakarta.
START = datetime(2026, 11, 22, 8, 0, tzinfo=JKT)
PHONES = PhonenumbersParser()
ANYONE = Actor.anonymous(1)


@dataclass
class World:
    uow: FakeUnitOfWork
    clock: FrozenClock
    policy: BookingPolicy
    admin: Actor
    clinic_id: int
    doctor_id: int
    patient_ids: list[int]

    def slots(self, day: date, **kw):
        return scheduling.search_slots(
            self.uow, actor=ANYONE, policy=self.policy, date_from=day, date_to=day, **kw
        )

    def patient_actor(self, index: int = 0) -> Actor:
        return Actor(
            user_id=100 + index,
            facility_id=1,
            roles=frozenset({Role.PATIENT}),
            patient_id=self.patient_ids[index],
        )


@pytest.fixture
def world() -> World:
    clock = FrozenClock(START)
    uow = FakeUnitOfWork(clock)
    policy = BookingPolicy(time_zone=JKT, horizon_days=30, cutoff_minutes=60)
    admin = Actor(user_id=1, facility_id=1, roles=frozenset({Role.ADMIN}))
    clinic = catalog.create_clinic(
        uow,
        actor=admin,
        policy=policy,
        draft=ClinicDraft(
            code="umum",
            name="Poli Umum",
            queue_prefix="a",
            hours=tuple(OpeningHours(d, time(7), time(16)) for d in range(6)),
        ),
    )
    doctor = catalog.create_doctor(
        uow, actor=admin, draft=DoctorDraft(name="dr. Andi", specialty="Umum")
    )
    for weekday in range(5):
        scheduling.save_schedule(
            uow,
            actor=admin,
            policy=policy,
            schedule=Schedule(0, doctor.id, clinic.id, weekday, time(8), time(12), 30, 2),
        )
    patient_ids = [
        patients.register_patient(
            uow,
            actor=admin,
            policy=policy,
            phones=PHONES,
            draft=PatientDraft(
                name=f"Pasien {n}",
                birth_date=date(1990, 1, n + 1),
                sex=Sex.FEMALE,
            ),
        ).id
        for n in range(4)
    ]
    return World(uow, clock, policy, admin, clinic.id, doctor.id, patient_ids)
