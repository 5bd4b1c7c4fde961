"""Queue tickets as FHIR R4 Encounters, read-only: who is waiting, called or being seen at
which clinic, with the statuses each visit went through (docs/fhir.md, Encounter).

A ticket's state maps to one `Encounter.status` of R4's value set; its timeline gives
`statusHistory`, the earlier statuses each with its period (the current one is not repeated
there, as R4 asks). Staff read every visit; a patient reads only their own.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.fhir.core import (
    BASE,
    MAX_COUNT,
    FhirError,
    FhirRoute,
    Search,
    base_url,
    bundle,
    caller,
    container_of,
    date_range,
    fhir_json,
    parse_id,
    reference_id,
)
from antrean.domain.common import Page
from antrean.domain.identity import Actor
from antrean.domain.queue import Priority, TicketState
from antrean.services import visits
from antrean.services.visits import Visit, VisitFilter

router = APIRouter(prefix=BASE, route_class=FhirRoute, include_in_schema=False)

TICKET_SYSTEM = "urn:antrean:ticket"
STATUS_SYSTEM = "http://hl7.org/fhir/encounter-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
# R4 Encounter.status (required binding): every code a search may name.
R4_STATUSES = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
# A ticket's state as the Encounter's status. Called is still arrived: triaged means a
# clinical assessment of urgency, which a call to a counter is not. A transferred ticket is
# finished: the visit at this clinic is over, and the patient goes on under a new ticket.
STATUS: dict[TicketState, str] = {
    TicketState.WAITING: "arrived",
    TicketState.CALLED: "arrived",
    TicketState.SERVING: "in-progress",
    TicketState.DONE: "finished",
    TicketState.SKIPPED: "onleave",  # may be put back in line the same day
    TicketState.CANCELLED: "cancelled",
    TicketState.TRANSFERRED: "finished",
}
ENDED = frozenset({"finished", "cancelled"})
# The ticket's priority as v3-ActPriority: the order of the queue, not a triage level.
PRIORITY: dict[Priority, tuple[str, str]] = {
    Priority.NORMAL: ("R", "routine"),
    Priority.PRIORITY: ("UR", "urgent"),
    Priority.EMERGENCY: ("EM", "emergency"),
}
SEARCH_PARAMS = frozenset({"_id", "patient", "date", "status", "location"})


def encounter(v: Visit) -> dict[str, Any]:
    """A visit as an Encounter: the clinic as its location, the patient as its subject, the
    ticket's number as its identifier."""
    k = v.ticket
    status = STATUS[k.state]
    runs = _status_runs(v, status)
    since = runs[-1][1]
    ended = status in ENDED
    period = {"start": k.issued_at.isoformat()}
    if ended:
        period["end"] = since.isoformat()
    found: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(k.id),
        "meta": {"lastUpdated": (v.steps[-1].at if v.steps else k.issued_at).isoformat()},
        "identifier": [
            {
                "use": "usual",
                "system": TICKET_SYSTEM,
                "value": f"{k.day.isoformat()}/{k.clinic_id}/{k.label}",
            }
        ],
        "status": status,
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "priority": _priority(k.priority),
        "subject": {"reference": f"Patient/{k.patient_id}"},
        "period": period,
        "location": [
            {
                "location": {"reference": f"Location/{k.clinic_id}"},
                "status": "completed" if ended else "active",
            }
        ],
        "serviceProvider": {"reference": f"Organization/{k.facility_id}"},
    }
    history = _history(runs)
    if history:
        found["statusHistory"] = history
    if v.appointment_id is not None:
        found["appointment"] = [{"reference": f"Appointment/{v.appointment_id}"}]
    return found


def _priority(priority: Priority) -> dict[str, Any]:
    code, display = PRIORITY[priority]
    return {"coding": [{"system": ACT_PRIORITY, "code": code, "display": display}]}


def _status_runs(v: Visit, status: str) -> list[tuple[str, datetime]]:
    """The Encounter statuses the visit went through, each with when it began, oldest first
    and ending with the current one. Steps that leave the status as it was (waiting, then
    called) belong to the run they continue."""
    runs: list[tuple[str, datetime]] = []
    for step in v.steps:
        code = STATUS[TicketState(step.state)]
        if not runs or runs[-1][0] != code:
            runs.append((code, step.at))
    if not runs:
        return [(status, v.ticket.issued_at)]
    if runs[-1][0] != status:  # the state moved without a step: it began at the latest one
        runs.append((status, runs[-1][1]))
    return runs


def _history(runs: list[tuple[str, datetime]]) -> list[dict[str, Any]]:
    """Every status before the current one, each from when it began to when the next did."""
    return [
        {"status": status, "period": {"start": start.isoformat(), "end": end.isoformat()}}
        for (status, start), (_, end) in pairwise(runs)
    ]


@router.get("/Encounter/{rid}")
async def read_encounter(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    """Staff, or the patient the visit is for; another's answers 404 (the read is in the audit
    log)."""
    c = container_of(request)
    found = await c.call(visits.get_visit, c.uow(), actor=actor, ticket_id=parse_id(rid))
    return fhir_json(encounter(found))


@router.get("/Encounter")
async def search_encounter(request: Request, actor: Actor = Depends(caller)) -> Response:
    """`_id`, `patient`, `date` (the visit's day), `status` (codes, comma-separated for any of
    them) and `location`; ordered by day and number. A patient finds only their own."""
    search = Search(request, SEARCH_PARAMS)
    c = container_of(request)
    flt = _visit_filter(search, c.policy.time_zone)
    found, total = await c.call(
        visits.search_visits,
        c.uow(),
        actor=actor,
        flt=flt,
        page=Page(search.page, max(search.count, 1)),
    )
    return bundle(search, found, base_url(request), encounter, total=total)


def _visit_filter(search: Search, zone: tzinfo) -> VisitFilter:
    day_from, day_to = _days(search.values("date"), zone)
    return VisitFilter(
        patient_id=_reference(search, "patient", "Patient"),
        clinic_id=_reference(search, "location", "Location"),
        day_from=day_from,
        day_to=day_to,
        states=_states(search.one("status")),
        ticket_ids=_ids(search.one("_id")),
    )


def _reference(search: Search, name: str, kind: str) -> int | None:
    """`Kind/<id>` or `<id>`; anything that cannot name one of ours is refused."""
    text = search.one(name)
    if text is None:
        return None
    found = reference_id(text, kind)
    if found is None:
        raise FhirError(400, "invalid", f"{name} is {kind}/<id>")
    return found


def _ids(text: str | None) -> frozenset[int]:
    if text is None:
        return frozenset()
    wanted = text.split(",")
    if len(wanted) > MAX_COUNT:
        raise FhirError(400, "invalid", f"_id names at most {MAX_COUNT} ids")
    found = {reference_id(rid.strip(), "Encounter") for rid in wanted}
    if None in found:
        raise FhirError(400, "invalid", "_id is a list of Encounter ids")
    return frozenset(rid for rid in found if rid is not None)


def _states(text: str | None) -> frozenset[TicketState] | None:
    """The ticket states whose Encounter status is one of the codes (`system|code` or a code,
    comma-separated); None when no status is asked for."""
    if text is None:
        return None
    codes = set()
    for token in text.split(","):
        system, sep, code = token.strip().rpartition("|")
        if (sep and system not in ("", STATUS_SYSTEM)) or code not in R4_STATUSES:
            raise FhirError(400, "invalid", "status is an Encounter status code of FHIR R4")
        codes.add(code)
    return frozenset(state for state, status in STATUS.items() if status in codes)


def _days(values: list[str], zone: tzinfo) -> tuple[date | None, date | None]:
    """A `date` search as the first and last local day it touches (a visit lasts its day)."""
    return date_range(values, zone).local_days(zone)
