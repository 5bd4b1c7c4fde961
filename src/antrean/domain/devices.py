"""Waiting-room devices: a display board on a TV and a ticket kiosk, each opened by a secret
link an admin makes and can revoke (no sign-in on a screen in a public room)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from antrean.domain.errors import AntreanError
from antrean.domain.fields import check_id, clean_text

MAX_CLINICS = 20
NAME_LENGTH = 80
# A network receipt printer: a host name or IPv4 address, and a port (9100 by default).
_PRINTER = re.compile(r"^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$")


class DeviceKind(StrEnum):
    DISPLAY = "display"  # a TV board: numbers called, spoken calls
    KIOSK = "kiosk"  # a touch screen: take a number, check in a booking, print the ticket


@dataclass(frozen=True, slots=True)
class DeviceLink:
    id: int
    facility_id: int
    kind: DeviceKind
    name: str
    clinic_ids: tuple[int, ...]
    sound: bool  # a display: chime and spoken calls
    printer: str | None  # a kiosk: host[:port] of a network ESC/POS printer
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def printer_address(self) -> tuple[str, int] | None:
        if not self.printer:
            return None
        host, _, port = self.printer.partition(":")
        return host, int(port or 9100)


@dataclass(frozen=True, slots=True)
class DeviceLinkDraft:
    kind: DeviceKind
    name: str
    clinic_ids: tuple[int, ...]
    sound: bool = True
    printer: str | None = None

    def validated(self) -> DeviceLinkDraft:
        try:
            kind = DeviceKind(self.kind)
        except ValueError:
            raise AntreanError("field_invalid", field="kind") from None
        ids = tuple(dict.fromkeys(check_id(i, "clinic_ids") for i in self.clinic_ids))
        if not 1 <= len(ids) <= MAX_CLINICS:
            raise AntreanError(
                "field_out_of_range", field="clinic_ids", minimum=1, maximum=MAX_CLINICS
            )
        printer = None
        if kind is DeviceKind.KIOSK and self.printer and self.printer.strip():
            printer = self.printer.strip()
            port = printer.partition(":")[2]
            if not _PRINTER.match(printer) or (port and not 1 <= int(port) <= 65535):
                raise AntreanError("field_invalid", field="printer")
        return DeviceLinkDraft(
            kind=kind,
            name=clean_text(self.name, "name", max_length=NAME_LENGTH),
            clinic_ids=ids,
            sound=bool(self.sound),
            printer=printer,
        )
