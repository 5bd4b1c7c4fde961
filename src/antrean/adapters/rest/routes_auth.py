"""Sign-up, the OAuth2 token endpoint, and staff accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form

from antrean.adapters.rest import deps
from antrean.adapters.rest.schemas import RefreshIn, RegisterIn, TokenOut, UserIn, UserOut
from antrean.bootstrap import Container
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor
from antrean.services import identity

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token", response_model=TokenOut, summary="Sign in (OAuth2 password or refresh grant)"
)
async def token(
    grant_type: Annotated[str, Form(pattern="^(password|refresh_token)$")] = "password",
    username: Annotated[str, Form(max_length=120)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    refresh_token: Annotated[str, Form(max_length=200)] = "",
    c: Container = Depends(deps.container),
) -> TokenOut:
    """Anyone. `grant_type=password` with username and password, or `grant_type=refresh_token`."""
    if grant_type == "refresh_token":
        if not refresh_token:
            raise AntreanError("invalid_token")
        pair = await c.call(
            identity.refresh_session, c.uow(), tokens=c.tokens, refresh_token=refresh_token
        )
    else:
        pair = await c.call(
            identity.login, c.uow(), tokens=c.tokens, username=username, password=password
        )
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/logout", status_code=204, summary="Revoke a refresh token")
async def logout(body: RefreshIn, c: Container = Depends(deps.container)) -> None:
    """Anyone holding the refresh token."""
    await c.call(identity.logout, c.uow(), refresh_token=body.refresh_token)


@router.post("/register", response_model=UserOut, status_code=201, summary="Patient self sign-up")
async def register(body: RegisterIn, c: Container = Depends(deps.container)) -> UserOut:
    """Anyone. Creates a patient record and a patient login in one step."""
    user = await c.call(
        identity.register_account,
        c.uow(),
        facility_id=c.settings.facility_id,
        policy=c.policy,
        username=body.username,
        password=body.password,
        name=body.name,
        birth_date=body.birth_date,
        sex=body.sex,
        phone=body.phone,
    )
    return UserOut.model_validate(user)


@router.get("/me", response_model=UserOut, summary="The signed-in user")
async def me(
    actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> UserOut:
    """Any signed-in user."""
    return UserOut.model_validate(await c.call(identity.get_user, c.uow(), actor=actor))


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a staff account")
async def create_user(
    body: UserIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> UserOut:
    """Admin only."""
    user = await c.call(
        identity.create_user,
        c.uow(),
        actor=actor,
        facility_id=actor.facility_id,
        username=body.username,
        password=body.password,
        roles=" ".join(body.roles),
        full_name=body.full_name,
        doctor_id=body.doctor_id,
    )
    return UserOut.model_validate(user)
