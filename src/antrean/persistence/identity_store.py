"""SQL storage for users, refresh tokens, idempotency keys, counters and facilities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from antrean.domain.identity import User, format_roles, parse_roles
from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared
from antrean.persistence.repositories import _Repo
from antrean.services.ports import RefreshTokenRow, UniqueViolation


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        facility_id=row.facility_id,
        username=row.username,
        full_name=row.full_name,
        roles=parse_roles(row.roles),
        patient_id=row.patient_id,
        doctor_id=row.doctor_id,
        active=row.active,
        password_hash=row.password_hash,
    )


class SqlUsers(_Repo):
    def add(self, user: User, created_at: datetime) -> int:
        return self._insert_id(
            insert(t.user_account).values(
                facility_id=user.facility_id,
                username=user.username,
                full_name=user.full_name,
                password_hash=user.password_hash,
                roles=format_roles(user.roles),
                patient_id=user.patient_id,
                doctor_id=user.doctor_id,
                active=user.active,
                created_at=created_at,
            )
        )

    def get(self, user_id: int) -> User | None:
        row = self.conn.execute(
            select(t.user_account).where(t.user_account.c.id == user_id)
        ).first()
        return _user(row) if row else None

    def get_by_username(self, username: str) -> User | None:
        row = self.conn.execute(
            select(t.user_account).where(t.user_account.c.username == username)
        ).first()
        return _user(row) if row else None

    def add_refresh_token(
        self, facility_id: int, user_id: int, token_hash: str, expires_at: datetime, at: datetime
    ) -> None:
        self.conn.execute(
            insert(t.refresh_token).values(
                facility_id=facility_id,
                user_id=user_id,
                token_hash=token_hash,
                expires_at=expires_at,
                created_at=at,
            )
        )

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRow | None:
        r = t.refresh_token
        row = self.conn.execute(
            select(r.c.id, r.c.user_id, r.c.expires_at, r.c.revoked_at).where(
                r.c.token_hash == token_hash
            )
        ).first()
        return RefreshTokenRow(*row) if row else None

    def revoke_refresh_token(self, token_id: int, at: datetime) -> bool:
        r = t.refresh_token
        result = self.conn.execute(
            update(r).where(r.c.id == token_id, r.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        return result.rowcount == 1


class SqlIdempotency(_Repo):
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


def _counter_upsert(dialect: Any) -> Any:
    c = t.counter
    return (
        dialect.insert(c)
        .values(facility_id=bindparam("facility_id"), name=bindparam("name"), value=1)
        .on_conflict_do_update(
            index_elements=[c.c.facility_id, c.c.name], set_={"value": c.c.value + 1}
        )
        .returning(c.c.value)
    )


MRN_COUNTER = "mrn"
_NEXT_MRN = Prepared(text("SELECT nextval('mrn_seq')"))

# Built once: one atomic statement bumps (or starts) a named counter and returns the value.
_NEXT = {
    "sqlite": Prepared(_counter_upsert(sqlite)),
    "postgresql": Prepared(_counter_upsert(postgresql)),
}


class SqlCounters(_Repo):
    def next_mrn(self, facility_id: int) -> int:
        if self.conn.dialect.name == "postgresql":
            return int(_NEXT_MRN.scalar(self.conn))
        return self.next(facility_id, MRN_COUNTER)

    def next(self, facility_id: int, name: str) -> int:
        stmt = _NEXT[self.conn.dialect.name]
        return int(stmt.scalar(self.conn, {"facility_id": facility_id, "name": name}))


class SqlFacilities(_Repo):
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
