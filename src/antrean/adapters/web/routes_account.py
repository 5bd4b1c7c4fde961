"""The front page, the language switch, signing in and out, a patient's sign-up, and a
patient's own message choices (e-mail address, language, and messages stopped by medium).

Signing in or up keeps where the visitor was going (`next`): a patient half-way through a
booking comes back to the same step with the same choices."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from antrean.adapters.web.core import (
    Visitor,
    WebRoute,
    read_form,
    redirect,
    render,
    require,
    safe_next,
    text_of,
    visit,
    web_of,
)
from antrean.adapters.web.forms import FieldErrors
from antrean.adapters.web.i18n import LANGUAGES
from antrean.adapters.web.session import remember_language
from antrean.config import DEMO_ACCOUNTS
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.identity import Role, check_password_strength, normalize_username
from antrean.domain.notifications import Medium
from antrean.domain.patients import PatientDraft, PatientPatch, Sex
from antrean.services import accounts, catalog, identity, notifications, patients

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SIGNUP_FIELDS = ("name", "birth_date", "sex", "phone", "username", "password")
REQUIRED = ("name", "birth_date", "username", "password")


@router.get("/")
async def home(request: Request, v: Visitor = Depends(visit)) -> Response:
    """Signed in: the role's own home. Anyone else: what they can do here."""
    if v.user is not None:
        return redirect(v.home)
    c = web_of(request).container
    clinics = await c.call(catalog.clinics_open_now, c.uow(), actor=v.actor, policy=c.policy)
    context = {"clinics": clinics, "accounts": DEMO_ACCOUNTS}
    return render(request, v, "home.html", context)


@router.get("/lang/{lang}")
async def switch_language(lang: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    """Remembered in a cookie, for anyone, signed in or not."""
    response = redirect(safe_next(request.query_params.get("next")))
    if lang in LANGUAGES:
        remember_language(request, response, lang)
    return response


@router.get("/login")
async def login_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    next_url = safe_next(request.query_params.get("next"), "")
    if v.user is not None:
        return redirect(next_url or v.home)
    context = {"errors": {}, "username": "", "next": next_url, "ask_code": False}
    return render(request, v, "login.html", context)


@router.post("/login")
async def login(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    c = web_of(request).container
    username, next_url = text_of(form, "username"), safe_next(text_of(form, "next"), "")
    code = text_of(form, "code")
    errors: dict[str, str] = {}
    try:
        pair = await c.offload(
            identity.login,
            c.uow(),
            actor=c.anonymous(),
            hasher=c.passwords,
            tokens=c.tokens,
            username=username,
            password=text_of(form, "password"),
            rules=c.sign_in_rules,
            client_address=request.client.host if request.client else None,
            codes=c.one_time_codes,
            otp=code,
        )
    except AntreanError as exc:
        second_step = exc.code in ("otp_required", "invalid_otp")
        field = "code" if second_step else exc.field
        errors["_form" if field is None else field] = exc.message(v.lang)
        context = {
            "errors": errors,
            "username": username[:120],
            "next": next_url,
            "ask_code": second_step or bool(code),
        }
        slow_down = exc.kind is ErrorKind.TOO_MANY
        page = render(request, v, "login.html", context, status=429 if slow_down else 400)
        if slow_down:
            page.headers["Retry-After"] = str(exc.params.get("retry_after", 60))
        return page
    v.session = v.session.signed_in(pair.refresh_token)
    user = await c.call(
        identity.resume_session, c.uow(), actor=c.anonymous(), refresh_token=pair.refresh_token
    )
    v.user, v.actor = user, user.actor()
    return redirect(next_url or v.home)


@router.post("/logout")
async def logout(request: Request, v: Visitor = Depends(visit)) -> Response:
    await read_form(request, v)
    if v.session.key is not None:
        c = web_of(request).container
        await c.call(identity.logout, c.uow(), actor=c.anonymous(), refresh_token=v.session.key)
    v.session = v.session.signed_out()
    return redirect("/")


@router.get("/signup")
async def signup_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    next_url = safe_next(request.query_params.get("next"), "")
    if v.user is not None:
        return redirect(next_url or v.home)
    values = dict.fromkeys(SIGNUP_FIELDS, "")
    return render(request, v, "signup.html", {"errors": {}, "values": values, "next": next_url})


def _signup_draft(values: dict[str, str], errors: dict[str, str], lang: str) -> PatientDraft:
    birth = None
    if values["birth_date"]:
        try:
            birth = date.fromisoformat(values["birth_date"])
        except ValueError:
            errors["birth_date"] = AntreanError("invalid_birth_date").message(lang)
    try:
        sex = Sex(values["sex"] or Sex.UNKNOWN.value)
    except ValueError:
        errors["sex"] = AntreanError("field_invalid", field="sex").message(lang)
        sex = Sex.UNKNOWN
    return PatientDraft(
        name=values["name"],
        birth_date=birth or date.min,
        sex=sex,
        phone=values["phone"] or None,
    )


@router.post("/signup")
async def signup(request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    c = web_of(request).container
    values = {name: text_of(form, name) for name in SIGNUP_FIELDS}
    next_url = safe_next(text_of(form, "next"), "")
    errors = {
        name: AntreanError("field_required", field=name).message(v.lang)
        for name in REQUIRED
        if not values[name].strip()
    }
    draft = _signup_draft(values, errors, v.lang)
    # Every rule the form breaks at once (the domain's own checks), not one per try.
    today = patients.today(c.uow(), c.policy)
    checks = (
        lambda: draft.validated(today),
        lambda: normalize_username(values["username"]),
        lambda: check_password_strength(values["password"]),
    )
    for check in checks:
        try:
            check()
        except AntreanError as exc:
            name = exc.field if exc.field in SIGNUP_FIELDS else "_form"
            errors.setdefault(name, exc.message(v.lang))
    if not errors:
        try:
            await c.offload(
                accounts.register_account,
                c.uow(),
                actor=c.anonymous(),
                policy=c.policy,
                phones=c.phones,
                hasher=c.passwords,
                username=values["username"],
                password=values["password"],
                patient=draft,
            )
        except AntreanError as exc:
            errors[exc.field if exc.field in SIGNUP_FIELDS else "_form"] = exc.message(v.lang)
    if errors:
        values["password"] = ""  # never sent back to the browser
        context = {"errors": errors, "values": values, "next": next_url}
        return render(request, v, "signup.html", context, status=400)
    pair = await c.offload(
        identity.login,
        c.uow(),
        actor=c.anonymous(),
        hasher=c.passwords,
        tokens=c.tokens,
        username=values["username"],
        password=values["password"],
    )
    v.session = v.session.signed_in(pair.refresh_token)
    return redirect(next_url or "/my")


# --- A patient's message choices -------------------------------------------------------------

MY_MESSAGES = "/my/messages"
CONTACT_FIELDS = ("email", "language")


def _patient_only(v: Visitor) -> Response | None:
    """Signed in as a patient with a record, or where else to go."""
    require(v)
    if not v.has(Role.PATIENT) or v.actor.patient_id is None:
        return redirect(v.home) if v.home != "/my" else redirect("/")
    return None


async def _messages_page(
    request: Request,
    v: Visitor,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
) -> Response:
    c = web_of(request).container
    choices = await c.call(notifications.my_contact_choices, c.uow(), actor=v.actor)
    params = request.query_params if request.method == "GET" else QueryParams()
    changed = params.get("changed")
    context = {
        "choices": choices,
        "values": values or {"email": choices.email or "", "language": choices.language or ""},
        "errors": errors or {},
        "media": list(Medium),
        "saved": params.get("saved") == "1",
        "changed": changed if changed in {m.value for m in Medium} else None,
    }
    return render(request, v, "my_messages.html", context, status=400 if errors else 200)


@router.get(MY_MESSAGES)
async def my_messages(request: Request, v: Visitor = Depends(visit)) -> Response:
    elsewhere = _patient_only(v)
    return elsewhere or await _messages_page(request, v)


@router.post(MY_MESSAGES)
async def save_my_contact(request: Request, v: Visitor = Depends(visit)) -> Response:
    """The e-mail address messages go to and the language they are written in."""
    form = await read_form(request, v)
    elsewhere = _patient_only(v)
    if elsewhere is not None:
        return elsewhere
    assert v.actor.patient_id is not None
    c = web_of(request).container
    values = {name: text_of(form, name).strip()[:300] for name in CONTACT_FIELDS}
    errors = FieldErrors(v.lang)
    patch = PatientPatch(email=values["email"] or None, language=values["language"] or None)
    try:
        await c.write(
            patients.update_patient,
            c.uow(),
            actor=v.actor,
            policy=c.policy,
            phones=c.phones,
            patient_id=v.actor.patient_id,
            patch=patch,
        )
    except AntreanError as exc:
        errors.add(exc, CONTACT_FIELDS)
        return await _messages_page(request, v, values=values, errors=errors)
    return redirect(MY_MESSAGES + "?saved=1")


@router.post(MY_MESSAGES + "/{medium}")
async def switch_my_messages(
    medium: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    """Stop (out=1) or restart (out=0) messages on one medium."""
    form = await read_form(request, v)
    elsewhere = _patient_only(v)
    if elsewhere is not None:
        return elsewhere
    c = web_of(request).container
    out = text_of(form, "out") == "1"
    await c.write(notifications.set_my_opt_out, c.uow(), actor=v.actor, medium=medium, out=out)
    return redirect(f"{MY_MESSAGES}?changed={medium}")
