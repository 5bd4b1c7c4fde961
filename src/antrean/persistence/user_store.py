"""SQL storage of user accounts and their refresh tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from antrean.domain.common import Page
from antrean.domain.identity import Role, Throttle, User, format_roles, parse_roles
from antrean.persistence import tables as t
from antrean.persistence.rows import Repository
from antrean.services.ports import RefreshTokenRow, TwoFactorRow, UniqueViolation


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


class SqlUsers(Repository):
    def add(self, user: User, created_at: datetime) -> int:
        return self.insert_id(
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

    def list(self, facility_id: int, page: Page) -> tuple[list[User], int]:
        u = t.user_account
        where = u.c.facility_id == facility_id
        total = self.conn.execute(select(func.count()).select_from(u).where(where)).scalar_one()
        rows = self.conn.execute(
            select(u).where(where).order_by(u.c.username).limit(page.size).offset(page.offset)
        )
        return [_user(r) for r in rows], int(total)

    def save(self, user: User) -> None:
        u = t.user_account
        self.conn.execute(
            update(u)
            .where(u.c.id == user.id)
            .values(
                full_name=user.full_name,
                roles=format_roles(user.roles),
                doctor_id=user.doctor_id,
                active=user.active,
                password_hash=user.password_hash,
            )
        )

    def count_active_admins(self, facility_id: int) -> int:
        u = t.user_account
        rows = self.conn.execute(
            select(u.c.roles).where(u.c.facility_id == facility_id, u.c.active)
        ).scalars()
        return sum(1 for roles in rows if Role.ADMIN in parse_roles(roles))

    def signed_in_externally(
        self, facility_id: int, issuer: str, subject: str, at: datetime
    ) -> int | None:
        x = t.external_identity
        return self.conn.execute(
            update(x)
            .where(x.c.facility_id == facility_id, x.c.issuer == issuer, x.c.subject == subject)
            .values(last_sign_in_at=at)
            .returning(x.c.user_id)
        ).scalar()

    def link_external(
        self, facility_id: int, issuer: str, subject: str, user_id: int, at: datetime
    ) -> None:
        try:
            self.conn.execute(
                insert(t.external_identity).values(
                    facility_id=facility_id,
                    issuer=issuer,
                    subject=subject,
                    user_id=user_id,
                    created_at=at,
                    last_sign_in_at=at,
                )
            )
        except IntegrityError as exc:
            raise UniqueViolation(str(exc.orig)) from exc

    def revoke_all_refresh_tokens(self, user_id: int, at: datetime, reason: str) -> None:
        r = t.refresh_token
        self.conn.execute(
            update(r)
            .where(r.c.user_id == user_id, r.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )

    def add_refresh_token(
        self,
        facility_id: int,
        user_id: int,
        token_hash: str,
        expires_at: datetime,
        at: datetime,
        family: str,
    ) -> None:
        self.conn.execute(
            insert(t.refresh_token).values(
                facility_id=facility_id,
                user_id=user_id,
                token_hash=token_hash,
                expires_at=expires_at,
                created_at=at,
                family=family,
            )
        )

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRow | None:
        r = t.refresh_token
        row = self.conn.execute(
            select(
                r.c.id, r.c.user_id, r.c.expires_at, r.c.revoked_at, r.c.family, r.c.revoked_reason
            ).where(r.c.token_hash == token_hash)
        ).first()
        return RefreshTokenRow(*row) if row else None

    def revoke_refresh_token(self, token_id: int, at: datetime, reason: str) -> bool:
        r = t.refresh_token
        result = self.conn.execute(
            update(r)
            .where(r.c.id == token_id, r.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
        return result.rowcount == 1

    def revoke_family(self, family: str, at: datetime, reason: str) -> int:
        r = t.refresh_token
        result = self.conn.execute(
            update(r)
            .where(r.c.family == family, r.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
        return result.rowcount


class SqlSignIns(Repository):
    """Failed sign-ins per key."""

    def get_many(self, facility_id: int, keys: Sequence[str]) -> dict[str, Throttle]:
        s = t.sign_in_throttle
        rows = self.conn.execute(
            select(s.c.key, s.c.failures, s.c.last_failure_at, s.c.locked_at).where(
                s.c.facility_id == facility_id, s.c.key.in_(list(keys))
            )
        )
        return {key: Throttle(failures, last, locked) for key, failures, last, locked in rows}

    def record_failure(
        self, facility_id: int, key: str, count: Callable[[Throttle | None], Throttle]
    ) -> Throttle:
        s = t.sign_in_throttle
        where = (s.c.facility_id == facility_id, s.c.key == key)
        row = self.conn.execute(
            select(s.c.failures, s.c.last_failure_at, s.c.locked_at).where(*where).with_for_update()
        ).first()
        found = Throttle(*row) if row else None
        new = count(found)
        values = {
            "failures": new.failures,
            "last_failure_at": new.last_failure_at,
            "locked_at": new.locked_at,
        }
        if found is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(s).values(facility_id=facility_id, key=key, **values))
                return new
            except IntegrityError:  # another failure under this key came first: count on it
                return self.record_failure(facility_id, key, count)
        self.conn.execute(update(s).where(*where).values(**values))
        return new

    def clear(self, facility_id: int, key: str) -> None:
        s = t.sign_in_throttle
        self.conn.execute(delete(s).where(s.c.facility_id == facility_id, s.c.key == key))

    def locked(self, facility_id: int, prefix: str) -> dict[str, datetime]:
        s = t.sign_in_throttle
        rows = self.conn.execute(
            select(s.c.key, s.c.locked_at).where(
                s.c.facility_id == facility_id,
                s.c.locked_at.is_not(None),
                s.c.key.startswith(prefix, autoescape=True),
            )
        )
        return {key: at for key, at in rows}


class SqlTwoFactors(Repository):
    """TOTP secrets and recovery codes."""

    def get(self, user_id: int) -> TwoFactorRow | None:
        f = t.two_factor
        row = self.conn.execute(
            select(f.c.user_id, f.c.secret, f.c.confirmed_at, f.c.last_step).where(
                f.c.user_id == user_id
            )
        ).first()
        return TwoFactorRow(*row) if row else None

    def start(self, user_id: int, secret: str, at: datetime) -> None:
        f = t.two_factor
        self.conn.execute(delete(f).where(f.c.user_id == user_id, f.c.confirmed_at.is_(None)))
        self.conn.execute(insert(f).values(user_id=user_id, secret=secret, created_at=at))

    def confirm(self, user_id: int, at: datetime) -> None:
        f = t.two_factor
        self.conn.execute(update(f).where(f.c.user_id == user_id).values(confirmed_at=at))

    def use_step(self, user_id: int, step: int) -> bool:
        f = t.two_factor
        result = self.conn.execute(
            update(f).where(f.c.user_id == user_id, f.c.last_step < step).values(last_step=step)
        )
        return result.rowcount == 1

    def remove(self, user_id: int) -> None:
        self.conn.execute(delete(t.recovery_code).where(t.recovery_code.c.user_id == user_id))
        self.conn.execute(delete(t.two_factor).where(t.two_factor.c.user_id == user_id))

    def set_recovery_codes(self, user_id: int, code_hashes: Sequence[str]) -> None:
        r = t.recovery_code
        self.conn.execute(delete(r).where(r.c.user_id == user_id))
        self.conn.execute(insert(r), [{"user_id": user_id, "code_hash": h} for h in code_hashes])

    def use_recovery_code(self, user_id: int, code_hash: str, at: datetime) -> bool:
        r = t.recovery_code
        result = self.conn.execute(
            update(r)
            .where(r.c.user_id == user_id, r.c.code_hash == code_hash, r.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1

    def recovery_codes_left(self, user_id: int) -> int:
        r = t.recovery_code
        return int(
            self.conn.execute(
                select(func.count()).where(r.c.user_id == user_id, r.c.used_at.is_(None))
            ).scalar_one()
        )
