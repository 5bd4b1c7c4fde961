"""Single sign-on rules: which provider groups give which roles, and which account a person
the provider vouched for gets."""

from __future__ import annotations

import pytest

from antrean.config import Settings
from antrean.domain.errors import AntreanError
from antrean.domain.identity import (
    Actor,
    ExternalIdentity,
    Role,
    SingleSignOnRules,
    StaffAccountDraft,
    parse_role_map,
)
from antrean.integrations.passwords import Argon2Passwords
from antrean.integrations.tokens import JwtAccessTokens
from antrean.services import accounts, identity, single_sign_on

ANYONE = Actor.anonymous(1)
ISSUER = "https://login.example.org/realms/clinic"
RULES = SingleSignOnRules(
    role_map=parse_role_map("clinic-admins=admin, front-desk=operator, doctors=doctor")
)


def test_a_role_map_reads_group_equals_role_pairs():
    assert parse_role_map(" a=admin, b = operator ,,c=DOCTOR, a=admin") == (
        ("a", Role.ADMIN),
        ("b", Role.OPERATOR),
        ("c", Role.DOCTOR),
    )
    # A group name may itself hold '=' (the last one separates the role).
    assert parse_role_map("ou=front desk=operator") == (("ou=front desk", Role.OPERATOR),)
    assert RULES.roles_for(["front-desk", "doctors", "elsewhere"]) == {Role.OPERATOR, Role.DOCTOR}
    assert RULES.roles_for([]) == frozenset()


@pytest.mark.parametrize(
    ("text", "told"),
    [
        pytest.param("admins", "group=role", id="no-equals"),
        pytest.param("=admin", "group=role", id="no-group"),
        pytest.param("patients=patient", "staff roles only", id="patient-role"),
        pytest.param("devices=kiosk", "staff roles only", id="device-role"),
        pytest.param("x=superuser", "staff roles only", id="unknown-role"),
    ],
)
def test_a_role_map_refuses_what_it_cannot_give(text, told):
    with pytest.raises(ValueError, match=told):
        parse_role_map(text)


@pytest.mark.parametrize(
    ("given", "told"),
    [
        pytest.param({"oidc_issuer": "http://login.example.org"}, "https", id="plain-http"),
        pytest.param({"oidc_client_id": ""}, "CLIENT_ID", id="no-client"),
        pytest.param({"oidc_role_map": ""}, "ROLE_MAP", id="no-role-map"),
        pytest.param({"oidc_scopes": "profile email"}, "openid", id="no-openid-scope"),
        pytest.param({"oidc_issuer": ISSUER + "?x=1"}, "no query", id="query"),
    ],
)
def test_settings_refuse_a_half_configured_single_sign_on(given, told):
    values = {
        "oidc_issuer": ISSUER,
        "oidc_client_id": "antrean",
        "oidc_client_secret": "s" * 32,
        "oidc_role_map": "clinic-admins=admin",
        **given,
    }
    with pytest.raises(ValueError, match=told):
        Settings(_env_file=None, **values)


def test_settings_take_a_loopback_provider_over_plain_http():
    s = Settings(
        _env_file=None,
        oidc_issuer="http://127.0.0.1:9000/realms/clinic",
        oidc_client_id="antrean",
        oidc_client_secret="s" * 32,
        oidc_role_map="clinic-admins=admin",
        oidc_create_accounts=False,
    )
    assert s.single_sign_on and not s.single_sign_on_rules().create_accounts
    assert not Settings(_env_file=None).single_sign_on


def _person(subject="sub-1", username="rina", groups=("front-desk",), name="Rina Kusuma"):
    return ExternalIdentity(
        issuer=ISSUER, subject=subject, username=username, full_name=name, groups=groups
    )


@pytest.fixture
def tokens(world):
    return JwtAccessTokens(secret="k" * 40, clock=world.clock)


def _sign_in(world, tokens, person, rules=RULES):
    return single_sign_on.sign_in_with_provider(
        world.uow, actor=ANYONE, tokens=tokens, rules=rules, person=person
    )


def test_a_first_sign_in_makes_a_staff_account_without_a_password(world, tokens):
    pair = _sign_in(world, tokens, _person())
    actor = tokens.actor(pair.access_token)
    assert actor.roles == {Role.OPERATOR}
    user = identity.resume_session(world.uow, actor=ANYONE, refresh_token=pair.refresh_token)
    assert (user.username, user.full_name, user.patient_id) == ("rina", "Rina Kusuma", None)
    # Its password matches nothing: it signs in through the provider only.
    with pytest.raises(AntreanError) as err:
        identity.login(
            world.uow,
            actor=ANYONE,
            hasher=Argon2Passwords(),
            tokens=tokens,
            username="rina",
            password="",
        )
    assert err.value.code == "invalid_credentials"


def test_roles_and_name_follow_the_provider_at_every_sign_in(world, tokens):
    first = tokens.actor(_sign_in(world, tokens, _person()).access_token)
    again = _sign_in(world, tokens, _person(groups=("clinic-admins",), name="Rina K."))
    user = identity.resume_session(world.uow, actor=ANYONE, refresh_token=again.refresh_token)
    assert user.id == first.user_id  # the same account, found by issuer and subject
    assert user.roles == {Role.ADMIN} and user.full_name == "Rina K."
    # A new username at the provider does not make a second account either.
    renamed = _sign_in(world, tokens, _person(username="rina.k"))
    assert tokens.actor(renamed.access_token).user_id == first.user_id


@pytest.mark.parametrize(
    ("person", "rules", "code"),
    [
        pytest.param(_person(groups=("visitors",)), RULES, "sso_no_role", id="no-mapped-group"),
        pytest.param(_person(groups=()), RULES, "sso_no_role", id="no-groups"),
        pytest.param(
            _person(),
            SingleSignOnRules(role_map=RULES.role_map, create_accounts=False),
            "sso_no_account",
            id="accounts-not-made",
        ),
        pytest.param(_person(username="no spaces allowed"), RULES, "sso_bad_name", id="bad-name"),
    ],
)
def test_a_sign_in_is_refused_with_a_reason(world, tokens, person, rules, code):
    with pytest.raises(AntreanError) as err:
        _sign_in(world, tokens, person, rules)
    assert err.value.code == code
    assert all(u.username != person.username for u in world.uow.store.users.values())


def test_a_provider_name_that_belongs_to_a_local_account_takes_nothing_over(world, tokens):
    accounts.create_user(
        world.uow,
        actor=world.admin,
        hasher=Argon2Passwords(),
        draft=StaffAccountDraft(
            username="rina", password="long-enough-pw", roles=frozenset({Role.OPERATOR})
        ),
    )
    with pytest.raises(AntreanError) as err:
        _sign_in(world, tokens, _person(groups=("clinic-admins",)))
    assert err.value.code == "sso_name_taken"
    local = next(u for u in world.uow.store.users.values() if u.username == "rina")
    assert local.roles == {Role.OPERATOR}


def test_a_disabled_account_stays_out_whatever_the_provider_says(world, tokens):
    pair = _sign_in(world, tokens, _person())
    user_id = tokens.actor(pair.access_token).user_id
    accounts.update_user(
        world.uow, actor=world.admin, user_id=user_id, patch=accounts.AccountPatch(active=False)
    )
    with pytest.raises(AntreanError) as err:
        _sign_in(world, tokens, _person())
    assert err.value.code == "invalid_credentials"
    # and taking the role away at the provider shuts the account out too
    accounts.update_user(
        world.uow, actor=world.admin, user_id=user_id, patch=accounts.AccountPatch(active=True)
    )
    with pytest.raises(AntreanError) as err:
        _sign_in(world, tokens, _person(groups=()))
    assert err.value.code == "sso_no_role"
