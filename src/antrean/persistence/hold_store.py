"""SQL storage of slot holds: each one counts in its slot's `booked` until it is booked or,
once expired, released (the place goes back in the same statement group)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from antrean.domain.booking import SlotHold
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository

_H = t.slot_hold
_S = t.slot
_COLUMNS = (
    _H.c.id,
    _H.c.facility_id,
    _H.c.slot_id,
    _H.c.account_id,
    _H.c.created_at,
    _H.c.expires_at,
)


def _hold(row: Sequence[Any]) -> SlotHold:
    return SlotHold(*row)


class SqlHolds(Repository):
    def add(self, hold: SlotHold) -> int:
        return int(
            self.conn.execute(
                insert(_H)
                .values(
                    facility_id=hold.facility_id,
                    slot_id=hold.slot_id,
                    account_id=hold.account_id,
                    created_at=hold.created_at,
                    expires_at=hold.expires_at,
                )
                .returning(_H.c.id)
            ).scalar_one()
        )

    def get(self, facility_id: int, hold_id: int) -> SlotHold | None:
        row = self.conn.execute(
            select(*_COLUMNS).where(_H.c.facility_id == facility_id, _H.c.id == hold_id)
        ).first()
        return _hold(row) if row else None

    def take(self, facility_id: int, hold_id: int, now: datetime) -> SlotHold | None:
        # One DELETE decides: of two requests taking the same hold, one gets the row.
        row = self.conn.execute(
            delete(_H)
            .where(_H.c.facility_id == facility_id, _H.c.id == hold_id, _H.c.expires_at > now)
            .returning(*_COLUMNS)
        ).first()
        return _hold(row) if row else None

    def count_active(self, facility_id: int, account_id: int, now: datetime) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(_H)
                .where(
                    _H.c.facility_id == facility_id,
                    _H.c.account_id == account_id,
                    _H.c.expires_at > now,
                )
            ).scalar_one()
        )

    def release_expired(self, now: datetime, slot_id: int | None = None) -> int:
        stmt = delete(_H).where(_H.c.expires_at <= now)
        if slot_id is not None:
            stmt = stmt.where(_H.c.slot_id == slot_id)
        # Only the statement that deleted a hold gives its place back: never twice.
        gone = Counter(row[0] for row in self.conn.execute(stmt.returning(_H.c.slot_id)))
        for slot, places in sorted(gone.items()):
            self.conn.execute(
                update(_S)
                .where(_S.c.id == slot, _S.c.booked >= places)
                .values(booked=_S.c.booked - places)
            )
        return sum(gone.values())
