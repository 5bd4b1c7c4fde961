from datetime import date, datetime, time, timedelta

import pytest

from antrean.domain.booking import BookingDraft
from antrean.domain.catalog import Clinic, ClinicDraft, ClinicPatch, OpeningHours
from antrean.domain.errors import AntreanError
from antrean.domain.eta import EwmaServiceTime, estimate_call
from antrean.domain.identity import Actor, Role
from antrean.domain.queue import (
    Priority,
    QueuePolicy,
    TicketState,
    WalkInDraft,
    clinic_open_at,
    queue_counter_name,
    ticket_label,
)
from antrean.services import booking, catalog, queue, queue_actions
from tests.unit.conftest import ANYONE, JKT, PHONES

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=JKT)
OPERATOR = Actor(user_id=5, facility_id=1, roles=frozenset({Role.OPERATOR}))
SYSTEM = Actor.system(1)
QP = QueuePolicy(aging=timedelta(minutes=60), max_recalls=3)


def test_ticket_labels_and_daily_counters():
    assert ticket_label("A", 7) == "A-007"
    assert ticket_label("B", 1234) == "B-1234"
    assert queue_counter_name(3, date(2026, 11, 23)) != queue_counter_name(3, date(2026, 11, 24))


def test_clinic_is_open_only_inside_its_hours_and_when_switched_on():
    clinic = Clinic(
        1,
        1,
        "UMUM",
        "Poli Umum",
        "A",
        True,
        [OpeningHours(0, time(8), time(12)), OpeningHours(0, time(13), time(16))],
    )
    assert clinic_open_at(clinic, MONDAY_9)
    assert not clinic_open_at(clinic, MONDAY_9.replace(hour=12, minute=30))  # lunch
    assert not clinic_open_at(clinic, MONDAY_9.replace(hour=16))  # closing time
    assert not clinic_open_at(clinic, MONDAY_9 + timedelta(days=1))  # Tuesday: no hours
    clinic.is_open = False
    assert not clinic_open_at(clinic, MONDAY_9)


def test_wait_estimate_shares_the_queue_among_counters():
    service = EwmaServiceTime.starting_at(timedelta(minutes=10))
    one = estimate_call(people_ahead=4, service=service, servers=1)
    two = estimate_call(people_ahead=4, service=service, servers=2)
    assert one.expected == timedelta(minutes=40) and two.expected == timedelta(minutes=20)
    assert one.low < one.expected < one.high
    nobody = estimate_call(people_ahead=0, service=service, servers=1)
    assert nobody.expected == nobody.low == nobody.high == timedelta(0)


def test_ewma_follows_recent_service_times_and_narrows():
    service = EwmaServiceTime.starting_at(timedelta(minutes=10), alpha=0.5)
    start_var = service.variance
    service.observe_all([timedelta(minutes=20)] * 8)
    assert 19.9 < service.mean <= 20
    assert service.variance < start_var, "steady observations shrink the spread"
    service.observe(timedelta(minutes=10))
    assert service.mean == pytest.approx(15, abs=0.1), "the newest counts for alpha"
    assert service.observations == 9


def test_status_uses_measured_service_times(open_world):
    for name in ("A", "B", "C"):
        _walk_in(open_world, name=name)
    first = _call(open_world)
    _act(open_world, first.id, "start")
    open_world.clock.advance(timedelta(minutes=30))
    _act(open_world, first.id, "finish")
    waiting = next(k for k in open_world.uow.store.tickets.values() if k.label == "A-003")
    status = queue.ticket_status(open_world.uow, actor=ANYONE, status_code=waiting.status_code)
    # typical 10 min moved towards the measured 30 min: alpha 0.2 gives 14 min per patient
    assert status.people_ahead == 1
    assert status.estimate.expected == timedelta(minutes=14)


@pytest.fixture
def open_world(world):
    world.clock.set(MONDAY_9)
    return world


def _walk_in(world, **kw):
    """Issue a walk-in ticket at the front desk and answer where it stands, as adapters do."""
    base = dict(clinic_id=world.clinic_id, name="Budi", birth_date=date(1970, 1, 1))
    base.update(kw)
    issued = queue.issue_walk_in(
        world.uow,
        actor=OPERATOR,
        policy=world.policy,
        phones=PHONES,
        walk_in=WalkInDraft(**base),
    )
    return queue.status_of(world.uow, actor=OPERATOR, issued=issued)


def _check_in(world, code):
    issued = queue.check_in(world.uow, actor=OPERATOR, policy=world.policy, code=code, queue=QP)
    return queue.status_of(world.uow, actor=OPERATOR, issued=issued, queue=QP)


def test_walk_ins_get_consecutive_numbers_and_see_who_is_ahead(open_world):
    first = _walk_in(open_world)
    second = _walk_in(open_world, name="Ani")
    assert (first.label, second.label) == ("A-001", "A-002")
    assert (first.people_ahead, second.people_ahead) == (0, 1)
    assert second.estimated_call_at > open_world.clock.now()
    status = queue.ticket_status(open_world.uow, actor=ANYONE, status_code=second.status_code)
    assert status.label == "A-002" and status.people_ahead == 1


def test_priority_patients_go_before_normal_ones(open_world):
    _walk_in(open_world)
    _walk_in(open_world, name="Ani")
    elderly = _walk_in(
        open_world, name="Mbah", priority=Priority.PRIORITY, priority_reason="lansia"
    )
    assert elderly.people_ahead == 0
    emergency = _walk_in(open_world, name="Gawat", priority=Priority.EMERGENCY)
    assert emergency.people_ahead == 0
    status = queue.ticket_status(open_world.uow, actor=ANYONE, status_code=elderly.status_code)
    assert status.people_ahead == 1


def test_numbers_restart_each_day(open_world):
    _walk_in(open_world)
    open_world.clock.advance(timedelta(days=1))
    assert _walk_in(open_world).label == "A-001"


def test_closed_clinic_refuses_walk_ins(open_world):
    open_world.clock.set(MONDAY_9.replace(hour=17))
    with pytest.raises(AntreanError) as err:
        _walk_in(open_world)
    assert err.value.code == "clinic_closed"
    open_world.clock.set(MONDAY_9)
    catalog.update_clinic(
        open_world.uow,
        actor=open_world.admin,
        policy=open_world.policy,
        clinic_id=open_world.clinic_id,
        patch=ClinicPatch(is_open=False),
    )
    with pytest.raises(AntreanError) as err:
        _walk_in(open_world)
    assert err.value.code == "clinic_closed"


def test_existing_patient_is_matched_by_mrn_and_date_of_birth(open_world):
    patient = open_world.uow.store.patients[open_world.patient_ids[0]]
    _walk_in(open_world, mrn=patient.mrn, name="anything", birth_date=patient.birth_date)
    assert len(open_world.uow.store.patients) == 4, "no new record for a known MRN"
    with pytest.raises(AntreanError) as err:
        _walk_in(open_world, mrn=patient.mrn, birth_date=date(2001, 2, 3))
    assert err.value.code == "patient_mismatch"
    _walk_in(open_world, mrn="RM-NEW-1", name="Baru", birth_date=date(2000, 1, 1))
    assert any(p.mrn == "RM-NEW-1" for p in open_world.uow.store.patients.values())


def test_unknown_status_code(open_world):
    with pytest.raises(AntreanError) as err:
        queue.ticket_status(open_world.uow, actor=ANYONE, status_code="nope")
    assert err.value.code == "ticket_not_found"


# --- operator actions -------------------------------------------------------------------------


def _call(world, counter="Loket 1"):
    return queue_actions.call_next(
        world.uow,
        actor=OPERATOR,
        policy=world.policy,
        queue=QP,
        clinic_id=world.clinic_id,
        counter=counter,
    )


def _act(world, ticket_id, action):
    return queue_actions.act_on_ticket(
        world.uow, actor=OPERATOR, queue=QP, ticket_id=ticket_id, action=action
    )


def _book(world, slot_id, patient_index):
    return booking.book_appointment(
        world.uow,
        actor=world.admin,
        policy=world.policy,
        draft=BookingDraft(slot_id=slot_id, patient_id=world.patient_ids[patient_index]),
    )


def _ids(world):
    return {k.label: k.id for k in world.uow.store.tickets.values()}


def test_call_next_follows_priority_then_arrival(open_world):
    _walk_in(open_world, name="A")
    _walk_in(open_world, name="B")
    _walk_in(open_world, name="C", priority=Priority.PRIORITY, priority_reason="hamil")
    assert [_call(open_world).label for _ in range(3)] == ["A-003", "A-001", "A-002"]
    with pytest.raises(AntreanError) as err:
        _call(open_world)
    assert err.value.code == "queue_empty"


def test_waiting_long_enough_moves_a_ticket_up(open_world):
    _walk_in(open_world, name="Early")
    open_world.clock.advance(timedelta(minutes=61))
    _walk_in(open_world, name="Lansia", priority=Priority.PRIORITY, priority_reason="lansia")
    assert _call(open_world).label == "A-001", "61 minutes of waiting outranks a new priority"


def test_a_visit_from_call_to_finish_is_kept_as_a_timeline(open_world):
    _walk_in(open_world)
    ticket = _call(open_world, "Ruang 2")
    assert ticket.state is TicketState.CALLED and ticket.counter == "Ruang 2"
    assert _act(open_world, ticket.id, "recall").state is TicketState.CALLED
    assert _act(open_world, ticket.id, "start").state is TicketState.SERVING
    assert _act(open_world, ticket.id, "finish").state is TicketState.DONE
    actions = [e.data["action"] for e in open_world.uow.store.events if e.ticket_id == ticket.id]
    assert actions == ["issue", "call", "recall", "start", "finish"]
    with pytest.raises(AntreanError) as err:
        _act(open_world, ticket.id, "start")
    assert err.value.code == "ticket_wrong_state"


def test_too_many_recalls_make_a_no_show_who_can_requeue(open_world):
    _walk_in(open_world)
    _walk_in(open_world, name="Next")
    ticket = _call(open_world)
    _act(open_world, ticket.id, "recall")
    _act(open_world, ticket.id, "recall")
    assert _act(open_world, ticket.id, "recall").state is TicketState.SKIPPED
    open_world.clock.advance(timedelta(minutes=5))
    back = _act(open_world, ticket.id, "requeue")
    assert back.state is TicketState.WAITING
    assert _call(open_world).label == "A-002", "a re-queued ticket goes to the back"


def test_undo_puts_the_last_action_back(open_world):
    _walk_in(open_world)
    ticket = _call(open_world)
    _act(open_world, ticket.id, "cancel")
    restored = queue_actions.undo_last_action(open_world.uow, actor=OPERATOR, ticket_id=ticket.id)
    assert restored.state is TicketState.CALLED
    actions = [e.data["action"] for e in open_world.uow.store.events if e.ticket_id == ticket.id]
    assert actions[-2:] == ["cancel", "undo"], "history is never overwritten"
    with pytest.raises(AntreanError) as err:
        queue_actions.undo_last_action(open_world.uow, actor=OPERATOR, ticket_id=ticket.id)
    assert err.value.code == "nothing_to_undo"


def test_transfer_continues_the_visit_in_another_clinic(open_world):
    pharmacy = catalog.create_clinic(
        open_world.uow,
        actor=open_world.admin,
        policy=open_world.policy,
        draft=ClinicDraft(
            code="FARMASI",
            name="Farmasi",
            queue_prefix="F",
            hours=tuple(OpeningHours(d, time(7), time(20)) for d in range(7)),
        ),
    )
    _walk_in(open_world)
    ticket = _call(open_world)
    _act(open_world, ticket.id, "start")
    new = queue_actions.transfer_ticket(
        open_world.uow,
        actor=OPERATOR,
        policy=open_world.policy,
        ticket_id=ticket.id,
        to_clinic_id=pharmacy.id,
    )
    assert new.label == "F-001" and new.state is TicketState.WAITING
    assert new.patient_id == ticket.patient_id
    assert open_world.uow.store.tickets[ticket.id].state is TicketState.TRANSFERRED


def test_check_in_places_an_on_time_patient_by_appointment_time(open_world):
    open_world.clock.set(MONDAY_9 - timedelta(days=1))  # book on Sunday
    slots = open_world.slots(MONDAY_9.date())
    ten = next(s for s in slots if s.start_at.astimezone(JKT).hour == 10)
    eleven = next(s for s in slots if s.start_at.astimezone(JKT).hour == 11)
    on_time = _book(open_world, ten.id, 0)
    late = _book(open_world, eleven.id, 1)
    open_world.clock.set(MONDAY_9.replace(hour=9, minute=50))
    walk = _walk_in(open_world, name="Walk")  # 09:50, before the 10:00 appointment
    status = _check_in(open_world, on_time.code)
    assert status.people_ahead == 1, "the 09:50 walk-in is ahead of the 10:00 appointment"
    open_world.clock.set(MONDAY_9.replace(hour=11, minute=30))  # 30 minutes late
    _walk_in(open_world, name="Walk 2")
    late_status = _check_in(open_world, late.code)
    assert late_status.people_ahead == 3, "a late patient joins at the back"
    assert walk.label == "A-001" and late_status.label == "A-004"
    again = pytest.raises(AntreanError)
    with again as err:
        _check_in(open_world, on_time.code)
    assert err.value.code == "appointment_not_active"
    appt = booking.get_appointment(open_world.uow, actor=open_world.admin, code=on_time.code)
    assert appt.status.value == "checked-in"


def test_check_in_only_on_the_day(open_world):
    open_world.clock.set(MONDAY_9 - timedelta(days=1))
    slot = open_world.slots(MONDAY_9.date() + timedelta(days=1))[0]  # Tuesday
    appt = _book(open_world, slot.id, 0)
    open_world.clock.set(MONDAY_9)
    with pytest.raises(AntreanError) as err:
        _check_in(open_world, appt.code)
    assert err.value.code == "check_in_wrong_day"


def test_closing_the_day_ends_open_tickets_and_restarts_numbers(open_world):
    open_world.clock.set(MONDAY_9 - timedelta(days=1))
    slot = open_world.slots(MONDAY_9.date())[0]
    missed = _book(open_world, slot.id, 0)
    open_world.clock.set(MONDAY_9)
    _walk_in(open_world, name="Waiting")
    _walk_in(open_world, name="Served")
    served = _call(open_world)
    served = _act(open_world, _call(open_world).id, "start")
    open_world.clock.advance(timedelta(days=1))
    result = queue_actions.close_past_days(open_world.uow, actor=SYSTEM, policy=open_world.policy)
    assert (result.no_shows, result.finished, result.appointments_no_show) == (1, 1, 1)
    states = sorted(k.state.value for k in open_world.uow.store.tickets.values())
    assert states == ["done", "skipped"]
    assert (
        booking.get_appointment(
            open_world.uow, actor=open_world.admin, code=missed.code
        ).status.value
        == "noshow"
    )
    again = queue_actions.close_past_days(open_world.uow, actor=SYSTEM, policy=open_world.policy)
    assert (again.no_shows, again.finished, again.appointments_no_show) == (0, 0, 0)
    assert _walk_in(open_world).label == "A-001"
    assert served.state is TicketState.SERVING
