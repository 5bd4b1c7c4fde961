"""Staff sign-in through the organisation's OpenID provider (single sign-on).

The adapter runs the provider's code flow and checks the ID token (`integrations.oidc`);
what reaches this use case is a person the provider vouched for (`ExternalIdentity`). Here
that person becomes an account: the one linked to the provider's issuer and subject, or, at
a first sign-in, a new staff account with no password (it signs in only through the
provider). Roles come from the provider's groups at every sign-in (`SingleSignOnRules`), so
a group taken away there takes the role away here; someone with no mapped group gets in
nowhere. A disabled account stays out whatever the provider says.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NoReturn

from antrean.domain.audit import AuditSubject
from antrean.domain.errors import AntreanError
from antrean.domain.fields import clean_text
from antrean.domain.identity import (
    Actor,
    ExternalIdentity,
    Role,
    SingleSignOnRules,
    User,
    normalize_username,
)
from antrean.services.access import allow
from antrean.services.identity import TokenPair, issue_tokens
from antrean.services.ports import UniqueViolation, UnitOfWork
from antrean.services.providers import AccessTokens

NO_PASSWORD = ""  # matches no password: such an account signs in through its provider only


@allow(public=True)
def sign_in_with_provider(
    uow: UnitOfWork,
    *,
    actor: Actor,
    tokens: AccessTokens,
    rules: SingleSignOnRules,
    person: ExternalIdentity,
) -> TokenPair:
    """A session for the person the provider vouched for, as `login` makes for a password.

    Refused with `sso_no_role` when none of their groups maps to a role here, `sso_no_account`
    when no account is linked and accounts are not made at first sign-in, `sso_name_taken`
    when the name they go by belongs to an account not linked to them (an admin renames one
    of the two), and `invalid_credentials` when their account is disabled."""
    roles = rules.roles_for(person.groups)
    full_name = _display_name(person.full_name)
    with uow(write=True):
        now = uow.clock.now()
        user_id = uow.users.signed_in_externally(
            actor.facility_id, person.issuer, person.subject, now
        )
        user = uow.users.get(user_id) if user_id is not None else None
        if not roles:
            _refuse(uow, user, "sso_no_role")
        if user is None:
            if not rules.create_accounts:
                _refuse(uow, None, "sso_no_account")
            user = _first_sign_in(uow, actor, person, roles, full_name)
        elif not user.active or user.facility_id != actor.facility_id:
            _refuse(uow, user, "invalid_credentials")
        elif user.roles != roles or (full_name and user.full_name != full_name):
            user = replace(user, roles=roles, full_name=full_name or user.full_name)
            uow.users.save(user)
        pair = issue_tokens(uow, tokens, user)
        uow.audit(AuditSubject("user", str(user.id)))
        uow.commit()
    return pair


def _first_sign_in(
    uow: UnitOfWork, actor: Actor, person: ExternalIdentity, roles: frozenset[Role], full_name: str
) -> User:
    try:
        username = normalize_username(person.username)
    except AntreanError:
        _refuse(uow, None, "sso_bad_name")
    user = User(
        id=0,
        facility_id=actor.facility_id,
        username=username,
        full_name=full_name,
        roles=roles,
        patient_id=None,
        doctor_id=None,
        active=True,
        password_hash=NO_PASSWORD,
    )
    try:
        user.id = uow.users.add(user, uow.clock.now())
        uow.users.link_external(
            actor.facility_id, person.issuer, person.subject, user.id, uow.clock.now()
        )
    except UniqueViolation:
        raise AntreanError("sso_name_taken", username=username) from None
    return user


def _display_name(text: str) -> str:
    """The provider's name for the person, when it is one a page can show; else none."""
    try:
        return clean_text(text[:200], "full_name", max_length=200, required=False)
    except AntreanError:
        return ""


def _refuse(uow: UnitOfWork, user: User | None, code: str) -> NoReturn:
    """Record the refused sign-in in the audit log, then refuse it."""
    uow.audit(AuditSubject("failed_sign_in", str(user.id) if user else ""))
    uow.commit()
    raise AntreanError(code)
