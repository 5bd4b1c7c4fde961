"""A small browser for the web pages in tests: keeps cookies, reads the CSRF token from the
page it is on, and submits forms the way a browser without script does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class WebUser:
    client: TestClient
    last: Response | None = None
    history: list[str] = field(default_factory=list)

    def get(self, url: str, **kwargs: Any) -> Response:
        self.last = self.client.get(url, follow_redirects=True, **kwargs)
        self.history.append(url)
        return self.last

    def csrf(self) -> str:
        assert self.last is not None, "open a page first"
        found = CSRF.search(self.last.text)
        assert found, "the page has no form with a CSRF token"
        return found.group(1)

    def post(self, url: str, data: dict[str, Any], *, follow: bool = True, **kw: Any) -> Response:
        body = {"csrf_token": self.csrf(), **data}
        self.last = self.client.post(url, data=body, follow_redirects=follow, **kw)
        return self.last

    def sign_in(self, username: str, password: str) -> Response:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 200, response.text[:500]
        return response


def field_error(html: str, name: str) -> bool:
    """The field is marked invalid and has its own message next to it."""
    return f'id="{name}-error"' in html and (
        f'id="{name}" name="{name}"' not in html or 'aria-invalid="true"' in html
    )
