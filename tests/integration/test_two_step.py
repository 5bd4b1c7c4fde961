"""Two-step sign-in (TOTP): turning it on with a first code, signing in with the app's code or
a recovery code (each good once), turning it off, an admin's reset, and the same in the web
pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
from fastapi.testclient import TestClient

from antrean.adapters.web.session import LANG_COOKIE
from antrean.http import create_app
from antrean.integrations.totp import PyotpCodes
from tests.integration.conftest import Api
from tests.integration.web_client import WebUser, field_error

RIGHT = "staff-password-1"
TOKEN = "/api/v1/auth/token"
# RFC 4226, appendix D: the secret "12345678901234567890" gives 755224 at counter 0, 287082 at 1.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def sign_in(api: Api, username: str, password: str, otp: str | None = None):
    data = {"username": username, "password": password}
    if otp is not None:
        data["otp"] = otp
    return api.client.post(TOKEN, data=data, headers={"Accept-Language": "en"})


def code_now(api: Api, secret: str) -> str:
    return pyotp.TOTP(secret).at(api.container.clock.now())


def turn_on(api: Api, headers: dict[str, str]) -> tuple[str, list[str]]:
    setup = api.client.post("/api/v1/auth/me/two-factor", headers=headers)
    assert setup.status_code == 201, setup.text
    secret = setup.json()["secret"]
    done = api.client.post(
        "/api/v1/auth/me/two-factor/confirm", headers=headers, json={"code": code_now(api, secret)}
    )
    assert done.status_code == 200, done.text
    return secret, done.json()["recovery_codes"]


def test_the_codes_are_the_standard_ones_authenticator_apps_show():
    codes = PyotpCodes()
    start = datetime(1970, 1, 1, tzinfo=UTC)
    assert codes.step_of(RFC_SECRET, "755224", start + timedelta(seconds=15)) == 0
    assert codes.step_of(RFC_SECRET, "287082", start + timedelta(seconds=45)) == 1
    assert codes.step_of(RFC_SECRET, "287 082", start + timedelta(seconds=15)) == 1  # a step on
    assert codes.step_of(RFC_SECRET, "755224", start + timedelta(seconds=75)) is None  # 2 late
    for bad in ("", "75522", "7552245", "75522a", "abcdef", "755224\n1"):
        assert codes.step_of(RFC_SECRET, bad, start + timedelta(seconds=15)) is None
    uri = urlparse(codes.uri(codes.new_secret(), "ani", "Klinik Sehat"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/Klinik Sehat:ani"
    assert parse_qs(uri.query)["issuer"] == ["Klinik Sehat"]
    assert len(codes.new_secret()) == 32  # 160 bits, base32


def test_turning_it_on_needs_a_first_code_and_gives_ten_recovery_codes(api: Api):
    ani = api.staff("ani", "operator")
    assert api.client.get("/api/v1/auth/me/two-factor", headers=ani).json() == {
        "on": False,
        "recovery_codes_left": 0,
    }
    refresh = sign_in(api, "ani", RIGHT).json()["refresh_token"]
    setup = api.client.post("/api/v1/auth/me/two-factor", headers=ani).json()
    assert setup["uri"].startswith("otpauth://totp/") and "ani" in setup["uri"]
    wrong = api.client.post(
        "/api/v1/auth/me/two-factor/confirm", headers=ani, json={"code": "000000"}
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_otp"
    assert sign_in(api, "ani", RIGHT).status_code == 200  # not on until confirmed
    good = api.client.post(
        "/api/v1/auth/me/two-factor/confirm",
        headers=ani,
        json={"code": code_now(api, setup["secret"])},
    )
    codes = good.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", c) for c in codes)
    again = api.client.post("/api/v1/auth/me/two-factor", headers=ani)
    assert again.status_code == 409 and again.json()["code"] == "two_factor_on"
    # Turning it on ended every session: the refresh token from before no longer works.
    r = api.client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert r.status_code == 401


def test_signing_in_takes_the_current_code_once_or_a_recovery_code_once(api: Api):
    ani = api.staff("ani", "operator")
    secret, recovery = turn_on(api, ani)
    clock = api.container.clock
    clock.advance(timedelta(seconds=30))  # the code used to confirm belongs to the step before
    alone = sign_in(api, "ani", RIGHT)
    assert alone.status_code == 401 and alone.json()["code"] == "otp_required"
    assert "authenticator app" in alone.json()["detail"]
    wrong_password = sign_in(api, "ani", "wrong", otp=code_now(api, secret))
    assert wrong_password.json()["code"] == "invalid_credentials"  # the password comes first
    bad = sign_in(api, "ani", RIGHT, otp="123456")
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_otp"
    code = code_now(api, secret)
    assert sign_in(api, "ani", RIGHT, otp=code).status_code == 200
    replay = sign_in(api, "ani", RIGHT, otp=code)  # the same code, seconds later: refused
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_otp"
    clock.advance(timedelta(seconds=30))
    assert sign_in(api, "ani", RIGHT, otp=code_now(api, secret)).status_code == 200
    assert sign_in(api, "ani", RIGHT, otp=recovery[0]).status_code == 200
    assert sign_in(api, "ani", RIGHT, otp=recovery[0]).json()["code"] == "invalid_otp"
    shouted = recovery[1].upper().replace("-", " ")  # as someone might type it
    assert sign_in(api, "ani", RIGHT, otp=shouted).status_code == 200
    clock.advance(timedelta(seconds=30))  # this step's code was used: wait for the next
    state = api.client.get("/api/v1/auth/me/two-factor", headers=api.login_otp("ani", secret))
    assert state.json() == {"on": True, "recovery_codes_left": 8}


def test_wrong_codes_count_as_failed_sign_ins(api: Api):
    ani = api.staff("ani", "operator")
    turn_on(api, ani)
    rules = api.container.sign_in_rules
    for _ in range(rules.free_failures):
        assert sign_in(api, "ani", RIGHT, otp="111111").json()["code"] == "invalid_otp"
    slowed = sign_in(api, "ani", RIGHT, otp="111111")
    assert slowed.status_code == 429 and slowed.json()["code"] == "too_many_attempts"


def test_turning_it_off_needs_the_password_and_a_code(api: Api):
    ani = api.staff("ani", "operator")
    secret, recovery = turn_on(api, ani)
    api.container.clock.advance(timedelta(seconds=30))
    headers = api.login_otp("ani", secret)
    off = "/api/v1/auth/me/two-factor/off"
    api.container.clock.advance(timedelta(seconds=30))
    r = api.client.post(off, headers=headers, json={"password": "wrong", "code": recovery[0]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    r = api.client.post(off, headers=headers, json={"password": RIGHT, "code": "999999"})
    assert r.status_code == 422 and r.json()["code"] == "wrong_otp"
    assert sign_in(api, "ani", RIGHT).json()["code"] == "otp_required"  # still on
    r = api.client.post(off, headers=headers, json={"password": RIGHT, "code": recovery[0]})
    assert r.status_code == 204
    assert sign_in(api, "ani", RIGHT).status_code == 200


def test_an_admin_resets_it_for_someone_who_lost_their_phone(api: Api):
    admin = api.staff("boss", "admin")
    ani = api.staff("ani", "operator")
    operator = api.staff("budi", "operator")
    turn_on(api, ani)
    users = api.client.get("/api/v1/auth/users", headers=admin).json()["items"]
    ani_id = next(u["id"] for u in users if u["username"] == "ani")
    reset = f"/api/v1/auth/users/{ani_id}/two-factor/reset"
    assert api.client.post(reset, headers=operator).status_code == 403
    assert sign_in(api, "ani", RIGHT).json()["code"] == "otp_required"
    assert api.client.post(reset, headers=admin).status_code == 204
    assert sign_in(api, "ani", RIGHT).status_code == 200  # the password alone again
    assert (
        api.client.post("/api/v1/auth/users/999999/two-factor/reset", headers=admin).status_code
        == 404
    )


# --- The web pages -------------------------------------------------------------------------


def test_a_staff_member_turns_it_on_and_signs_in_with_it_in_the_web_pages(api: Api):
    api.staff("ani", "operator")
    user = WebUser(TestClient(create_app(api.container)))
    user.client.cookies.set(LANG_COOKIE, "en")
    user.sign_in("ani", RIGHT)
    page = user.get("/account/two-step")
    assert "Set up two-step sign-in" in page.text
    started = user.post("/account/two-step/start", {})
    assert "<svg" in started.text and 'aria-label="QR"' in started.text
    shown = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', started.text).group(1)
    secret = shown.replace(" ", "")  # shown in groups of four, as the apps accept it
    wrong = user.post("/account/two-step/confirm", {"code": "000000"})
    assert wrong.status_code == 400 and field_error(wrong.text, "code")
    assert shown in wrong.text  # the same key shown again, to try once more
    done = user.post("/account/two-step/confirm", {"code": code_now(api, secret)})
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10 and "shown only now" in done.text
    assert "/login" in user.get("/console").url.path  # signed out everywhere, this one too
    api.container.clock.advance(timedelta(seconds=30))
    user.get("/login")
    first = user.post("/login", {"username": "ani", "password": RIGHT})
    assert first.status_code == 400 and field_error(first.text, "code")
    assert "Code from your authenticator app" in first.text
    second = user.post(
        "/login", {"username": "ani", "password": RIGHT, "code": code_now(api, secret)}
    )
    assert second.status_code == 200 and "/console" in str(second.url)
    off = user.get("/account/two-step")
    assert "Recovery codes left: 10" in off.text


def test_an_admin_resets_it_in_the_web_admin(api: Api):
    api.staff("boss", "admin")
    ani = api.staff("ani", "operator")
    turn_on(api, ani)
    admin = WebUser(TestClient(create_app(api.container)))
    admin.client.cookies.set(LANG_COOKIE, "en")
    admin.sign_in("boss", RIGHT)
    admin.get("/admin/users")
    users = api.client.get("/api/v1/auth/users", headers=api.login("boss", RIGHT)).json()
    ani_id = next(u["id"] for u in users["items"] if u["username"] == "ani")
    done = admin.post(f"/admin/users/{ani_id}/two-step-reset", {})
    assert "Two-step sign-in is off for that account" in done.text
    assert sign_in(api, "ani", RIGHT).status_code == 200
