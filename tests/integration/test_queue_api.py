from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from antrean.domain.patients import PatientDraft
from antrean.persistence import tables as t
from antrean.services.patients import new_patient
from tests.integration.conftest import FROZEN_AT


def _monday_morning(api):
    api.container.clock.set(FROZEN_AT + timedelta(days=1))  # Monday 09:00 in Jakarta


def test_walk_in_gets_a_number_and_a_public_status(api, admin, clinic_setup):
    _monday_morning(api)
    operator = api.staff("ops", "operator")
    body = {
        "clinic_id": clinic_setup["clinic_id"],
        "name": "Budi Santoso",
        "birth_date": "1970-01-01",
    }
    first = api.client.post("/api/v1/queue/walk-ins", headers=operator, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["ticket"] == "A-001" and first.json()["people_ahead"] == 0
    second = api.client.post(
        "/api/v1/queue/walk-ins", headers=operator, json={**body, "name": "Ani"}
    ).json()
    assert second["ticket"] == "A-002" and second["people_ahead"] == 1
    assert (
        second["estimated_call_earliest"]
        <= second["estimated_call_at"]
        <= second["estimated_call_latest"]
    )
    status = api.client.get(f"/api/v1/queue/status/{second['status_code']}")
    assert status.status_code == 200
    assert set(status.json()) == {
        "ticket",
        "clinic_id",
        "clinic_name",
        "state",
        "people_ahead",
        "estimated_call_at",
        "estimated_call_earliest",
        "estimated_call_latest",
        "status_code",
    }
    assert "Ani" not in status.text, "no personal data on the public status"
    assert api.client.get("/api/v1/queue/status/guess-A-002").status_code == 404
    day = api.client.get(
        f"/api/v1/clinics/{clinic_setup['clinic_id']}/queue", headers=operator
    ).json()
    assert [k["label"] for k in day] == ["A-001", "A-002"]
    engine = api.container.db.engine
    with engine.connect() as conn:
        e = t.domain_event
        events = conn.execute(select(e.c.kind, e.c.action).order_by(e.c.id)).all()
    engine.dispose()
    assert events == [("ticket.issued", "issue"), ("ticket.issued", "issue")]


def test_walk_in_refused_when_closed_and_for_patients(api, admin, clinic_setup):
    operator = api.staff("ops", "operator")
    body = {"clinic_id": clinic_setup["clinic_id"], "name": "Budi", "birth_date": "1970-01-01"}
    r = api.client.post("/api/v1/queue/walk-ins", headers=operator, json=body)  # Sunday
    assert r.status_code == 409 and r.json()["code"] == "clinic_closed"
    _monday_morning(api)
    operator = api.login("ops", "staff-password-1")
    r = api.client.post(
        "/api/v1/queue/walk-ins", headers=operator, json={**body, "priority": "priority"}
    )
    assert r.status_code == 422, "a priority patient needs a reason"
    api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti",
            "birth_date": "1990-01-01",
        },
    )
    patient = api.login("siti", "rahasia-123")
    assert api.client.post("/api/v1/queue/walk-ins", headers=patient, json=body).status_code == 403


def test_operator_runs_the_queue_over_http(api, admin, clinic_setup):
    _monday_morning(api)
    operator = api.staff("ops", "operator")
    cid = clinic_setup["clinic_id"]
    for name in ("Budi", "Ani"):
        api.client.post(
            "/api/v1/queue/walk-ins",
            headers=operator,
            json={"clinic_id": cid, "name": name, "birth_date": "1970-01-01"},
        )
    r = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 1"}
    )
    assert r.status_code == 200 and r.json()["label"] == "A-001"
    tid = r.json()["id"]
    assert r.json()["counter"] == "Loket 1" and r.json()["state"] == "called"
    for action, state in (("recall", "called"), ("start", "serving"), ("finish", "done")):
        r = api.client.post(f"/api/v1/queue/tickets/{tid}/{action}", headers=operator)
        assert r.status_code == 200 and r.json()["state"] == state, r.text
    r = api.client.post(f"/api/v1/queue/tickets/{tid}/undo", headers=operator)
    assert r.json()["state"] == "serving"
    r = api.client.post(f"/api/v1/queue/tickets/{tid}/dance", headers=operator)
    assert r.status_code == 422
    admin = api.login("admin", "staff-password-1")  # the clock moved a day
    pharmacy = api.client.post(
        "/api/v1/clinics",
        headers=admin,
        json={
            "code": "FARMASI",
            "name": "Farmasi",
            "queue_prefix": "F",
            "hours": [{"weekday": 0, "opens": "07:00", "closes": "20:00"}],
        },
    ).json()
    r = api.client.post(
        f"/api/v1/queue/tickets/{tid}/transfer",
        headers=operator,
        json={"clinic_id": pharmacy["id"]},
    )
    assert r.status_code == 201 and r.json()["label"] == "F-001"
    r = api.client.post(f"/api/v1/queue/tickets/{tid}/start", headers=operator)
    assert r.status_code == 409 and r.json()["code"] == "ticket_wrong_state"
    second = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 2"}
    ).json()
    assert second["label"] == "A-002"
    r = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 2"}
    )
    assert r.status_code == 404 and r.json()["code"] == "queue_empty"


def test_patient_checks_in_for_todays_appointment(api, admin, clinic_setup):
    api.client.post(
        "/api/v1/auth/register",
        json={
            "username": "siti",
            "password": "rahasia-123",
            "name": "Siti",
            "birth_date": "1990-01-01",
        },
    )
    me = api.login("siti", "rahasia-123")
    slot = api.client.get("/api/v1/slots", params={"date_from": "2026-11-23"}).json()[2]  # 09:00
    appt = api.client.post("/api/v1/appointments", headers=me, json={"slot_id": slot["id"]}).json()
    _monday_morning(api)  # Monday 09:00
    me = api.login("siti", "rahasia-123")
    r = api.client.post(f"/api/v1/appointments/{appt['code']}/check-in", headers=me)
    assert r.status_code == 201, r.text
    assert r.json()["ticket"] == "A-001" and r.json()["people_ahead"] == 0
    assert (
        api.client.get(f"/api/v1/appointments/{appt['code']}", headers=me).json()["status"]
        == "checked-in"
    )
    r = api.client.post(f"/api/v1/appointments/{appt['code']}/check-in", headers=me)
    assert r.status_code == 409


def test_database_order_matches_the_domain_order(api, admin, clinic_setup):
    """The SQL count of people ahead agrees with domain.queue.queue_order, aging included."""
    from antrean.domain.identity import Actor, Role
    from antrean.domain.queue import Priority, WalkInDraft, queue_order
    from antrean.services import queue

    _monday_morning(api)
    c = api.container
    operator = Actor(user_id=1, facility_id=1, roles=frozenset({Role.OPERATOR}))
    kinds = [
        Priority.NORMAL,
        Priority.PRIORITY,
        Priority.NORMAL,
        Priority.EMERGENCY,
        Priority.NORMAL,
        Priority.PRIORITY,
        Priority.NORMAL,
        Priority.NORMAL,
    ]
    for n, kind in enumerate(kinds):
        issued = queue.issue_walk_in(
            c.uow(),
            actor=operator,
            policy=c.policy,
            phones=c.phones,
            walk_in=WalkInDraft(
                clinic_id=clinic_setup["clinic_id"],
                name=f"P{n}",
                birth_date=FROZEN_AT.date().replace(year=1970),
                priority=kind,
                priority_reason="x",
            ),
        )
        queue.status_of(c.uow(), actor=operator, issued=issued, queue=c.queue_policy)
        c.clock.advance(timedelta(minutes=20))  # early normal tickets age past 60 minutes
    uow = c.uow()
    with uow():
        day = c.clock.now().astimezone(c.policy.time_zone).date()
        waiting = uow.tickets.waiting(1, clinic_setup["clinic_id"], day)
        expected = [k.id for k in queue_order(waiting, c.clock.now(), c.queue_policy.aging)]
        counted = sorted(
            waiting,
            key=lambda k: uow.tickets.count_ahead(k, now=c.clock.now(), aging=c.queue_policy.aging),
        )
        positions = {
            uow.tickets.count_ahead(k, now=c.clock.now(), aging=c.queue_policy.aging)
            for k in waiting
        }
    assert [k.id for k in counted] == expected
    assert positions == set(range(len(kinds)))


def test_counters_set_up_per_clinic(api, admin, clinic_setup):
    cid = clinic_setup["clinic_id"]
    for name in ("Loket 1", "Loket 2"):
        r = api.client.post(f"/api/v1/clinics/{cid}/counters", headers=admin, json={"name": name})
        assert r.status_code == 201, r.text
    assert api.client.get(f"/api/v1/clinics/{cid}/counters").json() == ["Loket 1", "Loket 2"]
    dup = api.client.post(
        f"/api/v1/clinics/{cid}/counters", headers=admin, json={"name": "Loket 1"}
    )
    assert dup.status_code == 409
    _monday_morning(api)
    operator = api.staff("ops", "operator")
    for name in ("A", "B", "C", "D", "E"):
        last = api.client.post(
            "/api/v1/queue/walk-ins",
            headers=operator,
            json={"clinic_id": cid, "name": name, "birth_date": "1970-01-01"},
        ).json()
    # 4 ahead, 2 counters, typical 15 minutes (the clinic's service): 30 minutes
    status = api.client.get(f"/api/v1/queue/status/{last['status_code']}").json()
    called_at = datetime.fromisoformat(status["estimated_call_at"].replace("Z", "+00:00"))
    assert called_at - api.container.clock.now() == timedelta(minutes=30)
    r = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 9"}
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_counter"
    r = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 2"}
    )
    assert r.status_code == 200
    admin = api.login("admin", "staff-password-1")
    r = api.client.delete(f"/api/v1/clinics/{cid}/counters/Loket 2", headers=admin)
    assert r.json() == ["Loket 1"]
    assert (
        api.client.post(
            f"/api/v1/clinics/{cid}/counters", headers=operator, json={"name": "X"}
        ).status_code
        == 403
    )


def test_a_finished_visit_moves_the_estimate_through_the_stored_service_time(
    api, admin, clinic_setup
):
    _monday_morning(api)
    operator = api.staff("ops", "operator")
    cid = clinic_setup["clinic_id"]
    tickets = [
        api.client.post(
            "/api/v1/queue/walk-ins",
            headers=operator,
            json={"clinic_id": cid, "name": name, "birth_date": "1970-01-01"},
        ).json()
        for name in ("A", "B", "C")
    ]
    third = f"/api/v1/queue/status/{tickets[2]['status_code']}"

    def minutes_to_call() -> float:
        status = api.client.get(third).json()
        called_at = datetime.fromisoformat(status["estimated_call_at"].replace("Z", "+00:00"))
        return (called_at - api.container.clock.now()) / timedelta(minutes=1)

    # No visit timed yet: 2 ahead at the service's typical 15 minutes, one counter.
    assert minutes_to_call() == 30
    first = api.client.post(
        f"/api/v1/clinics/{cid}/queue/call-next", headers=operator, json={"counter": "Loket 1"}
    ).json()
    api.client.post(f"/api/v1/queue/tickets/{first['id']}/start", headers=operator)
    api.container.clock.advance(timedelta(minutes=5))
    r = api.client.post(f"/api/v1/queue/tickets/{first['id']}/finish", headers=operator)
    assert r.status_code == 200, r.text
    # One 5-minute visit moves the mean from 15 by a fifth of the gap: 13 minutes, 1 ahead.
    assert minutes_to_call() == 13
    engine = api.container.db.engine
    with engine.connect() as conn:
        row = conn.execute(select(t.clinic_service_time)).one()
    engine.dispose()
    assert (row.clinic_id, row.observations, row.mean_minutes) == (cid, 1, 13.0)
    # The finish was a mistake: undone, that visit is not measured any more (typical again).
    r = api.client.post(f"/api/v1/queue/tickets/{first['id']}/undo", headers=operator)
    assert r.json()["state"] == "serving"
    assert minutes_to_call() == 15
    # Finished for real 5 minutes later: one visit of 10 minutes, counted once.
    api.container.clock.advance(timedelta(minutes=5))
    api.client.post(f"/api/v1/queue/tickets/{first['id']}/finish", headers=operator)
    assert minutes_to_call() == 14
    engine = api.container.db.engine
    with engine.connect() as conn:
        row = conn.execute(select(t.clinic_service_time)).one()
    engine.dispose()
    assert (row.observations, row.mean_minutes) == (1, 14.0)


def test_people_ahead_agree_with_the_domain_order_for_random_lines(container):
    """Random waiting lines (all priorities, ties on time, appointment times still to come,
    tickets no longer waiting): for every waiting ticket the database's count of people ahead
    is its place in `domain.queue.queue_order`."""
    import random

    from antrean.domain.queue import Priority, Ticket, TicketSource, TicketState, queue_order
    from antrean.testing.seed import open_all_week_clinic

    c = container
    clinic_id, _ = open_all_week_clinic(
        c, doctors=1, start=time(8), end=time(9), slot_minutes=30, capacity=1
    )
    now = c.clock.now()
    aging = c.queue_policy.aging
    rng = random.Random(20261122)
    uow = c.uow()
    with uow(write=True):
        patient = new_patient(
            uow,
            facility_id=1,
            policy=c.policy,
            phones=c.phones,
            draft=PatientDraft(name="Uji", birth_date=date(1980, 1, 1)),
        )
        for line in range(3):
            day = now.date() + timedelta(days=line)
            for number in range(1, 41):
                # Times on a 10-minute grid, so many tickets share one; some in the future.
                sort_at = now - timedelta(minutes=10 * rng.randint(-3, 12))
                uow.tickets.add(
                    Ticket(
                        id=0,
                        facility_id=1,
                        clinic_id=clinic_id,
                        day=day,
                        number=number,
                        label=f"A-{number:03d}",
                        status_code=f"code-{line}-{number}",
                        patient_id=patient.id,
                        source=TicketSource.WALK_IN,
                        priority=rng.choice(
                            [Priority.NORMAL] * 4 + [Priority.PRIORITY] * 2 + [Priority.EMERGENCY]
                        ),
                        priority_reason="",
                        state=rng.choice([TicketState.WAITING] * 5 + [TicketState.DONE]),
                        issued_at=now,
                        sort_at=sort_at,
                    ),
                    None,
                )
        uow.commit()
    checked = 0
    with uow():
        for line in range(3):
            day = now.date() + timedelta(days=line)
            waiting = uow.tickets.waiting(1, clinic_id, day)
            expected = [k.id for k in queue_order(waiting, now, aging)]
            for ticket in waiting:
                ahead = uow.tickets.count_ahead(ticket, now=now, aging=aging)
                assert ahead == expected.index(ticket.id), (ticket, ahead)
                checked += 1
    assert checked > 80
