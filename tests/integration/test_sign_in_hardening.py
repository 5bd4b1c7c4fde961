"""Guessing passwords gets slower and then stops: failed sign-ins per account name and per
client address, growing waits, a lock-out staff lift; a refresh token used twice ends its whole
family; signing out ends the session."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from antrean.adapters.web.session import LANG_COOKIE
from antrean.domain.errors import AntreanError
from antrean.domain.identity import SignInRules, Throttle, account_key
from antrean.http import create_app
from antrean.services import identity
from tests.integration.conftest import FROZEN_AT, Api
from tests.integration.web_client import WebUser

RIGHT = "staff-password-1"
TOKEN = "/api/v1/auth/token"


def sign_in(client: TestClient, username: str, password: str, lang: str = "en"):
    return client.post(
        TOKEN,
        data={"username": username, "password": password},
        headers={"Accept-Language": lang},
    )


def test_failed_sign_ins_make_each_next_try_wait_longer_then_lock_the_account(api: Api):
    admin = api.staff("boss", "admin")
    api.staff("ani", "operator")
    clock = api.container.clock
    for _ in range(5):  # the first five cost nothing
        assert sign_in(api.client, "ani", "wrong-guess").status_code == 401
    waits = []
    for _ in range(5):
        refused = sign_in(api.client, "ani", RIGHT)  # even the right password, too soon
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_attempts"
        wait = int(refused.headers["Retry-After"])
        assert f"Try again in {wait} seconds" in refused.json()["detail"]
        waits.append(wait)
        clock.advance(timedelta(seconds=wait))
        assert sign_in(api.client, "ani", "wrong-guess").status_code == 401
    assert waits == [1, 2, 4, 8, 16]  # each wait twice the last
    locked = sign_in(api.client, "ani", RIGHT)  # the tenth failure locked it
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) == 3600
    clock.advance(timedelta(minutes=30))
    assert sign_in(api.client, "ani", RIGHT).json()["code"] == "account_locked"
    admin = api.login("boss", RIGHT)  # a fresh token: the clock moved on half an hour
    listed = api.client.get("/api/v1/auth/users/locked", headers=admin).json()
    assert [x["username"] for x in listed] == ["ani"]
    users = api.client.get("/api/v1/auth/users", headers=admin).json()["items"]
    unlock = f"/api/v1/auth/users/{next(u['id'] for u in users if u['username'] == 'ani')}/unlock"
    assert api.client.post(unlock).status_code == 401
    assert api.client.post(unlock, headers=api.staff("op2", "operator")).status_code == 403
    assert sign_in(api.client, "ani", RIGHT).json()["code"] == "account_locked"  # unchanged
    assert api.client.post(unlock, headers=admin).status_code == 204
    assert api.client.get("/api/v1/auth/users/locked", headers=admin).json() == []
    assert sign_in(api.client, "ani", RIGHT).status_code == 200  # at once


def test_a_lock_runs_out_by_itself_and_a_success_starts_the_count_again(api: Api):
    api.staff("ani", "operator")
    clock = api.container.clock
    rules = api.container.sign_in_rules
    for n in range(rules.lock_after):
        if n >= rules.free_failures:
            clock.advance(timedelta(minutes=1))
        assert sign_in(api.client, "ani", "wrong").status_code == 401
    assert sign_in(api.client, "ani", RIGHT).json()["code"] == "account_locked"
    clock.advance(timedelta(minutes=rules.lock_minutes))
    assert sign_in(api.client, "ani", RIGHT).status_code == 200
    for _ in range(rules.free_failures - 1):  # counting started again from nothing
        assert sign_in(api.client, "ani", "wrong").status_code == 401
    assert sign_in(api.client, "ani", RIGHT).status_code == 200
    for _ in range(rules.free_failures):  # and a success cleared those
        assert sign_in(api.client, "ani", "wrong").status_code == 401


def test_failures_far_apart_are_forgotten(api: Api):
    api.staff("ani", "operator")
    for _ in range(3):
        for _ in range(4):
            assert sign_in(api.client, "ani", "wrong").status_code == 401
        api.container.clock.advance(timedelta(minutes=16))
    assert sign_in(api.client, "ani", RIGHT).status_code == 200


def test_a_name_that_does_not_exist_answers_exactly_like_one_that_does(api: Api):
    api.staff("ani", "operator")
    app = create_app(api.container)
    answers = {}
    for n, name in enumerate(("ani", "nobody-here")):
        seen = []
        client = TestClient(app, client=(f"10.9.0.{n + 1}", 4000))  # one address each
        for _ in range(16):
            r = sign_in(client, name, "wrong", lang="id")
            seen.append((r.status_code, r.json()["code"], r.headers.get("Retry-After")))
            if r.json()["code"] == "too_many_attempts":
                api.container.clock.advance(timedelta(seconds=int(r.headers["Retry-After"])))
        answers[name] = seen
    assert answers["ani"] == answers["nobody-here"]  # nothing tells which names exist
    assert answers["ani"][-1][:2] == (429, "account_locked")


def test_guesses_spread_over_many_names_slow_down_their_address(api: Api):
    rules = api.container.sign_in_rules
    app = create_app(api.container)
    # Clients without `with`: the app's lifespan belongs to the fixture's client.
    guesser = TestClient(app, client=("198.51.100.7", 4000))
    neighbour_v6 = TestClient(app, client=("2001:db8:1:2::9", 4000))
    same_64 = TestClient(app, client=("2001:db8:1:2::77", 4000))
    elsewhere = TestClient(app, client=("203.0.113.5", 4000))
    api.staff("ani", "operator")
    for n in range(rules.address_free_failures):
        assert sign_in(guesser, f"name{n}", "guess").status_code == 401
    refused = sign_in(guesser, "another-name", "guess")
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
    assert sign_in(guesser, "ani", RIGHT).status_code == 429  # that address waits
    assert sign_in(elsewhere, "ani", RIGHT).status_code == 200  # nobody else does
    for n in range(rules.address_free_failures):
        assert sign_in(neighbour_v6, f"v6name{n}", "guess").status_code == 401
    # An IPv6 address counts by its /64: a neighbour in it shares the wait.
    assert sign_in(same_64, "ani", RIGHT).status_code == 429


def test_failures_at_the_same_moment_all_count(container):
    """Two servers' failed sign-ins for one name at once: none is lost (a row lock)."""
    rules = SignInRules(free_failures=1000, lock_after=1000, address_free_failures=1000)

    def fail(n: int) -> str:
        try:
            identity.login(
                container.uow(),
                actor=container.anonymous(),
                hasher=container.passwords,
                tokens=container.tokens,
                username="target",
                password=f"guess-{n}",
                rules=rules,
                client_address=f"10.0.{n // 250}.{n % 250}",
            )
        except AntreanError as exc:
            return exc.code
        return "signed in"

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(fail, range(40)))
    assert codes == ["invalid_credentials"] * 40
    with container.uow() as uow:
        stored = uow.sign_ins.get_many(1, [account_key("target")])
    assert stored[account_key("target")].failures == 40


def test_the_rules_refuse_and_count_by_the_clock():
    rules = SignInRules(free_failures=2, lock_after=4, lock_minutes=10)
    now = FROZEN_AT
    assert rules.refusal(None, now, account=True) is None
    one = rules.after_failure(None, now, account=True)
    two = rules.after_failure(one, now, account=True)
    assert (one.failures, two.failures) == (1, 2)
    assert rules.refusal(two, now, account=True).code == "too_many_attempts"
    assert rules.refusal(two, now + timedelta(seconds=1), account=True) is None
    assert rules.refusal(two, now, account=False) is None  # an address gets more
    four = rules.after_failure(rules.after_failure(two, now, account=True), now, account=True)
    assert four.locked_at == now
    assert rules.refusal(four, now + timedelta(minutes=9), account=True).code == "account_locked"
    assert rules.refusal(four, now + timedelta(minutes=10), account=True) is None
    address = Throttle(failures=50, last_failure_at=now)
    assert rules.after_failure(address, now, account=False).locked_at is None  # never locked


# --- Refresh tokens ------------------------------------------------------------------------


def refresh(client: TestClient, token: str):
    return client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": token})


def test_a_refresh_token_used_twice_ends_its_whole_family(api: Api):
    api.staff("ani", "operator")
    first = sign_in(api.client, "ani", RIGHT).json()
    other_device = sign_in(api.client, "ani", RIGHT).json()
    second = refresh(api.client, first["refresh_token"])
    assert second.status_code == 200
    third = refresh(api.client, second.json()["refresh_token"]).json()
    # The first token again: someone copied it. Refused, and every token of its family ends.
    replay = refresh(api.client, first["refresh_token"])
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_token"
    assert refresh(api.client, third["refresh_token"]).status_code == 401
    # Another sign-in (another family: the phone, not the stolen laptop) goes on.
    assert refresh(api.client, other_device["refresh_token"]).status_code == 200


def test_signing_out_ends_the_session_without_ending_others(api: Api):
    api.staff("ani", "operator")
    one = sign_in(api.client, "ani", RIGHT).json()
    two = sign_in(api.client, "ani", RIGHT).json()
    r = api.client.post("/api/v1/auth/logout", json={"refresh_token": one["refresh_token"]})
    assert r.status_code == 204
    assert refresh(api.client, one["refresh_token"]).status_code == 401
    # A token signed out is not a stolen one: its family's other sessions are untouched.
    assert refresh(api.client, two["refresh_token"]).status_code == 200


# --- The sign-in page ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "Too many failed sign-ins"), ("id", "Terlalu banyak percobaan masuk yang gagal")],
)
def test_the_sign_in_page_says_when_to_try_again(api: Api, lang: str, text: str):
    api.staff("ani", "operator")
    user = WebUser(TestClient(create_app(api.container)))
    user.client.cookies.set(LANG_COOKIE, lang)
    user.get("/login")
    token = user.csrf()
    answers = []
    for _ in range(6):
        r = user.client.post(
            "/login",
            data={"username": "ani", "password": "wrong", "csrf_token": token},
            headers={"Accept-Language": lang},
            follow_redirects=False,
        )
        answers.append(r.status_code)
    assert answers == [400] * 5 + [429]
    assert text in r.text and r.headers["Retry-After"] == "1"


def test_an_admin_sees_a_locked_account_and_unlocks_it_in_the_web_admin(api: Api):
    api.staff("boss", "admin")
    api.staff("ani", "operator")
    rules = api.container.sign_in_rules
    for n in range(rules.lock_after):
        if n >= rules.free_failures:
            api.container.clock.advance(timedelta(minutes=1))
        assert sign_in(api.client, "ani", "wrong").status_code == 401
    admin = WebUser(TestClient(create_app(api.container)))
    admin.client.cookies.set(LANG_COOKIE, "en")
    admin.sign_in("boss", RIGHT)
    page = admin.get("/admin/users")
    assert "Locked until" in page.text and 'aria-label="Unlock ani"' in page.text
    users = api.client.get("/api/v1/auth/users", headers=api.login("boss", RIGHT)).json()
    ani = next(u["id"] for u in users["items"] if u["username"] == "ani")
    done = admin.client.post(
        f"/admin/users/{ani}/unlock", data={"csrf_token": admin.csrf()}, follow_redirects=True
    )
    assert "The account is unlocked" in done.text and "Locked until" not in done.text
    assert sign_in(api.client, "ani", RIGHT).status_code == 200
