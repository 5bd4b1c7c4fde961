"""The rules of messages: who hears what, retries, quiet hours, texts, and patients' words."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from antrean.domain.errors import AntreanError
from antrean.domain.events import DomainEvent, EventKind
from antrean.domain.notifications import (
    DEFAULT_TEXTS,
    LANGUAGES,
    PLACEHOLDERS,
    Command,
    MessageKind,
    MessageText,
    QuietHours,
    RetryPolicy,
    delivery_moves,
    drafts_for_event,
    guess_language,
    parse_button,
    parse_request,
    placeholders_in,
)

JKT = ZoneInfo("Asia/Jakarta")
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _event(kind, **data):
    return DomainEvent(
        kind=kind, facility_id=1, at=AT, patient_id=7, appointment_id=3, ticket_id=9, data=data
    )


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (EventKind.APPOINTMENT_BOOKED, {}, MessageKind.BOOKING_CONFIRMED),
        (EventKind.APPOINTMENT_CANCELLED, {}, MessageKind.BOOKING_CANCELLED),
        (EventKind.APPOINTMENT_RESCHEDULED, {}, MessageKind.BOOKING_RESCHEDULED),
        (EventKind.APPOINTMENT_NO_SHOW, {}, MessageKind.NO_SHOW),
        (EventKind.SLOT_CONFLICT, {}, MessageKind.BOOKING_AFFECTED),
        (EventKind.TICKET_ISSUED, {"action": "issue"}, MessageKind.TICKET_ISSUED),
        (EventKind.TICKET_CALLED, {"counter": "2"}, MessageKind.TICKET_CALLED),
        (EventKind.TICKET_RECALLED, {}, MessageKind.TICKET_CALLED),
        (EventKind.TICKET_NO_SHOW, {}, MessageKind.NO_SHOW),
    ],
)
def test_each_change_a_patient_hears_about(kind, data, expected):
    (draft,) = drafts_for_event(_event(kind, **data))
    assert draft.kind is expected and draft.patient_id == 7 and draft.due_at == AT
    assert draft.order_key == "p7"


@pytest.mark.parametrize(
    "event",
    [
        _event(EventKind.TICKET_ISSUED, action="check_in"),  # at the desk already
        _event(EventKind.TICKET_STARTED),
        _event(EventKind.APPOINTMENT_CHECKED_IN),
        DomainEvent(kind=EventKind.APPOINTMENT_BOOKED, facility_id=1, at=AT),  # nobody to tell
    ],
)
def test_changes_nobody_is_told_about(event):
    assert drafts_for_event(event) == []


def test_a_call_message_expires_a_reminder_does_not():
    (called,) = drafts_for_event(_event(EventKind.TICKET_CALLED))
    (booked,) = drafts_for_event(_event(EventKind.APPOINTMENT_BOOKED))
    assert called.expires_at == AT + timedelta(minutes=30) and booked.expires_at is None
    assert MessageKind.TICKET_CALLED.is_urgent and not MessageKind.REMINDER.is_urgent


def test_backoff_doubles_with_jitter_and_gives_up():
    policy = RetryPolicy(max_tries=10, first_delay=5, max_delay=600)
    rng = random.Random(1)
    for tries, ceiling in [(1, 5), (2, 10), (3, 20), (7, 320), (8, 600), (9, 600)]:
        delays = [policy.delay(tries, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # spread, not in step
    assert not policy.gives_up(9) and policy.gives_up(10)
    # The documented span: the tenth try comes 15 to 31 minutes after the first.
    waits = [policy.delay(n) for n in range(1, 10)]
    assert 917 / 2 <= sum(waits) <= 1835


def test_quiet_hours_across_midnight():
    quiet = QuietHours.parse("21:00-07:00")
    assert quiet is not None
    assert quiet.contains(time(22)) and quiet.contains(time(6, 59)) and not quiet.contains(time(7))
    ten_pm = datetime(2026, 11, 23, 22, 0, tzinfo=JKT).astimezone(UTC)
    assert quiet.next_allowed(ten_pm, JKT) == datetime(2026, 11, 24, 7, 0, tzinfo=JKT)
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=JKT).astimezone(UTC)
    assert quiet.next_allowed(noon, JKT) == noon
    assert QuietHours.parse("off") is None
    with pytest.raises(ValueError):
        QuietHours.parse("25:00-07:00")


def test_every_built_in_text_is_valid_in_both_languages():
    for kind in MessageKind:
        for lang in LANGUAGES:
            text = DEFAULT_TEXTS[(kind, lang)]
            assert text.validated() == text
            assert set(placeholders_in(text.body)) <= set(PLACEHOLDERS[kind])


@pytest.mark.parametrize(
    ("body", "subject", "code"),
    [
        ("Halo {pasien}", "x", "unknown_placeholder"),
        ("Halo {patient", "x", "invalid_placeholder"),
        ("Halo {patient!r}", "x", "invalid_placeholder"),
        ("Halo {patient:>10}", "x", "invalid_placeholder"),
        ("Halo \x00", "x", "invalid_message_text"),
        ("", "x", "invalid_message_text"),
        ("x" * 1025, "x", "invalid_message_text"),
        ("ok", "two\nlines", "invalid_message_subject"),
        ("ok", "bell\x07", "invalid_message_subject"),
    ],
)
def test_texts_refused(body, subject, code):
    with pytest.raises(AntreanError) as caught:
        MessageText(MessageKind.REMINDER, "id", subject, body).validated()
    assert caught.value.code == code


def test_a_text_is_filled_and_gives_template_parameters_in_order():
    text = MessageText(
        MessageKind.REMINDER, "en", "{code}", "Hi {patient}, {code} at {time}. {{ok}}"
    )
    assert text.render({"patient": "Siti", "code": "ABC", "time": "08:00"}) == (
        "ABC",
        "Hi Siti, ABC at 08:00. {ok}",
    )
    assert text.template_parameters({"patient": "Siti", "code": "ABC"}) == ("Siti", "ABC", "-")
    with pytest.raises(AntreanError):
        MessageText(MessageKind.REMINDER, "fr", "x", "y").validated()


@pytest.mark.parametrize(
    ("typed", "command", "argument", "lang"),
    [
        ("STATUS abc234", Command.STATUS, "abc234", None),
        ("  cek   ABC234 ", Command.STATUS, "ABC234", "id"),
        ("batal abc234", Command.CANCEL, "abc234", "id"),
        ("Cancel ABC234 yes", Command.CANCEL_CONFIRMED, "ABC234", "en"),
        ("BATAL abc234 ya", Command.CANCEL_CONFIRMED, "ABC234", "id"),
        ("jadwal", Command.SCHEDULE, "", "id"),
        ("DAFTAR", Command.BOOK, "", "id"),
        ("antre poli gigi", Command.QUEUE, "poli gigi", "id"),
        ("queue umum", Command.QUEUE, "umum", "en"),
        ("BERHENTI", Command.STOP, "", "id"),
        ("stop", Command.STOP, "", None),
        ("mulai", Command.START, "", "id"),
        ("terima kasih dok", Command.HELP, "kasih dok", None),
        ("", Command.HELP, "", None),
    ],
)
def test_what_a_patient_writes(typed, command, argument, lang):
    request = parse_request(typed)
    assert (request.command, request.argument, request.lang) == (command, argument, lang)


def test_buttons_and_language_guesses():
    assert parse_button("cancel_confirmed:ABC234").command is Command.CANCEL_CONFIRMED
    assert parse_button("confirm:ABC234").argument == "ABC234"
    assert parse_button("Hadir").command is Command.CONFIRM  # a gateway's button text
    assert guess_language("Batal ABC") == "id" and guess_language("book") == "en"
    assert guess_language("status X") is None


def test_delivery_statuses_only_move_forward():
    assert delivery_moves(None, "sent") and delivery_moves("sent", "read")
    assert not delivery_moves("read", "delivered") and not delivery_moves("read", "read")
    assert delivery_moves("delivered", "failed") and not delivery_moves("failed", "read")
    assert not delivery_moves(None, "exploded")
