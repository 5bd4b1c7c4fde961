"""Statements run on the driver give what `Connection.execute` gives, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import bindparam, select

from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared, insert_returning_id
from antrean.services.ports import UniqueViolation
from antrean.testing.seed import open_all_week_clinic


def test_prepared_statements_convert_like_sqlalchemy_and_map_violations(container):
    c = container
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    hours = (
        select(t.clinic_hours.c.weekday, t.clinic_hours.c.opens_at, t.clinic.c.is_open)
        .join(t.clinic, t.clinic.c.id == t.clinic_hours.c.clinic_id)
        .where(t.clinic_hours.c.clinic_id == bindparam("clinic_id"))
        .order_by(t.clinic_hours.c.weekday)
    )
    insert_patient = insert_returning_id(
        t.patient, ["facility_id", "mrn", "mrn_index", "name", "birth_date", "sex", "created_at"]
    )
    patient = {
        "facility_id": 1,
        "mrn": "RM-1",
        "mrn_index": "index-of-RM-1",
        "name": "Siti",
        "birth_date": date(1990, 5, 17),
        "sex": "F",
        "created_at": datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
    }
    with c.db.engine.connect() as conn, conn.begin():
        expected = conn.execute(hours, {"clinic_id": clinic_id}).all()
        got = Prepared(hours).run(conn, {"clinic_id": clinic_id})
        assert [tuple(r) for r in got] == [tuple(r) for r in expected]
        assert isinstance(got[0][1], time) and got[0][2] is True
        new_id = insert_patient.scalar(conn, patient)
        stored = conn.execute(
            select(t.patient.c.birth_date, t.patient.c.created_at).where(t.patient.c.id == new_id)
        ).one()
        assert stored == (patient["birth_date"], patient["created_at"])
        with pytest.raises(UniqueViolation):
            insert_patient.scalar(conn, patient)  # same facility and MRN


def test_expanding_in_lists_are_refused(container):
    listed = Prepared(select(t.ticket.c.id).where(t.ticket.c.state.in_(["waiting", "called"])))
    with container.db.engine.connect() as conn, pytest.raises(ValueError):
        listed.run(conn)
