"""Services called directly with values no adapter should let through still answer with the
domain's errors (a code, and the field it is about), never with a TypeError or a KeyError."""

from datetime import UTC, date, datetime, time

import pytest

from antrean.domain.booking import BookingDraft
from antrean.domain.catalog import (
    ClinicDraft,
    ClinicPatch,
    DoctorPatch,
    OpeningHours,
    ServiceDraft,
    ServicePatch,
)
from antrean.domain.errors import AntreanError
from antrean.domain.identity import StaffAccountDraft
from antrean.domain.patients import PatientPatch
from antrean.domain.queue import Priority, QueuePolicy, WalkInDraft
from antrean.integrations.passwords import Argon2Passwords
from antrean.services import accounts, booking, catalog, patients, queue, queue_actions
from tests.unit.conftest import JKT, PHONES

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=JKT)
TOO_BIG_ID = 2**64  # beyond the positive 64-bit ids both databases store


def _create_clinic(world, **kw):
    fields = dict(code="GIGI", name="Poli Gigi", queue_prefix="G")
    fields.update(kw)
    return catalog.create_clinic(
        world.uow, actor=world.admin, policy=world.policy, draft=ClinicDraft(**fields)
    )


def _update_clinic(world, patch):
    return catalog.update_clinic(
        world.uow,
        actor=world.admin,
        policy=world.policy,
        clinic_id=world.clinic_id,
        patch=patch,
    )


def _update_patient(world, patch, actor=None, index=0):
    return patients.update_patient(
        world.uow,
        actor=actor or world.admin,
        policy=world.policy,
        phones=PHONES,
        patient_id=world.patient_ids[index],
        patch=patch,
    )


# --- text and codes ----------------------------------------------------------------------------


def test_a_name_with_a_nul_character_is_refused(world):
    with pytest.raises(AntreanError) as err:
        _create_clinic(world, name="Poli\x00Gigi")
    assert err.value.code == "field_invalid_characters"
    assert err.value.field == "name"


def test_a_name_longer_than_stored_is_refused(world):
    with pytest.raises(AntreanError) as err:
        _create_clinic(world, name="x" * 300)
    assert err.value.code == "field_too_long"
    assert err.value.field == "name"
    assert err.value.params["max_length"] == 200


def test_a_queue_prefix_must_be_letters(world):
    with pytest.raises(AntreanError) as err:
        _create_clinic(world, queue_prefix="1")
    assert err.value.code == "invalid_queue_prefix"
    assert catalog.list_clinics(world.uow, actor=world.admin)[0].queue_prefix == "A"
    assert len(catalog.list_clinics(world.uow, actor=world.admin)) == 1, "nothing was stored"


def test_opening_hours_are_wall_clock_times_without_a_zone(world):
    aware = OpeningHours(0, time(7, tzinfo=UTC), time(16))
    with pytest.raises(AntreanError) as err:
        _create_clinic(world, hours=(aware,))
    assert err.value.code == "local_time_required"
    assert err.value.field == "opens"
    with pytest.raises(AntreanError) as err:
        _update_clinic(world, ClinicPatch(hours=(OpeningHours(0, time(7), time(16, tzinfo=JKT)),)))
    assert err.value.code == "local_time_required"
    assert err.value.field == "closes"


# --- partial updates ---------------------------------------------------------------------------


def test_an_empty_clinic_patch_changes_nothing(world):
    with pytest.raises(AntreanError) as err:
        _update_clinic(world, ClinicPatch())
    assert err.value.code == "nothing_to_change"


def test_an_empty_doctor_patch_changes_nothing(world):
    with pytest.raises(AntreanError) as err:
        catalog.update_doctor(
            world.uow, actor=world.admin, doctor_id=world.doctor_id, patch=DoctorPatch()
        )
    assert err.value.code == "nothing_to_change"


def test_an_empty_service_patch_changes_nothing(world):
    service = catalog.create_service(
        world.uow,
        actor=world.admin,
        draft=ServiceDraft(clinic_id=world.clinic_id, name="Konsultasi", duration_minutes=15),
    )
    with pytest.raises(AntreanError) as err:
        catalog.update_service(
            world.uow, actor=world.admin, service_id=service.id, patch=ServicePatch()
        )
    assert err.value.code == "nothing_to_change"


def test_an_empty_patient_patch_changes_nothing(world):
    with pytest.raises(AntreanError) as err:
        _update_patient(world, PatientPatch())
    assert err.value.code == "nothing_to_change"


def test_a_clinic_name_given_as_none_is_invalid_not_cleared(world):
    with pytest.raises(AntreanError) as err:
        _update_clinic(world, ClinicPatch(name=None))
    assert err.value.code == "field_invalid"
    assert err.value.field == "name"
    assert catalog.get_clinic(world.uow, actor=world.admin, clinic_id=world.clinic_id).name == (
        "Poli Umum"
    )


def test_a_medical_record_number_never_changes(world):
    before = world.uow.store.patients[world.patient_ids[0]].mrn
    with pytest.raises(AntreanError) as err:
        _update_patient(world, PatientPatch(mrn="RM-999"))
    assert err.value.code == "mrn_immutable"
    assert err.value.field == "mrn"
    assert world.uow.store.patients[world.patient_ids[0]].mrn == before


# --- ids ---------------------------------------------------------------------------------------


def test_a_slot_id_beyond_64_bits_is_invalid(world):
    with pytest.raises(AntreanError) as err:
        booking.book_appointment(
            world.uow,
            actor=world.admin,
            policy=world.policy,
            draft=BookingDraft(slot_id=TOO_BIG_ID, patient_id=world.patient_ids[0]),
        )
    assert err.value.code == "invalid_id"
    assert err.value.field == "slot_id"


def test_a_clinic_id_beyond_64_bits_is_invalid(world):
    with pytest.raises(AntreanError) as err:
        catalog.update_clinic(
            world.uow,
            actor=world.admin,
            policy=world.policy,
            clinic_id=TOO_BIG_ID,
            patch=ClinicPatch(name="Poli"),
        )
    assert err.value.code == "invalid_id"
    assert err.value.field == "clinic_id"


def test_a_patient_id_beyond_64_bits_is_invalid(world):
    with pytest.raises(AntreanError) as err:
        patients.get_patient(world.uow, actor=world.admin, patient_id=TOO_BIG_ID)
    assert err.value.code == "invalid_id"
    assert err.value.field == "patient_id"


def test_a_ticket_id_beyond_64_bits_is_invalid(world):
    with pytest.raises(AntreanError) as err:
        queue_actions.act_on_ticket(
            world.uow,
            actor=world.admin,
            queue=QueuePolicy(),
            ticket_id=TOO_BIG_ID,
            action="start",
        )
    assert err.value.code == "invalid_id"
    assert err.value.field == "ticket_id"


# --- accounts, queue and who may change what ---------------------------------------------------


def test_an_unknown_role_is_refused(world):
    draft = StaffAccountDraft(
        username="ops", password="long-enough-pw", roles=frozenset({"superuser"})
    )
    with pytest.raises(AntreanError) as err:
        accounts.create_user(world.uow, actor=world.admin, hasher=Argon2Passwords(), draft=draft)
    assert err.value.code == "invalid_role"
    assert err.value.params["role"] == "superuser"
    assert world.uow.store.users == {}


def test_a_priority_walk_in_needs_a_reason(world):
    world.clock.set(MONDAY_9)
    walk_in = WalkInDraft(
        clinic_id=world.clinic_id,
        name="Mbah",
        birth_date=date(1940, 1, 1),
        priority=Priority.PRIORITY,
    )
    with pytest.raises(AntreanError) as err:
        queue.issue_walk_in(
            world.uow, actor=world.admin, policy=world.policy, phones=PHONES, walk_in=walk_in
        )
    assert err.value.code == "priority_reason_required"
    assert err.value.field == "priority_reason"
    assert world.uow.store.tickets == {}


def test_a_patient_changes_only_their_phone_and_address(world):
    me = world.patient_actor(0)
    changed = _update_patient(world, PatientPatch(phone="0812 3456 7890"), actor=me)
    assert changed.phone == "+6281234567890"
    with pytest.raises(AntreanError) as err:
        _update_patient(world, PatientPatch(name="Nama Baru"), actor=me)
    assert err.value.code == "forbidden"
    assert world.uow.store.patients[world.patient_ids[0]].name == "Pasien 0"
