"""patient data at rest: personal fields sealed (AES-256-GCM), blind indexes for the exact
look-ups and for a search by name; every existing value sealed where it stands

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 06:00:00

The values already stored are sealed with the server's data keys (`ANTREAN_DATA_KEYS` or its
file), so the keys must be given to `antrean db upgrade`. On SQLite the tables are rebuilt
and the freed pages zeroed (`secure_delete`), so no plain copy stays in the file. On
PostgreSQL the old row versions stay in the data files until `VACUUM FULL` (docs/security.md).
There is no way down: restore the backup taken before upgrading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BLIND = sa.String(300)
_BATCH = 1000

# table -> its key columns and the columns sealed (their purpose is "table.column")
_SEALED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patient": (
        ("id",),
        ("mrn", "name", "birth_date", "phone", "address", "nik", "bpjs_number", "email"),
    ),
    "appointment": (("id",), ("note", "cancel_reason")),
    "ticket": (("id",), ("priority_reason",)),
    "user_account": (("id",), ("full_name",)),
    "two_factor": (("user_id",), ("secret",)),
    "domain_event": (("id",), ("data",)),
    "outbox_message": (("id",), ("address", "data")),
}
# Columns that become unbounded text (sealed values are longer than the plain ones).
_WIDENED = {
    "patient": ("mrn", "name", "birth_date", "phone", "nik", "bpjs_number", "email"),
    "ticket": ("priority_reason",),
    "user_account": ("full_name",),
    "two_factor": ("secret",),
    "outbox_message": ("address",),
}


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if any(_has_rows(bind, table) for table in (*_SEALED, "contact_optout", "conversation")):
        _keys(bind)  # refused before any change when there is data to seal and no key
    if sqlite:
        bind.exec_driver_sql("PRAGMA secure_delete=ON")  # freed pages are zeroed
    with op.batch_alter_table("patient") as batch:
        for name in ("mrn", "phone", "nik", "bpjs", "email"):
            batch.add_column(sa.Column(f"{name}_index", _BLIND, nullable=True))
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("address_index", _BLIND, nullable=True))
    for table, columns in _WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column,
                    type_=sa.Text(),
                    postgresql_using=f"{column}::text",
                )
    _seal_everything(bind)

    with op.batch_alter_table("patient") as batch:
        batch.drop_index("ix_patient_facility_id_name_search")
        batch.drop_index("ix_patient_facility_id_phone")
        batch.drop_constraint("uq_patient_facility_id_mrn", type_="unique")
        batch.drop_column("name_search")
        batch.alter_column("mrn_index", existing_type=_BLIND, nullable=False)
        batch.create_unique_constraint(
            "uq_patient_facility_id_mrn_index", ["facility_id", "mrn_index"]
        )
        for name in ("phone", "nik", "bpjs", "email"):
            batch.create_index(
                f"ix_patient_facility_id_{name}_index", ["facility_id", f"{name}_index"]
            )
    # After the last rebuild of `patient` (on SQLite a rebuild drops the table, which would
    # take rows referring to it along).
    op.create_table(
        "patient_name_token",
        sa.Column("facility_id", _ID, nullable=False),
        sa.Column("token", _BLIND, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name="fk_patient_name_token_facility_id_facility"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name="fk_patient_name_token_patient_id_patient",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("facility_id", "token", "patient_id", name="pk_patient_name_token"),
    )
    op.create_index("ix_patient_name_token_patient_id", "patient_name_token", ["patient_id"])

    _index_names(bind)
    if sqlite:
        bind.exec_driver_sql("PRAGMA secure_delete=OFF")


def downgrade() -> None:
    raise NotImplementedError(
        "sealed patient data cannot be migrated down: restore the backup taken before upgrading"
    )


def _has_rows(bind: Any, table: str) -> bool:
    return bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None


def _keys(bind: Any) -> Any:
    from antrean.persistence.protect import keyring_of

    return keyring_of(bind)


def _rows(bind: Any, table: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> Iterator[Any]:
    """Every row's key and sealed columns, a batch at a time, in key order."""
    t = sa.table(table, *(sa.column(c) for c in (*keys, *columns)))
    order = [t.c[k] for k in keys]
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*t.c).order_by(*order).limit(_BATCH)
        if last is not None:
            query = query.where(sa.tuple_(*order) > sa.tuple_(*last))
        rows = bind.execute(query).all()
        if not rows:
            return
        yield from rows
        last = tuple(getattr(rows[-1], k) for k in keys)


def _text(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _seal_everything(bind: Any) -> None:
    keyring = None
    for table, (keys, columns) in _SEALED.items():
        t = sa.table(table, *(sa.column(c) for c in (*keys, *columns)))
        changes: list[dict[str, Any]] = []
        for row in _rows(bind, table, keys, columns):
            keyring = keyring or _keys(bind)
            values = {c: _text(getattr(row, c)) for c in columns}
            change = {f"k_{k}": getattr(row, k) for k in keys}
            change.update(
                {
                    f"v_{c}": keyring.seal(f"{table}.{c}".encode(), v) if v is not None else None
                    for c, v in values.items()
                }
            )
            if table == "patient":
                change.update({f"v_{c}": v for c, v in _patient_indexes(keyring, values).items()})
            changes.append(change)
            if len(changes) >= _BATCH:
                _write(bind, t, keys, changes)
                changes = []
        if changes:
            _write(bind, t, keys, changes)
    for table in ("contact_optout", "conversation"):
        _blind_addresses(bind, table, lambda: keyring or _keys(bind))


def _patient_indexes(keyring: Any, values: dict[str, Any]) -> dict[str, Any]:
    def blind(purpose: str, value: str | None) -> str | None:
        return keyring.blind(purpose, value) if value else None

    email = values["email"]
    return {
        "mrn_index": blind("mrn", values["mrn"]),
        "phone_index": blind("phone", values["phone"]),
        "nik_index": blind("nik", values["nik"]),
        "bpjs_index": blind("bpjs", values["bpjs_number"]),
        "email_index": blind("email", email.lower() if email else None),
    }


def _index_names(bind: Any) -> None:
    """The blind indexes of every patient's name words, from the names just sealed."""
    rows = list(_rows(bind, "patient", ("id",), ("facility_id", "name")))
    if not rows:
        return
    keyring = _keys(bind)
    tokens = [
        {"facility_id": row.facility_id, "token": token, "patient_id": row.id}
        for row in rows
        for token in sorted(keyring.name_tokens(keyring.open(b"patient.name", row.name)))
    ]
    for start in range(0, len(tokens), _BATCH * 10):
        bind.execute(
            sa.text(
                "INSERT INTO patient_name_token (facility_id, token, patient_id) "
                "VALUES (:facility_id, :token, :patient_id)"
            ),
            tokens[start : start + _BATCH * 10],
        )


def _write(bind: Any, t: Any, keys: tuple[str, ...], changes: list[dict[str, Any]]) -> None:
    names = [c[2:] for c in changes[0] if c.startswith("v_")]
    target = sa.table(t.name, *(sa.column(c) for c in (*keys, *names)))
    bind.execute(
        target.update()
        .where(*(target.c[k] == sa.bindparam(f"k_{k}") for k in keys))
        .values({c: sa.bindparam(f"v_{c}") for c in names}),
        changes,
    )


def _blind_addresses(bind: Any, table: str, keyring: Callable[[], Any]) -> None:
    """Opt-outs and conversations keep an address as its blind index only."""
    t = sa.table(table, sa.column("facility_id"), sa.column("address"))
    rows = bind.execute(sa.select(t.c.facility_id, t.c.address)).all()
    for facility_id, address in rows:
        bind.execute(
            t.update()
            .where(t.c.facility_id == facility_id, t.c.address == address)
            .values(address=keyring().blind("address", address.lower()))
        )
