"""SQL storage of display and kiosk links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from antrean.domain.devices import DeviceKind, DeviceLink
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository

_D = t.device_link
_COLUMNS = (
    _D.c.id,
    _D.c.facility_id,
    _D.c.kind,
    _D.c.name,
    _D.c.clinic_ids,
    _D.c.sound,
    _D.c.printer,
    _D.c.created_at,
    _D.c.revoked_at,
)


def _link(row: Any) -> DeviceLink:
    return DeviceLink(
        id=row.id,
        facility_id=row.facility_id,
        kind=DeviceKind(row.kind),
        name=row.name,
        clinic_ids=tuple(int(i) for i in row.clinic_ids.split(",") if i),
        sound=bool(row.sound),
        printer=row.printer,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class SqlDeviceLinks(Repository):
    def add(self, link: DeviceLink, token_hash: str) -> int:
        result = self.conn.execute(
            insert(_D).values(
                facility_id=link.facility_id,
                kind=link.kind.value,
                name=link.name,
                clinic_ids=",".join(str(i) for i in link.clinic_ids),
                sound=link.sound,
                printer=link.printer,
                token_hash=token_hash,
                created_at=link.created_at,
            )
        )
        return int(result.inserted_primary_key[0])

    def list(self, facility_id: int) -> list[DeviceLink]:
        rows = self.conn.execute(
            select(*_COLUMNS).where(_D.c.facility_id == facility_id).order_by(_D.c.id)
        )
        return [_link(r) for r in rows]

    def by_token(self, token_hash: str) -> DeviceLink | None:
        row = self.conn.execute(select(*_COLUMNS).where(_D.c.token_hash == token_hash)).first()
        return None if row is None else _link(row)

    def revoke(self, facility_id: int, link_id: int, at: datetime) -> bool:
        result = self.conn.execute(
            update(_D)
            .where(_D.c.facility_id == facility_id, _D.c.id == link_id, _D.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1
