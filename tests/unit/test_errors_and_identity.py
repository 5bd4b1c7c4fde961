from datetime import date, timedelta

import pytest

from antrean.domain.errors import MESSAGES, AntreanError
from antrean.domain.identity import Actor, Role
from antrean.domain.patients import format_mrn, validate_nik
from antrean.services import identity
from antrean.services.patients import normalize_phone


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_error_has_both_languages(code):
    _, text_id, text_en = MESSAGES[code]
    assert text_id and text_en
    assert text_id != text_en or "{" in text_id


def test_messages_fill_their_placeholders():
    err = AntreanError("booking_cutoff_passed", cutoff_minutes=45)
    assert "45" in err.message("id") and "45" in err.message("en")
    assert err.message("en-US").startswith("Booking closes")
    assert err.message("id").startswith("Pemesanan")


def test_unknown_codes_are_a_programming_error():
    with pytest.raises(KeyError):
        AntreanError("no_such_code")


@pytest.mark.parametrize(
    "raw", ["081234567890", "+62 812-3456-7890", "62812 3456 7890", "0812.3456.7890"]
)
def test_indonesian_phone_numbers_become_e164(raw):
    assert normalize_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["12", "not a number", "0800"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(AntreanError) as err:
        normalize_phone(raw)
    assert err.value.code == "invalid_phone"


def test_nik_must_have_sixteen_digits():
    assert validate_nik("3171 0101 9001 0001") == "3171010190010001"
    assert validate_nik("") is None
    with pytest.raises(AntreanError):
        validate_nik("123")


def test_mrn_format():
    assert format_mrn(42) == "00-00-42"
    assert format_mrn(987654) == "98-76-54"


def _user(**kw):
    from antrean.domain.identity import User

    base = dict(
        id=7,
        facility_id=1,
        username="u",
        full_name="U",
        roles=frozenset({Role.PATIENT}),
        patient_id=3,
        doctor_id=None,
        active=True,
        password_hash="",
    )
    base.update(kw)
    return User(**base)


def test_access_token_round_trip_carries_the_actor():
    tokens = identity.TokenService(secret="s" * 40)
    token = tokens.access_token(_user(), now_ts=int(__import__("time").time()))
    actor = tokens.actor(token)
    assert actor == Actor(user_id=7, facility_id=1, roles=frozenset({Role.PATIENT}), patient_id=3)


def test_tampered_expired_or_foreign_tokens_are_refused():
    import time

    tokens = identity.TokenService(secret="s" * 40, access_ttl=timedelta(minutes=1))
    now = int(time.time())
    good = tokens.access_token(_user(), now_ts=now)
    for bad in (
        good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1],
        tokens.access_token(_user(), now_ts=now - 3600),
        identity.TokenService(secret="x" * 40).access_token(_user(), now_ts=now),
        "garbage",
    ):
        with pytest.raises(AntreanError) as err:
            tokens.actor(bad)
        assert err.value.code == "invalid_token"


def test_tokens_expire_by_the_injected_clock(world):
    tokens = identity.TokenService(secret="k" * 40, clock=world.clock)
    token = tokens.access_token(_user(), now_ts=int(world.clock.now().timestamp()))
    assert tokens.actor(token).user_id == 7
    world.clock.advance(tokens.access_ttl)
    with pytest.raises(AntreanError):
        tokens.actor(token)


def test_checked_tokens_are_remembered_within_a_bound_and_still_expire(world):
    tokens = identity.TokenService(secret="k" * 40, clock=world.clock, verified_limit=2)
    now = int(world.clock.now().timestamp())
    issued = [tokens.access_token(_user(id=n), now_ts=now + n) for n in (1, 2, 3)]
    assert [tokens.actor(token).user_id for token in issued] == [1, 2, 3]
    assert len(tokens.verified) <= 2, "the memory of checked tokens is bounded"
    assert tokens.actor(issued[0]).user_id == 1, "a forgotten token is simply checked again"
    tampered = issued[1][:-2] + ("A" if issued[1][-2] != "A" else "B") + issued[1][-1]
    with pytest.raises(AntreanError):
        tokens.actor(tampered)
    world.clock.advance(tokens.access_ttl + timedelta(seconds=5))
    with pytest.raises(AntreanError):
        tokens.actor(issued[2])


def test_login_refresh_rotation_and_logout(world):
    tokens = identity.TokenService(secret="k" * 40, clock=world.clock)
    identity.create_user(
        world.uow,
        actor=world.admin,
        facility_id=1,
        username="Ops",
        password="long-enough-pw",
        roles="operator",
    )
    with pytest.raises(AntreanError) as err:
        identity.login(world.uow, tokens=tokens, username="ops", password="wrong-password")
    assert err.value.code == "invalid_credentials"
    pair = identity.login(world.uow, tokens=tokens, username="OPS", password="long-enough-pw")
    assert tokens.actor(pair.access_token).roles == frozenset({Role.OPERATOR})
    second = identity.refresh_session(world.uow, tokens=tokens, refresh_token=pair.refresh_token)
    with pytest.raises(AntreanError):
        identity.refresh_session(world.uow, tokens=tokens, refresh_token=pair.refresh_token)
    identity.logout(world.uow, refresh_token=second.refresh_token)
    with pytest.raises(AntreanError):
        identity.refresh_session(world.uow, tokens=tokens, refresh_token=second.refresh_token)


def test_patient_self_registration_makes_a_record_and_a_login(world):
    user = identity.register_account(
        world.uow,
        facility_id=1,
        policy=world.policy,
        username="siti@example.id",
        password="rahasia-123",
        name="  Siti   Aminah ",
        birth_date=date(1985, 5, 17),
        phone="0812 1111 2222",
    )
    assert user.roles == frozenset({Role.PATIENT}) and user.patient_id is not None
    with pytest.raises(AntreanError) as err:
        identity.register_account(
            world.uow,
            facility_id=1,
            policy=world.policy,
            username="siti@example.id",
            password="rahasia-123",
            name="Other",
            birth_date=date(1985, 5, 17),
        )
    assert err.value.code == "username_taken"
    with pytest.raises(AntreanError) as err:
        identity.register_account(
            world.uow,
            facility_id=1,
            policy=world.policy,
            username="short",
            password="123",
            name="X",
            birth_date=date(1985, 5, 17),
        )
    assert err.value.code == "weak_password"
