"""Messages to patients: the log (what went out, through which channel, what became of it),
sending a failed message again, the texts admins edit, and a patient's own choices."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathId
from antrean.adapters.rest.schemas import Out, PageOut, Strict
from antrean.bootstrap import Container
from antrean.domain.common import Page
from antrean.domain.identity import Actor
from antrean.domain.notifications import (
    PLACEHOLDERS,
    Medium,
    Message,
    MessageFilter,
    MessageKind,
    MessageState,
    MessageText,
)
from antrean.services import notifications as svc

router = APIRouter(tags=["messages"])


class MessageOut(Out):
    id: int
    kind: MessageKind
    state: MessageState
    patient_id: int | None
    appointment_id: int | None
    ticket_id: int | None
    medium: Medium | None = Field(description="How it went (or was last tried)")
    transport: str | None = Field(
        description="The channel: whatsapp_cloud, waha, gateway, sms, smtp"
    )
    recipient: str | None
    lang: str | None
    tries: int
    due_at: datetime = Field(description="When it is (or was) due; the next try while pending")
    last_error: str | None
    provider_id: str | None
    delivery_status: str | None = Field(
        description="What the provider reported later: accepted, sent, delivered, read, failed"
    )
    delivery_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            kind=m.kind,
            state=m.state,
            patient_id=m.patient_id,
            appointment_id=m.appointment_id,
            ticket_id=m.ticket_id,
            medium=m.medium,
            transport=m.transport,
            recipient=m.address,
            lang=m.lang,
            tries=m.tries,
            due_at=m.due_at,
            last_error=m.last_error,
            provider_id=m.provider_id,
            delivery_status=m.delivery_status,
            delivery_error=m.delivery_error,
            created_at=m.created_at,
            sent_at=m.sent_at,
        )


class MessageLogOut(PageOut[MessageOut]):
    counts: dict[MessageState, int] = Field(description="Messages in each state, all of them")


class MessageTextIn(Strict):
    subject: str = Field(max_length=120)
    body: str = Field(min_length=1, max_length=1024)
    whatsapp_template: str | None = Field(
        default=None,
        max_length=512,
        description="The approved WhatsApp template to send outside the 24-hour window; its "
        "body parameters are this text's placeholders in order",
    )


class MessageTextOut(Out):
    kind: MessageKind
    lang: str
    subject: str
    body: str
    whatsapp_template: str | None
    edited_at: datetime | None = Field(description="None: the built-in text")
    placeholders: list[str]

    @classmethod
    def of(cls, t: MessageText) -> MessageTextOut:
        return cls(
            kind=t.kind,
            lang=t.lang,
            subject=t.subject,
            body=t.body,
            whatsapp_template=t.whatsapp_template,
            edited_at=t.edited_at,
            placeholders=list(PLACEHOLDERS[t.kind]),
        )


class ContactChoicesOut(Out):
    phone: str | None
    email: str | None
    language: str | None
    opted_out: list[Medium]


class OptOutIn(Strict):
    medium: Medium
    opted_out: bool


@router.get("/messages", response_model=MessageLogOut, summary="The message log")
async def message_log(
    state: MessageState | None = None,
    kind: MessageKind | None = None,
    medium: Medium | None = None,
    patient_id: int | None = Query(None, ge=1, le=2**53),
    search: str | None = Query(None, max_length=100, description="Part of a recipient"),
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=200),
    actor: Actor = Depends(deps.front_desk),
    c: Container = Depends(deps.container),
) -> MessageLogOut:
    """Staff. Newest first."""
    log = await c.call(
        svc.message_log,
        c.uow(),
        actor=actor,
        flt=MessageFilter(state, kind, medium, patient_id, search),
        page=Page(page, size),
    )
    return MessageLogOut(
        items=[MessageOut.of(m) for m in log.messages],
        total=log.total,
        page=page,
        size=size,
        counts=log.counts,
    )


@router.get("/messages/{message_id}", response_model=MessageOut, summary="One message")
async def get_message(
    message_id: PathId,
    actor: Actor = Depends(deps.front_desk),
    c: Container = Depends(deps.container),
) -> MessageOut:
    return MessageOut.of(await c.call(svc.get_message, c.uow(), actor=actor, message_id=message_id))


@router.post(
    "/messages/{message_id}/resend", response_model=MessageOut, summary="Send a message again"
)
async def resend(
    message_id: PathId,
    actor: Actor = Depends(deps.front_desk),
    c: Container = Depends(deps.container),
) -> MessageOut:
    """Staff. A failed or skipped message goes back in the queue with fresh tries."""
    found = await c.write(svc.send_again, c.uow(), actor=actor, message_id=message_id)
    if c.worker_wake is not None:
        c.worker_wake.set()
    return MessageOut.of(found)


@router.get("/message-texts", response_model=list[MessageTextOut], summary="Message texts")
async def texts(
    actor: Actor = Depends(deps.front_desk), c: Container = Depends(deps.container)
) -> list[MessageTextOut]:
    """Every message in Bahasa Indonesia and English, as patients get it, with the placeholders
    each may use."""
    return [MessageTextOut.of(t) for t in await c.call(svc.message_texts, c.uow(), actor=actor)]


@router.put(
    "/message-texts/{kind}/{lang}", response_model=MessageTextOut, summary="Change a message text"
)
async def save_text(
    kind: MessageKind,
    lang: Literal["id", "en"],
    body: MessageTextIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> MessageTextOut:
    """Admin. A placeholder the message does not know is refused."""
    saved = await c.write(
        svc.save_message_text,
        c.uow(),
        actor=actor,
        kind=kind,
        lang=lang,
        subject=body.subject,
        body=body.body,
        whatsapp_template=body.whatsapp_template,
    )
    return MessageTextOut.of(saved)


@router.delete(
    "/message-texts/{kind}/{lang}",
    response_model=MessageTextOut,
    summary="Back to the built-in text",
)
async def reset_text(
    kind: MessageKind,
    lang: Literal["id", "en"],
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> MessageTextOut:
    text = await c.write(svc.reset_message_text, c.uow(), actor=actor, kind=kind, lang=lang)
    return MessageTextOut.of(text)


@router.get("/patients/me/messages", response_model=ContactChoicesOut, summary="My message choices")
async def my_choices(
    actor: Actor = Depends(deps.patient), c: Container = Depends(deps.container)
) -> ContactChoicesOut:
    found = await c.call(svc.my_contact_choices, c.uow(), actor=actor)
    return ContactChoicesOut(
        phone=found.phone,
        email=found.email,
        language=found.language,
        opted_out=sorted(found.opted_out),
    )


@router.put(
    "/patients/me/messages", response_model=ContactChoicesOut, summary="Stop or restart messages"
)
async def set_opt_out(
    body: OptOutIn, actor: Actor = Depends(deps.patient), c: Container = Depends(deps.container)
) -> ContactChoicesOut:
    """A patient turns messages on one medium (whatsapp, sms, email) off or on again."""
    found = await c.write(
        svc.set_my_opt_out, c.uow(), actor=actor, medium=body.medium, out=body.opted_out
    )
    return ContactChoicesOut(
        phone=found.phone,
        email=found.email,
        language=found.language,
        opted_out=sorted(found.opted_out),
    )
