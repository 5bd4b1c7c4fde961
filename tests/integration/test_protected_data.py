"""Patient data at rest: what an attacker holding the database file (with its WAL) or a
PostgreSQL dump sees, search through blind indexes, and a plain database sealed by its
migration."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from antrean.bootstrap import build, keyring
from antrean.persistence import tables as t
from antrean.persistence.engine import create_database
from antrean.persistence.migrate import upgrade
from antrean.persistence.protect import MissingKeys, SealBroken
from tests.integration.conftest import FROZEN_AT, empty_pg_database, make_settings

PATIENT = {
    "name": "Wulandari Kusumawardhani",
    "birth_date": "1987-04-23",
    "phone": "0812-3456-7890",
    "address": "Jalan Cempaka Putih Raya 17",
    "nik": "3174056304870001",
    "bpjs_number": "0001234567891",
    "email": "wulandari.kusuma@example.id",
    "sex": "female",
}
# What must not be found anywhere in the stored bytes: each field as stored and as typed.
SECRETS = [
    "Wulandari",
    "Kusumawardhani",
    "wulandari",
    "1987-04-23",
    "+6281234567890",
    "81234567890",
    "Cempaka Putih",
    "3174056304870001",
    "0001234567891",
    "wulandari.kusuma@example.id",
    "Hamil trimester ketiga",  # a walk-in's priority reason
    "Alergi penisilin",  # a booking's note
    "Pindah ke luar kota",  # a cancellation's reason
]


def _monday_morning(api):
    api.container.clock.set(FROZEN_AT + timedelta(days=1))


def _fill(api, admin, clinic_setup) -> dict:
    """A patient with every personal field, a booking with a note, cancelled with a reason,
    a walk-in with a priority reason, a message queued, a staff account with two-step
    sign-in: every kind of protected value."""
    operator = api.staff("ops", "operator")
    r = api.client.post("/api/v1/patients", headers=operator, json=PATIENT)
    assert r.status_code == 201, r.text
    patient = r.json()
    slots = api.client.get(
        "/api/v1/slots", params={"date_from": "2026-11-23", "date_to": "2026-11-23"}
    ).json()
    slot = next(s for s in slots if s["available"] > 0)
    r = api.client.post(
        "/api/v1/appointments",
        headers=operator,
        json={"slot_id": slot["id"], "patient_id": patient["id"], "note": "Alergi penisilin"},
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = api.client.post(
        f"/api/v1/appointments/{code}/cancel",
        headers=operator,
        json={"reason": "Pindah ke luar kota"},
    )
    assert r.status_code == 200, r.text
    _monday_morning(api)  # a day on: new tokens
    operator = api.login("ops", "staff-password-1")
    admin = api.login("admin", "staff-password-1")
    r = api.client.post(
        "/api/v1/queue/walk-ins",
        headers=operator,
        json={
            "clinic_id": clinic_setup["clinic_id"],
            "name": PATIENT["name"],
            "birth_date": PATIENT["birth_date"],
            "mrn": patient["mrn"],
            "priority": "priority",
            "priority_reason": "Hamil trimester ketiga",
        },
    )
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/auth/me/two-factor", headers=admin)
    assert r.status_code in (200, 201), r.text
    return patient


def _stored_bytes(db_url: str, tmp_path: Path) -> bytes:
    """Every byte an attacker with the database gets: the SQLite file and its WAL, or a full
    PostgreSQL dump in plain SQL."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        found = path.read_bytes()
        wal = Path(f"{path}-wal")
        return found + (wal.read_bytes() if wal.exists() else b"")
    out = subprocess.run(
        ["pg_dump", "--no-owner", url.set(drivername="postgresql").render_as_string(False)],
        capture_output=True,
        check=True,
    )
    return out.stdout


def test_no_personal_field_is_readable_in_the_stored_database(
    api, admin, clinic_setup, db_url, tmp_path
):
    patient = _fill(api, admin, clinic_setup)
    stored = _stored_bytes(db_url, tmp_path)
    assert len(stored) > 10_000  # the data is there ...
    assert b"Poli Umum" in stored  # ... and what is not personal is plain (a control)
    leaked = [s for s in SECRETS if s.encode() in stored or s.lower().encode() in stored]
    assert leaked == []
    # ... while the API still gives everything back.
    operator = api.login("ops", "staff-password-1")
    r = api.client.get(f"/api/v1/patients/{patient['id']}", headers=operator)
    assert {k: r.json()[k] for k in ("name", "nik", "email", "address")} == {
        k: PATIENT[k] for k in ("name", "nik", "email", "address")
    }


def test_staff_find_patients_by_name_words_phone_and_mrn(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    made = {}
    for name, phone in (
        ("Budi Santoso", "081211112222"),
        ("Santoso Budiman", "081233334444"),
        ("Siti Nur'aini", "081255556666"),
    ):
        r = api.client.post(
            "/api/v1/patients",
            headers=operator,
            json={"name": name, "birth_date": "1980-01-01", "phone": phone},
        )
        assert r.status_code == 201, r.text
        made[name] = r.json()

    def names(**params) -> list[str]:
        r = api.client.get("/api/v1/patients", headers=operator, params=params)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]]

    assert names(name="budi") == ["Budi Santoso", "Santoso Budiman"]  # sorted by name
    assert names(name="san bud") == ["Budi Santoso", "Santoso Budiman"]  # words in any order
    assert names(name="sant budim") == ["Santoso Budiman"]
    assert names(name="SITI") == ["Siti Nur'aini"]
    assert names(name="nuraini") == ["Siti Nur'aini"]
    assert names(name="udi") == []  # a word is found by its beginning
    assert names(phone="0812-3333-4444") == ["Santoso Budiman"]
    assert names(mrn=made["Siti Nur'aini"]["mrn"]) == ["Siti Nur'aini"]
    r = api.client.get("/api/v1/patients", headers=operator, params={"name": "budi", "size": 1})
    assert r.json()["total"] == 2 and [p["name"] for p in r.json()["items"]] == ["Budi Santoso"]
    # A changed name is found by its new words only.
    budi = made["Budi Santoso"]
    r = api.client.patch(
        f"/api/v1/patients/{budi['id']}", headers=operator, json={"name": "Bambang Sutrisno"}
    )
    assert r.status_code == 200, r.text
    assert names(name="budi") == ["Santoso Budiman"]
    assert names(name="bamb sut") == ["Bambang Sutrisno"]


def test_a_value_altered_in_the_database_is_refused_not_served(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    r = api.client.post("/api/v1/patients", headers=operator, json=PATIENT)
    patient_id = r.json()["id"]
    engine = api.container.db.engine
    with engine.begin() as conn:
        # Another patient's sealed NIK moved into this one's name: it does not open there.
        sealed_nik = conn.execute(
            text("SELECT nik FROM patient WHERE id = :id"), {"id": patient_id}
        ).scalar_one()
        conn.execute(
            text("UPDATE patient SET name = :v WHERE id = :id"), {"v": sealed_nik, "id": patient_id}
        )
    with engine.connect() as conn, pytest.raises(SealBroken):
        conn.execute(select(t.patient.c.name).where(t.patient.c.id == patient_id)).scalar_one()
    r = api.client.get(f"/api/v1/patients/{patient_id}", headers=operator)
    assert r.status_code == 500 and "Kusumawardhani" not in r.text


# -- an existing plain database, sealed by its migration ------------------------------------


def _plain_database_at_0009(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO facility (id, code, name, time_zone, created_at) "
                "VALUES (1, 'DEMO', 'Klinik', 'Asia/Jakarta', '2026-11-01 00:00:00')"
            )
        )
        for n, (name, phone) in enumerate(
            [("Wulandari Kusumawardhani", "+6281234567890"), ("Budi Santoso", None)], start=1
        ):
            conn.execute(
                text(
                    "INSERT INTO patient (id, facility_id, mrn, name, name_search, birth_date, "
                    "sex, phone, nik, email, created_at) VALUES (:id, 1, :mrn, :name, :search, "
                    ":birth, 'unknown', :phone, :nik, :email, '2026-11-01 00:00:00')"
                ),
                {
                    "id": n,
                    "mrn": f"RM-{n:06d}",
                    "name": name,
                    "search": name.lower(),
                    "birth": date(1987, 4, 23),
                    "phone": phone,
                    "nik": "3174056304870001" if n == 1 else None,
                    "email": "Wulandari.Kusuma@example.id" if n == 1 else None,
                },
            )
        conn.execute(
            text(
                "INSERT INTO contact_optout (facility_id, medium, address, at) "
                "VALUES (1, 'sms', '+6281234567890', '2026-11-01 00:00:00')"
            )
        )
        # Rows that refer to the patient (the table is rebuilt under them on SQLite), an
        # event and a message.
        conn.execute(
            text(
                "INSERT INTO user_account (facility_id, username, full_name, password_hash, "
                "roles, patient_id, active, created_at) VALUES (1, 'wulan', "
                "'Wulandari Kusumawardhani', 'x', 'patient', 1, true, '2026-11-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO domain_event (facility_id, at, kind, patient_id, data) VALUES "
                "(1, '2026-11-01 00:00:00', 'appointment.booked', 1, "
                '\'{"reason": "Alergi penisilin"}\')'
            )
        )
        conn.execute(
            text(
                "INSERT INTO outbox_message (facility_id, kind, state, patient_id, order_key, "
                "address, data, due_at, created_at, updated_at, tries) VALUES (1, 'reminder', "
                "'sent', 1, 'p1', '+6281234567890', '{}', '2026-11-01 00:00:00', "
                "'2026-11-01 00:00:00', '2026-11-01 00:00:00', 1)"
            )
        )
    engine.dispose()


@pytest.fixture
def empty_url(db_url, tmp_path) -> Iterator[str]:
    """A database of the same kind with no tables at all, to migrate from scratch."""
    if make_url(db_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'plain.db'}"
    else:
        with empty_pg_database("antrean_plain") as url:
            yield url


def test_the_migration_seals_a_plain_database_in_place(empty_url, tmp_path):
    db_url = empty_url
    _plain_database_at_0009(db_url)
    settings = make_settings(db_url, tmp_path / "data")
    c = build(settings, migrate=True)
    try:
        with c.uow() as uow:
            found = uow.patients.get_by_mrn(1, "RM-000001")
            by_phone, _ = uow.patients.search(
                1, mrn=None, name=None, phone="+6281234567890", page=_page()
            )
            by_name, _ = uow.patients.search(1, mrn=None, name="kusuma", phone=None, page=_page())
            opted = uow.contacts.opted_out(1, "+6281234567890")
            account = uow.users.get_by_username("wulan")
        with c.db.engine.connect() as conn:
            data = conn.execute(select(t.domain_event.c.data)).scalar_one()
            address = conn.execute(select(t.outbox_message.c.address)).scalar_one()
        assert found is not None and found.name == "Wulandari Kusumawardhani"
        assert found.birth_date == date(1987, 4, 23) and found.nik == "3174056304870001"
        assert [p.id for p in by_phone] == [1] and [p.id for p in by_name] == [1]
        assert [m.value for m in opted] == ["sms"]
        assert account is not None and account.full_name == "Wulandari Kusumawardhani"
        assert account.patient_id == 1
        assert data == '{"reason": "Alergi penisilin"}' and address == "+6281234567890"
    finally:
        c.close()
    stored = _stored_bytes(db_url, tmp_path)
    assert b"Kusumawardhani" not in stored and b"3174056304870001" not in stored
    assert b"+6281234567890" not in stored and b"1987-04-23" not in stored
    assert b"Alergi" not in stored


def test_the_migration_refuses_plain_data_without_keys(empty_url, tmp_path):
    db_url = empty_url
    _plain_database_at_0009(db_url)
    bare = create_engine(db_url)
    with pytest.raises(MissingKeys, match="no data keys"):
        upgrade(bare)
    bare.dispose()
    # Nothing was half done: with the keys, the same upgrade then works.
    db = create_database(db_url, keyring=keyring(make_settings(db_url, tmp_path / "data")))
    upgrade(db.engine)
    with db.engine.connect() as conn:
        names = conn.execute(select(t.patient.c.name).order_by(t.patient.c.id)).scalars().all()
    assert names == ["Wulandari Kusumawardhani", "Budi Santoso"]
    db.dispose()


def _page():
    from antrean.domain.common import Page

    return Page(1, 10)
