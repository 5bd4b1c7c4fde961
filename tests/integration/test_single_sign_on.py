"""Staff single sign-on against a real OpenID provider on loopback (tests/providers/oidc.py):
the whole code flow through the pages, the account and roles it gives, and every way a forged,
replayed or tampered answer is turned away without a session, an account or a server error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from antrean.bootstrap import Container, build, ensure_facility
from antrean.domain.audit import AuditFilter
from antrean.domain.common import Page
from antrean.http import create_app
from antrean.persistence import tables as t
from antrean.services import audit
from tests.integration.conftest import make_settings
from tests.integration.web_client import WebUser
from tests.providers.oidc import FakeOpenIdProvider

CLIENT_ID = "antrean-web"
# A secret with the characters HTTP Basic needs form-encoded (RFC 6749 §2.3.1).
CLIENT_SECRET = "s3cr3t+with/odd:chars and%spaces"
RETURN = "http://testserver/login/sso/return"
ROLE_MAP = "clinic-admins=admin, front-desk=operator, doctors=doctor"


@dataclass
class Sso:
    idp: FakeOpenIdProvider
    container: Container
    app: object

    def browser(self) -> WebUser:
        client = TestClient(self.app, raise_server_exceptions=False)  # type: ignore[arg-type]
        client.cookies.set("antrean_lang", "en")
        return WebUser(client)

    def to_provider(self, web: WebUser, next_url: str = "") -> str:
        """Press the sign-in button: the provider's authorization URL the browser is sent to."""
        path = "/login/sso" + (f"?next={next_url}" if next_url else "")
        r = web.client.get(path, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        url = r.headers["location"]
        assert url.startswith(self.idp.issuer + "/"), url
        return url

    def provider_answer(self, authorize_url: str, subject: str) -> str:
        """The provider signs `subject` in; the callback URL it sends the browser back to."""
        r = httpx.get(f"{authorize_url}&login_hint={subject}", follow_redirects=False)
        assert r.status_code in (302, 303), r.text[:300]
        back = r.headers["location"]
        assert back.startswith(RETURN), back
        return back

    def come_back(self, web: WebUser, callback: str) -> httpx.Response:
        parts = urlsplit(callback)
        web.last = web.client.get(f"{parts.path}?{parts.query}", follow_redirects=True)
        return web.last

    def sign_in(self, web: WebUser, subject: str, next_url: str = "") -> httpx.Response:
        return self.come_back(web, self.provider_answer(self.to_provider(web, next_url), subject))

    def accounts(self) -> dict[str, tuple[str, str]]:
        with self.container.db.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.user_account.c.username,
                    t.user_account.c.roles,
                    t.user_account.c.password_hash,
                )
            ).all()
        return {r.username: (r.roles, r.password_hash) for r in rows}


@pytest.fixture
def sso(db_url, tmp_path) -> Iterator[Sso]:
    with FakeOpenIdProvider(CLIENT_ID, CLIENT_SECRET, [RETURN]) as idp:
        idp.add_user(
            "u-rina", preferred_username="Rina", name="Rina Kusuma", groups=["clinic-admins"]
        )
        idp.add_user("u-budi", preferred_username="budi", name="Budi", groups=["front-desk"])
        idp.add_user("u-tamu", preferred_username="tamu", name="Tamu", groups=["visitors"])
        settings = make_settings(
            db_url,
            tmp_path / "data",
            oidc_issuer=idp.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            oidc_role_map=ROLE_MAP,
            oidc_label="Klinik Sehat ID",
        )
        c = build(settings)
        ensure_facility(c)
        try:
            yield Sso(idp, c, create_app(c))
        finally:
            c.close()


def _signed_in_as(web: WebUser) -> str | None:
    """Who the pages think the visitor is: the account page's username, or None."""
    r = web.client.get("/my/account", follow_redirects=False)
    if r.status_code != 200:
        return None
    return r.text


def test_staff_sign_in_through_the_provider_and_land_on_their_page(sso):
    web = sso.browser()
    page = web.get("/login")
    assert "Klinik Sehat ID" in page.text and 'href="/login/sso"' in page.text
    r = sso.sign_in(web, "u-rina", next_url="/admin/audit")
    assert r.status_code == 200 and str(r.url).endswith("/admin/audit"), r.url
    # A first sign-in made the account: roles from the provider's groups, no password.
    assert sso.accounts()["rina"] == ("admin", "")
    # The provider was asked the standard way: PKCE S256 and a nonce, the code traded once
    # with the client's credentials form-encoded in HTTP Basic.
    token_calls = [q for q in sso.idp.requests if q.path.endswith("/token")]
    assert len(token_calls) == 1 and token_calls[0].headers["authorization"].startswith("Basic ")
    assert "code_verifier" in (token_calls[0].form or {})

    # The operator lands on the console; the sign-in is in the audit log.
    other = sso.browser()
    r = sso.sign_in(other, "u-budi")
    assert str(r.url).endswith("/console"), r.url
    found = audit.audit_log(
        sso.container.uow(),
        actor=sso.container.system(),
        flt=AuditFilter(action="sign_in_with_provider"),
        page=Page(1, 50),
    )
    with sso.container.db.engine.connect() as conn:
        ids = dict(conn.execute(select(t.user_account.c.username, t.user_account.c.id)).all())
    assert sorted((e.record_type, e.record_id) for e in found.entries) == sorted(
        ("user", str(ids[name])) for name in ("rina", "budi")
    )


def test_roles_follow_the_provider_and_a_group_taken_away_shuts_the_door(sso):
    web = sso.browser()
    sso.sign_in(web, "u-rina")
    sso.idp.users["u-rina"]["groups"] = ["front-desk"]
    again = sso.browser()
    r = sso.sign_in(again, "u-rina")
    assert str(r.url).endswith("/console") and sso.accounts()["rina"][0] == "operator"
    assert web.client.get("/admin", follow_redirects=False).status_code == 403
    sso.idp.users["u-rina"]["groups"] = []
    third = sso.browser()
    r = sso.sign_in(third, "u-rina")
    assert r.status_code == 403 and "no role" in r.text
    assert third.client.get("/console", follow_redirects=False).status_code == 303


def test_someone_without_a_mapped_group_gets_no_account(sso):
    web = sso.browser()
    r = sso.sign_in(web, "u-tamu")
    assert r.status_code == 403 and "no role at this clinic" in r.text
    assert "tamu" not in sso.accounts()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param({"tamper_claims": {"aud": "another-client"}}, id="other-audience"),
        pytest.param({"tamper_claims": {"iss": "https://evil.example"}}, id="other-issuer"),
        pytest.param({"tamper_claims": {"exp": 1_000_000_000}}, id="expired"),
        pytest.param({"tamper_claims": {"nonce": "replayed"}}, id="other-nonce"),
        pytest.param({"tamper_claims": {"sub": None}}, id="no-subject"),
        pytest.param({"tamper_claims": {"azp": "another-client"}}, id="other-party"),
        pytest.param({"sign_with_stranger": True}, id="foreign-signature"),
        pytest.param({"unsigned": True}, id="alg-none"),
    ],
)
def test_a_tampered_id_token_lets_nobody_in(sso, spoil):
    for name, value in spoil.items():
        setattr(sso.idp, name, value)
    web = sso.browser()
    r = sso.sign_in(web, "u-rina", next_url="/admin")
    assert r.status_code == 400 and "failed" in r.text, r.text[:300]
    assert str(r.url).startswith("http://testserver/login/sso/return")
    assert "rina" not in sso.accounts()
    assert web.client.get("/admin", follow_redirects=False).status_code == 303


def test_forged_and_replayed_callbacks_are_turned_away(sso):
    web = sso.browser()
    callback = sso.provider_answer(sso.to_provider(web), "u-rina")
    query = parse_qs(urlsplit(callback).query)

    # Another browser (no cookie from the start) brings the callback: a login CSRF attempt.
    stranger = sso.browser()
    r = sso.come_back(stranger, callback)
    assert r.status_code == 400 and "another browser" in r.text
    # The right browser with another state.
    forged = callback.replace(query["state"][0], "forged-state")
    r = sso.come_back(web, forged)
    assert r.status_code == 400 and "failed" in r.text
    assert "rina" not in sso.accounts()

    # A fresh start, signed in; the same callback again (a replay) is refused.
    callback = sso.provider_answer(sso.to_provider(web), "u-rina")
    assert sso.come_back(web, callback).status_code == 200
    replay = sso.browser()
    replay.client.cookies.update(web.client.cookies)
    replay.client.cookies.delete("antrean_session")
    r = sso.come_back(replay, callback)
    assert r.status_code == 400
    assert replay.client.get("/admin", follow_redirects=False).status_code == 303


def test_the_user_declining_at_the_provider_comes_back_to_the_sign_in_page(sso):
    web = sso.browser()
    url = sso.to_provider(web)
    sso.idp.mode = "reject"
    r = httpx.get(f"{url}&login_hint=u-rina", follow_redirects=False)
    assert "error=access_denied" in r.headers["location"]
    r = sso.come_back(web, r.headers["location"])
    assert r.status_code == 400 and 'name="username"' in r.text


def test_a_provider_that_rolled_its_keys_still_signs_people_in(sso):
    sso.sign_in(sso.browser(), "u-budi")  # the old keys are read and kept
    sso.idp.rotate_key()
    r = sso.sign_in(sso.browser(), "u-rina")
    assert r.status_code == 200 and str(r.url).endswith("/admin")


def test_a_provider_that_is_down_gets_a_page_not_an_error(sso):
    sso.idp.mode = "fail"
    web = sso.browser()
    r = web.client.get("/login/sso", follow_redirects=True)
    assert r.status_code == 400 and "failed" in r.text


def test_single_sign_on_is_absent_when_not_configured(api):
    r = api.client.get("/login")
    assert "/login/sso" not in r.text
    assert api.client.get("/login/sso", follow_redirects=False).status_code == 404
