"""SQL storage of idempotency keys: a retried request is answered as the first was."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from antrean.persistence import tables as t
from antrean.persistence.rows import Repository
from antrean.services.ports import UniqueViolation


class SqlIdempotency(Repository):
    def claim(
        self, facility_id: int, user_id: int, key: str, request_hash: str, at: datetime
    ) -> None:
        try:
            self.conn.execute(
                insert(t.idempotency_key).values(
                    facility_id=facility_id,
                    user_id=user_id,
                    key=key,
                    request_hash=request_hash,
                    created_at=at,
                )
            )
        except IntegrityError as exc:
            raise UniqueViolation("idempotency key exists") from exc

    def get(self, user_id: int, key: str) -> tuple[str, int | None] | None:
        i = t.idempotency_key
        row = self.conn.execute(
            select(i.c.request_hash, i.c.resource_id).where(i.c.user_id == user_id, i.c.key == key)
        ).first()
        return (row[0], row[1]) if row else None

    def set_resource(self, user_id: int, key: str, resource_id: int) -> None:
        i = t.idempotency_key
        self.conn.execute(
            update(i).where(i.c.user_id == user_id, i.c.key == key).values(resource_id=resource_id)
        )
