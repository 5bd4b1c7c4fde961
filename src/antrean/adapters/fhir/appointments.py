"""Appointments over FHIR: read and search, book (`POST`), cancel or move (`PUT`, `PATCH`,
with `If-Match`), and the IHE ITI Scheduling operations `$find`, `$hold` and `$book`, all
through the booking use cases the REST API uses (the same rules, the same guarantee that a
slot never takes more than its capacity)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from antrean.adapters.fhir import resources as r
from antrean.adapters.fhir.core import (
    BASE,
    INSTANT,
    MAX_BODY_ITEMS,
    FhirError,
    FhirRoute,
    Search,
    base_url,
    bundle,
    caller,
    container_of,
    date_range,
    fhir_json,
    language,
    outcome,
    parameters,
    parse_id,
    query_of,
    read_resource,
    reference_id,
    services_of,
    signed_in,
)
from antrean.domain.booking import Appointment, AppointmentStatus, BookingDraft
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError, ErrorKind
from antrean.domain.identity import Actor
from antrean.services import booking, catalog, scheduling
from antrean.services.ports import AppointmentFilter

router = APIRouter(prefix=BASE, route_class=FhirRoute, include_in_schema=False)
FIND_DAYS = 30  # $find without an end looks this far ahead
CANCELLED_HERE = "cancelled through FHIR"  # the reason when the client gives none
SEARCH = frozenset(
    {"_id", "identifier", "patient", "practitioner", "location", "date", "status", "_include"}
)
FIND = frozenset(
    {"start", "end", "practitioner", "specialty", "visit-type", "organization",
     "location-reference", "patient-reference", "_include"}
)  # fmt: skip


def _headers(a: Appointment, request: Request) -> dict[str, str]:
    version = r.version_of(a)
    return {
        "ETag": f'W/"{version}"',
        "Last-Modified": a.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Location": f"{base_url(request)}/Appointment/{a.id}/_history/{version}",
    }


def _answer(a: Appointment, request: Request, status: int = 200) -> Response:
    """The appointment, or less when the client prefers (`Prefer: return=minimal`)."""
    headers = _headers(a, request)
    if status == 200:
        del headers["Location"]
    if "return=minimal" in request.headers.get("prefer", "").replace(" ", ""):
        return Response(status_code=status, headers=headers)
    return fhir_json(r.appointment(a), status, **headers)


@router.get("/Appointment")
async def search_appointment(request: Request, actor: Actor = Depends(caller)) -> Response:
    """`patient`, `practitioner`, `location`, `date` (of the start), `status`, `identifier`
    (the booking code) and `_id`; soonest first. A patient finds their own only."""
    search = Search(request, SEARCH)
    c = container_of(request)
    for name, by in (("_id", "id"), ("identifier", "code")):
        given = search.alone(name)
        if given is not None:
            return await _one(request, search, actor, by, given)
    flt = _filter(search, c.policy.time_zone)
    if flt is None:
        return bundle(search, [], base_url(request), total=0)
    found, total = await c.call(
        booking.search_appointments,
        c.uow(),
        actor=actor,
        flt=flt,
        page=Page(search.page, max(search.count, 1)),
    )
    return await _with_includes(request, search, actor, found, total)


async def _one(request: Request, search: Search, actor: Actor, by: str, given: str) -> Response:
    """`_id` or `identifier`: the one appointment, or none (another's reads as none)."""
    c = container_of(request)
    try:
        if by == "id":
            found = await c.call(
                booking.get_appointment_by_id, c.uow(), actor=actor, appointment_id=parse_id(given)
            )
        else:
            system, sep, code = given.rpartition("|")
            if sep and system not in ("", r.BOOKING_CODE_SYSTEM):
                raise AntreanError("appointment_not_found")
            found = await c.call(booking.get_appointment, c.uow(), actor=actor, code=code)
    except AntreanError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
        return bundle(search, [], base_url(request), total=0)
    return await _with_includes(request, search, actor, [found], 1)


def _filter(search: Search, zone: Any) -> AppointmentFilter | None:
    """The search as a filter; None when it cannot match anything of ours."""
    ids: dict[str, int | None] = {}
    for name, kind in (("patient", "Patient"), ("practitioner", "Practitioner"),
                       ("location", "Location")):  # fmt: skip
        given = search.one(name)
        ids[name] = reference_id(given, kind) if given is not None else None
        if given is not None and ids[name] is None:
            return None
    status = None
    code = search.one("status")
    if code is not None:
        if "," in code:
            raise FhirError(400, "not-supported", "status takes one code at a time")
        if code not in {s.value for s in AppointmentStatus}:
            return None
        status = AppointmentStatus(code)
    when = date_range(search.values("date"), zone)
    day_from, day_to = when.local_days(zone)
    return AppointmentFilter(
        day_from=day_from,
        day_to=day_to,
        clinic_id=ids["location"],
        doctor_id=ids["practitioner"],
        patient_id=ids["patient"],
        status=status,
        starts_from=when.earliest,
        starts_before=when.before,
    )


def _includes(search: Search, kind: str, allowed: set[str]) -> set[str]:
    """The `_include`s asked for: those this server offers, the rest ignored (or refused
    under strict handling)."""
    wanted = set(search.values("_include"))
    unknown = wanted - allowed
    if unknown and search.strict:
        raise FhirError(400, "not-supported", f"_include {sorted(unknown)[0][:60]} is not offered")
    return wanted & allowed


async def _with_includes(
    request: Request, search: Search, actor: Actor, found: list[Appointment], total: int
) -> Response:
    """The page, with the doctors and clinics it names when `_include` asks for them."""
    wanted = _includes(search, "Appointment", {"Appointment:practitioner", "Appointment:location"})
    c = container_of(request)
    extra: list[dict[str, Any]] = []
    if "Appointment:practitioner" in wanted and found:
        doctors = await c.call(catalog.list_doctors, c.uow(), actor=actor)
        named = {a.doctor_id for a in found}
        extra += [r.practitioner(d) for d in doctors if d.id in named]
    if "Appointment:location" in wanted and found:
        clinics = await c.call(catalog.list_clinics, c.uow(), actor=actor)
        named = {a.clinic_id for a in found}
        extra += [r.location(k, actor.facility_id) for k in clinics if k.id in named]
    return bundle(search, found, base_url(request), r.appointment, total=total, included=extra)


# --- Booking, cancelling, moving ----------------------------------------------------------


def _slot_of(resource: dict[str, Any]) -> int:
    slots = resource.get("slot")
    if not isinstance(slots, list) or len(slots) != 1 or not isinstance(slots[0], dict):
        raise FhirError(400, "invalid", "an appointment is booked from one Slot: slot[0]")
    slot_id = reference_id(str(slots[0].get("reference", "")), "Slot")
    if slot_id is None:
        raise FhirError(400, "invalid", "slot[0].reference is Slot/<id>")
    return slot_id


def _patient_of(resource: dict[str, Any]) -> int | None:
    """The participant that is a Patient of ours, if one is named."""
    people = resource.get("participant", [])
    if not isinstance(people, list) or len(people) > MAX_BODY_ITEMS:
        raise FhirError(400, "structure", "participant is a list")
    for person in people:
        actor = person.get("actor") if isinstance(person, dict) else None
        ref = actor.get("reference") if isinstance(actor, dict) else None
        if isinstance(ref, str) and ref.rsplit("/", 2)[-2:-1] == ["Patient"]:
            patient_id = reference_id(ref, "Patient")
            if patient_id is None:
                raise FhirError(400, "invalid", "the patient is Patient/<id>")
            return patient_id
    return None


def _service_of(resource: dict[str, Any]) -> int | None:
    """A service of ours named in `serviceType` (our service system), if any."""
    kinds = resource.get("serviceType", [])
    if not isinstance(kinds, list):
        raise FhirError(400, "structure", "serviceType is a list")
    for kind in kinds[:MAX_BODY_ITEMS]:
        codings = kind.get("coding", []) if isinstance(kind, dict) else []
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("system") == r.SERVICE_SYSTEM:
                service_id = reference_id(str(coding.get("code", "")), "HealthcareService")
                if service_id is None:
                    raise FhirError(400, "invalid", "a service's code is its id")
                return service_id
    return None


def _text(resource: dict[str, Any], field: str) -> str:
    value = resource.get(field, "")
    if not isinstance(value, str):
        raise FhirError(400, "structure", f"{field} is a string")
    return value


def _draft(resource: dict[str, Any], slot_id: int, patient_id: int | None) -> BookingDraft:
    return BookingDraft(
        slot_id=slot_id,
        patient_id=_patient_of(resource) or patient_id,
        service_id=_service_of(resource),
        note=_text(resource, "comment"),
    )


@router.post("/Appointment")
async def create_appointment(request: Request, actor: Actor = Depends(signed_in)) -> Response:
    """Book a place in the appointment's `slot` for its Patient participant (a patient books
    for themself): 201 with `Location` and `ETag`. `Idempotency-Key` makes a retry safe."""
    body = await read_resource(request, "Appointment")
    _check_new(body)
    created = await _book(request, actor, _draft(body, _slot_of(body), None))
    return _answer(created, request, 201)


def _check_new(resource: dict[str, Any]) -> None:
    """A booking asked for is `booked` (or `proposed` or `pending`, as a client may send
    what `$find` or `$hold` gave it)."""
    if resource.get("status", "booked") not in ("booked", "proposed", "pending"):
        raise FhirError(400, "invalid", "a new appointment's status is booked")


async def _book(
    request: Request, actor: Actor, draft: BookingDraft, hold_id: int | None = None
) -> Appointment:
    c = container_of(request)
    return await c.write(
        booking.book_appointment,
        c.uow(),
        actor=actor,
        policy=c.policy,
        draft=draft,
        idempotency_key=request.headers.get("idempotency-key"),
        hold_id=hold_id,
    )


@router.put("/Appointment/{rid}")
async def update_appointment(
    rid: str, request: Request, actor: Actor = Depends(signed_in)
) -> Response:
    """The appointment as it should be: cancelled (`status` cancelled, with a
    `cancelationReason`), or moved to another `slot` of its clinic. `If-Match` with the ETag
    makes the change only if nobody changed it since (else 412)."""
    body = await read_resource(request, "Appointment")
    if body.get("id") != rid:
        raise FhirError(400, "invalid", "the body's id is the id in the address")
    return _answer(await _change(request, actor, parse_id(rid), body), request)


@router.patch("/Appointment/{rid}")
async def patch_appointment(
    rid: str, request: Request, actor: Actor = Depends(signed_in)
) -> Response:
    """A JSON Patch (RFC 6902) of the appointment, e.g. `[{"op": "replace", "path":
    "/status", "value": "cancelled"}]`; the result must be a change `PUT` takes."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json-patch+json":
        raise FhirError(415, "not-supported", "send application/json-patch+json")
    try:
        ops = await request.json()
    except (ValueError, RecursionError):
        raise FhirError(400, "structure", "the body is not JSON") from None
    c = container_of(request)
    current = await c.call(
        booking.get_appointment_by_id, c.uow(), actor=actor, appointment_id=parse_id(rid)
    )
    changed = await _change(request, actor, current.id, _patched(r.appointment(current), ops))
    return _answer(changed, request)


def _patched(resource: dict[str, Any], ops: Any) -> dict[str, Any]:
    """The resource after the patch's operations on its top-level fields."""
    if not isinstance(ops, list) or not 1 <= len(ops) <= MAX_BODY_ITEMS:
        raise FhirError(400, "structure", "a JSON Patch is a list of operations")
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise FhirError(400, "structure", "each operation has an op and a path")
        kind, path = op.get("op"), op["path"]
        field = path[1:]
        if not path.startswith("/") or not field or "/" in field:
            raise FhirError(422, "not-supported", "only top-level fields are patched")
        if kind in ("replace", "add"):
            if "value" not in op:
                raise FhirError(400, "structure", f"{kind} needs a value")
            resource[field] = op["value"]
        elif kind == "remove":
            resource.pop(field, None)
        elif kind == "test":
            if resource.get(field) != op.get("value"):
                raise FhirError(409, "conflict", f"test failed: {field}")
        else:
            raise FhirError(422, "not-supported", "op is add, replace, remove or test")
    return resource


def _reason(resource: dict[str, Any]) -> str:
    given = resource.get("cancelationReason")
    if isinstance(given, dict):
        text = given.get("text")
        codings = given.get("coding")
        if isinstance(text, str) and text.strip():
            return text
        if isinstance(codings, list) and codings and isinstance(codings[0], dict):
            named = codings[0].get("display") or codings[0].get("code")
            if isinstance(named, str) and named.strip():
                return named
    return CANCELLED_HERE


def _expected(request: Request) -> datetime | None:
    """The version `If-Match` names (W/"<version>"), or None without one."""
    given = request.headers.get("if-match")
    if given is None:
        return None
    moment = r.version_moment(given.strip().removeprefix("W/").strip('"'))
    if moment is None:
        raise FhirError(412, "conflict", 'If-Match names a version: W/"<versionId>"')
    return moment


async def _change(
    request: Request, actor: Actor, appointment_id: int, wanted: dict[str, Any]
) -> Appointment:
    """Cancel, move or (nothing changed) leave the appointment as it is."""
    c = container_of(request)
    expected = _expected(request)
    current = await c.call(
        booking.get_appointment_by_id, c.uow(), actor=actor, appointment_id=appointment_id
    )
    if expected is not None and current.updated_at != expected:
        raise FhirError(412, "conflict", "the appointment changed since that version")
    status = wanted.get("status")
    try:
        if status == "cancelled" and current.status is not AppointmentStatus.CANCELLED:
            changed = await c.write(
                booking.cancel_appointment,
                c.uow(),
                actor=actor,
                code=current.code,
                reason=_reason(wanted),
                expected=expected,
            )
        elif status != current.status.value:
            raise FhirError(
                422, "business-rule", "status changes only to cancelled (staff check patients in)"
            )
        elif (slot_id := _slot_of(wanted)) != current.slot_id:
            changed = await c.write(
                booking.reschedule_appointment,
                c.uow(),
                actor=actor,
                policy=c.policy,
                code=current.code,
                new_slot_id=slot_id,
                expected=expected,
            )
        else:
            changed = current
    except AntreanError as exc:
        if exc.code == "appointment_changed" and expected is not None:
            raise FhirError(412, "conflict", "the appointment changed since that version") from None
        raise
    return changed


# --- IHE ITI Scheduling: $find, $hold, $book ------------------------------------------------


@router.api_route("/Appointment/$find", methods=["GET", "POST"])
async def find(request: Request, actor: Actor = Depends(caller)) -> Response:
    """Proposed appointments: the free places between `start` and `end` (at most 31 days;
    default the next 30), for a `practitioner`, `specialty`, `visit-type` (a service's code
    or name) or `location-reference`; each one's id names its slot, for `$hold` or `$book`."""
    params = None
    if request.method == "POST":
        params = query_of(parameters(await read_resource(request, "Parameters")))
    search = Search(request, FIND, params)
    c = container_of(request)
    zone = c.policy.time_zone
    now = c.clock.now()
    start = _instant(search.one("start"), zone) or now
    end = _instant(search.one("end"), zone) or start + timedelta(days=FIND_DAYS)
    if end <= start:
        raise FhirError(400, "invalid", "end comes after start")
    organization = search.one("organization")
    if organization is not None and reference_id(organization, "Organization") != actor.facility_id:
        return bundle(search, [], base_url(request), total=0)
    doctor_ids = await _doctors_for(request, actor, search)
    clinic_id = _one_reference(search, "location-reference", "Location")
    service_id = await _service_for(request, actor, search.one("visit-type"))
    patient = search.one("patient-reference")
    patient_id = reference_id(patient, "Patient") if patient else None
    if (doctor_ids is not None and not doctor_ids) or service_id == 0 or clinic_id == 0:
        return bundle(search, [], base_url(request), total=0)
    slots, total = await c.call(
        scheduling.slot_page,
        c.uow(),
        actor=actor,
        policy=c.policy,
        date_from=start.astimezone(zone).date(),
        date_to=(end - INSTANT).astimezone(zone).date(),
        page=Page(search.page, max(search.count, 1)),
        clinic_id=clinic_id,
        service_id=service_id,
        starts_from=start,
        starts_before=end,
        places="free",
        doctor_ids=doctor_ids,
    )
    services = await services_of(request, actor) if slots else []
    return bundle(
        search,
        slots,
        base_url(request),
        lambda s: r.proposed(s, patient_id, services),
        total=total,
    )


def _instant(text: str | None, zone: Any) -> datetime | None:
    if text is None:
        return None
    start, _ = date_range([text], zone).parts[0][1:]
    return start


def _one_reference(search: Search, name: str, kind: str) -> int | None:
    """One reference's id; 0 for one that names nothing of ours (so nothing matches)."""
    given = search.values(name)
    if len(given) > 1:
        raise FhirError(400, "not-supported", f"{name} is given once here")
    if not given:
        return None
    return reference_id(given[0], kind) or 0


async def _doctors_for(request: Request, actor: Actor, search: Search) -> tuple[int, ...] | None:
    """The doctors a `practitioner` or `specialty` asks for (None: any doctor)."""
    practitioners = search.values("practitioner")
    specialties = {s.rsplit("|", 1)[-1].strip().lower() for s in search.values("specialty")}
    if not practitioners and not specialties:
        return None
    c = container_of(request)
    doctors = await c.call(catalog.list_doctors, c.uow(), actor=actor)
    wanted = {reference_id(p, "Practitioner") for p in practitioners}
    return tuple(
        d.id
        for d in doctors
        if d.active
        and (not practitioners or d.id in wanted)
        and (not specialties or d.specialty.strip().lower() in specialties)
    )


async def _service_for(request: Request, actor: Actor, given: str | None) -> int | None:
    """A `visit-type`: a service's code (its id, with or without our system) or its name;
    0 when it names no service."""
    if given is None:
        return None
    code = given.rsplit("|", 1)[-1].strip()
    for service in await services_of(request, actor):
        if service.active and (str(service.id) == code or service.name.lower() == code.lower()):
            return int(service.id)
    return 0


def _proposal(reference: str) -> tuple[str, int] | None:
    """`Appointment/slot-12` or `Appointment/hold-3` as ("slot", 12) or ("hold", 3)."""
    rid = reference.rsplit("/", 1)[-1]
    for prefix in (r.PROPOSED_PREFIX, r.HELD_PREFIX):
        if rid.startswith(prefix):
            try:
                return prefix[:-1], parse_id(rid[len(prefix) :])
            except AntreanError:
                return None
    return None


@router.post("/Appointment/$hold")
async def hold(request: Request, actor: Actor = Depends(signed_in)) -> Response:
    """Hold the place of a proposed appointment (`appointment-reference`, from `$find`) for
    a few minutes: a Bundle with the pending appointment, whose id books it with `$book`."""
    pairs = dict(parameters(await read_resource(request, "Parameters")))
    given = pairs.get("appointment-reference")
    found = _proposal(given) if isinstance(given, str) else None
    if found is None or found[0] != "slot":
        raise FhirError(400, "invalid", "appointment-reference is Appointment/slot-<id> from $find")
    c = container_of(request)
    try:
        held, slot = await c.write(
            booking.hold_slot, c.uow(), actor=actor, policy=c.policy, slot_id=found[1]
        )
    except AntreanError as exc:
        if exc.kind is not ErrorKind.CONFLICT or exc.code == "too_many_holds":
            raise
        # IHE ITI-116: a place no longer there is a fatal not-found issue.
        return outcome(409, "not-found", exc.message(language(request)), severity="fatal")
    return _single(request, r.held(held, slot))


@router.post("/Appointment/$book")
async def book(request: Request, actor: Actor = Depends(signed_in)) -> Response:
    """Book a proposed or held appointment (`appointment-reference`, with the patient in
    `patient-reference` or `patient-resource`, or the caller), or the appointment given in
    `appointment-resource`: a new one from its slot, or a change (cancel, move) to one of
    ours. A Bundle with the booked appointment."""
    pairs = parameters(await read_resource(request, "Parameters"))
    named = dict(pairs)
    resource = named.get("appointment-resource")
    reference = named.get("appointment-reference")
    patient_id = _patient_parameter(named)
    note = named.get("comment") if isinstance(named.get("comment"), str) else ""
    if isinstance(resource, dict) and resource.get("resourceType") == "Appointment":
        rid = resource.get("id")
        if not (isinstance(rid, str) and rid.isascii() and rid.isdigit()):
            _check_new(resource)
        if isinstance(rid, str) and rid.isascii() and rid.isdigit():
            changed = await _change(request, actor, parse_id(rid), resource)
            return _single(request, r.appointment(changed))
        reference = reference or (f"Appointment/{rid}" if isinstance(rid, str) else None)
        proposal = _proposal(reference) if isinstance(reference, str) else None
        draft = _draft(resource, _slot_of(resource), patient_id)
    elif isinstance(reference, str):
        proposal = _proposal(reference)
        if proposal is None:
            raise FhirError(
                400, "invalid", "appointment-reference is Appointment/slot-<id> or hold-<id>"
            )
        draft = BookingDraft(slot_id=proposal[1], patient_id=patient_id, note=str(note))
    else:
        raise FhirError(400, "invalid", "give appointment-reference or appointment-resource")
    hold_id = None
    if proposal is not None and proposal[0] == "hold":
        c = container_of(request)
        hold_id = proposal[1]
        slot_id = await c.call(booking.held_slot_id, c.uow(), actor=actor, hold_id=hold_id)
        draft = BookingDraft(slot_id, draft.patient_id, draft.service_id, draft.note)
    created = await _book(request, actor, draft, hold_id)
    return _single(request, r.appointment(created), 201)


def _patient_parameter(named: dict[str, Any]) -> int | None:
    given = named.get("patient-reference")
    if isinstance(named.get("patient-resource"), dict):
        given = given or f"Patient/{named['patient-resource'].get('id', '')}"
    if given is None:
        return None
    patient_id = reference_id(str(given), "Patient")
    if patient_id is None:
        raise FhirError(400, "invalid", "the patient is Patient/<id> of this server")
    return patient_id


def _single(request: Request, resource: dict[str, Any], status: int = 200) -> Response:
    """An operation's answer: a searchset Bundle holding the one appointment."""
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "entry": [
            {
                "fullUrl": f"{base_url(request)}/Appointment/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        ],
    }
    return fhir_json(body, status)


# Last: `/Appointment/{rid}` would also match the operations' paths.


@router.get("/Appointment/{rid}")
async def read_appointment(rid: str, request: Request, actor: Actor = Depends(caller)) -> Response:
    """Staff, or the appointment's patient (the read is in the audit log)."""
    c = container_of(request)
    found = await c.call(
        booking.get_appointment_by_id, c.uow(), actor=actor, appointment_id=parse_id(rid)
    )
    return _answer(found, request)


@router.get("/Appointment/{rid}/_history/{vid}")
async def read_version(
    rid: str, vid: str, request: Request, actor: Actor = Depends(caller)
) -> Response:
    """The current version only: earlier ones are in the booking's history, not here."""
    c = container_of(request)
    found = await c.call(
        booking.get_appointment_by_id, c.uow(), actor=actor, appointment_id=parse_id(rid)
    )
    if vid != r.version_of(found):
        raise FhirError(404, "not-found", "only the current version is kept")
    return _answer(found, request)
