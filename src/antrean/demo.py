"""A realistic Indonesian demo facility, loaded through the same services the API uses."""

from __future__ import annotations

import contextlib
import random
from datetime import date, time, timedelta

from rich.console import Console
from rich.progress import Progress

from antrean.bootstrap import Container
from antrean.config import DEMO_ACCOUNTS
from antrean.domain.booking import BookingDraft
from antrean.domain.catalog import (
    ClinicDraft,
    DoctorDraft,
    FacilityPatch,
    OpeningHours,
    ServiceDraft,
)
from antrean.domain.devices import DeviceKind, DeviceLinkDraft
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role, StaffAccountDraft, User
from antrean.domain.patients import PatientDraft, Sex
from antrean.domain.scheduling import ExceptionKind, Schedule, ScheduleException
from antrean.services import accounts, booking, catalog, devices, patients, scheduling

WEEKDAYS = range(0, 5)  # Monday to Friday
SATURDAY = 5
ALWAYS = (time.min, time.max)  # around the clock, every day

CLINICS = [
    # code, name, prefix, weekday hours, saturday hours
    ("UMUM", "Poli Umum", "A", (time(7), time(21)), (time(8), time(14))),
    ("GIGI", "Poli Gigi", "B", (time(8), time(16)), (time(8), time(12))),
    ("ANAK", "Poli Anak", "C", (time(8), time(16)), (time(8), time(12))),
    ("KANDUNGAN", "Poli Kandungan", "D", (time(8), time(16)), None),
    ("PD", "Poli Penyakit Dalam", "E", (time(8), time(16)), None),
    ("MATA", "Poli Mata", "F", (time(9), time(15)), None),
    # The emergency unit never closes: a newcomer can try a walk-in at any hour.
    ("IGD", "Instalasi Gawat Darurat", "G", ALWAYS, ALWAYS),
]

SERVICES = {
    "UMUM": [("Pemeriksaan umum", 10), ("Surat keterangan sehat", 10)],
    "GIGI": [("Pemeriksaan gigi", 20), ("Tambal gigi", 30), ("Cabut gigi", 30)],
    "ANAK": [("Pemeriksaan anak", 15), ("Imunisasi", 10)],
    "KANDUNGAN": [("Pemeriksaan kehamilan (ANC)", 20), ("USG", 20)],
    "PD": [("Konsultasi penyakit dalam", 15), ("Kontrol diabetes", 15)],
    "MATA": [("Pemeriksaan mata", 15), ("Resep kacamata", 15)],
    "IGD": [("Pemeriksaan gawat darurat", 15)],
}

# name, specialty, clinic code, [(weekday(s), start, end)], slot minutes, patients per slot
DOCTORS = [
    ("dr. Andi Wijaya", "Dokter Umum", "UMUM", [(WEEKDAYS, time(7), time(14))], 15, 3),
    ("dr. Siti Rahmawati", "Dokter Umum", "UMUM", [(WEEKDAYS, time(14), time(21))], 15, 3),
    ("dr. Bayu Pratama", "Dokter Umum", "UMUM", [((SATURDAY,), time(8), time(14))], 15, 3),
    ("drg. Maya Kusuma", "Dokter Gigi", "GIGI", [(WEEKDAYS, time(8), time(12))], 30, 1),
    ("drg. Rudi Hartono", "Dokter Gigi", "GIGI", [(WEEKDAYS, time(12), time(16))], 30, 1),
    ("dr. Lestari Putri, Sp.A", "Spesialis Anak", "ANAK", [(WEEKDAYS, time(8), time(12))], 20, 2),
    ("dr. Hendra Gunawan, Sp.A", "Spesialis Anak", "ANAK", [((1, 3), time(12), time(16))], 20, 2),
    (
        "dr. Ratna Dewi, Sp.OG",
        "Spesialis Kandungan",
        "KANDUNGAN",
        [(WEEKDAYS, time(8), time(13))],
        20,
        2,
    ),
    (
        "dr. Agus Salim, Sp.PD",
        "Spesialis Penyakit Dalam",
        "PD",
        [(WEEKDAYS, time(8), time(14))],
        20,
        2,
    ),
    (
        "dr. Fitri Handayani, Sp.M",
        "Spesialis Mata",
        "MATA",
        [((0, 2, 4), time(9), time(15))],
        20,
        2,
    ),
]

FIRST_NAMES = [
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Rina",
    "Joko",
    "Ani",
    "Hendra",
    "Yuni",
    "Bambang",
    "Sri",
    "Eko",
    "Wati",
    "Dedi",
    "Nur",
    "Rizky",
    "Putri",
    "Fajar",
    "Indah",
    "Ahmad",
    "Ayu",
    "Dimas",
    "Lina",
    "Teguh",
    "Ratna",
    "Wahyu",
    "Fitri",
    "Arif",
    "Mega",
    "Yusuf",
]
LAST_NAMES = [
    "Santoso",
    "Wijaya",
    "Saputra",
    "Lestari",
    "Hidayat",
    "Kurniawan",
    "Susanti",
    "Nugroho",
    "Pratama",
    "Wulandari",
    "Setiawan",
    "Rahayu",
    "Siregar",
    "Nasution",
    "Simanjuntak",
    "Gunawan",
    "Permana",
    "Hasibuan",
    "Purnomo",
    "Halim",
]
MOBILE_PREFIXES = ["0812", "0813", "0821", "0852", "0857", "0878", "0896"]
CITIES = ["Jakarta Selatan", "Bandung", "Surabaya", "Depok", "Bekasi", "Tangerang", "Bogor"]

STAFF_NAMES = {"admin": "Admin Klinik", "operator": "Petugas Pendaftaran"}


DEMO_ADDRESS = "Jl. Cempaka Putih Raya No. 45, Jakarta Pusat 10510"
DEMO_PHONE = "021 4280 1234"


def load_demo(container: Container, *, patients: int, force: bool, console: Console) -> None:
    uow = container.uow
    admin = container.system()
    if catalog.list_clinics(uow(), actor=admin) and not force:
        console.print("The database already has clinics; demo data not loaded (use --force).")
        _print_accounts(container, console)
        console.print(
            "  Display and kiosk links: sign in as admin, then Admin > Displays and kiosks."
        )
        return
    rng = random.Random(20261122)
    policy = container.policy
    # Booking confirmations carry the facility's address and phone: the demo has both.
    catalog.update_facility(
        uow(),
        actor=admin,
        patch=FacilityPatch(address=DEMO_ADDRESS, phone=DEMO_PHONE),
    )
    clinic_ids = _clinics(container, admin)
    doctor_ids = _doctors(container, admin, clinic_ids)
    today = container.clock.now().astimezone(policy.time_zone).date()
    _holiday(container, admin, today)
    patient_ids: list[int] = []
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("Patients", total=patients)
        for n in range(patients):
            patient_ids.append(_patient(container, admin, rng, n).id)
            progress.advance(task)
        _bookings(container, admin, rng, patient_ids, today, progress)
    _users(container, admin, patient_ids[0], doctor_ids[0])
    console.print(
        f"Demo loaded: {len(clinic_ids)} clinics, {len(doctor_ids)} doctors, {patients} patients."
    )
    _print_accounts(container, console)
    base = f"http://{container.settings.host}:{container.settings.port}"
    for name, kind in (("TV ruang tunggu", DeviceKind.DISPLAY), ("Kios tiket", DeviceKind.KIOSK)):
        made = devices.create_device_link(
            container.uow(),
            actor=admin,
            draft=DeviceLinkDraft(kind=kind, name=name, clinic_ids=tuple(clinic_ids.values())),
        )
        console.print(f"  {kind.value:9} {base}/{kind.value}/{made.token}")
    console.print("The emergency unit (IGD) is open around the clock: try a walk-in at any hour.")


def _print_accounts(container: Container, console: Console) -> None:
    base = f"http://{container.settings.host}:{container.settings.port}"
    console.print(f"Open {base} and sign in with a demo account:")
    for role, username, password in DEMO_ACCOUNTS:
        console.print(f"  {role:9} {username} / {password}")


def _clinics(container: Container, admin: Actor) -> dict[str, int]:
    ids: dict[str, int] = {}
    for code, name, prefix, weekday_hours, saturday_hours in CLINICS:
        if weekday_hours == ALWAYS:
            hours = [OpeningHours(d, *ALWAYS) for d in range(7)]
        else:
            hours = [OpeningHours(d, *weekday_hours) for d in WEEKDAYS]
        if saturday_hours and weekday_hours != ALWAYS:
            hours.append(OpeningHours(SATURDAY, *saturday_hours))
        clinic = catalog.create_clinic(
            container.uow(),
            actor=admin,
            policy=container.policy,
            draft=ClinicDraft(code=code, name=name, queue_prefix=prefix, hours=tuple(hours)),
        )
        ids[code] = clinic.id
        rooms = {"UMUM": ["Loket 1", "Loket 2"], "IGD": ["Bed 1", "Bed 2"]}.get(code, ["Ruang 1"])
        for room in rooms:
            catalog.add_counter(container.uow(), actor=admin, clinic_id=clinic.id, name=room)
        for service_name, minutes in SERVICES[code]:
            catalog.create_service(
                container.uow(),
                actor=admin,
                draft=ServiceDraft(
                    clinic_id=clinic.id, name=service_name, duration_minutes=minutes
                ),
            )
    return ids


def _doctors(container: Container, admin: Actor, clinic_ids: dict[str, int]) -> list[int]:
    ids = []
    for name, specialty, clinic_code, sessions, slot_minutes, capacity in DOCTORS:
        doctor = catalog.create_doctor(
            container.uow(), actor=admin, draft=DoctorDraft(name=name, specialty=specialty)
        )
        ids.append(doctor.id)
        for days, start, end in sessions:
            for weekday in days:
                scheduling.save_schedule(
                    container.uow(),
                    actor=admin,
                    policy=container.policy,
                    schedule=Schedule(
                        0,
                        doctor.id,
                        clinic_ids[clinic_code],
                        weekday,
                        start,
                        end,
                        slot_minutes,
                        capacity,
                    ),
                )
    return ids


def _holiday(container: Container, admin: Actor, today: date) -> None:
    """A doctor's leave day next week, so the demo shows an exception."""
    leave_day = today + timedelta(days=(7 - today.weekday()) + 2)
    scheduling.add_exception(
        container.uow(),
        actor=admin,
        policy=container.policy,
        exception=ScheduleException(
            0, ExceptionKind.LEAVE, leave_day, leave_day, doctor_id=1, reason="Cuti pribadi"
        ),
    )


def _patient(container: Container, admin: Actor, rng: random.Random, n: int):  # type: ignore[no-untyped-def]
    sex = rng.choice([Sex.MALE, Sex.FEMALE])
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 84))
    return patients.register_patient(
        container.uow(),
        actor=admin,
        policy=container.policy,
        phones=container.phones,
        draft=PatientDraft(
            name=name,
            birth_date=birth,
            sex=sex,
            phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10_000_000, 99_999_999)}",
            address=f"Jl. {rng.choice(LAST_NAMES)} No. {rng.randrange(1, 200)}, "
            f"{rng.choice(CITIES)}",
            nik=f"3{rng.randrange(10**14, 10**15 - 1)}",
            bpjs_number=f"000{rng.randrange(10**9, 10**10 - 1)}" if rng.random() < 0.7 else None,
        ),
    )


def _bookings(
    container: Container,
    admin: Actor,
    rng: random.Random,
    patient_ids: list[int],
    today: date,
    progress: Progress,
) -> None:
    slots = scheduling.search_slots(
        container.uow(),
        actor=admin,
        policy=container.policy,
        date_from=today,
        date_to=today + timedelta(days=13),
    )
    wanted = min(len(slots), len(patient_ids) * 2)
    task = progress.add_task("Bookings", total=wanted)
    for slot in rng.sample(slots, wanted):
        # A patient already booked at that clinic that day is refused, as in real life.
        with contextlib.suppress(AntreanError):
            booking.book_appointment(
                container.uow(),
                actor=admin,
                policy=container.policy,
                draft=BookingDraft(slot_id=slot.id, patient_id=rng.choice(patient_ids)),
            )
        progress.advance(task)


def _users(container: Container, admin: Actor, patient_id: int, doctor_id: int) -> None:
    accounts_to_make = [
        StaffAccountDraft(username, password, frozenset({Role(role)}), STAFF_NAMES[role])
        for role, username, password in DEMO_ACCOUNTS
        if role in STAFF_NAMES
    ]
    doctor = next(a for a in DEMO_ACCOUNTS if a[0] == "doctor")
    accounts_to_make.append(
        StaffAccountDraft(
            doctor[1], doctor[2], frozenset({Role.DOCTOR}), "dr. Andi Wijaya", doctor_id
        )
    )
    for draft in accounts_to_make:
        accounts.create_user(container.uow(), actor=admin, hasher=container.passwords, draft=draft)
    # The demo patient's login is tied to an existing record, as the front desk would do.
    _, username, password = next(a for a in DEMO_ACCOUNTS if a[0] == "patient")
    password_hash = container.passwords.hash(password)
    uow = container.uow()
    with uow(write=True):
        uow.users.add(
            User(
                0,
                admin.facility_id,
                username,
                "Pasien Demo",
                frozenset({Role.PATIENT}),
                patient_id,
                None,
                True,
                password_hash,
            ),
            uow.clock.now(),
        )
        uow.commit()
