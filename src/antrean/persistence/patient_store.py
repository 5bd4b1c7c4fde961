"""SQL storage of patient records.

The personal fields are sealed by their column types (`persistence.protect`); this store keeps
the blind indexes beside them: one per exact look-up (MRN, phone, NIK, BPJS number, e-mail)
and, in `patient_name_token`, one per beginning of each word of the name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, delete, func, select, update
from sqlalchemy.sql.elements import ColumnElement

from antrean.domain.common import Page
from antrean.domain.patients import Patient, Sex, name_words
from antrean.persistence import tables as t
from antrean.persistence.prepared import insert_returning_id, insert_rows
from antrean.persistence.protect import Keyring, keyring_of
from antrean.persistence.rows import Repository

_PATIENT_COLUMNS = (
    "facility_id",
    "mrn",
    "name",
    "birth_date",
    "sex",
    "phone",
    "address",
    "nik",
    "bpjs_number",
    "created_at",
    "email",
    "language",
    "mrn_index",
    "phone_index",
    "nik_index",
    "bpjs_index",
    "email_index",
)
_INSERT_PATIENT = insert_returning_id(t.patient, _PATIENT_COLUMNS)
_INSERT_TOKENS = insert_rows(t.patient_name_token, ("facility_id", "token", "patient_id"))
# Matches beyond this many are listed in record order instead of by name: sorting by name
# means opening every match's name.
SORT_BY_NAME_LIMIT = 2000


class SqlPatients(Repository):
    @property
    def _keys(self) -> Keyring:
        return keyring_of(self.conn)

    def add(self, patient: Patient) -> int:
        keys = self._keys
        patient_id = int(_INSERT_PATIENT.scalar(self.conn, _patient_values(keys, patient)))
        self._index_name(keys, patient.facility_id, patient_id, patient.name)
        return patient_id

    def _index_name(self, keys: Keyring, facility_id: int, patient_id: int, name: str) -> None:
        tokens = keys.name_tokens(name)
        _INSERT_TOKENS.run_many(
            self.conn,
            [
                {"facility_id": facility_id, "token": token, "patient_id": patient_id}
                for token in sorted(tokens)
            ],
        )

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
        p = t.patient
        row = self.conn.execute(
            select(p).where(
                p.c.facility_id == facility_id, p.c.mrn_index == self._keys.blind("mrn", mrn)
            )
        ).first()
        return _patient(row) if row else None

    def save(self, patient: Patient) -> None:
        keys = self._keys
        values = _patient_values(keys, patient)
        for fixed in ("facility_id", "mrn", "mrn_index", "created_at"):
            del values[fixed]
        p, n = t.patient, t.patient_name_token
        self.conn.execute(
            update(p)
            .where(p.c.facility_id == patient.facility_id, p.c.id == patient.id)
            .values(**values)
        )
        self.conn.execute(delete(n).where(n.c.patient_id == patient.id))
        self._index_name(keys, patient.facility_id, patient.id, patient.name)

    def search(
        self,
        facility_id: int,
        *,
        mrn: str | None,
        name: str | None,
        phone: str | None,
        page: Page,
        nik: str | None = None,
    ) -> tuple[list[Patient], int]:
        p = t.patient
        keys = self._keys
        conditions: list[ColumnElement[bool]] = [p.c.facility_id == facility_id]
        if mrn:
            conditions.append(p.c.mrn_index == keys.blind("mrn", mrn))
        if name:
            conditions.append(named(keys, facility_id, name))
        if phone:
            conditions.append(p.c.phone_index == keys.blind("phone", phone))
        if nik:
            conditions.append(p.c.nik_index == keys.blind("nik", nik))
        where = and_(*conditions)
        total = int(
            self.conn.execute(select(func.count()).select_from(p).where(where)).scalar_one()
        )
        if total > SORT_BY_NAME_LIMIT:
            rows = self.conn.execute(
                select(p).where(where).order_by(p.c.id).limit(page.size).offset(page.offset)
            )
            return [_patient(r) for r in rows], total
        # By name: the names are sealed, so they are opened and sorted here.
        found = sorted(
            (
                (name_words(r.name), r.id)
                for r in self.conn.execute(select(p.c.id, p.c.name).where(where))
            ),
        )
        ids = [patient_id for _, patient_id in found[page.offset : page.offset + page.size]]
        by_id = self.get_many(facility_id, ids)
        return [by_id[i] for i in ids if i in by_id], total


def named(keys: Keyring, facility_id: int, query: str) -> ColumnElement[bool]:
    """Patients whose name has a word beginning with each word of the query."""
    tokens = keys.query_tokens(query)
    n = t.patient_name_token
    if not tokens:
        return t.patient.c.id.is_(None)  # nothing to look for: no patient
    having = (
        select(n.c.patient_id)
        .where(n.c.facility_id == facility_id, n.c.token.in_(tokens))
        .group_by(n.c.patient_id)
        .having(func.count() == len(tokens))
    )
    return t.patient.c.id.in_(having)


def _blind(keys: Keyring, purpose: str, value: str | None) -> str | None:
    return keys.blind(purpose, value) if value else None


def _patient_values(keys: Keyring, p: Patient) -> dict[str, Any]:
    return {
        "facility_id": p.facility_id,
        "mrn": p.mrn,
        "name": p.name,
        "birth_date": p.birth_date,
        "sex": p.sex.value,
        "phone": p.phone,
        "address": p.address,
        "nik": p.nik,
        "bpjs_number": p.bpjs_number,
        "created_at": p.created_at,
        "email": p.email,
        "language": p.language,
        "mrn_index": keys.blind("mrn", p.mrn),
        "phone_index": _blind(keys, "phone", p.phone),
        "nik_index": _blind(keys, "nik", p.nik),
        "bpjs_index": _blind(keys, "bpjs", p.bpjs_number),
        "email_index": _blind(keys, "email", p.email.lower() if p.email else None),
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
