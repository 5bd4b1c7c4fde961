"""Patient records: staff register and search; a patient reads and updates their own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathId
from antrean.adapters.rest.schemas import PageOut
from antrean.adapters.rest.schemas_people import PatientIn, PatientOut, PatientPatchIn
from antrean.bootstrap import Container
from antrean.domain.common import Page
from antrean.domain.identity import Actor
from antrean.domain.patients import PatientDraft, PatientPatch
from antrean.services import patients as svc

router = APIRouter(prefix="/patients", tags=["patients"])


@router.post("", response_model=PatientOut, status_code=201, summary="Register a patient")
async def register(
    body: PatientIn, actor: Actor = Depends(deps.staff), c: Container = Depends(deps.container)
) -> PatientOut:
    """Staff (operator, doctor, admin). The MRN is issued when not given."""
    patient = await c.call(
        svc.register_patient,
        c.uow(),
        actor=actor,
        policy=c.policy,
        phones=c.phones,
        draft=PatientDraft(**body.model_dump()),
    )
    return PatientOut.model_validate(patient)


@router.get("", response_model=PageOut[PatientOut], summary="Search patients")
async def search(
    mrn: str | None = Query(None, max_length=32),
    name: str | None = Query(None, max_length=200),
    phone: str | None = Query(None, max_length=32),
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(20, ge=1, le=200),
    actor: Actor = Depends(deps.staff),
    c: Container = Depends(deps.container),
) -> PageOut[PatientOut]:
    """Staff. By exact MRN, part of the name, or phone (any common format)."""
    items, total = await c.call(
        svc.search_patients,
        c.uow(),
        actor=actor,
        phones=c.phones,
        mrn=mrn,
        name=name,
        phone=phone,
        page=Page(page, size),
    )
    return PageOut[PatientOut](
        items=[PatientOut.model_validate(p) for p in items], total=total, page=page, size=size
    )


@router.get("/me", response_model=PatientOut, summary="My patient record")
async def me(
    actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> PatientOut:
    """A patient."""
    return PatientOut.model_validate(await c.call(svc.get_my_patient_record, c.uow(), actor=actor))


@router.get("/{patient_id}", response_model=PatientOut, summary="One patient")
async def get(
    patient_id: PathId,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> PatientOut:
    """Staff, or the patient themselves."""
    return PatientOut.model_validate(
        await c.call(svc.get_patient, c.uow(), actor=actor, patient_id=patient_id)
    )


@router.patch("/{patient_id}", response_model=PatientOut, summary="Change a patient record")
async def update(
    patient_id: PathId,
    body: PatientPatchIn,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> PatientOut:
    """Staff: any field but the MRN. The patient themselves: phone and address."""
    patient = await c.call(
        svc.update_patient,
        c.uow(),
        actor=actor,
        policy=c.policy,
        phones=c.phones,
        patient_id=patient_id,
        patch=PatientPatch(**{name: getattr(body, name) for name in body.model_fields_set}),
    )
    return PatientOut.model_validate(patient)
