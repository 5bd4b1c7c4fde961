"""The audit log in the web: admins search it and check its chains (`/admin/audit`); a patient
sees who opened their record (`/my/access`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from antrean.adapters.web.core import Visitor, WebRoute, parse_id, render, require, visit, web_of
from antrean.domain.audit import AuditFilter
from antrean.domain.common import Page
from antrean.domain.identity import Role
from antrean.services import audit

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LOG = "/admin/audit"
MINE = "/my/access"
SIZES = (25, 50, 100, 200)
ACTION_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz_")


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class Query:
    """The page's filters as given in its address; what cannot be read is left out."""

    actor_user_id: int | None
    patient_id: int | None
    action: str
    day_from: date | None
    day_to: date | None
    page: int
    size: int
    verify: bool

    @classmethod
    def read(cls, params: QueryParams) -> Query:
        action = (params.get("action") or "").strip().lower()[:60]
        size = parse_id(params.get("size"))
        return cls(
            actor_user_id=parse_id(params.get("user")),
            patient_id=parse_id(params.get("patient")),
            action=action if set(action) <= ACTION_LETTERS else "",
            day_from=_day(params.get("from")),
            day_to=_day(params.get("to")),
            page=parse_id(params.get("page")) or 1,
            size=size if size in SIZES else 50,
            verify=params.get("verify") == "1",
        )

    def link(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "user": self.actor_user_id,
            "patient": self.patient_id,
            "action": self.action or None,
            "from": self.day_from.isoformat() if self.day_from else None,
            "to": self.day_to.isoformat() if self.day_to else None,
            "size": self.size if self.size != 50 else None,
            "page": self.page if self.page != 1 else None,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return LOG + ("?" + urlencode(kept) if kept else "")


@router.get(LOG)
async def audit_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    c = web_of(request).container
    q = Query.read(request.query_params)
    zone = c.policy.time_zone

    def start_of(day: date | None) -> datetime | None:
        return datetime.combine(day, time(), zone) if day else None

    flt = AuditFilter(
        actor_user_id=q.actor_user_id,
        patient_id=q.patient_id,
        action=q.action or None,
        since=start_of(q.day_from),
        until=start_of(q.day_to + timedelta(days=1)) if q.day_to else None,
    )
    bad_range = q.day_from and q.day_to and q.day_to < q.day_from
    if bad_range:
        flt = AuditFilter(
            actor_user_id=q.actor_user_id, patient_id=q.patient_id, action=q.action or None
        )
    found = await c.call(
        audit.audit_log, c.uow(), actor=v.actor, flt=flt, page=Page(q.page, q.size)
    )
    reports = await c.call(audit.verify_audit_log, c.uow(), actor=v.actor) if q.verify else None
    context = {
        "q": q,
        "found": found,
        "pages": max(1, -(-found.total // q.size)),
        "sizes": SIZES,
        "bad_range": bad_range,
        "reports": reports,
        "section": "audit",
    }
    return render(request, v, "admin_audit.html", context)


@router.get(MINE)
async def my_access(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.PATIENT)
    c = web_of(request).container
    number = parse_id(request.query_params.get("page")) or 1
    found = await c.call(audit.who_opened_my_record, c.uow(), actor=v.actor, page=Page(number, 50))
    context = {"found": found, "page": number, "pages": max(1, -(-found.total // 50))}
    return render(request, v, "my_access.html", context)
