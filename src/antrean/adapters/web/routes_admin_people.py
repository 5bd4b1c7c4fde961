"""Accounts, for admins: staff accounts made with their roles (and the doctor an account
stands for), a new password set, an account disabled (which signs it out everywhere) or
enabled again."""

from __future__ import annotations

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
    web_of,
)
from antrean.adapters.web.forms import admin_form, values_of
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Role, StaffAccountDraft
from antrean.services import accounts, catalog, two_factor
from antrean.services.accounts import AccountPatch

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE_SIZE = 50
ROLES = ("operator", "doctor", "admin", "patient")
USER_FIELDS = ("username", "password", "full_name", "roles", "doctor_id")


async def _users_page(
    request: Request, v: Visitor, *, status: int = 200, **extra: object
) -> Response:
    c = web_of(request).container
    number = parse_id(request.query_params.get("page")) or 1
    users, total = await c.call(
        accounts.list_users, c.uow(), actor=v.actor, page=Page(number, PAGE_SIZE)
    )
    doctors = await c.call(catalog.list_doctors, c.uow(), actor=v.actor)
    locked = await c.call(accounts.locked_accounts, c.uow(), actor=v.actor, rules=c.sign_in_rules)
    context = {
        "users": users,
        "locked": locked,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "doctors": doctors,
        "errors": {},
        "values": {"roles": ["operator"]},
        "done": None,
        "section": "users",
        **extra,
    }
    return render(request, v, "admin_users.html", context, status=status)


@router.get("/admin/users")
async def users_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    return await _users_page(request, v)


@router.post("/admin/users")
async def create_user(request: Request, v: Visitor = Depends(visit)) -> Response:
    form, errors = await admin_form(request, v)
    c = web_of(request).container
    errors.required(form, "username", "password")
    roles = [r for r in form.getlist("roles") if isinstance(r, str)]
    doctor_id = errors.id(form, "doctor_id")
    values = {**values_of(form, "username", "full_name"), "roles": roles, "doctor_id": doctor_id}
    if not roles:
        errors.setdefault("roles", AntreanError("field_required", field="roles").message(v.lang))
    if not errors:
        draft = StaffAccountDraft(
            username=text_of(form, "username"),
            password=text_of(form, "password"),
            roles=frozenset(Role(r) if r in ROLES else r for r in roles),  # type: ignore[misc]
            full_name=text_of(form, "full_name"),
            doctor_id=doctor_id,
        )
        try:
            made = await c.offload(
                accounts.create_user, c.uow(), actor=v.actor, hasher=c.passwords, draft=draft
            )
        except AntreanError as exc:
            errors.add(exc, USER_FIELDS)
        else:
            return await _users_page(request, v, done=("made", made.username))
    return await _users_page(request, v, status=400, errors=errors, values=values)


@router.post("/admin/users/{user_id}/{action}")
async def change_user(
    user_id: str, action: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    """`disable`, `enable`, `unlock`, `two-step-reset`, or `password` (with the new one in
    the form)."""
    form = await read_form(request, v)
    require(v, Role.ADMIN)
    c = web_of(request).container
    number = parse_id(user_id) or 0
    try:
        if action == "password":
            await c.offload(
                accounts.reset_password,
                c.uow(),
                actor=v.actor,
                hasher=c.passwords,
                user_id=number,
                new_password=text_of(form, "new_password"),
            )
        elif action == "unlock":
            await c.call(accounts.unlock_account, c.uow(), actor=v.actor, user_id=number)
        elif action == "two-step-reset":
            await c.call(two_factor.reset_two_factor, c.uow(), actor=v.actor, user_id=number)
        elif action in ("disable", "enable"):
            patch = AccountPatch(active=action == "enable")
            await c.write(accounts.update_user, c.uow(), actor=v.actor, user_id=number, patch=patch)
        else:
            raise AntreanError("not_found", entity="Page")
    except AntreanError as exc:
        if exc.kind.value in ("forbidden", "unauthorized", "not_found"):
            raise
        return await _users_page(request, v, status=409, failed=(number, exc.message(v.lang)))
    return redirect(f"/admin/users?done={action}")
