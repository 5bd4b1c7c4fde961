"""The audit log: written with each change and after each read of patient data, searched by
admins, shown to the patient it is about, and checked link by link when tampered with."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.integration.conftest import SECRET

PATIENT = {"name": "Wulandari Kusumawardhani", "birth_date": "1987-04-23", "phone": "081234567890"}


def _book(api, headers, clinic_setup, patient_id, **extra_headers):
    slots = api.client.get(
        "/api/v1/slots", params={"date_from": "2026-11-23", "date_to": "2026-11-23"}
    ).json()
    slot = next(s for s in slots if s["available"] > 0)
    return api.client.post(
        "/api/v1/appointments",
        headers={**headers, **extra_headers},
        json={"slot_id": slot["id"], "patient_id": patient_id},
    )


def _entries(api, admin, **params) -> list[dict]:
    r = api.client.get("/api/v1/audit", headers=admin, params={"size": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_change_a_read_and_who_made_them_are_recorded(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    patient = api.client.post("/api/v1/patients", headers=operator, json=PATIENT).json()
    r = _book(api, operator, clinic_setup, patient["id"], **{"X-Request-ID": "req-42"})
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "req-42"
    booked = _entries(api, admin, action="book_appointment")
    assert len(booked) == 1
    entry = booked[0]
    assert entry["record_type"] == "appointment" and entry["record_id"] == str(r.json()["id"])
    assert entry["patient_id"] == patient["id"]
    assert entry["actor"] == "user" and entry["actor_name"] == "Ops"
    assert entry["roles"] == ["operator"]
    assert entry["client_address"] == "127.0.0.1" and entry["request_id"] == "req-42"
    # A read of the record is recorded too, with a request id of its own.
    r = api.client.get(f"/api/v1/patients/{patient['id']}", headers=operator)
    assert r.status_code == 200
    read = _entries(api, admin, action="get_patient")
    assert [(e["record_type"], e["patient_id"]) for e in read] == [("patient", patient["id"])]
    assert read[0]["request_id"] == r.headers["x-request-id"] != "req-42"
    # Searching shows records: each one shown is recorded.
    api.client.get("/api/v1/patients", headers=operator, params={"name": "wulan"})
    assert [e["patient_id"] for e in _entries(api, admin, action="search_patients")] == [
        patient["id"]
    ]


def test_a_refused_or_failed_change_records_nothing(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    patient = api.client.post("/api/v1/patients", headers=operator, json=PATIENT).json()
    before = len(_entries(api, admin))
    r = api.client.post(
        "/api/v1/appointments", headers=operator, json={"slot_id": 999999, "patient_id": 1}
    )
    assert r.status_code == 404
    r = api.client.get(f"/api/v1/patients/{patient['id'] + 1000}", headers=operator)
    assert r.status_code == 404
    assert len(_entries(api, admin)) == before


def test_a_patient_sees_who_opened_their_record_but_not_themselves(api, admin, clinic_setup):
    r = api.client.post(
        "/api/v1/auth/register",
        json={"username": "wulan", "password": "patient-password-1", **PATIENT},
    )
    assert r.status_code == 201, r.text
    patient_id = r.json()["patient_id"]
    me = api.login("wulan", "patient-password-1")
    api.client.get("/api/v1/patients/me", headers=me)  # their own look: not shown to them
    doctor = api.staff("dokter", "doctor")
    api.client.get(f"/api/v1/patients/{patient_id}", headers=doctor)
    r = api.client.get("/api/v1/patients/me/access-log", headers=me)
    assert r.status_code == 200, r.text
    seen = r.json()["items"]
    assert [(e["who"], e["roles"], e["action"], e["record_type"]) for e in seen] == [
        ("Dokter", ["doctor"], "get_patient", "patient")
    ]
    assert "client_address" not in seen[0]  # staff addresses are not a patient's business
    # Staff have no access log of their own here; nor do they see the whole log.
    assert api.client.get("/api/v1/patients/me/access-log", headers=doctor).status_code == 403
    assert api.client.get("/api/v1/audit", headers=doctor).status_code == 403


def test_bad_audit_searches_are_problems_not_errors(api, admin):
    for params in (
        {"action": "DROP TABLE"},
        {"since": "2026-11-26T08:00:00"},  # no offset: which 08:00?
        {"patient_id": 0},
        {"since": "2026-11-26T08:00:00+07:00", "until": "2026-11-26T07:00:00+07:00"},
    ):
        r = api.client.get("/api/v1/audit", headers=admin, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


# -- tampering ---------------------------------------------------------------------------


def _activity(api, clinic_setup) -> None:
    operator = api.staff("ops", "operator")
    for n in range(6):
        p = api.client.post(
            "/api/v1/patients", headers=operator, json={**PATIENT, "name": f"Pasien {n}"}
        ).json()
        api.client.get(f"/api/v1/patients/{p['id']}", headers=operator)


def _verify(api, admin) -> dict:
    r = api.client.get("/api/v1/audit/verify", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


def _as_owner(api, sql: str, **params) -> None:
    """What someone with the database's owner rights can do: the append-only guard is
    switched off first."""
    engine = api.container.db.engine
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if pg:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entry_no_delete"))
        conn.execute(text(sql), params)
        if pg:
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))


def _middle(api) -> tuple[int, int, int]:
    """An entry with another after it in its chain: its id, chain and position."""
    with api.container.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.id, a.chain, a.seq FROM audit_entry a WHERE EXISTS (SELECT 1 FROM "
                "audit_entry b WHERE b.chain = a.chain AND b.seq = a.seq + 1) "
                "ORDER BY a.seq DESC, a.id LIMIT 1"
            )
        ).one()
    return row.id, row.chain, row.seq


def test_the_log_is_append_only(api, admin, clinic_setup):
    _activity(api, clinic_setup)
    entry_id, _, _ = _middle(api)
    with api.container.db.engine.connect() as conn:
        for sql in (
            "UPDATE audit_entry SET action = 'nothing' WHERE id = :id",
            "DELETE FROM audit_entry WHERE id = :id",
        ):
            with pytest.raises(Exception, match="append-only"), conn.begin():
                conn.execute(text(sql), {"id": entry_id})
    assert _verify(api, admin)["intact"] is True


def test_an_altered_entry_is_named(api, admin, clinic_setup):
    _activity(api, clinic_setup)
    assert _verify(api, admin)["intact"] is True
    entry_id, chain, seq = _middle(api)
    _as_owner(api, "UPDATE audit_entry SET actor_user_id = 99 WHERE id = :id", id=entry_id)
    result = _verify(api, admin)
    broken = [c for c in result["chains"] if not c["intact"]]
    assert result["intact"] is False and len(broken) == 1
    assert broken[0]["problem_kind"] == "altered" and broken[0]["problem_entry_id"] == entry_id
    assert f"entry {entry_id} (position {seq} of chain {chain}) was altered" == broken[0]["problem"]


def test_a_removed_entry_is_named(api, admin, clinic_setup):
    _activity(api, clinic_setup)
    entry_id, chain, seq = _middle(api)
    _as_owner(api, "DELETE FROM audit_entry WHERE id = :id", id=entry_id)
    broken = next(c for c in _verify(api, admin)["chains"] if not c["intact"])
    assert broken["problem_kind"] == "removed"
    assert f"position {seq} of chain {chain} was removed" in broken["problem"]


def test_the_last_entries_removed_are_found_by_the_head(api, admin, clinic_setup):
    _activity(api, clinic_setup)
    with api.container.db.engine.connect() as conn:
        chain, last = conn.execute(
            text("SELECT chain, max(seq) FROM audit_entry GROUP BY chain ORDER BY 2 DESC LIMIT 1")
        ).one()
    assert last >= 3
    _as_owner(api, "DELETE FROM audit_entry WHERE chain = :c AND seq >= :s", c=chain, s=last - 1)
    broken = next(c for c in _verify(api, admin)["chains"] if not c["intact"])
    assert broken["problem_kind"] == "removed"
    assert f"positions {last - 1} to {last}" in broken["problem"]


def test_an_inserted_entry_is_named(api, admin, clinic_setup):
    _activity(api, clinic_setup)
    with api.container.db.engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM audit_entry ORDER BY seq DESC LIMIT 1"))
            .mappings()
            .one()
        )
    forged = {k: v for k, v in row.items() if k != "id"} | {
        "seq": row["seq"] + 1,
        "action": "get_patient",
        "hash": "0" * 64,
    }
    names = ", ".join(forged)
    _as_owner(
        api,
        f"INSERT INTO audit_entry ({names}) VALUES ({', '.join(':' + k for k in forged)})",
        **forged,
    )
    broken = next(c for c in _verify(api, admin)["chains"] if not c["intact"])
    assert broken["problem_kind"] == "inserted"
    assert "added outside the log" in broken["problem"]


def test_an_entry_slipped_in_at_a_taken_position_is_named(api, admin, clinic_setup, db_url):
    _activity(api, clinic_setup)
    entry_id, _chain, seq = _middle(api)
    if make_url(db_url).get_backend_name() == "sqlite":
        # SQLite cannot drop a table's own unique constraint: the taken position is refused.
        with api.container.db.engine.connect() as conn:
            row = (
                conn.execute(text("SELECT * FROM audit_entry WHERE id = :id"), {"id": entry_id})
                .mappings()
                .one()
            )
        forged = {k: v for k, v in row.items() if k != "id"}
        with pytest.raises(Exception, match="UNIQUE"):
            _as_owner(
                api,
                f"INSERT INTO audit_entry ({', '.join(forged)}) "
                f"VALUES ({', '.join(':' + k for k in forged)})",
                **forged,
            )
        return
    with api.container.db.engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE audit_entry DROP CONSTRAINT uq_audit_entry_facility_id_chain_seq")
        )
    with api.container.db.engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM audit_entry WHERE id = :id"), {"id": entry_id})
            .mappings()
            .one()
        )
    forged = {k: v for k, v in row.items() if k != "id"} | {"record_id": "999"}
    try:
        _as_owner(
            api,
            f"INSERT INTO audit_entry ({', '.join(forged)}) "
            f"VALUES ({', '.join(':' + k for k in forged)})",
            **forged,
        )
        broken = next(c for c in _verify(api, admin)["chains"] if not c["intact"])
        assert broken["problem_kind"] == "inserted"
        assert f"repeats position {seq}" in broken["problem"]
    finally:  # the database is shared by the tests that follow: put it back as it was
        _as_owner(api, "DELETE FROM audit_entry WHERE record_id = '999'")
        with api.container.db.engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE audit_entry ADD CONSTRAINT uq_audit_entry_facility_id_chain_seq "
                    "UNIQUE (facility_id, chain, seq)"
                )
            )


def test_the_command_line_names_the_break_and_fails(api, admin, clinic_setup, tmp_path):
    _activity(api, clinic_setup)
    c = api.container
    env = {
        **os.environ,
        "ANTREAN_DATABASE_URL": c.db.engine.url.render_as_string(hide_password=False),
        "ANTREAN_DATA_DIR": str(c.settings.data_dir),
        "ANTREAN_ENVIRONMENT": "test",
        "ANTREAN_SECRET_KEY": SECRET,
    }
    cmd = [sys.executable, "-m", "antrean", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Every chain holds." in ok.stdout and "intact" in ok.stdout
    entry_id, _, _ = _middle(api)
    _as_owner(api, "UPDATE audit_entry SET request_id = 'x' WHERE id = :id", id=entry_id)
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert f"entry {entry_id}" in bad.stdout and "was altered" in bad.stdout
