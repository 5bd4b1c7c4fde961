"""Moving sealed values to the current data key (`antrean keys rotate`), and counting which
key each value is sealed with (`antrean keys status`).

Rotation walks every table with sealed columns in primary-key order, a batch of rows per
short write transaction, and seals again with the current key every value sealed with
another. The server keeps serving meanwhile: on PostgreSQL the batch's rows are locked
(`FOR UPDATE`) while they are rewritten, on SQLite the batch holds the write lock, so a value
the server changes at the same time is never overwritten with an older one. Values are read
and written as stored text, past the column types; only `Keyring.reseal` sees them opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Text, and_, bindparam, func, select, tuple_, type_coerce, update

from antrean.persistence.engine import Database
from antrean.persistence.protect import Keyring, sealed_columns
from antrean.persistence.tables import metadata

BATCH = 500


@dataclass(frozen=True)
class KeyUsage:
    """How many stored values each key id sealed, all sealed columns together."""

    by_key: dict[str, int]
    unknown: int  # sealed with a key that is not in the key list

    def not_current(self, current: str) -> int:
        return sum(n for key_id, n in self.by_key.items() if key_id != current) + self.unknown


def _tables() -> Iterator[tuple[Table, list[Any]]]:
    yield from sealed_columns(metadata.sorted_tables)


def _like_prefix(key_id: str) -> str:
    return key_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + ".%"


def key_usage(db: Database, keyring: Keyring) -> KeyUsage:
    by_key = {key_id: 0 for key_id, _ in keyring.keys.data}
    unknown = 0
    with db.engine.connect() as conn:
        for table, columns in _tables():
            for column in columns:
                raw = type_coerce(column, Text)
                counts = [
                    func.count().filter(raw.like(_like_prefix(key_id), escape="\\"))
                    for key_id in by_key
                ]
                row = conn.execute(
                    select(
                        func.count().filter(and_(raw.is_not(None), raw != "")), *counts
                    ).select_from(table)
                ).one()
                filled, *per_key = row
                for key_id, n in zip(by_key, per_key, strict=True):
                    by_key[key_id] += int(n)
                unknown += int(filled) - sum(int(n) for n in per_key)
    return KeyUsage(by_key, unknown)


def total_rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table, _ in _tables()
        )


def rotate(
    db: Database,
    keyring: Keyring,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] = lambda rows: None,
) -> int:
    """Seal every value again with the current key; how many values were moved. `progress`
    is told how many rows each batch went through."""
    if not keyring.sealing:
        raise ValueError("data encryption is off: there is nothing to rotate")
    moved = 0
    for table, columns in _tables():
        moved += _rotate_table(db, keyring, table, columns, batch, progress)
    return moved


def _rotate_table(
    db: Database,
    keyring: Keyring,
    table: Table,
    columns: list[Any],
    batch: int,
    progress: Callable[[int], None],
) -> int:
    keys = list(table.primary_key.columns)
    prefix = keyring.current + "."
    raw = [type_coerce(c, Text).label(c.name) for c in columns]
    change = (
        update(table)
        .where(*(k == bindparam(f"k_{k.name}") for k in keys))
        .values({c.name: bindparam(f"v_{c.name}", type_=Text) for c in columns})
    )
    moved = 0
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*keys, *raw).order_by(*keys).limit(batch)
        if last is not None:
            query = query.where(
                keys[0] > last[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*last)
            )
        if not db.is_sqlite:
            query = query.with_for_update()
        with db.writer_turn():
            conn = db.engine.connect()
            if db.is_sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn, conn.begin():
                rows = conn.execute(query).all()
                changes = []
                for row in rows:
                    values = {c.name: getattr(row, c.name) for c in columns}
                    if all(not v or v.startswith(prefix) for v in values.values()):
                        continue
                    params: dict[str, Any] = {f"k_{k.name}": getattr(row, k.name) for k in keys}
                    for c in columns:
                        value = values[c.name]
                        stale = value and not value.startswith(prefix)
                        purpose = c.type.purpose.encode()
                        params[f"v_{c.name}"] = keyring.reseal(purpose, value) if stale else value
                        moved += 1 if stale else 0
                    changes.append(params)
                if changes:
                    conn.execute(change, changes)
        if not rows:
            return moved
        progress(len(rows))
        last = tuple(getattr(rows[-1], k.name) for k in keys)
