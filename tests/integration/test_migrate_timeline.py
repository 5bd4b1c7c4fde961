"""Upgrading a database that has queue history: the ticket timeline becomes domain events with
the same ids (a display's Last-Event-ID stays valid), and undo and service times still work.
Downgrading gives the timeline back. On SQLite and PostgreSQL. (Sealing the data, 0010, and
what follows are tested in test_protected_data.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url

from antrean.persistence import tables as t
from antrean.persistence.migrate import upgrade
from antrean.persistence.protect import Keyring, attach, new_key_list, parse_keys
from antrean.persistence.ticket_store import SqlTickets

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@contextmanager
def _fresh_at_0004(db_url: str) -> Iterator[Engine]:
    """An empty database of the same kind, migrated to revision 0004 only."""
    if db_url.startswith("sqlite"):
        path = Path(make_url(db_url).database).with_name("at_0004.db")
        engine = create_engine(f"sqlite:///{path}")
        upgrade(engine, "0004")
        yield engine
        engine.dispose()
        return
    name = f"antrean_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(db_url).set(database=name))
    try:
        upgrade(engine, "0004")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _row(conn, table: str, **values) -> None:
    """A row written as the schema of revision 0004 has it (no table objects of today)."""
    names = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({params})"), values)


def _history(conn) -> int:
    at = AT.replace(tzinfo=None)
    _row(conn, "facility", id=1, code="F", name="K", time_zone="Asia/Jakarta", created_at=at)
    _row(
        conn,
        "clinic",
        id=1,
        facility_id=1,
        code="UMUM",
        name="Poli Umum",
        queue_prefix="A",
        is_open=True,
        created_at=at,
    )
    _row(
        conn,
        "patient",
        id=1,
        facility_id=1,
        mrn="00-00-01",
        name="Siti",
        name_search="siti",
        birth_date=date(1990, 1, 1),
        sex="female",
        created_at=at,
    )
    _row(
        conn,
        "ticket",
        id=1,
        facility_id=1,
        clinic_id=1,
        day=date(2026, 11, 23),
        number=1,
        label="A-001",
        status_code="code-1",
        patient_id=1,
        source="walk_in",
        priority=0,
        priority_reason="",
        state="done",
        issued_at=at,
        sort_at=at,
        recalls=0,
    )
    steps = [
        (None, "waiting", "issue", None, 0),
        ("waiting", "called", "call", "Loket 1", 5),
        ("called", "serving", "start", "Loket 1", 6),
        ("serving", "done", "finish", "Loket 1", 18),
    ]
    e = text(
        "INSERT INTO ticket_event (id, facility_id, ticket_id, at, actor_user_id, from_state, "
        "to_state, action, counter) VALUES (:id, 1, 1, :at, 7, :f, :to, :action, :counter)"
    )
    for n, (f, to, action, counter, minutes) in enumerate(steps, start=10):
        at = (AT + timedelta(minutes=minutes)).replace(tzinfo=None)
        conn.execute(e, {"id": n, "at": at, "f": f, "to": to, "action": action, "counter": counter})
    return len(steps)


def test_the_timeline_becomes_domain_events_and_back(db_url):
    with _fresh_at_0004(db_url) as engine:
        _upgrade_and_back(engine)


def _upgrade_and_back(engine: Engine) -> None:
    with engine.begin() as conn:
        _history(conn)
    # Up to the revision before personal fields are sealed (0010): the stores read this
    # database's plain values through keys that store plain (`sealing=False`).
    attach(engine, Keyring(parse_keys(new_key_list()), sealing=False))
    upgrade(engine, "0009")
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.domain_event.c.id,
                t.domain_event.c.kind,
                t.domain_event.c.action,
                t.domain_event.c.data,
            ).order_by(t.domain_event.c.id)
        ).all()
        assert [(r.id, r.kind, r.action) for r in rows] == [
            (10, "ticket.issued", "issue"),
            (11, "ticket.called", "call"),
            (12, "ticket.started", "start"),
            (13, "ticket.finished", "finish"),
        ]
        data = json.loads(rows[1].data)
        assert (data["label"], data["state"], data["from_state"], data["counter"]) == (
            "A-001",
            "called",
            "waiting",
            "Loket 1",
        )
        assert data["status_code"] == "code-1"
        tickets = SqlTickets(conn)
        last = tickets.last_event(1)
        assert (last.action, last.from_state, last.to_state) == ("finish", "serving", "done")
        assert tickets.recent_service_times(1, 1, since=AT) == [timedelta(minutes=12)]
        assert tickets.called_at([1]) == {1: AT + timedelta(minutes=5)}
    with engine.begin() as conn:  # a new event follows the copied ones
        new_id = conn.execute(
            insert(t.domain_event)
            .values(facility_id=1, at=AT, kind="ticket.called", data="{}")
            .returning(t.domain_event.c.id)
        ).scalar_one()
    assert new_id > 13
    upgrade_down(engine)
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT id, from_state, to_state, action, counter FROM ticket_event ORDER BY id")
        ).all()
    assert [tuple(r) for r in back] == [
        (10, None, "waiting", "issue", None),
        (11, "waiting", "called", "call", "Loket 1"),
        (12, "called", "serving", "start", "Loket 1"),
        (13, "serving", "done", "finish", "Loket 1"),
    ]


def upgrade_down(engine) -> None:
    from alembic import command

    from antrean.persistence.migrate import alembic_config

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0004")
