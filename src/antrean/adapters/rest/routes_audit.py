"""The audit log: admins search it and check it; a patient sees who opened their record."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from antrean.adapters.rest import deps
from antrean.adapters.rest.schemas import Out, PageOut
from antrean.bootstrap import Container
from antrean.domain.audit import AuditEntry, AuditFilter, ChainReport
from antrean.domain.common import Page
from antrean.domain.identity import Actor
from antrean.services import audit as svc
from antrean.services.audit import AuditPage

router = APIRouter(tags=["audit"])


class AuditEntryOut(Out):
    id: int
    at: datetime
    actor_user_id: int | None = Field(description="The account that acted; none for a device")
    actor_name: str | None = Field(description="That account's name, where it still exists")
    actor: str = Field(description="user, device:<name>, system or anonymous")
    roles: list[str] = Field(description="The roles it acted with")
    action: str = Field(description="The use case: book_appointment, get_patient, ...")
    record_type: str = Field(description="patient, appointment, ticket, user, clinic or empty")
    record_id: str
    patient_id: int | None = Field(description="The patient the record belongs to")
    client_address: str
    request_id: str
    chain: int
    seq: int = Field(description="The entry's position in its chain")

    @classmethod
    def of(cls, e: AuditEntry, people: dict[int, tuple[str, str]]) -> AuditEntryOut:
        person = people.get(e.actor_user_id or 0)
        return cls(
            id=e.id,
            at=e.at,
            actor_user_id=e.actor_user_id,
            actor_name=person[0] if person else None,
            actor=e.actor,
            roles=e.roles.split(),
            action=e.action,
            record_type=e.record_type,
            record_id=e.record_id,
            patient_id=e.patient_id,
            client_address=e.client_address,
            request_id=e.request_id,
            chain=e.chain,
            seq=e.seq,
        )


class AccessOut(Out):
    at: datetime
    who: str | None = Field(description="The person's name; none for a device or the system")
    roles: list[str]
    action: str
    record_type: str


class ChainOut(Out):
    chain: int
    entries: int
    head_seq: int
    head_hash: str
    intact: bool
    problem: str | None = Field(description="The first break, in words")
    problem_kind: str | None = Field(description="altered, removed or inserted")
    problem_entry_id: int | None

    @classmethod
    def of(cls, r: ChainReport) -> ChainOut:
        return cls(
            chain=r.chain,
            entries=r.entries,
            head_seq=r.head_seq,
            head_hash=r.head_hash,
            intact=r.broken is None,
            problem=r.broken.message if r.broken else None,
            problem_kind=r.broken.kind.value if r.broken else None,
            problem_entry_id=r.broken.entry_id if r.broken else None,
        )


class VerifyOut(Out):
    intact: bool
    chains: list[ChainOut]


@router.get("/audit", response_model=PageOut[AuditEntryOut], summary="Search the audit log")
async def audit_log(
    actor_user_id: int | None = Query(None, ge=1, le=2**53),
    patient_id: int | None = Query(None, ge=1, le=2**53),
    action: str | None = Query(None, max_length=60, pattern=r"^[a-z_]+$"),
    record_type: str | None = Query(None, max_length=20, pattern=r"^[a-z_]+$"),
    record_id: str | None = Query(None, max_length=40),
    since: datetime | None = Query(
        None, description="From this instant (ISO 8601, with its offset)"
    ),
    until: datetime | None = Query(None, description="Before this instant"),
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=200),
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> PageOut[AuditEntryOut]:
    """Admins. Newest first. Every read of patient data, every change and every admin action,
    with who, when, from which address and in which request."""
    found: AuditPage = await c.call(
        svc.audit_log,
        c.uow(),
        actor=actor,
        flt=AuditFilter(
            actor_user_id=actor_user_id,
            patient_id=patient_id,
            action=action,
            record_type=record_type,
            record_id=record_id,
            since=since,
            until=until,
        ),
        page=Page(page, size),
    )
    return PageOut(
        items=[AuditEntryOut.of(e, found.people) for e in found.entries],
        total=found.total,
        page=page,
        size=size,
    )


@router.get("/audit/verify", response_model=VerifyOut, summary="Check the audit log's chains")
async def verify(
    actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> VerifyOut:
    """Admins. Walks every chain from its first entry: an altered, removed or inserted entry
    is named. (`antrean audit verify` does the same from the command line.)"""
    reports = await c.call(svc.verify_audit_log, c.uow(), actor=actor)
    chains = [ChainOut.of(r) for r in reports]
    return VerifyOut(intact=all(ch.intact for ch in chains), chains=chains)


@router.get(
    "/patients/me/access-log",
    response_model=PageOut[AccessOut],
    summary="Who opened my record",
)
async def my_access_log(
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=200),
    actor: Actor = Depends(deps.patient),
    c: Container = Depends(deps.container),
) -> PageOut[AccessOut]:
    """The signed-in patient: who read or changed their record, bookings or tickets (everyone
    but themselves), newest first."""
    found: AuditPage = await c.call(
        svc.who_opened_my_record, c.uow(), actor=actor, page=Page(page, size)
    )
    return PageOut(
        items=[
            AccessOut(
                at=e.at,
                who=found.people[e.actor_user_id][0] if e.actor_user_id in found.people else None,
                roles=e.roles.split(),
                action=e.action,
                record_type=e.record_type,
            )
            for e in found.entries
        ],
        total=found.total,
        page=page,
        size=size,
    )
