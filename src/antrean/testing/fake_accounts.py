"""In-memory users, idempotency keys, sequences, facilities and device links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from antrean.domain.catalog import Facility
from antrean.domain.common import Page
from antrean.domain.devices import DeviceLink
from antrean.domain.identity import Role, Throttle, User
from antrean.services.ports import (
    RefreshTokenRow,
    TwoFactorRow,
    UniqueViolation,
)
from antrean.testing.memory_store import StorePart


class FakeUsers(StorePart):
    def add(self, user: User, created_at: datetime) -> int:
        if any(u.username == user.username for u in self.s.users.values()):
            raise UniqueViolation("username")
        new = replace(user, id=self.s.next_id("user"))
        self.s.users[new.id] = new
        return new.id

    def get(self, user_id: int) -> User | None:
        found = self.s.users.get(user_id)
        return replace(found) if found else None

    def get_by_username(self, username: str) -> User | None:
        found = next((u for u in self.s.users.values() if u.username == username), None)
        return replace(found) if found else None

    def list(self, facility_id: int, page: Page) -> tuple[list[User], int]:
        found = sorted(
            (replace(u) for u in self.s.users.values() if u.facility_id == facility_id),
            key=lambda u: u.username,
        )
        return found[page.offset : page.offset + page.size], len(found)

    def save(self, user: User) -> None:
        stored = self.s.users[user.id]
        self.s.users[user.id] = replace(user, username=stored.username)

    def count_active_admins(self, facility_id: int) -> int:
        return sum(
            1
            for u in self.s.users.values()
            if u.facility_id == facility_id and u.active and Role.ADMIN in u.roles
        )

    def signed_in_externally(
        self, facility_id: int, issuer: str, subject: str, at: datetime
    ) -> int | None:
        return self.s.external.get((facility_id, issuer, subject))

    def link_external(
        self, facility_id: int, issuer: str, subject: str, user_id: int, at: datetime
    ) -> None:
        if (facility_id, issuer, subject) in self.s.external or user_id in self.s.external.values():
            raise UniqueViolation("external_identity")
        self.s.external[(facility_id, issuer, subject)] = user_id

    def revoke_all_refresh_tokens(self, user_id: int, at: datetime, reason: str) -> None:
        for key, row in self.s.refresh.items():
            if row.user_id == user_id and row.revoked_at is None:
                self.s.refresh[key] = replace(row, revoked_at=at, revoked_reason=reason)

    def add_refresh_token(
        self,
        facility_id: int,
        user_id: int,
        token_hash: str,
        expires_at: datetime,
        at: datetime,
        family: str,
    ) -> None:
        self.s.refresh[token_hash] = RefreshTokenRow(
            self.s.next_id("refresh"), user_id, expires_at, None, family
        )

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRow | None:
        return self.s.refresh.get(token_hash)

    def revoke_refresh_token(self, token_id: int, at: datetime, reason: str) -> bool:
        for key, row in self.s.refresh.items():
            if row.id == token_id and row.revoked_at is None:
                self.s.refresh[key] = replace(row, revoked_at=at, revoked_reason=reason)
                return True
        return False

    def revoke_family(self, family: str, at: datetime, reason: str) -> int:
        count = 0
        for key, row in self.s.refresh.items():
            if row.family == family and row.revoked_at is None:
                self.s.refresh[key] = replace(row, revoked_at=at, revoked_reason=reason)
                count += 1
        return count


class FakeSignIns(StorePart):
    def get_many(self, facility_id: int, keys: Sequence[str]) -> dict[str, Throttle]:
        return {k: v for (f, k), v in self.s.sign_ins.items() if f == facility_id and k in keys}

    def record_failure(
        self, facility_id: int, key: str, count: Callable[[Throttle | None], Throttle]
    ) -> Throttle:
        new = count(self.s.sign_ins.get((facility_id, key)))
        self.s.sign_ins[(facility_id, key)] = new
        return new

    def clear(self, facility_id: int, key: str) -> None:
        self.s.sign_ins.pop((facility_id, key), None)

    def locked(self, facility_id: int, prefix: str) -> dict[str, datetime]:
        return {
            k: v.locked_at
            for (f, k), v in self.s.sign_ins.items()
            if f == facility_id and k.startswith(prefix) and v.locked_at is not None
        }


class FakeTwoFactors(StorePart):
    def get(self, user_id: int) -> TwoFactorRow | None:
        return self.s.two_factors.get(user_id)

    def start(self, user_id: int, secret: str, at: datetime) -> None:
        found = self.s.two_factors.get(user_id)
        if found is not None and found.confirmed_at is not None:
            raise UniqueViolation("two_factor")
        self.s.two_factors[user_id] = TwoFactorRow(user_id, secret, None, 0)

    def confirm(self, user_id: int, at: datetime) -> None:
        self.s.two_factors[user_id] = replace(self.s.two_factors[user_id], confirmed_at=at)

    def use_step(self, user_id: int, step: int) -> bool:
        found = self.s.two_factors.get(user_id)
        if found is None or found.last_step >= step:
            return False
        self.s.two_factors[user_id] = replace(found, last_step=step)
        return True

    def remove(self, user_id: int) -> None:
        self.s.two_factors.pop(user_id, None)
        self.s.recovery_codes.pop(user_id, None)

    def set_recovery_codes(self, user_id: int, code_hashes: Sequence[str]) -> None:
        self.s.recovery_codes[user_id] = {h: None for h in code_hashes}

    def use_recovery_code(self, user_id: int, code_hash: str, at: datetime) -> bool:
        codes = self.s.recovery_codes.get(user_id, {})
        if code_hash not in codes or codes[code_hash] is not None:
            return False
        codes[code_hash] = at
        return True

    def recovery_codes_left(self, user_id: int) -> int:
        return sum(1 for used in self.s.recovery_codes.get(user_id, {}).values() if used is None)


class FakeIdempotency(StorePart):
    def claim(
        self, facility_id: int, user_id: int, key: str, request_hash: str, at: datetime
    ) -> None:
        if (user_id, key) in self.s.idempotency:
            raise UniqueViolation("idempotency key")
        self.s.idempotency[(user_id, key)] = [request_hash, None]

    def get(self, user_id: int, key: str) -> tuple[str, int | None] | None:
        row = self.s.idempotency.get((user_id, key))
        return (row[0], row[1]) if row else None

    def set_resource(self, user_id: int, key: str, resource_id: int) -> None:
        self.s.idempotency[(user_id, key)][1] = resource_id


class FakeSequences(StorePart):
    def next_mrn(self, facility_id: int) -> int:
        return self.next(facility_id, "mrn")

    def next(self, facility_id: int, name: str) -> int:
        key = (facility_id, name)
        self.s.sequences[key] = self.s.sequences.get(key, 0) + 1
        return self.s.sequences[key]


class FakeFacilities(StorePart):
    def ensure(
        self, *, facility_id: int, code: str, name: str, time_zone: str, at: datetime
    ) -> None:
        self.s.facilities.setdefault(
            facility_id, Facility(facility_id, code, name, "", "", time_zone)
        )

    def get(self, facility_id: int) -> Facility | None:
        return self.s.facilities.get(facility_id)

    def save(self, facility: Facility) -> None:
        old = self.s.facilities[facility.id]
        self.s.facilities[facility.id] = replace(
            old, name=facility.name, address=facility.address, phone=facility.phone
        )


class FakeDeviceLinks(StorePart):
    def add(self, link: DeviceLink, token_hash: str) -> int:
        link_id = self.s.next_id("device")
        self.s.devices[link_id] = (replace(link, id=link_id), token_hash)
        return link_id

    def list(self, facility_id: int) -> list[DeviceLink]:
        return [k for k, _ in self.s.devices.values() if k.facility_id == facility_id]

    def by_token(self, token_hash: str) -> DeviceLink | None:
        return next((k for k, h in self.s.devices.values() if h == token_hash), None)

    def revoke(self, facility_id: int, link_id: int, at: datetime) -> bool:
        found = self.s.devices.get(link_id)
        if found is None or found[0].facility_id != facility_id or found[0].revoked_at:
            return False
        self.s.devices[link_id] = (replace(found[0], revoked_at=at), found[1])
        return True
