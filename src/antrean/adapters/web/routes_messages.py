"""Messages to patients, for staff: the log of what went out (filters in the address, the
count in each state, sending a failed or skipped message again) for admins and the front
desk, and the texts of the messages in both languages for admins, each with its placeholders
and a preview filled with example facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
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
from antrean.adapters.web.forms import FieldErrors, admin_form
from antrean.adapters.web.i18n import Formats
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.fields import clean_text
from antrean.domain.identity import Role
from antrean.domain.notifications import (
    LANGUAGES,
    PLACEHOLDERS,
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
)
from antrean.services import notifications, patients

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LOG = "/admin/messages"
TEXTS = "/admin/messages/texts"
PAGE_SIZES = (25, 50, 100)
TEXT_FIELDS = ("subject", "body", "whatsapp_template")
MAX_TEXT = 4000  # a form value kept for the page again; the text itself is checked by the rules
PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")


def _choice(value: str | None, kind: Any) -> Any:
    """A filter's value, or None when it is missing or not one of the enum's values."""
    return kind(value) if value in {x.value for x in kind} else None


@dataclass
class Query:
    """The log's filters as read from the address; anything unreadable is left out."""

    state: MessageState | None
    kind: MessageKind | None
    medium: Medium | None
    search: str
    page: int
    size: int

    @classmethod
    def read(cls, params: QueryParams) -> Query:
        size = parse_id(params.get("size")) or PAGE_SIZES[1]
        return cls(
            state=_choice(params.get("state"), MessageState),
            kind=_choice(params.get("kind"), MessageKind),
            medium=_choice(params.get("medium"), Medium),
            search="".join(ch for ch in params.get("q") or "" if ch.isprintable()).strip()[:100],
            page=min(parse_id(params.get("page")) or 1, 100_000),
            size=size if size in PAGE_SIZES else PAGE_SIZES[1],
        )

    def link(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "state": self.state.value if self.state else None,
            "kind": self.kind.value if self.kind else None,
            "medium": self.medium.value if self.medium else None,
            "q": self.search or None,
            "page": self.page if self.page != 1 else None,
            "size": self.size if self.size != PAGE_SIZES[1] else None,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return LOG + ("?" + urlencode(kept) if kept else "")


async def _filter(request: Request, v: Visitor, q: Query) -> tuple[MessageFilter, str | None]:
    """The service's filter, and whose messages are shown when the search is a patient's number.

    Addresses are sealed and found by their blind index, so only a whole address matches: a
    number typed the usual way (0812-1111-2222) is read as E.164 (+62812...), as addresses are
    kept. A message that failed on every channel or was skipped keeps no address, so a number
    that is one patient's shows that patient's messages instead: the ones the front desk looks
    for."""
    flt = MessageFilter(state=q.state, kind=q.kind, medium=q.medium)
    search = q.search
    if not search:
        return flt, None
    if not PHONE_LIKE.fullmatch(search):
        return replace(flt, search=search), None
    c = web_of(request).container
    whole = c.phones.to_e164(search)
    if whole is None:
        return replace(flt, search=search), None
    found, total = await c.call(
        patients.search_patients,
        c.uow(),
        actor=v.actor,
        phones=c.phones,
        page=Page(1, 2),
        phone=whole,
    )
    if total == 1:
        return replace(flt, patient_id=found[0].id), found[0].name
    return replace(flt, search=whole), None


async def _names(request: Request, v: Visitor, messages: list[Message]) -> dict[int, str]:
    """The names of the patients the shown messages are for (the log has only their ids)."""
    c = web_of(request).container
    found: dict[int, str] = {}
    for patient_id in {m.patient_id for m in messages if m.patient_id is not None}:
        try:
            patient = await c.call(
                patients.get_patient, c.uow(), actor=v.actor, patient_id=patient_id
            )
        except AntreanError as exc:
            if exc.kind is not ErrorKind.NOT_FOUND:
                raise
            continue
        found[patient_id] = patient.name
    return found


@router.get(LOG)
async def messages_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.OPERATOR)
    q = Query.read(request.query_params)
    c = web_of(request).container
    flt, patient_name = await _filter(request, v, q)
    log = await c.call(
        notifications.message_log,
        c.uow(),
        actor=v.actor,
        flt=flt,
        page=Page(q.page, q.size),
    )
    refused = parse_id(request.query_params.get("refused")) is not None
    context = {
        "q": q,
        "log": log,
        "names": await _names(request, v, log.messages),
        "pages": max(1, -(-log.total // q.size)),
        "states": list(MessageState),
        "kinds": list(MessageKind),
        "media": list(Medium),
        "sizes": PAGE_SIZES,
        "again": parse_id(request.query_params.get("again")),
        "patient_name": patient_name,
        "error": AntreanError("message_not_resendable").message(v.lang) if refused else None,
        "section": "messages",
    }
    return render(request, v, "admin_messages.html", context)


def _back(value: str) -> str:
    """Where the log was (its filters), from the form: only the log itself."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path != LOG or len(value) > 2000:
        return LOG
    return value


@router.post(LOG + "/{message_id}/send-again")
async def send_again(message_id: str, request: Request, v: Visitor = Depends(visit)) -> Response:
    form = await read_form(request, v)
    require(v, Role.OPERATOR)
    c = web_of(request).container
    back = _back(text_of(form, "back"))
    q = Query.read(QueryParams(urlsplit(back).query))
    number = parse_id(message_id)
    if number is None:
        raise AntreanError("message_not_found")
    try:
        found = await c.write(notifications.send_again, c.uow(), actor=v.actor, message_id=number)
    except AntreanError as exc:
        if exc.kind is not ErrorKind.CONFLICT:
            raise
        return redirect(q.link(refused=number))  # said on the log, which may have changed
    if c.worker_wake is not None:
        c.worker_wake.set()
    return redirect(q.link(again=found.id))


# --- The texts --------------------------------------------------------------------------------


@router.get(TEXTS)
async def texts_page(request: Request, v: Visitor = Depends(visit)) -> Response:
    require(v, Role.ADMIN)
    c = web_of(request).container
    texts = await c.call(notifications.message_texts, c.uow(), actor=v.actor)
    by_kind: dict[MessageKind, list[MessageText]] = {}
    for text in texts:
        by_kind.setdefault(text.kind, []).append(text)
    context = {"by_kind": by_kind, "section": "messages"}
    return render(request, v, "admin_message_texts.html", context)


def _kind_and_lang(request: Request, v: Visitor, kind: str, lang: str) -> MessageKind:
    if kind not in {k.value for k in MessageKind} or lang not in LANGUAGES:
        entity = web_of(request).translations[v.lang].gettext("Message text")
        raise AntreanError("not_found", entity=entity)
    return MessageKind(kind)


def _samples(request: Request, v: Visitor, lang: str) -> dict[str, str]:
    """Example facts for the preview, written as the message writes them: dates and times in
    the message's own language, the clinic's own name and address."""
    c = web_of(request).container
    fmt = Formats(lang, c.policy.time_zone)
    url = c.settings.resolved_public_url
    today = c.clock.now().astimezone(c.policy.time_zone).date()
    day = datetime.combine(today + timedelta(days=1), time(8, 30), c.policy.time_zone)
    before = day + timedelta(days=1, hours=2)
    english = lang == "en"
    return {
        "code": "K7Q2MX",
        "patient": "Siti Aminah",
        "date": fmt.day(day),
        "time": fmt.clock(day),
        "old_date": fmt.day(before),
        "old_time": fmt.clock(before),
        "clinic": "Poli Umum",
        "service": "Pemeriksaan umum",
        "doctor": "dr. Andi Wijaya",
        "facility": v.facility.name,
        "address": v.facility.address,
        "link": f"{url}/appointments/K7Q2MX",
        "book_link": f"{url}/book",
        "reason": "The doctor is away" if english else "Dokter berhalangan",
        "ticket": "A-021",
        "ahead": "3",
        "eta": fmt.clock(day + timedelta(minutes=40)),
        "room": "Ruang 2",
        "text": "Your booking K7Q2MX is confirmed." if english else "Booking K7Q2MX terkonfirmasi.",
    }


async def _text_page(
    request: Request,
    v: Visitor,
    kind: MessageKind,
    lang: str,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    preview: MessageText | None = None,
    status: int = 200,
) -> Response:
    c = web_of(request).container
    texts = await c.call(notifications.message_texts, c.uow(), actor=v.actor)
    current = next(t for t in texts if t.kind is kind and t.lang == lang)
    shown = preview or (current if not errors else None)
    rendered = shown.render(_samples(request, v, lang)) if shown is not None else None
    context = {
        "kind": kind,
        "lang": lang,
        "current": current,
        "values": values
        or {
            "subject": current.subject,
            "body": current.body,
            "whatsapp_template": current.whatsapp_template or "",
        },
        "errors": errors or {},
        "placeholders": PLACEHOLDERS[kind],
        "preview": rendered,
        "previewing": preview is not None,
        "saved": request.query_params.get("saved") == "1",
        "reset": request.query_params.get("reset") == "1",
        "section": "messages",
    }
    return render(request, v, "admin_message_text.html", context, status=status)


@router.get(TEXTS + "/{kind}/{lang}")
async def text_page(
    kind: str, lang: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    require(v, Role.ADMIN)
    return await _text_page(request, v, _kind_and_lang(request, v, kind, lang), lang)


@router.post(TEXTS + "/{kind}/{lang}")
async def save_text(
    kind: str, lang: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    """The "Preview" button fills the typed text with example facts, unsaved; "Save" saves."""
    form, errors = await admin_form(request, v)
    found = _kind_and_lang(request, v, kind, lang)
    values = {name: text_of(form, name)[:MAX_TEXT] for name in TEXT_FIELDS}
    for name, value in values.items():
        try:  # control characters (a NUL byte) are not a text's: refused next to the field
            clean_text(value, name, max_length=MAX_TEXT, required=False, multiline=True)
        except AntreanError as exc:
            errors.add(exc, TEXT_FIELDS)
    if errors:
        return await _text_page(request, v, found, lang, values=values, errors=errors, status=400)
    draft = MessageText(found, lang, values["subject"], values["body"], values["whatsapp_template"])
    if text_of(form, "step") == "preview":
        try:
            checked = draft.validated()
        except AntreanError as exc:
            errors.add(exc, TEXT_FIELDS)
            return await _text_page(
                request, v, found, lang, values=values, errors=errors, status=400
            )
        return await _text_page(request, v, found, lang, values=values, preview=checked)
    c = web_of(request).container
    try:
        await c.write(
            notifications.save_message_text,
            c.uow(),
            actor=v.actor,
            kind=found,
            lang=lang,
            subject=draft.subject,
            body=draft.body,
            whatsapp_template=draft.whatsapp_template or None,
        )
    except AntreanError as exc:
        errors.add(exc, TEXT_FIELDS)
        return await _text_page(request, v, found, lang, values=values, errors=errors, status=400)
    return redirect(f"{TEXTS}/{found.value}/{lang}?saved=1")


@router.post(TEXTS + "/{kind}/{lang}/reset")
async def reset_text(
    kind: str, lang: str, request: Request, v: Visitor = Depends(visit)
) -> Response:
    await admin_form(request, v)
    found = _kind_and_lang(request, v, kind, lang)
    c = web_of(request).container
    await c.write(notifications.reset_message_text, c.uow(), actor=v.actor, kind=found, lang=lang)
    return redirect(f"{TEXTS}/{found.value}/{lang}?reset=1")
