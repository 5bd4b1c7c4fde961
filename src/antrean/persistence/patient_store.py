"""SQL storage of patient records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, func, select, update

from antrean.domain.common import Page
from antrean.domain.patients import Patient, Sex
from antrean.persistence import tables as t
from antrean.persistence.prepared import insert_returning_id
from antrean.persistence.rows import Repository, like_pattern, search_key

_PATIENT_COLUMNS = (
    "facility_id",
    "mrn",
    "name",
    "name_search",
    "birth_date",
    "sex",
    "phone",
    "address",
    "nik",
    "bpjs_number",
    "created_at",
    "email",
    "language",
)
_INSERT_PATIENT = insert_returning_id(t.patient, _PATIENT_COLUMNS)


class SqlPatients(Repository):
    def add(self, patient: Patient) -> int:
        return int(_INSERT_PATIENT.scalar(self.conn, _patient_values(patient)))

    def get(self, facility_id: int, patient_id: int) -> Patient | None:
        row = self.conn.execute(
            select(t.patient).where(
                t.patient.c.facility_id == facility_id, t.patient.c.id == patient_id
            )
        ).first()
        return _patient(row) if row else None

    def get_many(self, facility_id: int, patient_ids: list[int]) -> dict[int, Patient]:
        if not patient_ids:
            return {}
        p = t.patient
        rows = self.conn.execute(
            select(p).where(p.c.facility_id == facility_id, p.c.id.in_(sorted(set(patient_ids))))
        )
        return {row.id: _patient(row) for row in rows}

    def get_by_mrn(self, facility_id: int, mrn: str) -> Patient | None:
        row = self.conn.execute(
            select(t.patient).where(t.patient.c.facility_id == facility_id, t.patient.c.mrn == mrn)
        ).first()
        return _patient(row) if row else None

    def save(self, patient: Patient) -> None:
        values = _patient_values(patient)
        for fixed in ("facility_id", "mrn", "created_at"):
            del values[fixed]
        self.conn.execute(
            update(t.patient)
            .where(t.patient.c.facility_id == patient.facility_id, t.patient.c.id == patient.id)
            .values(**values)
        )

    def search(
        self, facility_id: int, *, mrn: str | None, name: str | None, phone: str | None, page: Page
    ) -> tuple[list[Patient], int]:
        p = t.patient
        conditions = [p.c.facility_id == facility_id]
        if mrn:
            conditions.append(p.c.mrn == mrn)
        if name:
            conditions.append(p.c.name_search.like(like_pattern(search_key(name)), escape="\\"))
        if phone:
            conditions.append(p.c.phone == phone)
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(p).where(where)).scalar_one()
        rows = self.conn.execute(
            select(p)
            .where(where)
            .order_by(p.c.name_search, p.c.id)
            .limit(page.size)
            .offset(page.offset)
        )
        return [_patient(r) for r in rows], int(total)


def _patient_values(p: Patient) -> dict[str, Any]:
    return {
        "facility_id": p.facility_id,
        "mrn": p.mrn,
        "name": p.name,
        "name_search": search_key(p.name),
        "birth_date": p.birth_date,
        "sex": p.sex.value,
        "phone": p.phone,
        "address": p.address,
        "nik": p.nik,
        "bpjs_number": p.bpjs_number,
        "created_at": p.created_at,
        "email": p.email,
        "language": p.language,
    }


def _patient(row: Row[Any]) -> Patient:
    return Patient(
        id=row.id,
        facility_id=row.facility_id,
        mrn=row.mrn,
        name=row.name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        phone=row.phone,
        address=row.address,
        nik=row.nik,
        bpjs_number=row.bpjs_number,
        created_at=row.created_at,
        email=row.email,
        language=row.language,
    )
