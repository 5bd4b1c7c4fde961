"""Named number sequences per facility: ticket numbers per clinic and day, record numbers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from antrean.persistence import tables as t
from antrean.persistence.prepared import Prepared
from antrean.persistence.rows import Repository


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


class SqlSequences(Repository):
    def next_mrn(self, facility_id: int) -> int:
        if self.conn.dialect.name == "postgresql":
            return int(_NEXT_MRN.scalar(self.conn))
        return self.next(facility_id, MRN_COUNTER)

    def next(self, facility_id: int, name: str) -> int:
        stmt = _NEXT[self.conn.dialect.name]
        return int(stmt.scalar(self.conn, {"facility_id": facility_id, "name": name}))
