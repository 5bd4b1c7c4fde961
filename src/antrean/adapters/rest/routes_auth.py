"""Sign-up, the OAuth2 token endpoint, and accounts.

Every route that checks or makes a password hash runs its use case on the CPU pool
(`Container.offload`): a hash costs tens of milliseconds, and on the event loop it would stall
every other request of the process meanwhile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from antrean.adapters.rest import deps
from antrean.adapters.rest.deps import PathId
from antrean.adapters.rest.schemas import PageOut
from antrean.adapters.rest.schemas_people import (
    CodeIn,
    LockedOut,
    PasswordChangeIn,
    PasswordResetIn,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    TokenOut,
    TwoFactorOffIn,
    TwoFactorOut,
    TwoFactorSetupOut,
    UserIn,
    UserOut,
    UserPatchIn,
)
from antrean.bootstrap import Container
from antrean.domain.common import Page
from antrean.domain.errors import AntreanError
from antrean.domain.identity import Actor, Role, StaffAccountDraft
from antrean.domain.patients import PatientDraft
from antrean.services import accounts, identity, two_factor

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token", response_model=TokenOut, summary="Sign in (OAuth2 password or refresh grant)"
)
async def token(
    request: Request,
    grant_type: Annotated[str, Form(pattern="^(password|refresh_token)$")] = "password",
    username: Annotated[str, Form(max_length=120)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    refresh_token: Annotated[str, Form(max_length=200)] = "",
    otp: Annotated[str, Form(max_length=40)] = "",
    c: Container = Depends(deps.container),
) -> TokenOut:
    """Anyone. `grant_type=password` with username and password, or `grant_type=refresh_token`.

    With two-step sign-in on, the password alone answers 401 `otp_required`: send it again
    with `otp`, the authenticator app's current code or a recovery code. Failed sign-ins slow
    the next ones down: 429 with `Retry-After` (`too_many_attempts`, `account_locked`)."""
    if grant_type == "refresh_token":
        if not refresh_token:
            raise AntreanError("invalid_token")
        pair = await c.call(
            identity.refresh_session,
            c.uow(),
            actor=c.anonymous(),
            tokens=c.tokens,
            refresh_token=refresh_token,
        )
    else:
        pair = await c.offload(
            identity.login,
            c.uow(),
            actor=c.anonymous(),
            hasher=c.passwords,
            tokens=c.tokens,
            username=username,
            password=password,
            rules=c.sign_in_rules,
            client_address=request.client.host if request.client else None,
            codes=c.one_time_codes,
            otp=otp,
        )
    return TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@router.post("/logout", status_code=204, summary="Revoke a refresh token")
async def logout(body: RefreshIn, c: Container = Depends(deps.container)) -> None:
    """Anyone holding the refresh token."""
    await c.call(identity.logout, c.uow(), actor=c.anonymous(), refresh_token=body.refresh_token)


@router.post("/register", response_model=UserOut, status_code=201, summary="Patient self sign-up")
async def register(body: RegisterIn, c: Container = Depends(deps.container)) -> UserOut:
    """Anyone. Creates a patient record and a patient login in one step."""
    user = await c.offload(
        accounts.register_account,
        c.uow(),
        actor=c.anonymous(),
        policy=c.policy,
        phones=c.phones,
        hasher=c.passwords,
        username=body.username,
        password=body.password,
        patient=PatientDraft(
            name=body.name,
            birth_date=body.birth_date,
            sex=body.sex,
            phone=body.phone,
            email=body.email,
            language=body.language,
        ),
    )
    return UserOut.model_validate(user)


@router.get("/me", response_model=UserOut, summary="The signed-in user")
async def me(
    actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> UserOut:
    """Any signed-in user."""
    return UserOut.model_validate(await c.call(accounts.get_own_account, c.uow(), actor=actor))


@router.post("/me/password", status_code=204, summary="Change my password")
async def change_password(
    body: PasswordChangeIn,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> None:
    """Any signed-in user, with their current password. Every session of theirs ends."""
    await c.offload(
        accounts.change_own_password,
        c.uow(),
        actor=actor,
        hasher=c.passwords,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.get("/me/two-factor", response_model=TwoFactorOut, summary="My two-step sign-in")
async def my_two_factor(
    actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> TwoFactorOut:
    """Any signed-in user: whether two-step sign-in is on, and how many recovery codes are
    left."""
    state = await c.call(two_factor.two_factor_state, c.uow(), actor=actor)
    return TwoFactorOut(on=state.on, recovery_codes_left=state.recovery_codes_left)


@router.post(
    "/me/two-factor",
    response_model=TwoFactorSetupOut,
    status_code=201,
    summary="Set up two-step sign-in",
)
async def start_two_factor(
    actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> TwoFactorSetupOut:
    """Any signed-in user. A new secret for an authenticator app; it works once confirmed
    with `POST /auth/me/two-factor/confirm`."""
    setup = await c.call(
        two_factor.start_two_factor,
        c.uow(),
        actor=actor,
        codes=c.one_time_codes,
        issuer=c.settings.facility_name,
    )
    return TwoFactorSetupOut(secret=setup.secret, uri=setup.uri)


@router.post(
    "/me/two-factor/confirm", response_model=RecoveryCodesOut, summary="Turn two-step sign-in on"
)
async def confirm_two_factor(
    body: CodeIn, actor: Actor = Depends(deps.any_user), c: Container = Depends(deps.container)
) -> RecoveryCodesOut:
    """Any signed-in user, with the first code the app shows. Answers ten recovery codes,
    shown this once. Every session of the account ends: sign in again, with the code."""
    codes = await c.call(
        two_factor.confirm_two_factor,
        c.uow(),
        actor=actor,
        codes=c.one_time_codes,
        code=body.code,
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/me/two-factor/off", status_code=204, summary="Turn two-step sign-in off")
async def turn_off_two_factor(
    body: TwoFactorOffIn,
    actor: Actor = Depends(deps.any_user),
    c: Container = Depends(deps.container),
) -> None:
    """Any signed-in user, with their password and a current code (or a recovery code)."""
    await c.offload(
        two_factor.turn_off_two_factor,
        c.uow(),
        actor=actor,
        hasher=c.passwords,
        codes=c.one_time_codes,
        password=body.password,
        code=body.code,
    )


@router.post("/users/{user_id}/two-factor/reset", status_code=204, summary="Reset two-step sign-in")
async def reset_two_factor(
    user_id: PathId, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> None:
    """Admin only. For someone who lost their phone and recovery codes: two-step sign-in off
    and their sessions ended; they sign in with the password and turn it on again."""
    await c.call(two_factor.reset_two_factor, c.uow(), actor=actor, user_id=user_id)


@router.get("/users", response_model=PageOut[UserOut], summary="List accounts")
async def list_users(
    page: int = Query(1, ge=1, le=100_000),
    size: int = Query(50, ge=1, le=200),
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> PageOut[UserOut]:
    """Admin only."""
    items, total = await c.call(accounts.list_users, c.uow(), actor=actor, page=Page(page, size))
    return PageOut[UserOut](
        items=[UserOut.model_validate(u) for u in items], total=total, page=page, size=size
    )


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a staff account")
async def create_user(
    body: UserIn, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> UserOut:
    """Admin only."""
    draft = StaffAccountDraft(
        username=body.username,
        password=body.password,
        roles=frozenset(Role(r) for r in body.roles),
        full_name=body.full_name,
        doctor_id=body.doctor_id,
    )
    user = await c.offload(
        accounts.create_user, c.uow(), actor=actor, hasher=c.passwords, draft=draft
    )
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change an account")
async def update_user(
    user_id: PathId,
    body: UserPatchIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> UserOut:
    """Admin only. Roles, name, doctor; `active: false` disables the account and ends its
    sessions. The last active admin cannot be taken away."""
    fields = {name: getattr(body, name) for name in body.model_fields_set}
    if "roles" in fields:
        fields["roles"] = frozenset(Role(r) for r in body.roles)
    user = await c.call(
        accounts.update_user,
        c.uow(),
        actor=actor,
        user_id=user_id,
        patch=accounts.AccountPatch(**fields),
    )
    return UserOut.model_validate(user)


@router.get("/users/locked", response_model=list[LockedOut], summary="Accounts locked out")
async def locked_users(
    actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> list[LockedOut]:
    """Admin only. Account names locked after too many failed sign-ins, and when each lock
    ends by itself."""
    found = await c.call(accounts.locked_accounts, c.uow(), actor=actor, rules=c.sign_in_rules)
    return [LockedOut(username=name, locked_until=until) for name, until in sorted(found.items())]


@router.post("/users/{user_id}/unlock", status_code=204, summary="Unlock an account")
async def unlock_user(
    user_id: PathId, actor: Actor = Depends(deps.admin), c: Container = Depends(deps.container)
) -> None:
    """Admin only. Lifts a lock-out after failed sign-ins; the person may sign in at once."""
    await c.call(accounts.unlock_account, c.uow(), actor=actor, user_id=user_id)


@router.post("/users/{user_id}/password", status_code=204, summary="Reset a password")
async def reset_password(
    user_id: PathId,
    body: PasswordResetIn,
    actor: Actor = Depends(deps.admin),
    c: Container = Depends(deps.container),
) -> None:
    """Admin only. The account's sessions end."""
    await c.offload(
        accounts.reset_password,
        c.uow(),
        actor=actor,
        hasher=c.passwords,
        user_id=user_id,
        new_password=body.new_password,
    )
