"""Read and search of the facility, its clinics, services, doctors, their schedules and
slots, through the same use cases as the REST API (public reads, as there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.fhir import resources as r
from antrean.adapters.fhir.capability import capability_statement
from antrean.adapters.fhir.core import (
    BASE,
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
    services_of,
    unless_not_found,
)
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor
from antrean.services import catalog, patients, scheduling

router = APIRouter(prefix=BASE, route_class=FhirRoute, include_in_schema=False)
SLOT_DAYS = 30  # a Slot search without a start looks this far ahead
# Slot.status searched for, as the places the slot search asks of the store.
SLOT_STATUSES = {"free": "free", "busy": "full", "busy-unavailable": "unavailable", None: "any"}


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    c = container_of(request)
    facility = await c.call(catalog.get_facility, c.uow(), actor=c.anonymous())
    return fhir_json(capability_statement(base_url(request), facility.name))


@router.get("/Organization/{rid}")
async def read_organization(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    c = container_of(request)
    facility = await c.call(catalog.get_facility, c.uow(), actor=actor)
    if parse_id(rid) != facility.id:
        raise AntreanError("not_found")
    return fhir_json(r.organization(facility))


@router.get("/Organization")
async def search_organization(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id"}))
    c = container_of(request)
    facility = await c.call(catalog.get_facility, c.uow(), actor=actor)
    found = [r.organization(facility)]
    wanted = search.one("_id")
    found = [f for f in found if wanted is None or f["id"] == wanted]
    return bundle(search, found, base_url(request))


async def _clinics(request: Request, actor: Actor) -> list[Any]:
    c = container_of(request)
    return list(await c.call(catalog.list_clinics, c.uow(), actor=actor))


@router.get("/Location/{rid}")
async def read_location(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    c = container_of(request)
    clinic = await c.call(catalog.get_clinic, c.uow(), actor=actor, clinic_id=parse_id(rid))
    return fhir_json(r.location(clinic, actor.facility_id))


@router.get("/Location")
async def search_location(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id", "name", "identifier", "status"}))
    found = [r.location(k, actor.facility_id) for k in await _clinics(request, actor)]
    found = _matching(found, search, name=True, identifier=True, equal=("status",))
    return bundle(search, found, base_url(request))


@router.get("/HealthcareService/{rid}")
async def read_service(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    wanted = parse_id(rid)
    for service in await services_of(request, actor):
        if service.id == wanted:
            return fhir_json(r.healthcare_service(service, actor.facility_id))
    raise AntreanError("not_found")


@router.get("/HealthcareService")
async def search_service(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id", "name", "location", "active"}))
    clinic = search.one("location")
    clinic_id = reference_id(clinic, "Location") if clinic is not None else None
    if clinic is not None and clinic_id is None:
        return bundle(search, [], base_url(request))
    services = await services_of(request, actor, clinic_id)
    found = [r.healthcare_service(s, actor.facility_id) for s in services]
    found = _matching(found, search, name=True, equal=("active",))
    return bundle(search, found, base_url(request))


async def _doctors(request: Request, actor: Actor) -> list[Any]:
    c = container_of(request)
    return list(await c.call(catalog.list_doctors, c.uow(), actor=actor))


async def _sessions(request: Request, actor: Actor) -> list[Any]:
    c = container_of(request)
    return list(await c.call(scheduling.list_schedules, c.uow(), actor=actor))


@router.get("/Practitioner/{rid}")
async def read_practitioner(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    c = container_of(request)
    doctor = await c.call(catalog.get_doctor, c.uow(), actor=actor, doctor_id=parse_id(rid))
    return fhir_json(r.practitioner(doctor))


@router.get("/Practitioner")
async def search_practitioner(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id", "name", "active"}))
    found = [r.practitioner(d) for d in await _doctors(request, actor)]
    found = _matching(found, search, name=True, equal=("active",))
    return bundle(search, found, base_url(request))


def _roles(actor: Actor, doctors: list[Any], sessions: list[Any]) -> list[dict[str, Any]]:
    return [
        r.practitioner_role(
            d, actor.facility_id, [s.clinic_id for s in sessions if s.doctor_id == d.id]
        )
        for d in doctors
    ]


@router.get("/PractitionerRole/{rid}")
async def read_role(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    c = container_of(request)
    doctor = await c.call(catalog.get_doctor, c.uow(), actor=actor, doctor_id=parse_id(rid))
    return fhir_json(_roles(actor, [doctor], await _sessions(request, actor))[0])


@router.get("/PractitionerRole")
async def search_role(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id", "practitioner", "location", "specialty"}))
    found = _roles(actor, await _doctors(request, actor), await _sessions(request, actor))
    found = _matching(found, search)
    for name, kind, field in (
        ("practitioner", "Practitioner", "practitioner"),
        ("location", "Location", "location"),
    ):
        wanted = search.one(name)
        if wanted is not None:
            ref = f"{kind}/{reference_id(wanted, kind)}"
            found = [f for f in found if ref in _refs(f[field])]
    specialty = search.one("specialty")
    if specialty is not None:
        code = specialty.rsplit("|", 1)[-1].lower()
        found = [f for f in found if any(s["text"].lower() == code for s in f.get("specialty", []))]
    return bundle(search, found, base_url(request))


async def _schedules(request: Request, actor: Actor) -> list[dict[str, Any]]:
    doctors = {d.id: d for d in await _doctors(request, actor)}
    clinics = {k.id: k for k in await _clinics(request, actor)}
    sessions = await _sessions(request, actor)
    services = await services_of(request, actor)
    pairs = sorted({(s.doctor_id, s.clinic_id) for s in sessions})
    return [
        r.schedule(
            doctors[d],
            clinics[k],
            [s for s in sessions if (s.doctor_id, s.clinic_id) == (d, k)],
            services,
        )
        for d, k in pairs
        if d in doctors and k in clinics
    ]


@router.get("/Schedule/{rid}")
async def read_schedule(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    for found in await _schedules(request, actor):
        if found["id"] == rid:
            return fhir_json(found)
    raise AntreanError("not_found")


@router.get("/Schedule")
async def search_schedule(request: Request, actor: Actor = Depends(caller)) -> Response:
    search = Search(request, frozenset({"_id", "actor", "active"}))
    found = _matching(await _schedules(request, actor), search, equal=("active",))
    wanted = search.one("actor")
    if wanted is not None:
        found = [
            f
            for f in found
            if wanted in _refs(f["actor"])
            or any(a["reference"].endswith("/" + wanted) for a in f["actor"])
        ]
    return bundle(search, found, base_url(request))


@router.get("/Slot")
async def search_slot(request: Request, actor: Actor = Depends(caller)) -> Response:
    """`schedule`, `start` (ge/gt/le/lt/eq, at most 31 days), `status` (free or busy) and
    `service-type` (a service's code); soonest first."""
    search = Search(
        request, frozenset({"_id", "schedule", "start", "status", "service-type", "_include"})
    )
    include = set(search.values("_include"))
    if include - {"Slot:schedule"} and search.strict:
        raise FhirError(400, "not-supported", "_include is Slot:schedule here")
    c = container_of(request)
    wanted = search.ids()
    if wanted is not None:
        found = [
            await unless_not_found(
                c.call(scheduling.get_slot, c.uow(), actor=actor, slot_id=slot_id)
            )
            for slot_id in wanted
        ]
        slots = [s for s in found if s is not None]
        services = await services_of(request, actor) if slots else []
        return bundle(search, slots, base_url(request), lambda s: r.slot(s, services))
    zone = c.policy.time_zone
    when = date_range(search.values("start"), zone)
    low, before = when.earliest, when.before
    first, last = when.local_days(zone)
    first = first or c.clock.now().astimezone(zone).date()
    last = last or first + timedelta(days=SLOT_DAYS)
    doctor_id = clinic_id = None
    wanted = search.one("schedule")
    if wanted is not None:
        doctor_id, clinic_id = _schedule_pair(wanted)
    status = search.one("status")
    if status not in SLOT_STATUSES:
        raise FhirError(400, "not-supported", "status is free, busy or busy-unavailable")
    service_id = None
    kind = search.one("service-type")
    if kind is not None:
        service_id = reference_id(kind.rsplit("|", 1)[-1], "HealthcareService")
        if service_id is None:
            raise FhirError(400, "invalid", "service-type is a service's code")
    slots, total = await c.call(
        scheduling.slot_page,
        c.uow(),
        actor=actor,
        policy=c.policy,
        date_from=first,
        date_to=last,
        page=Page(search.page, max(search.count, 1)),
        clinic_id=clinic_id,
        service_id=service_id,
        doctor_id=doctor_id,
        starts_from=low,
        starts_before=before,
        places=SLOT_STATUSES[status],
    )
    services = await services_of(request, actor) if slots else []
    schedules = []
    if "Slot:schedule" in include and slots:
        named = {r.schedule_id(s.doctor_id, s.clinic_id) for s in slots}
        schedules = [f for f in await _schedules(request, actor) if f["id"] in named]
    return bundle(
        search,
        slots,
        base_url(request),
        lambda s: r.slot(s, services),
        total=total,
        included=schedules,
    )


@router.get("/Slot/{rid}")
async def read_slot(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    c = container_of(request)
    found = await c.call(scheduling.get_slot, c.uow(), actor=actor, slot_id=parse_id(rid))
    return fhir_json(r.slot(found, await services_of(request, actor)))


def _schedule_pair(text: str) -> tuple[int, int]:
    """`Schedule/3-1` (doctor 3 at clinic 1) as the two ids."""
    rid = text.rsplit("/", 1)[-1]
    doctor, sep, clinic = rid.partition("-")
    try:
        if sep:
            return parse_id(doctor), parse_id(clinic)
    except AntreanError:
        pass
    raise FhirError(400, "invalid", "schedule is Schedule/<doctor id>-<clinic id>")


def _refs(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {item["reference"] for item in items if isinstance(item, dict)}


def _matching(
    found: list[dict[str, Any]],
    search: Search,
    *,
    name: bool = False,
    identifier: bool = False,
    equal: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """`_id`, and (when asked for) a `name` that starts a word of the name (any case), an
    `identifier` (`system|value` or a value alone), and each field in `equal` (`active`,
    `status`) as the parameter of that name gives it."""
    wanted = search.one("_id")
    if wanted is not None:
        found = [f for f in found if f["id"] in wanted.split(",")]
    text = search.one("name") if name else None
    if text is not None:
        needle = text.lower()
        found = [
            f
            for f in found
            if _name_of(f).lower().startswith(needle)
            or any(w.startswith(needle) for w in _name_of(f).lower().split())
        ]
    token = search.one("identifier") if identifier else None
    if token is not None:
        system, sep, value = token.rpartition("|")
        found = [
            f
            for f in found
            if any(
                i["value"] == value and (not sep or not system or i["system"] == system)
                for i in f.get("identifier", [])
            )
        ]
    for field in equal:
        given = search.one(field)
        if given is not None:
            found = [f for f in found if str(f[field]).lower() == given]
    return found


def _name_of(resource: dict[str, Any]) -> str:
    name = resource.get("name", "")
    if isinstance(name, list):
        return " ".join(n.get("text", "") for n in name)
    return str(name)


@router.get("/Patient/{rid}")
async def read_patient(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    """Staff, or the patient themself (the read is in the audit log)."""
    c = container_of(request)
    found = await c.call(patients.get_patient, c.uow(), actor=actor, patient_id=parse_id(rid))
    return fhir_json(r.patient(found))


@router.get("/Patient")
async def search_patient(request: Request, actor: Actor = Depends(caller)) -> Response:
    """Staff: by `identifier` (the MRN, or the NIK with its SATUSEHAT system), `name` (the
    start of each word) or `phone`; every record shown is in the audit log."""
    search = Search(request, frozenset({"_id", "identifier", "name", "phone"}))
    wanted = search.ids()
    if wanted is not None:
        found = [await _one_patient(request, actor, p) for p in wanted]
        return bundle(search, [f for f in found if f is not None], base_url(request))
    mrn = nik = None
    token = search.one("identifier")
    if token is not None:
        system, sep, value = token.rpartition("|")
        if sep and system == r.NIK_SYSTEM:
            nik = value
        elif not sep or not system or system == r.MRN_SYSTEM:
            mrn = value
        else:
            return bundle(search, [], base_url(request), total=0)
    c = container_of(request)
    found, total = await c.call(
        patients.search_patients,
        c.uow(),
        actor=actor,
        phones=c.phones,
        page=Page(search.page, max(search.count, 1)),
        mrn=mrn,
        nik=nik,
        name=search.one("name"),
        phone=search.one("phone"),
    )
    return bundle(search, found, base_url(request), r.patient, total=total)


async def _one_patient(request: Request, actor: Actor, patient_id: int) -> Any:
    """A record by its id, as a read gives it (another patient's is refused, as there)."""
    c = container_of(request)
    found = await unless_not_found(
        c.call(patients.get_patient, c.uow(), actor=actor, patient_id=patient_id)
    )
    return r.patient(found) if found is not None else None


@router.api_route(
    "/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
)
async def not_served(rest: str, request: Request) -> Response:
    """A resource type or interaction this server does not offer: 404, as an OperationOutcome
    (the CapabilityStatement lists what is offered)."""
    if request.method in ("HEAD", "OPTIONS"):
        raise FhirError(405, "not-supported", "HEAD and OPTIONS are not served: use GET")
    raise FhirError(404, "not-supported", f"not served here: {request.method} {rest[:80]}")
