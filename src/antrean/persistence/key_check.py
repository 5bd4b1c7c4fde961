"""Do these data keys open this database? Checked before a server or a command writes.

The database keeps one known value sealed with the first data key and indexed with the index
key (`data_key_check`), written by the first process that finds none. A process given other
keys (another data directory's generated key file, a key list that lost a key still in use,
another index key) or the other `ANTREAN_DATA_ENCRYPTION` setting would otherwise start, write
values nobody else can open and fail to find what others wrote: it stops with the reason.
`antrean keys rotate` seals the value again with the new first key, like every other value.
"""

from __future__ import annotations

from sqlalchemy import Engine, Text, cast, insert, inspect, select

from antrean.persistence import tables as t
from antrean.persistence.protect import SealBroken, keyring_of

KNOWN = "antrean data key check"
PURPOSE = t.data_key_check.c.sealed.type.purpose.encode()


class WrongKeys(RuntimeError):
    """The configured keys are not the ones this database was written with."""


def check_data_keys(engine: Engine) -> None:
    """Raise `WrongKeys` when the configured keys cannot be this database's; note them when
    the database has none noted yet. A database not migrated yet is not checked."""
    if not inspect(engine).has_table(t.data_key_check.name):
        return
    c = t.data_key_check.c
    with engine.begin() as conn:
        ring = keyring_of(conn)
        probe = ring.blind("check", KNOWN)
        raw = conn.execute(
            select(cast(c.sealed, Text).label("raw"), c.probe).where(c.id == 1)
        ).first()
        if raw is None:
            conn.execute(insert(t.data_key_check).values(id=1, sealed=KNOWN, probe=probe))
            return
    if ring.sealing and raw.raw == KNOWN:
        raise WrongKeys(
            "this database was written with ANTREAN_DATA_ENCRYPTION=false: its values are "
            "not sealed, and sealing now would mix both"
        )
    if not ring.sealing and raw.raw != KNOWN:
        raise WrongKeys(
            "this database's values are sealed and ANTREAN_DATA_ENCRYPTION=false cannot open them"
        )
    try:
        opened = ring.open(PURPOSE, raw.raw)
    except SealBroken as exc:
        raise WrongKeys(
            f"the data keys do not open this database's values ({exc}): give the key list it "
            "was written with (ANTREAN_DATA_KEYS or ANTREAN_DATA_KEYS_FILE)"
        ) from None
    if opened != KNOWN or raw.probe != probe:
        raise WrongKeys(
            "the index key differs from the one this database's indexes were made with: "
            "searches by name, phone or number would find nothing"
        )
