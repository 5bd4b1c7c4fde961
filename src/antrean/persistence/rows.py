"""What the SQL repositories share. Repositories never commit: the unit of work does."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from antrean.services.ports import UniqueViolation


class Repository:
    """A repository bound to the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_id(self, stmt: Any, params: dict[str, Any] | None = None) -> int:
        """Run an INSERT and return the new row's id; a constraint refusal is `UniqueViolation`."""
        try:
            return int(self.conn.execute(stmt, params).inserted_primary_key[0])
        except IntegrityError as exc:
            raise UniqueViolation(str(exc.orig)) from exc
