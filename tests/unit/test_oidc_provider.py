"""The fake OpenID Connect provider itself, spoken to over plain HTTP: if it drifts from the
standard, the single sign-on tests built on it prove nothing."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import httpx
import jwt
import pytest

from tests.providers.oidc import AUTH, CERTS, DISCOVERY, TOKEN, USERINFO, FakeOpenIdProvider

CLIENT_ID = "antrean-staff"
SECRET = "s3cret/with+odd chars"  # form-urlencoded in HTTP Basic (RFC 6749 §2.3.1)
CALLBACK = "http://127.0.0.1:8000/auth/callback"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"  # 60 unreserved chars
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


@pytest.fixture
def idp() -> Iterator[FakeOpenIdProvider]:
    with FakeOpenIdProvider(CLIENT_ID, SECRET, [CALLBACK]) as fake:
        fake.add_user(
            "u-rina",
            preferred_username="rina",
            name="Rina Kusuma",
            email="rina@example.org",
            groups=["antrean-admins"],
        )
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, follow_redirects=False) as client:
        yield client


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def authorize(http: httpx.Client, idp: FakeOpenIdProvider, **changes: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        "login_hint": "u-rina",
    } | changes
    return http.get(idp.issuer + AUTH, params={k: v for k, v in params.items() if v is not None})


def returned(response: httpx.Response) -> dict[str, str]:
    """The parameters a redirect hands back to the client's callback."""
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return dict(parse_qsl(urlsplit(location).query))


def exchange(
    http: httpx.Client, idp: FakeOpenIdProvider, code: str, verifier: str = VERIFIER
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    return http.post(idp.issuer + TOKEN, data=form, headers=basic(CLIENT_ID, SECRET))


def signed_in(http: httpx.Client, idp: FakeOpenIdProvider) -> str:
    """A fresh code for Rina."""
    return returned(authorize(http, idp))["code"]


def verify(http: httpx.Client, idp: FakeOpenIdProvider, id_token: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(http.get(idp.issuer + CERTS).json())
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(id_token)["kid"])
    claims: dict[str, Any] = jwt.decode(
        id_token, key.key, algorithms=["RS256"], audience=CLIENT_ID, issuer=idp.issuer
    )
    return claims


class Forms(HTMLParser):
    """The forms of a page: action, fields and the button's label."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.html_lang: str | None = None
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "form":
            self.forms.append({"action": a["action"], "method": a["method"], "fields": {}})
        elif tag == "input" and a.get("type") == "hidden":
            self.forms[-1]["fields"][a["name"]] = a["value"]
        elif tag == "button":
            self._in_button = True
            self.forms[-1]["label"] = ""

    def handle_endtag(self, tag: str) -> None:
        self._in_button = self._in_button and tag != "button"

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.forms[-1]["label"] += data


def test_discovery_describes_the_code_flow_under_the_issuer(idp, http) -> None:
    document = http.get(idp.issuer + DISCOVERY).json()

    assert idp.issuer == idp.url + "/realms/clinic"
    assert document["issuer"] == idp.issuer
    assert document["authorization_endpoint"] == idp.issuer + AUTH
    assert document["token_endpoint"] == idp.issuer + TOKEN
    assert document["jwks_uri"] == idp.issuer + CERTS
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert http.get(idp.url + DISCOVERY).status_code == 404  # only under the issuer's path


def test_code_flow_with_pkce_gives_an_id_token_signed_with_a_published_key(idp, http) -> None:
    back = returned(authorize(http, idp))
    assert back["state"] == "state-1"
    assert back["iss"] == idp.issuer

    response = exchange(http, idp, back["code"])

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 300
    claims = verify(http, idp, tokens["id_token"])
    assert claims["sub"] == "u-rina"
    assert claims["nonce"] == "nonce-1"
    assert claims["azp"] == CLIENT_ID
    assert claims["groups"] == ["antrean-admins"]
    assert claims["email_verified"] is True
    at_hash = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(at_hash).rstrip(b"=").decode()
    me = http.get(
        idp.issuer + USERINFO, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["sub"] == "u-rina"
    assert me.json()["preferred_username"] == "rina"


def test_client_secret_post_is_accepted(idp, http) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": signed_in(http, idp),
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    response = http.post(idp.issuer + TOKEN, data=form)

    assert response.status_code == 200
    assert verify(http, idp, response.json()["id_token"])["sub"] == "u-rina"


def test_a_code_works_once_and_its_replay_revokes_the_tokens(idp, http) -> None:
    code = signed_in(http, idp)
    access_token = exchange(http, idp, code).json()["access_token"]

    again = exchange(http, idp, code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.headers["cache-control"] == "no-store"
    assert idp.revoked == [code]
    me = http.get(idp.issuer + USERINFO, headers={"Authorization": f"Bearer {access_token}"})
    assert me.status_code == 401


def test_an_expired_code_is_invalid_grant(idp, http) -> None:
    idp.code_lifetime = 0
    response = exchange(http, idp, signed_in(http, idp))

    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "verifier",
    [
        pytest.param("w" * 60, id="another-verifier"),
        pytest.param(VERIFIER[:42], id="too-short"),
        pytest.param("", id="missing"),
    ],
)
def test_a_wrong_code_verifier_is_invalid_grant(idp, http, verifier: str) -> None:
    response = exchange(http, idp, signed_in(http, idp), verifier)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("basic", id="client-secret-basic"),
        pytest.param("post", id="client-secret-post"),
    ],
)
def test_a_wrong_client_secret_is_invalid_client(idp, http, how: str) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": signed_in(http, idp),
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    if how == "basic":
        response = http.post(idp.issuer + TOKEN, data=form, headers=basic(CLIENT_ID, "wrong"))
    else:
        form |= {"client_id": CLIENT_ID, "client_secret": "wrong"}
        response = http.post(idp.issuer + TOKEN, data=form)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_an_unregistered_redirect_uri_gets_a_page_and_no_redirect(idp, http) -> None:
    response = authorize(http, idp, redirect_uri="http://127.0.0.1:8000/elsewhere")

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param({"response_type": "token"}, "unsupported_response_type", id="implicit"),
        pytest.param({"scope": "profile"}, "invalid_request", id="no-openid-scope"),
        pytest.param({"nonce": None}, "invalid_request", id="no-nonce"),
        pytest.param({"code_challenge": None}, "invalid_request", id="no-pkce"),
        pytest.param({"code_challenge_method": "plain"}, "invalid_request", id="plain-pkce"),
    ],
)
def test_a_bad_authorization_request_goes_back_with_an_error(idp, http, changes, error) -> None:
    back = returned(authorize(http, idp, **changes))

    assert back["error"] == error
    assert back["state"] == "state-1"
    assert "code" not in back


def test_the_sign_in_page_offers_each_user_and_its_form_gives_a_code(idp, http) -> None:
    page = authorize(http, idp, login_hint=None)
    assert page.status_code == 200
    parsed = Forms()
    parsed.feed(page.text)
    assert parsed.html_lang == "en"
    assert "<title>Sign in</title>" in page.text
    sign_in, cancel = parsed.forms
    assert sign_in["label"] == "Sign in as Rina Kusuma"
    assert sign_in["method"] == "post"
    assert sign_in["fields"]["subject"] == "u-rina"
    assert sign_in["fields"]["nonce"] == "nonce-1"

    back = returned(http.post(idp.url + sign_in["action"], data=sign_in["fields"]))
    declined = returned(http.post(idp.url + cancel["action"], data=cancel["fields"]))

    assert exchange(http, idp, back["code"]).status_code == 200
    assert cancel["label"] == "Cancel"
    assert declined["error"] == "access_denied"
    assert declined["state"] == "state-1"


def test_knobs_spoil_only_the_next_id_token(idp, http) -> None:
    idp.tamper_claims = {"aud": "someone-else"}
    with pytest.raises(jwt.InvalidAudienceError):
        verify(http, idp, exchange(http, idp, signed_in(http, idp)).json()["id_token"])
    idp.sign_with_stranger = True
    with pytest.raises(jwt.InvalidSignatureError):
        verify(http, idp, exchange(http, idp, signed_in(http, idp)).json()["id_token"])
    idp.unsigned = True
    unsigned = exchange(http, idp, signed_in(http, idp)).json()["id_token"]
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"

    old_kid, new_kid = idp.jwks["keys"][0]["kid"], idp.rotate_key()
    token = exchange(http, idp, signed_in(http, idp)).json()["id_token"]

    assert verify(http, idp, token)["aud"] == CLIENT_ID
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert [k["kid"] for k in http.get(idp.issuer + CERTS).json()["keys"]] == [old_kid, new_kid]
