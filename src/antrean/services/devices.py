"""Use cases for waiting-room devices: admins make, list and revoke the secret links that open
a display board or a kiosk; a device opens its page with its link."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace

from antrean.domain.devices import DeviceLink, DeviceLinkDraft
from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id
from antrean.domain.identity import Actor, Role
from antrean.services.access import allow
from antrean.services.catalog import find_clinic
from antrean.services.ports import UnitOfWork

MAX_TOKEN_LENGTH = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewDeviceLink:
    link: DeviceLink
    token: str  # shown once, in the link; only its digest is stored


@allow(Role.ADMIN)
def create_device_link(uow: UnitOfWork, *, actor: Actor, draft: DeviceLinkDraft) -> NewDeviceLink:
    draft = draft.validated()
    token = secrets.token_urlsafe(24)
    with uow(write=True):
        for clinic_id in draft.clinic_ids:
            find_clinic(uow, actor.facility_id, clinic_id)
        link = DeviceLink(
            id=0,
            facility_id=actor.facility_id,
            kind=draft.kind,
            name=draft.name,
            clinic_ids=draft.clinic_ids,
            sound=draft.sound,
            printer=draft.printer,
            created_at=uow.clock.now(),
        )
        link_id = uow.devices.add(link, _digest(token))
        uow.commit()
    return NewDeviceLink(replace(link, id=link_id), token)


@allow(Role.ADMIN)
def list_device_links(uow: UnitOfWork, *, actor: Actor) -> list[DeviceLink]:
    with uow():
        return uow.devices.list(actor.facility_id)


@allow(Role.ADMIN)
def revoke_device_link(uow: UnitOfWork, *, actor: Actor, link_id: int) -> None:
    """The device's page stops working at its next request (and its live stream at once on
    the next reconnect)."""
    check_id(link_id, "link_id")
    with uow(write=True):
        if not uow.devices.revoke(actor.facility_id, link_id, uow.clock.now()):
            raise AntreanError("not_found", entity="Device link")
        uow.commit()


@allow(public=True)
def open_device(uow: UnitOfWork, *, actor: Actor, token: str) -> DeviceLink:
    """The device a link stands for; a revoked, unknown or malformed link is `not_found`."""
    if not isinstance(token, str) or not 10 <= len(token) <= MAX_TOKEN_LENGTH:
        raise AntreanError("not_found", entity="Device link")
    with uow():
        link = uow.devices.by_token(_digest(token))
    if link is None or not link.active or link.facility_id != actor.facility_id:
        raise AntreanError("not_found", entity="Device link")
    return link
