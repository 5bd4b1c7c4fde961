"""Accounts over the API: admins list them, change roles, disable them and reset passwords;
everyone changes their own password; the last admin cannot be taken away."""

from __future__ import annotations

from datetime import timedelta


def _token_pair(api, username: str, password: str) -> dict:
    r = api.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def test_admin_manages_accounts(api, admin):
    api.staff("ani", "operator")
    users = api.client.get("/api/v1/auth/users", headers=admin).json()
    assert [u["username"] for u in users["items"]] == ["admin", "ani"] and users["total"] == 2
    ani = users["items"][1]
    assert ani["roles"] == ["operator"] and ani["active"] is True
    r = api.client.patch(
        f"/api/v1/auth/users/{ani['id']}", headers=admin, json={"roles": ["doctor", "operator"]}
    )
    assert r.status_code == 200 and r.json()["roles"] == ["doctor", "operator"]
    pair = _token_pair(api, "ani", "staff-password-1")
    r = api.client.patch(f"/api/v1/auth/users/{ani['id']}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    r = api.client.post(
        "/api/v1/auth/token", data={"username": "ani", "password": "staff-password-1"}
    )
    assert r.status_code == 401, "a disabled account cannot sign in"
    r = api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert r.status_code == 401, "disabling ends the account's sessions"
    api.client.patch(f"/api/v1/auth/users/{ani['id']}", headers=admin, json={"active": True})
    r = api.client.post(
        f"/api/v1/auth/users/{ani['id']}/password",
        headers=admin,
        json={"new_password": "a-new-password-2"},
    )
    assert r.status_code == 204
    assert _token_pair(api, "ani", "a-new-password-2")["access_token"]
    r = api.client.patch(f"/api/v1/auth/users/{ani['id']}", headers=admin, json={})
    assert r.status_code == 422 and r.json()["code"] == "nothing_to_change"


def test_the_last_admin_stays(api, admin):
    me = api.client.get("/api/v1/auth/me", headers=admin).json()
    for change in ({"active": False}, {"roles": ["operator"]}):
        r = api.client.patch(f"/api/v1/auth/users/{me['id']}", headers=admin, json=change)
        assert r.status_code == 409 and r.json()["code"] == "last_admin"
    api.staff("second", "admin")
    r = api.client.patch(f"/api/v1/auth/users/{me['id']}", headers=admin, json={"active": False})
    assert r.status_code == 200, "with another admin, one may step down"


def test_everyone_changes_their_own_password(api, admin):
    operator = api.staff("ani", "operator")
    other_session = _token_pair(api, "ani", "staff-password-1")
    r = api.client.post(
        "/api/v1/auth/me/password",
        headers=operator,
        json={"current_password": "wrong-password", "new_password": "another-password-3"},
    )
    assert r.status_code == 422 and r.json()["code"] == "wrong_password"
    assert r.json()["errors"][0]["loc"] == ["current_password"]
    r = api.client.post(
        "/api/v1/auth/me/password",
        headers=operator,
        json={"current_password": "staff-password-1", "new_password": "short"},
    )
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    r = api.client.post(
        "/api/v1/auth/me/password",
        headers=operator,
        json={"current_password": "staff-password-1", "new_password": "another-password-3"},
    )
    assert r.status_code == 204
    r = api.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": other_session["refresh_token"]},
    )
    assert r.status_code == 401, "other sessions end with a password change"
    assert _token_pair(api, "ani", "another-password-3")["access_token"]


def test_only_admins_manage_accounts(api, admin):
    operator = api.staff("ani", "operator")
    assert api.client.get("/api/v1/auth/users", headers=operator).status_code == 403
    assert (
        api.client.patch(
            "/api/v1/auth/users/1", headers=operator, json={"active": False}
        ).status_code
        == 403
    )
    r = api.client.post("/api/v1/auth/users/1/password", json={"new_password": "x" * 10})
    assert r.status_code == 401


def test_a_refresh_works_even_when_the_old_access_token_comes_along(api, admin):
    """A client refreshing because its access token expired may still send that token."""
    pair = _token_pair(api, "admin", "staff-password-1")
    api.container.clock.advance(timedelta(minutes=30))  # the access token has expired
    r = api.client.post(
        "/api/v1/auth/token",
        headers={"Authorization": f"Bearer {pair['access_token']}"},
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert r.status_code == 200, r.text
