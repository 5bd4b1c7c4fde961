"""Reading the audit log: admins search it and check its chains; a patient sees who opened
their record. (Entries are written by the unit of work, not here: see `domain.audit`.)"""

from __future__ import annotations

from dataclasses import dataclass, replace

from antrean.domain.audit import AuditEntry, AuditFilter, ChainReport
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id
from antrean.domain.identity import Actor, Role
from antrean.services.access import allow
from antrean.services.ports import UnitOfWork

MAX_PAGE_SIZE = 200
ACTION_LENGTH = 60


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: Page
    # The people behind the entries shown: their names and usernames, by account id.
    people: dict[int, tuple[str, str]]


def _people(uow: UnitOfWork, entries: list[AuditEntry]) -> dict[int, tuple[str, str]]:
    found: dict[int, tuple[str, str]] = {}
    for user_id in sorted({e.actor_user_id for e in entries if e.actor_user_id}):
        user = uow.users.get(user_id)
        if user is not None:
            found[user_id] = (user.full_name or user.username, user.username)
    return found


@allow(Role.ADMIN)
def audit_log(uow: UnitOfWork, *, actor: Actor, flt: AuditFilter, page: Page) -> AuditPage:
    """Entries newest first, by who, which patient, what, which record and when."""
    page = checked_page(page, MAX_PAGE_SIZE)
    for value, name in (
        (flt.actor_user_id, "actor_user_id"),
        (flt.patient_id, "patient_id"),
    ):
        if value is not None:
            check_id(value, name)
    if flt.action is not None and (
        len(flt.action) > ACTION_LENGTH or not flt.action.replace("_", "").isalnum()
    ):
        raise AntreanError("field_invalid", field="action")
    for instant, name in ((flt.since, "since"), (flt.until, "until")):
        if instant is not None and instant.utcoffset() is None:
            raise AntreanError("field_invalid", field=name)  # which zone's 08:00?
    if flt.since is not None and flt.until is not None and flt.until <= flt.since:
        raise AntreanError("field_invalid", field="until")
    with uow():
        entries, total = uow.audit_log.find(actor.facility_id, flt, page)
        return AuditPage(entries, total, page, _people(uow, entries))


@allow(Role.PATIENT)
def who_opened_my_record(uow: UnitOfWork, *, actor: Actor, page: Page) -> AuditPage:
    """Who read or changed the signed-in patient's record, their bookings and their tickets:
    everyone but the patient themselves, newest first."""
    if actor.patient_id is None:
        raise AntreanError("not_found", entity="Patient")
    page = checked_page(page, MAX_PAGE_SIZE)
    # Not their own doings, signed in or not (signing up, taking a number at home).
    flt = AuditFilter(
        patient_id=actor.patient_id, not_actor_user_id=actor.user_id, not_anonymous=True
    )
    with uow():
        entries, total = uow.audit_log.find(actor.facility_id, flt, page)
        people = _people(uow, entries)
    # A patient sees staff by name and role, not their account names.
    shown = {uid: (name, "") for uid, (name, _username) in people.items()}
    return AuditPage(
        [replace(e, client_address="", request_id="") for e in entries], total, page, shown
    )


@allow(Role.ADMIN)
def verify_audit_log(uow: UnitOfWork, *, actor: Actor) -> list[ChainReport]:
    """Check every chain of the facility's log: each one's length, head and first break."""
    with uow():
        return uow.audit_log.verify(actor.facility_id)
