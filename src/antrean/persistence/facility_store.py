"""SQL storage of facilities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from antrean.domain.catalog import Facility
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository


class SqlFacilities(Repository):
    def ensure(
        self, *, facility_id: int, code: str, name: str, time_zone: str, at: datetime
    ) -> None:
        f = t.facility
        row = self.conn.execute(select(f.c.id).where(f.c.id == facility_id)).first()
        if row is None:
            self.conn.execute(
                insert(f).values(
                    id=facility_id, code=code, name=name, time_zone=time_zone, created_at=at
                )
            )
        else:
            self.conn.execute(update(f).where(f.c.id == facility_id).values(time_zone=time_zone))

    def get(self, facility_id: int) -> Facility | None:
        f = t.facility
        row = self.conn.execute(
            select(f.c.id, f.c.code, f.c.name, f.c.address, f.c.phone, f.c.time_zone).where(
                f.c.id == facility_id
            )
        ).first()
        return None if row is None else Facility(*row)

    def save(self, facility: Facility) -> None:
        f = t.facility
        self.conn.execute(
            update(f)
            .where(f.c.id == facility.id)
            .values(name=facility.name, address=facility.address, phone=facility.phone)
        )
