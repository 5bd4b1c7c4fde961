"""The message ports' contract (outbox, texts, contacts, jobs): each test runs on the fake,
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from antrean.domain.booking import Appointment, AppointmentStatus
from antrean.domain.common import Page
from antrean.domain.notifications import (
    DEFAULT_TEXTS,
    Medium,
    MessageFilter,
    MessageKind,
    MessageState,
    OutboxDraft,
    Outcome,
)
from tests.contract.test_ports import NOW, _clinic, _patient

LATER = NOW + timedelta(minutes=10)


def _draft(patient_id=None, *, due=NOW, kind=MessageKind.BOOKING_CONFIRMED, key=None, address=None):
    return OutboxDraft(
        kind=kind,
        facility_id=1,
        due_at=due,
        patient_id=patient_id,
        medium=Medium.WHATSAPP if address else None,
        address=address,
        data={"text": "hi"} if address else {},
        dedupe_key=key,
    )


def _add(uow, *drafts):
    with uow(write=True):
        for d in drafts:
            uow.outbox.add(d, NOW)
        uow.commit()


def _claim(uow, now=NOW, limit=10, lease=timedelta(seconds=90)):
    with uow(write=True):
        got = uow.outbox.claim(now, now + lease, limit)
        uow.commit()
    return got


def _finish(uow, messages, state=MessageState.SENT, *, due=NOW, tries=1, error=None):
    with uow(write=True):
        stored = uow.outbox.finish(
            [
                Outcome(
                    m.id, m.claimed_until, state, tries, due, last_error=error, provider_id="p1"
                )
                for m in messages
            ],
            NOW,
        )
        uow.commit()
    return stored


def test_a_dedupe_key_adds_once_and_a_rollback_adds_nothing(uow):
    _add(uow, _draft(key="turn_near:1", address="+1"), _draft(key="turn_near:1", address="+1"))
    with uow(write=True):
        uow.outbox.add(_draft(address="+2"), NOW)  # not committed
    with uow():
        found, total = uow.outbox.find(1, MessageFilter(), Page(1, 10))
    assert total == 1 and found[0].address == "+1" and found[0].state is MessageState.PENDING


def test_claim_takes_due_messages_once_in_order_per_patient(uow):
    _add(
        uow,
        _draft(address="+62811", due=NOW),  # a:+62811, first
        _draft(address="+62811", due=NOW),  # same key: waits for the first
        _draft(address="+62822", due=NOW),
        _draft(address="+62833", due=LATER),  # not due yet
    )
    with uow():
        assert uow.outbox.has_due(NOW)
    first = _claim(uow)
    assert sorted(m.address for m in first) == ["+62811", "+62822"]
    assert all(m.state is MessageState.SENDING and m.claimed_until for m in first)
    assert _claim(uow) == []  # claimed ones are not taken again while the lease holds
    assert _finish(uow, first) == 2
    (second,) = _claim(uow)
    assert second.address == "+62811" and second.id > min(m.id for m in first)
    # A message scheduled for later holds nothing back, and is taken when due.
    _finish(uow, [second])
    (later,) = _claim(uow, now=LATER)
    assert later.address == "+62833"


def test_a_message_being_retried_holds_back_the_patients_next(uow):
    _add(uow, _draft(address="+62811"))
    (m,) = _claim(uow)
    _finish(uow, [m], MessageState.PENDING, due=LATER, tries=1, error="down")
    _add(uow, _draft(address="+62811"))
    assert _claim(uow) == []  # the first is still to be retried: the second waits
    (again,) = _claim(uow, now=LATER)
    assert again.id == m.id and again.tries == 1


def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_finish(uow):
    _add(uow, _draft(address="+62811"))
    (first,) = _claim(uow, lease=timedelta(seconds=30))
    (taken,) = _claim(uow, now=NOW + timedelta(seconds=31))
    assert taken.id == first.id and taken.claimed_until != first.claimed_until
    assert _finish(uow, [first]) == 0  # the first worker came back too late
    assert _finish(uow, [taken]) == 1
    with uow():
        stored = uow.outbox.get(1, first.id)
    assert stored.state is MessageState.SENT and stored.provider_id == "p1"
    assert stored.delivery_status == "accepted" and stored.claimed_until is None


def test_send_again_only_failed_or_skipped(uow):
    _add(uow, _draft(address="+1"), _draft(address="+2"))
    a, b = _claim(uow)
    _finish(uow, [a], MessageState.FAILED, tries=10, error="gave up")
    _finish(uow, [b])
    with uow(write=True):
        assert uow.outbox.send_again(1, a.id, LATER)
        assert not uow.outbox.send_again(1, b.id, LATER)
        assert not uow.outbox.send_again(2, a.id, LATER)  # another facility's
        uow.commit()
    with uow():
        back = uow.outbox.get(1, a.id)
        counts = uow.outbox.counts(1)
    assert back.state is MessageState.PENDING and back.tries == 0 and back.last_error is None
    assert counts == {MessageState.PENDING: 1, MessageState.SENT: 1}


def test_delivery_statuses_only_move_forward(uow):
    _add(uow, _draft(address="+1"))
    (m,) = _claim(uow)
    with uow(write=True):
        uow.outbox.finish(
            [
                Outcome(
                    m.id,
                    m.claimed_until,
                    MessageState.SENT,
                    1,
                    NOW,
                    transport="whatsapp_cloud",
                    provider_id="wamid.1",
                )
            ],
            NOW,
        )
        uow.commit()
    with uow(write=True):
        assert uow.outbox.record_delivery("whatsapp_cloud", "wamid.1", "read", None, NOW)
        assert not uow.outbox.record_delivery("whatsapp_cloud", "wamid.1", "delivered", None, NOW)
        assert not uow.outbox.record_delivery("waha", "wamid.1", "failed", None, NOW)
        assert not uow.outbox.record_delivery("whatsapp_cloud", "wamid.2", "read", None, NOW)
        uow.commit()
    with uow():
        assert uow.outbox.get(1, m.id).delivery_status == "read"


def test_find_filters_and_pages(uow):
    _add(uow, _draft(address="+62811"), _draft(address="+62822", kind=MessageKind.REPLY))
    with uow():
        replies, total = uow.outbox.find(1, MessageFilter(kind=MessageKind.REPLY), Page(1, 10))
        by_address, _ = uow.outbox.find(1, MessageFilter(search="+62811"), Page(1, 10))
        # Addresses are found whole (they are sealed, looked up by a blind index).
        by_part, _ = uow.outbox.find(1, MessageFilter(search="2811"), Page(1, 10))
        second_page, all_total = uow.outbox.find(1, MessageFilter(), Page(2, 1))
        other, none = uow.outbox.find(2, MessageFilter(), Page(1, 10))
    assert total == 1 and replies[0].address == "+62822"
    assert [m.address for m in by_address] == ["+62811"]
    assert by_part == []
    assert all_total == 2 and [m.address for m in second_page] == ["+62811"]  # newest first
    assert other == [] and none == 0


def _appointment(uow, patient_id, clinic_id, doctor_id, day, status, code, created):
    start = NOW.replace(year=day.year, month=day.month, day=day.day)
    return uow.appointments.add(
        Appointment(
            0,
            1,
            code,
            None,
            patient_id,
            clinic_id,
            doctor_id,
            None,
            day,
            start,
            start + timedelta(minutes=15),
            status,
            "",
            None,
            created,
            created,
        ),
        None,
    )


def test_reminders_once_for_tomorrows_bookings_made_in_time(uow):
    from antrean.domain.catalog import Doctor

    tomorrow = NOW.date() + timedelta(days=1)
    with uow(write=True):
        clinic_id = _clinic(uow)
        doctor_id = uow.catalog.add_doctor(1, Doctor(0, "dr. A", "", True))
        patient_id = _patient(uow)
        early = NOW - timedelta(days=1)
        booked = _appointment(
            uow,
            patient_id,
            clinic_id,
            doctor_id,
            tomorrow,
            AppointmentStatus.BOOKED,
            "AAA222",
            early,
        )
        _appointment(
            uow,
            patient_id,
            clinic_id,
            doctor_id,
            tomorrow,
            AppointmentStatus.CANCELLED,
            "BBB333",
            early,
        )
        _appointment(
            uow, patient_id, clinic_id, doctor_id, tomorrow, AppointmentStatus.BOOKED, "CCC444", NOW
        )
        _appointment(
            uow,
            patient_id,
            clinic_id,
            doctor_id,
            date(2026, 12, 1),
            AppointmentStatus.BOOKED,
            "DDD555",
            early,
        )
        uow.commit()
    for _ in range(2):
        with uow(write=True):
            added = uow.outbox.add_reminders(
                1, day=tomorrow, booked_before=NOW, due_at=LATER, now=NOW
            )
            uow.commit()
        assert added == (1 if _ == 0 else 0)
    with uow():
        (reminder,), _total = uow.outbox.find(1, MessageFilter(), Page(1, 10))
    assert reminder.kind is MessageKind.REMINDER and reminder.appointment_id == booked
    assert reminder.patient_id == patient_id and reminder.due_at == LATER
    assert reminder.order_key == f"p{patient_id}"


def test_texts_contacts_and_jobs(uow):
    edited = DEFAULT_TEXTS[(MessageKind.REMINDER, "en")]
    from dataclasses import replace

    with uow(write=True):
        uow.message_texts.save(1, replace(edited, body="Tomorrow {time}", edited_at=NOW), None)
        uow.contacts.set_opt_out(1, Medium.SMS, "+62811", True, NOW)
        uow.contacts.heard_from(1, "+62811", "en", NOW)
        uow.contacts.heard_from(1, "+62811", None, LATER)  # keeps the language
        assert uow.contacts.first_delivery(1, "waha", "m1", NOW)
        assert not uow.contacts.first_delivery(1, "waha", "m1", NOW)
        assert uow.contacts.first_delivery(1, "gateway", "m1", NOW)
        assert uow.jobs.take("reminders:1", NOW, LATER)
        assert not uow.jobs.take("reminders:1", NOW, LATER)
        assert uow.jobs.take("reminders:1", LATER, LATER + timedelta(minutes=5))
        uow.commit()
    with uow():
        texts = uow.message_texts.edited(1)
        assert texts[(MessageKind.REMINDER, "en")].body == "Tomorrow {time}"
        assert uow.message_texts.edited(2) == {}
        assert uow.contacts.opted_out(1, "+62811") == {Medium.SMS}
        assert uow.contacts.opted_out(2, "+62811") == set()
        assert uow.contacts.conversation(1, "+62811") == (LATER, "en")
        assert uow.jobs.due_at("reminders:1") == LATER + timedelta(minutes=5)
    with uow(write=True):
        uow.message_texts.reset(1, MessageKind.REMINDER, "en")
        uow.contacts.set_opt_out(1, Medium.SMS, "+62811", False, NOW)
        uow.commit()
    with uow():
        assert uow.message_texts.edited(1) == {}
        assert uow.contacts.opted_out(1, "+62811") == set()
