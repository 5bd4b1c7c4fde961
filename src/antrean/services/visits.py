"""Queue tickets as visits, for the systems that follow who is waiting where (an EHR reads
them as FHIR Encounters): each ticket with the appointment it came from and its timeline.
Staff see every visit; a patient sees only their own, and another's reads as not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from antrean.domain.audit import AuditSubject
from antrean.domain.common import Page, checked_page
from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id, check_optional_id
from antrean.domain.identity import Actor
from antrean.domain.queue import Ticket, TicketState
from antrean.services.access import SIGNED_IN, allow
from antrean.services.ports import TicketStep, UnitOfWork

MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Visit:
    """A ticket, the appointment it came from (None for a walk-in), and its timeline."""

    ticket: Ticket
    appointment_id: int | None
    steps: list[TicketStep]  # oldest first


@dataclass(frozen=True, slots=True)
class VisitFilter:
    """What a search for visits asks; each field left as it is matches every visit.
    `states` None matches any state, and an empty set none."""

    patient_id: int | None = None
    clinic_id: int | None = None
    day_from: date | None = None  # inclusive, the facility's local days
    day_to: date | None = None  # inclusive
    states: frozenset[TicketState] | None = None
    ticket_ids: frozenset[int] = frozenset()

    def validated(self) -> VisitFilter:
        """The filter with its ids checked and its days in order."""
        check_optional_id(self.patient_id, "patient_id")
        check_optional_id(self.clinic_id, "clinic_id")
        for ticket_id in self.ticket_ids:
            check_id(ticket_id, "ticket_id")
        if self.day_from and self.day_to and self.day_from > self.day_to:
            raise AntreanError("invalid_date_range")
        return self


def ticket_subject(k: Ticket) -> AuditSubject:
    """A ticket, as the audit log names it."""
    return AuditSubject("ticket", str(k.id), k.patient_id)


def _may_see(actor: Actor, ticket: Ticket) -> bool:
    return actor.is_staff or (
        actor.patient_id is not None and actor.patient_id == ticket.patient_id
    )


def _with_timelines(uow: UnitOfWork, found: list[tuple[Ticket, int | None]]) -> list[Visit]:
    """The tickets as visits, their timelines read in one go."""
    steps = uow.tickets.timelines([k.id for k, _ in found])
    return [Visit(k, appointment_id, steps.get(k.id, [])) for k, appointment_id in found]


@allow(*SIGNED_IN)
def get_visit(uow: UnitOfWork, *, actor: Actor, ticket_id: int) -> Visit:
    """One visit by its ticket's id: staff, or the patient it is for (the read is in the audit
    log)."""
    wanted = frozenset({check_id(ticket_id, "ticket_id")})
    with uow():
        found, _ = uow.tickets.find(actor.facility_id, page=Page(1, 1), ticket_ids=wanted)
        if not found or not _may_see(actor, found[0][0]):
            raise AntreanError("ticket_not_found")  # another's visit is not revealed
        visit = _with_timelines(uow, found)[0]
        uow.audit(ticket_subject(visit.ticket))
    return visit


@allow(*SIGNED_IN)
def search_visits(
    uow: UnitOfWork, *, actor: Actor, flt: VisitFilter, page: Page
) -> tuple[list[Visit], int]:
    """One page of the visits matching the filter, ordered by day and number, and how many
    match in all. A patient's search covers only their own visits (asked for another's, it
    finds none); every visit shown is in the audit log."""
    page = checked_page(page, MAX_PAGE_SIZE)
    flt = flt.validated()
    patient_id = flt.patient_id
    if not actor.is_staff:
        if actor.patient_id is None or patient_id not in (None, actor.patient_id):
            return [], 0
        patient_id = actor.patient_id
    if flt.states is not None and not flt.states:
        return [], 0
    with uow():
        found, total = uow.tickets.find(
            actor.facility_id,
            page=page,
            patient_id=patient_id,
            clinic_id=flt.clinic_id,
            day_from=flt.day_from,
            day_to=flt.day_to,
            states=None if flt.states is None else frozenset(s.value for s in flt.states),
            ticket_ids=flt.ticket_ids,
        )
        visits = _with_timelines(uow, found)
        uow.audit(*(ticket_subject(v.ticket) for v in visits))
    return visits, total
