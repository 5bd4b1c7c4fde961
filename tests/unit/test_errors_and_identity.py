from datetime import UTC, date, datetime, timedelta

import pytest

from antrean.domain.errors import MESSAGES, AntreanError, preferred_language
from antrean.domain.identity import Actor, Role, StaffAccountDraft
from antrean.domain.patients import PatientDraft, format_mrn, validate_nik
from antrean.integrations.passwords import Argon2Passwords
from antrean.integrations.phones import PhonenumbersParser
from antrean.integrations.tokens import JwtAccessTokens
from antrean.services import accounts, identity
from antrean.services.patients import to_e164

PHONES = PhonenumbersParser()
ANYONE = Actor.anonymous(1)


@pytest.fixture(scope="module")
def hasher() -> Argon2Passwords:
    return Argon2Passwords()


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
    assert PHONES.to_e164(raw) == "+6281234567890"
    assert to_e164(PHONES, raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["12", "not a number", "0800"])
def test_bad_phone_numbers_are_refused(raw):
    assert PHONES.to_e164(raw) is None
    with pytest.raises(AntreanError) as err:
        to_e164(PHONES, raw)
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
    tokens = JwtAccessTokens(secret="s" * 40)
    token = tokens.issue(_user(), datetime.now(UTC))
    actor = tokens.actor(token)
    assert actor == Actor(user_id=7, facility_id=1, roles=frozenset({Role.PATIENT}), patient_id=3)


def test_tampered_expired_or_foreign_tokens_are_refused():
    tokens = JwtAccessTokens(secret="s" * 40, access_ttl=timedelta(minutes=1))
    now = datetime.now(UTC)
    good = tokens.issue(_user(), now)
    for bad in (
        good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1],
        tokens.issue(_user(), now - timedelta(hours=1)),
        JwtAccessTokens(secret="x" * 40).issue(_user(), now),
        "garbage",
    ):
        with pytest.raises(AntreanError) as err:
            tokens.actor(bad)
        assert err.value.code == "invalid_token"


def test_tokens_expire_by_the_injected_clock(world):
    tokens = JwtAccessTokens(secret="k" * 40, clock=world.clock)
    token = tokens.issue(_user(), world.clock.now())
    assert tokens.actor(token).user_id == 7
    world.clock.advance(tokens.access_ttl)
    with pytest.raises(AntreanError):
        tokens.actor(token)


def test_checked_tokens_are_remembered_within_a_bound_and_still_expire(world):
    tokens = JwtAccessTokens(secret="k" * 40, clock=world.clock, verified_limit=2)
    now = world.clock.now()
    issued = [tokens.issue(_user(id=n), now + timedelta(seconds=n)) for n in (1, 2, 3)]
    assert [tokens.actor(token).user_id for token in issued] == [1, 2, 3]
    assert len(tokens.verified) <= 2, "the memory of checked tokens is bounded"
    assert tokens.actor(issued[0]).user_id == 1, "a forgotten token is simply checked again"
    tampered = issued[1][:-2] + ("A" if issued[1][-2] != "A" else "B") + issued[1][-1]
    with pytest.raises(AntreanError):
        tokens.actor(tampered)
    world.clock.advance(tokens.access_ttl + timedelta(seconds=5))
    with pytest.raises(AntreanError):
        tokens.actor(issued[2])


def test_login_refresh_rotation_and_logout(world, hasher):
    tokens = JwtAccessTokens(secret="k" * 40, clock=world.clock)
    accounts.create_user(
        world.uow,
        actor=world.admin,
        hasher=hasher,
        draft=StaffAccountDraft(
            username="Ops", password="long-enough-pw", roles=frozenset({Role.OPERATOR})
        ),
    )

    def login(username, password):
        return identity.login(
            world.uow,
            actor=ANYONE,
            hasher=hasher,
            tokens=tokens,
            username=username,
            password=password,
        )

    with pytest.raises(AntreanError) as err:
        login("ops", "wrong-password")
    assert err.value.code == "invalid_credentials"
    pair = login("OPS", "long-enough-pw")
    assert tokens.actor(pair.access_token).roles == frozenset({Role.OPERATOR})
    second = identity.refresh_session(
        world.uow, actor=ANYONE, tokens=tokens, refresh_token=pair.refresh_token
    )
    with pytest.raises(AntreanError):
        identity.refresh_session(
            world.uow, actor=ANYONE, tokens=tokens, refresh_token=pair.refresh_token
        )
    identity.logout(world.uow, actor=ANYONE, refresh_token=second.refresh_token)
    with pytest.raises(AntreanError):
        identity.refresh_session(
            world.uow, actor=ANYONE, tokens=tokens, refresh_token=second.refresh_token
        )


def test_patient_self_registration_makes_a_record_and_a_login(world, hasher):
    def register(username, password, patient):
        return accounts.register_account(
            world.uow,
            actor=ANYONE,
            policy=world.policy,
            phones=PHONES,
            hasher=hasher,
            username=username,
            password=password,
            patient=patient,
        )

    user = register(
        "siti@example.id",
        "rahasia-123",
        PatientDraft(name="  Siti   Aminah ", birth_date=date(1985, 5, 17), phone="0812 1111 2222"),
    )
    assert user.roles == frozenset({Role.PATIENT}) and user.patient_id is not None
    with pytest.raises(AntreanError) as err:
        register(
            "siti@example.id",
            "rahasia-123",
            PatientDraft(name="Other", birth_date=date(1985, 5, 17)),
        )
    assert err.value.code == "username_taken"
    with pytest.raises(AntreanError) as err:
        register("short", "123", PatientDraft(name="X", birth_date=date(1985, 5, 17)))
    assert err.value.code == "weak_password"


def test_fast_and_standard_password_hashes_are_both_argon2id_and_verify_under_either():
    fast, standard = Argon2Passwords(fast=True), Argon2Passwords()
    cheap, dear = fast.hash("kata-sandi-1"), standard.hash("kata-sandi-1")
    assert cheap.startswith("$argon2id$") and "t=1" in cheap and cheap != dear
    assert standard.verify(cheap, "kata-sandi-1") and fast.verify(dear, "kata-sandi-1")
    assert not fast.verify(cheap, "kata-sandi-2")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("", "id"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("id-ID, en;q=0.5", "id"),
        ("fr, en-GB;q=0.8, id;q=0.5", "en"),
        ("fr, id;q=0.9, en;q=0.8", "id"),
        ("de", "id"),
        ("en;q=0, id;q=0.1", "id"),
        ("en;q=x", "id"),
    ],
)
def test_the_preferred_language_is_weighed_not_just_the_first_tag(header, language):
    assert preferred_language(header) == language
