"""SQL storage of the audit log (`domain.audit`): entries appended to a chain whose head row
is locked while they are written, searched by admins and by the patient they are about.

A facility's entries are spread over `chains(dialect)` chains: one on SQLite (one writer at a
time anyway), several on PostgreSQL, where a transaction holds its chain's head from the
moment it appends until it commits, so concurrent transactions pick different heads.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from antrean.domain.audit import AuditEntry, AuditFilter, ChainReport, verify_chain
from antrean.domain.common import Page
from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared, insert_rows
from antrean.persistence.protect import keyring_of
from antrean.persistence.rows import Repository

_A, _H = t.audit_entry, t.audit_head
POSTGRES_CHAINS = 8
_FIELDS = (
    "facility_id",
    "chain",
    "seq",
    "at",
    "actor_user_id",
    "actor",
    "roles",
    "action",
    "record_type",
    "record_id",
    "patient_id",
    "client_address",
    "request_id",
    "hash",
)
_INSERT_ENTRIES = insert_rows(_A, _FIELDS)
_HEAD = and_(_H.c.facility_id == bindparam("facility_id"), _H.c.chain == bindparam("chain"))
_TAKE = Prepared(
    update(_H)
    .where(_HEAD)
    .values(seq=_H.c.seq + bindparam("count", type_=_H.c.seq.type))
    .returning(_H.c.seq, _H.c.hash)
)
_SET_HASH = Prepared(update(_H).where(_HEAD).values(hash=bindparam("hash", type_=_H.c.hash.type)))
# PostgreSQL: one entry and its chain's new head hash in one statement (one round trip fewer);
# SQLite has no INSERT inside WITH, and its statements cost no round trip.
_APPEND_ONE = Prepared(
    update(_H)
    .where(_HEAD)
    .values(hash=bindparam("hash", type_=_H.c.hash.type))
    .add_cte(
        insert(_A)
        .values({name: bindparam(f"e_{name}", type_=_A.c[name].type) for name in _FIELDS})
        .cte("entry")
    )
)
_NEW_HEAD = {
    name: dialect.insert(_H).on_conflict_do_nothing(index_elements=[_H.c.facility_id, _H.c.chain])
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def chains(conn: Connection) -> int:
    return 1 if conn.dialect.name == "sqlite" else POSTGRES_CHAINS


class SqlAudit(Repository):
    def append(self, drafts: Sequence[AuditEntry]) -> None:
        """Append the entries (their chain and position not yet set) to a chain of their
        facility, in this transaction."""
        by_facility: dict[int, list[AuditEntry]] = {}
        for d in drafts:
            by_facility.setdefault(d.facility_id, []).append(d)
        mac = keyring_of(self.conn).audit_mac
        for facility_id, mine in sorted(by_facility.items()):
            chain = random.randrange(chains(self.conn))
            seq, previous = self._take(facility_id, chain, len(mine))
            rows = []
            for n, d in enumerate(mine):
                placed = replace(d, chain=chain, seq=seq + n)
                previous = mac(placed.canonical(previous))
                rows.append({name: getattr(placed, name) for name in _FIELDS} | {"hash": previous})
            head = {"facility_id": facility_id, "chain": chain, "hash": previous}
            if len(rows) == 1 and self.conn.dialect.name == "postgresql":
                _APPEND_ONE.run(self.conn, head | {f"e_{k}": v for k, v in rows[0].items()})
            else:
                _INSERT_ENTRIES.run_many(self.conn, rows)
                _SET_HASH.run(self.conn, head)

    def _take(self, facility_id: int, chain: int, count: int) -> tuple[int, str]:
        """Move the chain's head `count` places on (locking it until the commit); the first
        new position and the hash before it."""
        params = {"facility_id": facility_id, "chain": chain, "count": count}
        row = _TAKE.first(self.conn, params)
        if row is None:
            self.conn.execute(
                _NEW_HEAD[self.conn.dialect.name].values(
                    facility_id=facility_id, chain=chain, seq=0, hash=""
                )
            )
            row = _TAKE.first(self.conn, params)
        seq, digest = row
        return int(seq) - count + 1, str(digest)

    def find(self, facility_id: int, flt: AuditFilter, page: Page) -> tuple[list[AuditEntry], int]:
        """Newest first."""
        conditions = [_A.c.facility_id == facility_id]
        for column, value in (
            (_A.c.actor_user_id, flt.actor_user_id),
            (_A.c.patient_id, flt.patient_id),
            (_A.c.action, flt.action),
            (_A.c.record_type, flt.record_type),
            (_A.c.record_id, flt.record_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if flt.not_actor_user_id is not None:
            conditions.append(
                _A.c.actor_user_id.is_(None) | (_A.c.actor_user_id != flt.not_actor_user_id)
            )
        if flt.not_anonymous:
            conditions.append(_A.c.actor != "anonymous")
        if flt.since is not None:
            conditions.append(_A.c.at >= flt.since)
        if flt.until is not None:
            conditions.append(_A.c.at < flt.until)
        where = and_(*conditions)
        total = self.conn.execute(select(func.count()).select_from(_A).where(where)).scalar_one()
        rows = self.conn.execute(
            select(_A).where(where).order_by(_A.c.id.desc()).limit(page.size).offset(page.offset)
        )
        return [_entry(r) for r in rows], int(total)

    def verify(self, facility_id: int) -> list[ChainReport]:
        """Every chain of the facility walked from its first entry against its head."""
        mac = keyring_of(self.conn).audit_mac
        heads = self.heads(facility_id)
        reports = []
        for chain in self.chain_ids(facility_id):
            counted = 0

            def counting(entries: Iterator[AuditEntry]) -> Iterator[AuditEntry]:
                nonlocal counted
                for e in entries:
                    counted += 1
                    yield e

            head = heads.get(chain)
            broken = verify_chain(chain, counting(self.walk(facility_id, chain)), mac, head)
            seq, digest = head if head is not None else (0, "")
            reports.append(ChainReport(chain, counted, seq, digest, broken))
        return reports

    def heads(self, facility_id: int) -> dict[int, tuple[int, str]]:
        rows = self.conn.execute(
            select(_H.c.chain, _H.c.seq, _H.c.hash).where(_H.c.facility_id == facility_id)
        )
        return {r.chain: (int(r.seq), str(r.hash)) for r in rows}

    def chain_ids(self, facility_id: int) -> list[int]:
        """Every chain with a head or an entry (an entry without its head is itself a break)."""
        a = select(_A.c.chain).where(_A.c.facility_id == facility_id).distinct()
        h = select(_H.c.chain).where(_H.c.facility_id == facility_id)
        return sorted({r[0] for r in self.conn.execute(a)} | {r[0] for r in self.conn.execute(h)})

    def facilities(self) -> list[int]:
        a = select(_A.c.facility_id).distinct()
        h = select(_H.c.facility_id).distinct()
        return sorted({r[0] for r in self.conn.execute(a)} | {r[0] for r in self.conn.execute(h)})

    def walk(self, facility_id: int, chain: int, batch: int = 5000) -> Iterator[AuditEntry]:
        """A chain's entries in order (position, then id), a batch at a time."""
        last: tuple[int, int] = (0, 0)
        while True:
            rows = self.conn.execute(
                select(_A)
                .where(
                    _A.c.facility_id == facility_id,
                    _A.c.chain == chain,
                    (_A.c.seq > last[0]) | and_(_A.c.seq == last[0], _A.c.id > last[1]),
                )
                .order_by(_A.c.seq, _A.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield _entry(r)
            last = (rows[-1].seq, rows[-1].id)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(**{name: row._mapping[name] for name in (*_FIELDS, "id")})
