"""Answering patients who write to the clinic's number (WhatsApp, or SMS through a gateway).

A message is handled once: its provider id is recorded first, so a webhook delivered again
changes nothing and is not answered again. The sender is known by their phone number: only a
booking of the patient with that number can be looked at or cancelled from it. Every answer is
an outbox message (the same delivery, retries and log as any other), written in the language
the patient wrote in, or their record's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antrean.domain.booking import Appointment, AppointmentStatus, BookingPolicy, booking_code
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.notifications import (
    Button,
    Command,
    InboundMessage,
    MessageKind,
    OutboxDraft,
    Request,
    button_id,
    guess_language,
    parse_button,
    parse_request,
)
from antrean.domain.patients import Patient
from antrean.services.access import allow
from antrean.services.booking import cancel_appointment
from antrean.services.delivery import MessageFormats
from antrean.services.ports import UnitOfWork
from antrean.services.queue import take_number, ticket_status

CANCEL_REASON = {"id": "Dibatalkan pasien lewat pesan", "en": "Cancelled by the patient by message"}


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the use case needs to know besides the message."""

    policy: BookingPolicy
    public_url: str
    formats: MessageFormats


@allow()
def receive(
    uow: UnitOfWork, *, actor: Actor, setup: Conversation, inbound: InboundMessage
) -> Reply | None:
    """Handle one message a patient sent; the answer queued (None: a repeat, not answered)."""
    facility_id = actor.facility_id
    with uow(write=True):
        now = uow.clock.now()
        if not uow.contacts.first_delivery(facility_id, inbound.transport, inbound.message_id, now):
            return None
        request = parse_button(inbound.button) if inbound.button else parse_request(inbound.text)
        patients = _patients_with(uow, facility_id, inbound.sender)
        talk = uow.contacts.conversation(facility_id, inbound.sender)
        lang = (
            request.lang
            or guess_language(inbound.text)
            or (patients[0].language if patients and patients[0].language else None)
            or (talk[1] if talk else None)
            or "id"
        )
        uow.contacts.heard_from(
            facility_id, inbound.sender, request.lang or guess_language(inbound.text), now
        )
        uow.commit()
    reply = _answer(uow, actor, setup, inbound, request, patients, lang, now)
    if reply is not None:
        with uow(write=True):
            uow.outbox.add(
                OutboxDraft(
                    kind=MessageKind.REPLY,
                    facility_id=facility_id,
                    due_at=uow.clock.now(),
                    patient_id=patients[0].id if patients else None,
                    medium=inbound.medium,
                    address=inbound.sender,
                    lang=lang,
                    data={"text": reply.text, "buttons": _buttons_data(reply.buttons)},
                ),
                uow.clock.now(),
            )
            uow.commit()
    return reply


def _buttons_data(buttons: tuple[Button, ...]) -> str:
    return "\n".join(f"{b.id}\t{b.title}" for b in buttons)


def _patients_with(uow: UnitOfWork, facility_id: int, phone: str) -> list[Patient]:
    found, _ = uow.patients.search(facility_id, mrn=None, name=None, phone=phone, page=Page(1, 20))
    return found


def _as_patient(actor: Actor, patient: Patient) -> Actor:
    return Actor(
        user_id=0,
        facility_id=actor.facility_id,
        roles=frozenset({Role.PATIENT}),
        patient_id=patient.id,
    )


def _answer(
    uow: UnitOfWork,
    actor: Actor,
    setup: Conversation,
    inbound: InboundMessage,
    request: Request,
    patients: list[Patient],
    lang: str,
    now: datetime,
) -> Reply | None:
    t = _TEXTS[lang]
    c = request.command
    url = setup.public_url.rstrip("/")
    if c is Command.STOP or c is Command.START:
        with uow(write=True):
            uow.contacts.set_opt_out(
                actor.facility_id, inbound.medium, inbound.sender, c is Command.STOP, now
            )
            uow.commit()
        return Reply(t["stopped"] if c is Command.STOP else t["started"])
    if c is Command.BOOK:
        return Reply(t["book"].format(link=f"{url}/book"))
    if c is Command.SCHEDULE:
        return Reply(_schedule(uow, actor, setup, lang))
    if c is Command.QUEUE:
        return _queue(uow, actor, setup, request, patients, lang, url)
    if c in (
        Command.STATUS,
        Command.CANCEL,
        Command.CANCEL_CONFIRMED,
        Command.CONFIRM,
        Command.RESCHEDULE,
    ):
        return _about_booking(uow, actor, setup, request, patients, lang, url)
    return Reply(t["help"])


def _own_booking(
    uow: UnitOfWork, actor: Actor, code: str, patients: list[Patient]
) -> Appointment | None:
    """The booking with this code, if it is one of the sender's patients' own."""
    if not code:
        return None
    try:
        wanted = booking_code(code)
    except AntreanError:
        return None
    with uow():
        appointment = uow.appointments.get_by_code(actor.facility_id, wanted)
    if appointment is None or appointment.patient_id not in {p.id for p in patients}:
        return None
    return appointment


def _about_booking(
    uow: UnitOfWork,
    actor: Actor,
    setup: Conversation,
    request: Request,
    patients: list[Patient],
    lang: str,
    url: str,
) -> Reply | None:
    t = _TEXTS[lang]
    code = request.argument.split()[0] if request.argument else ""
    if not code:
        return Reply(t["code_needed"])
    appointment = _own_booking(uow, actor, code, patients)
    c = request.command
    if appointment is None:
        if c is Command.STATUS:
            return _ticket_status(uow, actor, code, lang)
        return Reply(t["not_found"].format(code=code))
    tz = setup.policy.time_zone
    when = appointment.start_at.astimezone(tz)
    day, clock = setup.formats.day(when.date(), lang), setup.formats.clock(when, lang)
    status = t.get("status_" + appointment.status.value, appointment.status.value)
    if c is Command.STATUS:
        return Reply(
            t["booking_status"].format(code=appointment.code, day=day, time=clock, status=status)
        )
    if appointment.status is not AppointmentStatus.BOOKED:
        return Reply(t["not_active"].format(code=appointment.code, status=status))
    if c is Command.CONFIRM:
        return Reply(t["confirmed"].format(code=appointment.code, day=day, time=clock))
    if c is Command.RESCHEDULE:
        return Reply(
            t["reschedule"].format(link=f"{url}/appointments/{appointment.code}/reschedule")
        )
    if c is Command.CANCEL:
        return Reply(
            t["cancel_ask"].format(code=appointment.code, day=day, time=clock),
            (Button(button_id(Command.CANCEL_CONFIRMED, appointment.code), t["yes_cancel"]),),
        )
    owner = next(p for p in patients if p.id == appointment.patient_id)
    try:
        cancel_appointment(
            uow, actor=_as_patient(actor, owner), code=appointment.code, reason=CANCEL_REASON[lang]
        )
    except AntreanError as exc:
        return Reply(exc.message(lang))
    return None  # the cancellation message is the answer


def _ticket_status(uow: UnitOfWork, actor: Actor, code: str, lang: str) -> Reply:
    t = _TEXTS[lang]
    try:
        status = ticket_status(uow, actor=Actor.anonymous(actor.facility_id), status_code=code)
    except AntreanError:
        return Reply(t["not_found"].format(code=code))
    return Reply(
        t["ticket_status"].format(
            ticket=status.label, clinic=status.clinic_name, ahead=status.people_ahead
        )
    )


def _queue(
    uow: UnitOfWork,
    actor: Actor,
    setup: Conversation,
    request: Request,
    patients: list[Patient],
    lang: str,
    url: str,
) -> Reply | None:
    t = _TEXTS[lang]
    if not patients:
        return Reply(t["unknown_patient"].format(link=f"{url}/book"))
    wanted = request.argument.strip().lower()
    with uow():
        clinics = [c for c in uow.catalog.list_clinics(actor.facility_id) if c.is_open]
    names = ", ".join(c.name for c in clinics)
    match = [
        c
        for c in clinics
        if wanted
        and (wanted in c.name.lower() or wanted in (c.queue_prefix.lower(), c.code.lower()))
    ]
    if len(match) != 1:
        return Reply(t["which_clinic"].format(clinics=names))
    with uow():
        today = uow.clock.now().astimezone(setup.policy.time_zone).date()
        held = {k.id for k in uow.tickets.for_patient(actor.facility_id, patients[0].id, today)}
    try:
        issued = take_number(
            uow, actor=_as_patient(actor, patients[0]), policy=setup.policy, clinic_id=match[0].id
        )
    except AntreanError as exc:
        return Reply(exc.message(lang))
    if issued.ticket.id in held:  # already in that line today: the same ticket back
        return Reply(
            t["already_in_line"].format(
                ticket=issued.ticket.label, link=f"{url}/t/{issued.ticket.status_code}"
            )
        )
    return None  # the "ticket issued" message is the answer


def _schedule(uow: UnitOfWork, actor: Actor, setup: Conversation, lang: str) -> str:
    """Today's clinics with their hours, and the doctors with places left today."""
    t = _TEXTS[lang]
    tz = setup.policy.time_zone
    with uow():
        now = uow.clock.now()
        today = now.astimezone(tz).date()
        clinics = [c for c in uow.catalog.list_clinics(actor.facility_id) if c.is_open]
        hours = uow.catalog.opening_hours(actor.facility_id)
        doctors = uow.slots.free_places(
            actor.facility_id,
            first_day=today,
            last_day=today,
            not_before=now,
            clinic_id=None,
            doctor_id=None,
        )
    lines = [t["schedule_head"]]
    weekday = today.weekday()
    for clinic in clinics:
        spans = [
            f"{h.opens.strftime('%H:%M')}-{h.closes.strftime('%H:%M')}"
            for h in hours.get(clinic.id, [])
            if h.weekday == weekday
        ]
        lines.append(f"- {clinic.name}: {', '.join(spans) if spans else t['closed']}")
    if doctors:
        lines.append(t["doctors_head"])
        lines.extend(f"- {d.doctor_name} ({d.places})" for d in doctors)
    return "\n".join(lines)


_TEXTS: dict[str, dict[str, str]] = {
    "id": {
        "help": (
            "Balas dengan salah satu perintah:\n"
            "STATUS <kode> - status booking atau nomor antrean\n"
            "BATAL <kode> - batalkan booking\n"
            "JADWAL - poli dan dokter hari ini\n"
            "DAFTAR - link booking\n"
            "ANTRE <poli> - ambil nomor antrean hari ini\n"
            "BERHENTI - berhenti menerima pesan"
        ),
        "stopped": "Anda tidak akan menerima pesan lagi di sini. Balas MULAI untuk menerima lagi.",
        "started": "Pesan dari klinik diaktifkan lagi.",
        "book": "Buat booking di sini: {link}",
        "code_needed": "Tulis kodenya juga, misalnya: STATUS ABC234",
        "not_found": "Kode {code} tidak ditemukan untuk nomor ini.",
        "booking_status": "Booking {code}: {day} jam {time}. Status: {status}.",
        "ticket_status": "Nomor {ticket} ({clinic}): {ahead} orang di depan Anda.",
        "not_active": "Booking {code} sudah {status}.",
        "confirmed": "Terima kasih, kami tunggu kedatangan Anda {day} jam {time} (booking {code}).",
        "reschedule": "Pilih jadwal baru di sini: {link}",
        "cancel_ask": (
            "Batalkan booking {code} ({day} jam {time})? Tekan tombol, atau balas BATAL {code} YA."
        ),
        "yes_cancel": "Ya, batalkan",
        "unknown_patient": (
            "Nomor ini belum terdaftar sebagai pasien. Daftar dan booking di: {link}"
        ),
        "which_clinic": "Poli mana? Tulis ANTRE dan nama poli: {clinics}",
        "already_in_line": "Anda sudah mendapat nomor {ticket} hari ini. Pantau: {link}",
        "schedule_head": "Jadwal hari ini:",
        "doctors_head": "Dokter dengan tempat kosong hari ini:",
        "closed": "tutup",
        "status_booked": "terjadwal",
        "status_cancelled": "dibatalkan",
        "status_checked_in": "sudah hadir",
        "status_no_show": "tidak hadir",
        "status_completed": "selesai",
    },
    "en": {
        "help": (
            "Reply with one of these:\n"
            "STATUS <code> - a booking's or queue number's status\n"
            "CANCEL <code> - cancel a booking\n"
            "SCHEDULE - clinics and doctors today\n"
            "BOOK - the booking link\n"
            "QUEUE <clinic> - take a queue number today\n"
            "STOP - no more messages"
        ),
        "stopped": "You will get no more messages here. Reply START to get them again.",
        "started": "Messages from the clinic are on again.",
        "book": "Book here: {link}",
        "code_needed": "Write the code too, for example: STATUS ABC234",
        "not_found": "Code {code} was not found for this number.",
        "booking_status": "Booking {code}: {day} at {time}. Status: {status}.",
        "ticket_status": "Number {ticket} ({clinic}): {ahead} people ahead of you.",
        "not_active": "Booking {code} is {status} already.",
        "confirmed": "Thank you, we expect you on {day} at {time} (booking {code}).",
        "reschedule": "Choose a new time here: {link}",
        "cancel_ask": (
            "Cancel booking {code} ({day} at {time})? Tap the button, or reply CANCEL {code} YES."
        ),
        "yes_cancel": "Yes, cancel",
        "unknown_patient": "This number is not a patient's yet. Register and book at: {link}",
        "which_clinic": "Which clinic? Write QUEUE and the clinic's name: {clinics}",
        "already_in_line": "You already have number {ticket} today. Follow it: {link}",
        "schedule_head": "Today:",
        "doctors_head": "Doctors with free places today:",
        "closed": "closed",
        "status_booked": "booked",
        "status_cancelled": "cancelled",
        "status_checked_in": "checked in",
        "status_no_show": "not present",
        "status_completed": "completed",
    },
}
