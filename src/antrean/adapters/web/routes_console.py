"""The front desk's console, one per clinic and counter, and the doctor's own view of it: today's
queue in the order the services give, the patient at this counter, and every operator action
(call next, recall, start, finish, skip, re-queue, cancel, transfer, undo); check-in by booking
code; a walk-in for a patient found by record number, name or phone, or registered on the spot.

Each action is a form: without script it posts and comes back to the console; with HTMX it
swaps the queue panel in place. The panel also updates itself when another operator acts
(the clinic's event stream), with no polling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    parse_id,
    read_form,
    redirect,
    render,
    require,
    text_of,
    visit,
    wants_fragment,
    web_of,
)
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role
from antrean.domain.patients import Sex
from antrean.domain.queue import Priority, WalkInDraft
from antrean.services import catalog, patients, queue, queue_actions, queue_views

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ACTIONS = ("recall", "start", "finish", "skip", "requeue", "cancel")
MRN_LIKE = re.compile(r"^\d{2}-\d{2}-\d{2,}$")
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{8,}$")
SEARCH_SIZE = 20
STAFF = (Role.OPERATOR, Role.DOCTOR)


@dataclass
class Desk:
    """Which clinic and counter this console runs, and whether it is a doctor's room view."""

    clinic: catalog.Clinic
    counter: str
    counters: list[str]
    doctor: bool

    @property
    def base(self) -> str:
        return f"/{'doctor' if self.doctor else 'console'}/{self.clinic.id}"

    @property
    def query(self) -> str:
        return "?counter=" + quote(self.counter, safe="")


async def _desk(request: Request, v: Visitor, clinic_id: str, counter: str) -> Desk:
    c = web_of(request).container
    number = parse_id(clinic_id)
    if number is None:
        raise AntreanError("not_found", entity="Clinic")
    clinic = await c.call(catalog.get_clinic, c.uow(), actor=v.actor, clinic_id=number)
    counters = await c.call(catalog.list_counters, c.uow(), actor=v.actor, clinic_id=number)
    chosen = counter.strip()[:32] if counter.strip() else (counters[0] if counters else "1")
    doctor = request.url.path.startswith("/doctor")
    return Desk(clinic=clinic, counter=chosen, counters=counters, doctor=doctor)


async def _panel(request: Request, v: Visitor, desk: Desk) -> dict[str, Any]:
    c = web_of(request).container
    rows = await c.call(
        queue_views.staff_queue,
        c.uow(),
        actor=v.actor,
        policy=c.policy,
        queue=c.queue_policy,
        clinic_id=desk.clinic.id,
    )
    waiting = sorted((r for r in rows if r.position is not None), key=lambda r: r.position or 0)
    at_desk = [
        r
        for r in rows
        if r.ticket.state.value in ("called", "serving") and r.ticket.counter == desk.counter
    ]
    elsewhere = [
        r for r in rows if r.ticket.state.value in ("called", "serving") and r not in at_desk
    ]
    done = [r for r in rows if r.position is None and r not in at_desk and r not in elsewhere]
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    return {
        "desk": desk,
        "waiting": waiting,
        "at_desk": at_desk,
        "elsewhere": elsewhere,
        "done": done,
        "clinics": clinics,  # where a patient may be sent on
    }


async def _console(
    request: Request,
    v: Visitor,
    desk: Desk,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    context = await _panel(request, v, desk)
    context.update(notice=notice, error=error, search=None, errors={}, values={}, issued=None)
    context.update(extra or {})
    block = "panel" if wants_fragment(request) else None
    return render(request, v, "console.html", context, status=status, block=block)


@router.get("/console")
async def choose_desk(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, *STAFF)
    c = web_of(request).container
    clinics = await c.call(catalog.list_clinics, c.uow(), actor=v.actor)
    counters = {
        k.id: await c.call(catalog.list_counters, c.uow(), actor=v.actor, clinic_id=k.id)
        for k in clinics
    }
    context = {"clinics": clinics, "counters": counters, "doctor": False}
    return render(request, v, "console_choose.html", context)


@router.get("/console/{clinic_id}")
@router.get("/doctor/{clinic_id}")
async def console(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, request.query_params.get("counter", ""))
    return await _console(request, v, desk)


async def _after(request: Request, v: Visitor, desk: Desk, notice: str | None) -> Response:
    """After an action: HTMX gets the panel; a plain form goes back to the console."""
    if wants_fragment(request):
        return await _console(request, v, desk, notice=notice)
    return redirect(desk.base + desk.query)


async def _refused(request: Request, v: Visitor, desk: Desk, exc: AntreanError) -> Response:
    if exc.kind.value in ("forbidden", "unauthorized"):
        raise exc
    return await _console(request, v, desk, error=exc.message(v.lang), status=409)


@router.post("/console/{clinic_id}/call-next")
@router.post("/doctor/{clinic_id}/call-next")
async def call_next(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, text_of(form, "counter"))
    c = web_of(request).container
    try:
        await c.write(
            queue_actions.call_next,
            c.uow(),
            actor=v.actor,
            policy=c.policy,
            queue=c.queue_policy,
            clinic_id=desk.clinic.id,
            counter=desk.counter,
        )
    except AntreanError as exc:
        return await _refused(request, v, desk, exc)
    return await _after(request, v, desk, None)


@router.post("/console/{clinic_id}/tickets/{ticket_id}/{action}")
@router.post("/doctor/{clinic_id}/tickets/{ticket_id}/{action}")
async def act(
    clinic_id: str, ticket_id: str, action: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    form = await read_form(request, v)
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, text_of(form, "counter"))
    c = web_of(request).container
    number = parse_id(ticket_id) or 0
    try:
        if action == "undo":
            await c.write(queue_actions.undo_last_action, c.uow(), actor=v.actor, ticket_id=number)
        elif action == "transfer":
            await c.write(
                queue_actions.transfer_ticket,
                c.uow(),
                actor=v.actor,
                policy=c.policy,
                ticket_id=number,
                to_clinic_id=parse_id(text_of(form, "to_clinic")) or 0,
            )
        else:
            await c.write(
                queue_actions.act_on_ticket,
                c.uow(),
                actor=v.actor,
                queue=c.queue_policy,
                ticket_id=number,
                action=action,
            )
    except AntreanError as exc:
        return await _refused(request, v, desk, exc)
    return await _after(request, v, desk, None)


@router.post("/console/{clinic_id}/check-in")
async def check_in(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, text_of(form, "counter"))
    c = web_of(request).container
    code = text_of(form, "code").strip().upper()
    try:
        if not code:
            raise AntreanError("field_required", field="code")
        issued = await c.write(
            queue.check_in, c.uow(), actor=v.actor, policy=c.policy, code=code, queue=c.queue_policy
        )
    except AntreanError as exc:
        if exc.kind.value in ("forbidden", "unauthorized"):
            raise
        errors = {"code": exc.message(v.lang)}
        extra = {"errors": errors, "values": {"code": code[:32]}}
        return await _console(request, v, desk, status=409, extra=extra)
    return await _console(request, v, desk, extra={"issued": issued.ticket})


def _search_terms(text: str) -> dict[str, str]:
    """One box for a record number, a phone number or part of a name."""
    text = text.strip()[:100]
    if MRN_LIKE.match(text):
        return {"mrn": text}
    if PHONE_LIKE.match(text):
        return {"phone": text}
    return {"name": text}


@router.get("/console/{clinic_id}/patients")
async def find_patients(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, request.query_params.get("counter", ""))
    c = web_of(request).container
    text = request.query_params.get("q", "")
    found: list[Any] = []
    errors: dict[str, str] = {}
    if text.strip():
        try:
            found, _ = await c.call(
                patients.search_patients,
                c.uow(),
                actor=v.actor,
                phones=c.phones,
                page=Page(1, SEARCH_SIZE),
                **_search_terms(text),
            )
        except AntreanError as exc:
            errors["q"] = exc.message(v.lang)
    extra = {"search": {"q": text[:100], "found": found}, "errors": errors}
    if wants_fragment(request):
        context = {"desk": desk, **extra}
        return render(request, v, "console.html", context, block="search_results")
    return await _console(request, v, desk, extra=extra)


WALK_IN_FIELDS = ("name", "birth_date", "mrn", "sex", "priority", "priority_reason")


def _walk_in(
    values: dict[str, str], clinic_id: int, lang: str
) -> tuple[WalkInDraft, dict[str, str]]:
    errors: dict[str, str] = {}
    for name in ("name", "birth_date"):
        if not values[name].strip():
            errors[name] = AntreanError("field_required", field=name).message(lang)
    try:
        birth = date.fromisoformat(values["birth_date"]) if values["birth_date"] else date.min
    except ValueError:
        errors["birth_date"] = AntreanError("invalid_birth_date").message(lang)
        birth = date.min
    priority = {"normal": Priority.NORMAL, "priority": Priority.PRIORITY}.get(
        values["priority"], Priority.NORMAL
    )
    sex = values["sex"] if values["sex"] in {s.value for s in Sex} else Sex.UNKNOWN.value
    draft = WalkInDraft(
        clinic_id=clinic_id,
        name=values["name"],
        birth_date=birth,
        mrn=values["mrn"].strip() or None,
        sex=Sex(sex),
        priority=priority,
        priority_reason=values["priority_reason"],
    )
    return draft, errors


@router.post("/console/{clinic_id}/walk-in")
async def walk_in(clinic_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v, *STAFF)
    desk = await _desk(request, v, clinic_id, text_of(form, "counter"))
    c = web_of(request).container
    values = {name: text_of(form, name) for name in WALK_IN_FIELDS}
    draft, errors = _walk_in(values, desk.clinic.id, v.lang)
    if not errors:
        try:
            issued = await c.write(
                queue.issue_walk_in,
                c.uow(),
                actor=v.actor,
                policy=c.policy,
                phones=c.phones,
                walk_in=draft,
            )
        except AntreanError as exc:
            if exc.kind.value in ("forbidden", "unauthorized"):
                raise
            errors[exc.field if exc.field in WALK_IN_FIELDS else "walk_in"] = exc.message(v.lang)
        else:
            return await _console(request, v, desk, extra={"issued": issued.ticket})
    extra = {"errors": errors, "values": values}
    return await _console(request, v, desk, status=400, extra=extra)
