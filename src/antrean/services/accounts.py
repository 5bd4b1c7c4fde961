"""Use cases for user accounts: patients signing up, staff accounts, roles, disabling,
passwords. Password hashes are made before any transaction opens (they cost CPU, not locks)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from antrean.domain.booking import BookingPolicy
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.fields import (
    UNSET,
    Maybe,
    check_flag,
    check_id,
    check_optional_id,
    clean_text,
    given,
)
from antrean.domain.identity import (
    Actor,
    Role,
    SignInRules,
    StaffAccountDraft,
    User,
    account_key,
    account_roles,
    check_password_strength,
    normalize_username,
)
from antrean.domain.patients import PatientDraft
from antrean.services.access import SIGNED_IN, allow
from antrean.services.catalog import find_doctor
from antrean.services.patients import new_patient, to_e164
from antrean.services.ports import ENDED, UniqueViolation, UnitOfWork
from antrean.services.providers import PasswordHasher, PhoneNumbers

MAX_PAGE_SIZE = 200


def _add_user(uow: UnitOfWork, user: User) -> User:
    try:
        user.id = uow.users.add(user, uow.clock.now())
    except UniqueViolation:
        raise AntreanError("username_taken", field="username") from None
    return user


@allow(Role.ADMIN)
def create_user(
    uow: UnitOfWork, *, actor: Actor, hasher: PasswordHasher, draft: StaffAccountDraft
) -> User:
    """A staff (or patient) account in the actor's facility; the command line creates the
    first admin as the system."""
    draft = draft.validated()
    password_hash = hasher.hash(draft.password)
    with uow(write=True):
        if draft.doctor_id is not None:
            find_doctor(uow, actor.facility_id, draft.doctor_id)
        user = _add_user(
            uow,
            User(
                id=0,
                facility_id=actor.facility_id,
                username=draft.username,
                full_name=draft.full_name,
                roles=draft.roles,
                patient_id=None,
                doctor_id=draft.doctor_id,
                active=True,
                password_hash=password_hash,
            ),
        )
        uow.commit()
    return user


@allow(public=True)
def register_account(
    uow: UnitOfWork,
    *,
    actor: Actor,
    policy: BookingPolicy,
    phones: PhoneNumbers,
    hasher: PasswordHasher,
    username: str,
    password: str,
    patient: PatientDraft,
) -> User:
    """A patient signs up: a patient record and a login, in one transaction."""
    name = normalize_username(username)
    check_password_strength(password)
    if patient.mrn is not None:
        raise AntreanError("forbidden")  # record numbers are issued, not chosen
    phone = to_e164(phones, patient.phone)
    if phone is not None and not phones.is_mobile(phone):
        # Messages go to this number: a landline would never get them.
        raise AntreanError("not_mobile_number", field="phone")
    password_hash = hasher.hash(password)
    with uow(write=True):
        if uow.users.get_by_username(name) is not None:
            raise AntreanError("username_taken", field="username")
        record = new_patient(
            uow, facility_id=actor.facility_id, policy=policy, phones=phones, draft=patient
        )
        user = _add_user(
            uow,
            User(
                id=0,
                facility_id=actor.facility_id,
                username=name,
                full_name=record.name,
                roles=frozenset({Role.PATIENT}),
                patient_id=record.id,
                doctor_id=None,
                active=True,
                password_hash=password_hash,
            ),
        )
        uow.commit()
    return user


@allow(*SIGNED_IN)
def get_own_account(uow: UnitOfWork, *, actor: Actor) -> User:
    with uow():
        user = uow.users.get(actor.user_id)
    if user is None or not user.active:
        raise AntreanError("invalid_token")
    return user


@allow(Role.ADMIN)
def list_users(uow: UnitOfWork, *, actor: Actor, page: Page) -> tuple[list[User], int]:
    """The facility's accounts, by username."""
    page = checked_page(page, MAX_PAGE_SIZE)
    with uow():
        return uow.users.list(actor.facility_id, page)


@dataclass(frozen=True, slots=True)
class AccountPatch:
    """What an admin may change of an account: roles, name, the doctor it stands for, and
    whether it may sign in (disabling also signs it out everywhere)."""

    roles: Maybe[frozenset[Role]] = UNSET
    full_name: Maybe[str] = UNSET
    doctor_id: Maybe[int | None] = UNSET
    active: Maybe[bool] = UNSET

    def apply(self, user: User) -> User:
        if not any(given(v) for v in (self.roles, self.full_name, self.doctor_id, self.active)):
            raise AntreanError("nothing_to_change")
        changed = replace(user)
        if given(self.roles):
            changed.roles = account_roles(self.roles)
        if given(self.full_name):
            changed.full_name = clean_text(
                self.full_name, "full_name", max_length=200, required=False
            )
        if given(self.doctor_id):
            changed.doctor_id = check_optional_id(self.doctor_id, "doctor_id")
        if given(self.active):
            changed.active = check_flag(self.active, "active")
        return changed


def _user_of_facility(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    user = uow.users.get(check_id(user_id, "user_id"))
    if user is None or user.facility_id != actor.facility_id:
        raise AntreanError("not_found", entity="User")
    return user


def _keep_an_admin(uow: UnitOfWork, before: User, after: User) -> None:
    """An active admin may not be taken away if they are the last one."""
    was = before.active and Role.ADMIN in before.roles
    stays = after.active and Role.ADMIN in after.roles
    if was and not stays and uow.users.count_active_admins(before.facility_id) <= 1:
        raise AntreanError("last_admin")


@allow(Role.ADMIN)
def update_user(uow: UnitOfWork, *, actor: Actor, user_id: int, patch: AccountPatch) -> User:
    with uow(write=True):
        before = _user_of_facility(uow, actor, user_id)
        after = patch.apply(before)
        if after.doctor_id is not None and after.doctor_id != before.doctor_id:
            find_doctor(uow, actor.facility_id, after.doctor_id)
        _keep_an_admin(uow, before, after)
        uow.users.save(after)
        if not after.active:
            uow.users.revoke_all_refresh_tokens(after.id, uow.clock.now(), ENDED)
        uow.commit()
    return after


@allow(Role.ADMIN)
def reset_password(
    uow: UnitOfWork, *, actor: Actor, hasher: PasswordHasher, user_id: int, new_password: str
) -> None:
    """Set a new password for someone who lost theirs; their sessions end."""
    check_password_strength(new_password)
    password_hash = hasher.hash(new_password)
    with uow(write=True):
        user = _user_of_facility(uow, actor, user_id)
        uow.users.save(replace(user, password_hash=password_hash))
        uow.users.revoke_all_refresh_tokens(user.id, uow.clock.now(), ENDED)
        uow.sign_ins.clear(actor.facility_id, account_key(user.username))  # and unlocked
        uow.commit()


@allow(Role.ADMIN)
def unlock_account(uow: UnitOfWork, *, actor: Actor, user_id: int) -> None:
    """Lift the lock-out of an account (and forget its failed sign-ins)."""
    with uow(write=True):
        user = _user_of_facility(uow, actor, user_id)
        uow.sign_ins.clear(actor.facility_id, account_key(user.username))
        uow.commit()


@allow(Role.ADMIN)
def locked_accounts(
    uow: UnitOfWork, *, actor: Actor, rules: SignInRules = SignInRules()
) -> dict[str, datetime]:
    """Account names locked out after failed sign-ins, with when each lock ends."""
    prefix = account_key("")
    with uow():
        now = uow.clock.now()
        found = uow.sign_ins.locked(actor.facility_id, prefix)
    ends = {
        key.removeprefix(prefix): at + timedelta(minutes=rules.lock_minutes)
        for key, at in found.items()
    }
    return {name: end for name, end in ends.items() if end > now}


@allow(*SIGNED_IN)
def change_own_password(
    uow: UnitOfWork,
    *,
    actor: Actor,
    hasher: PasswordHasher,
    current_password: str,
    new_password: str,
) -> None:
    """The signed-in user changes their password; every session of theirs ends (refresh
    tokens revoked): they sign in again with the new password."""
    check_password_strength(new_password)
    user = get_own_account(uow, actor=actor)
    if not hasher.verify(user.password_hash, current_password):
        raise AntreanError("wrong_password", field="current_password")
    password_hash = hasher.hash(new_password)
    with uow(write=True):
        uow.users.save(replace(user, password_hash=password_hash))
        uow.users.revoke_all_refresh_tokens(user.id, uow.clock.now(), ENDED)
        uow.commit()
