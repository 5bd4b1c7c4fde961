"""Clinics (poli), their counters, services and doctors: admins write, everyone reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathId, QueryId
from antrean.adapters.rest.schemas import (
    ClinicIn,
    ClinicOut,
    ClinicPatchIn,
    DoctorIn,
    DoctorOut,
    DoctorPatchIn,
    HoursIn,
    ServiceIn,
    ServiceOut,
    ServicePatchIn,
)
from antrean.adapters.rest.schemas_queue import CounterIn
from antrean.bootstrap import Container
from antrean.domain import catalog as domain
from antrean.domain.catalog import OpeningHours
from antrean.domain.identity import Actor
from antrean.services import catalog as svc

router = APIRouter(tags=["catalog"])


def hours(items: list[HoursIn]) -> tuple[OpeningHours, ...]:
    return tuple(OpeningHours(h.weekday, h.opens, h.closes) for h in items)


def sent(body: Any) -> dict[str, Any]:
    """The fields a PATCH body carried (a field not sent stays as it is)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


@router.get("/clinics", response_model=list[ClinicOut], summary="List clinics (poli)")
async def list_clinics(
    actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> list[ClinicOut]:
    """Anyone, signed in or not."""
    clinics = await c.call(svc.list_clinics, c.uow(), actor=actor)
    return [ClinicOut.model_validate(x) for x in clinics]


@router.get("/clinics/{clinic_id}", response_model=ClinicOut, summary="One clinic")
async def get_clinic(
    clinic_id: PathId, actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> ClinicOut:
    """Anyone."""
    clinic = await c.call(svc.get_clinic, c.uow(), actor=actor, clinic_id=clinic_id)
    return ClinicOut.model_validate(clinic)


@router.post("/clinics", response_model=ClinicOut, status_code=201, summary="Create a clinic")
async def create_clinic(
    body: ClinicIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ClinicOut:
    """Admin only."""
    draft = domain.ClinicDraft(
        code=body.code,
        name=body.name,
        queue_prefix=body.queue_prefix,
        is_open=body.is_open,
        hours=hours(body.hours),
    )
    clinic = await c.call(svc.create_clinic, c.uow(), actor=actor, policy=c.policy, draft=draft)
    return ClinicOut.model_validate(clinic)


@router.patch("/clinics/{clinic_id}", response_model=ClinicOut, summary="Change a clinic")
async def update_clinic(
    clinic_id: PathId,
    body: ClinicPatchIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ClinicOut:
    """Admin only. `is_open: false` switches the clinic off; new `hours` regenerate its slots."""
    fields = sent(body)
    if "hours" in fields:
        fields["hours"] = hours(body.hours)
    clinic = await c.call(
        svc.update_clinic,
        c.uow(),
        actor=actor,
        policy=c.policy,
        clinic_id=clinic_id,
        patch=domain.ClinicPatch(**fields),
    )
    return ClinicOut.model_validate(clinic)


@router.get(
    "/clinics/{clinic_id}/counters", response_model=list[str], summary="A clinic's counters"
)
async def list_counters(
    clinic_id: PathId, actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> list[str]:
    """Anyone."""
    return await c.call(svc.list_counters, c.uow(), actor=actor, clinic_id=clinic_id)


@router.post(
    "/clinics/{clinic_id}/counters",
    response_model=list[str],
    status_code=201,
    summary="Set up a counter or room",
)
async def add_counter(
    clinic_id: PathId,
    body: CounterIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> list[str]:
    """Admin. Once a clinic has counters, patients can only be called to those, and the
    waiting-time estimate shares the queue among them."""
    return await c.call(svc.add_counter, c.uow(), actor=actor, clinic_id=clinic_id, name=body.name)


@router.delete(
    "/clinics/{clinic_id}/counters/{name}",
    response_model=list[str],
    summary="Take a counter out of use",
)
async def remove_counter(
    clinic_id: PathId,
    name: str = Path(min_length=1, max_length=32),
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> list[str]:
    """Admin."""
    return await c.call(svc.remove_counter, c.uow(), actor=actor, clinic_id=clinic_id, name=name)


@router.get("/services", response_model=list[ServiceOut], summary="List services")
async def list_services(
    clinic_id: QueryId = None,
    actor: Actor = Depends(deps.caller),
    c: Container = Depends(deps.container),
) -> list[ServiceOut]:
    """Anyone."""
    rows = await c.call(svc.list_services, c.uow(), actor=actor, clinic_id=clinic_id)
    return [ServiceOut.model_validate(x) for x in rows]


@router.post("/services", response_model=ServiceOut, status_code=201, summary="Create a service")
async def create_service(
    body: ServiceIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> ServiceOut:
    """Admin only."""
    draft = domain.ServiceDraft(body.clinic_id, body.name, body.duration_minutes)
    row = await c.call(svc.create_service, c.uow(), actor=actor, draft=draft)
    return ServiceOut.model_validate(row)


@router.patch("/services/{service_id}", response_model=ServiceOut, summary="Change a service")
async def update_service(
    service_id: PathId,
    body: ServicePatchIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> ServiceOut:
    """Admin only."""
    patch = domain.ServicePatch(**sent(body))
    row = await c.call(svc.update_service, c.uow(), actor=actor, service_id=service_id, patch=patch)
    return ServiceOut.model_validate(row)


@router.get("/doctors", response_model=list[DoctorOut], summary="List doctors")
async def list_doctors(
    actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> list[DoctorOut]:
    """Anyone."""
    return [
        DoctorOut.model_validate(x) for x in await c.call(svc.list_doctors, c.uow(), actor=actor)
    ]


@router.get("/doctors/{doctor_id}", response_model=DoctorOut, summary="One doctor")
async def get_doctor(
    doctor_id: PathId, actor: Actor = Depends(deps.caller), c: Container = Depends(deps.container)
) -> DoctorOut:
    """Anyone."""
    return DoctorOut.model_validate(
        await c.call(svc.get_doctor, c.uow(), actor=actor, doctor_id=doctor_id)
    )


@router.post("/doctors", response_model=DoctorOut, status_code=201, summary="Add a doctor")
async def create_doctor(
    body: DoctorIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> DoctorOut:
    """Admin only."""
    draft = domain.DoctorDraft(name=body.name, specialty=body.specialty)
    return DoctorOut.model_validate(
        await c.call(svc.create_doctor, c.uow(), actor=actor, draft=draft)
    )


@router.patch("/doctors/{doctor_id}", response_model=DoctorOut, summary="Change a doctor")
async def update_doctor(
    doctor_id: PathId,
    body: DoctorPatchIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> DoctorOut:
    """Admin only."""
    patch = domain.DoctorPatch(**sent(body))
    row = await c.call(svc.update_doctor, c.uow(), actor=actor, doctor_id=doctor_id, patch=patch)
    return DoctorOut.model_validate(row)
