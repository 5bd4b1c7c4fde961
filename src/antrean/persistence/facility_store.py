"""SQL storage of facilities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

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
