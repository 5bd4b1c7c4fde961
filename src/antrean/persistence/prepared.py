"""Hot-path statements compiled once per dialect and run straight on the DBAPI cursor.

`Connection.execute` spends 20-30 microseconds of Python per statement (cache key, execution
context, result wrapping) on top of what the database needs. The few statements every walk-in,
status read and booking runs are built with SQLAlchemy as usual, compiled once per dialect, and
then executed on the unit of work's own DBAPI connection, inside its transaction, with the same
type conversions SQLAlchemy would apply (bind and result processors of the column types).

Only plain bind parameters are supported: no expanding `IN` lists, no server-side defaults
computed by SQLAlchemy. A statement that needs those stays on `Connection.execute`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import BindParameter, ClauseElement

from antrean.services.ports import UniqueViolation

Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names, in order for positional drivers
    keys: tuple[str, ...]  # the caller's parameter name (or "" for a fixed value) per bind
    fixed: tuple[Any, ...]  # processed value of binds that are not the caller's
    binders: tuple[Processor, ...]
    positional: bool
    result_types: tuple[Any, ...]
    integrity_error: type[Exception]
    readers: tuple[Processor, ...] | None = None  # known once the driver has described a row


class Prepared:
    """A statement compiled per dialect on first use; `run` returns the DBAPI rows."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        # Per dialect object, not per dialect name: each engine's dialect carries its own data
        # keys (`persistence.protect`), which the sealed columns' processors use.
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled: Any = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN parameters cannot be prepared")
        binds: dict[str, BindParameter[Any]] = {
            name: bind for bind, name in compiled.bind_names.items()
        }
        positional = bool(dialect.positional)
        names = tuple(compiled.positiontup) if positional else tuple(binds)
        keys, fixed, binders = [], [], []
        for name in names:
            bind = binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required or (bind.value is None and bind.callable is None):
                keys.append(bind.key)
                fixed.append(None)
            else:
                value = bind.effective_value
                keys.append("")
                fixed.append(process(value) if process else value)
            binders.append(process)
        result_types = tuple(
            column.type.dialect_impl(dialect)
            for column in getattr(self.statement, "exported_columns", ())
        )
        return _Compiled(
            sql=compiled.string,
            names=names,
            keys=tuple(keys),
            fixed=tuple(fixed),
            binders=tuple(binders),
            positional=positional,
            result_types=result_types,
            integrity_error=dialect.loaded_dbapi.IntegrityError,
        )

    def _compiled(self, dialect: Dialect) -> _Compiled:
        c = self._by_dialect.get(dialect)
        if c is None:
            c = self._by_dialect[dialect] = self._compile(dialect)
        return c

    @staticmethod
    def _values(c: _Compiled, params: Mapping[str, Any]) -> Any:
        values = [
            fixed if not key else (bind(params[key]) if bind else params[key])
            for key, fixed, bind in zip(c.keys, c.fixed, c.binders, strict=True)
        ]
        return values if c.positional else dict(zip(c.names, values, strict=True))

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row of parameters, in one driver call (a statement that returns
        nothing: an INSERT or UPDATE of many rows)."""
        if not rows:
            return
        c = self._compiled(conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(c.sql, [self._values(c, row) for row in rows])
        except c.integrity_error as exc:
            raise UniqueViolation(str(exc)) from exc
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Sequence[Any]]:
        """Execute in `conn`'s transaction; the rows, converted as SQLAlchemy would.

        A unique or foreign-key violation raises `UniqueViolation`, as the repositories do."""
        dialect = conn.dialect
        c = self._compiled(dialect)
        values = self._values(c, params or {})
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            try:
                cursor.execute(c.sql, values)
            except c.integrity_error as exc:
                raise UniqueViolation(str(exc)) from exc
            description = cursor.description
            rows = cursor.fetchall() if description is not None else []
        finally:
            cursor.close()
        if not rows:
            return rows
        readers = c.readers
        if readers is None:
            # Some drivers' conversions depend on the column type the server reports.
            readers = c.readers = tuple(
                impl.result_processor(dialect, column[1])
                for impl, column in zip(c.result_types, description, strict=False)
            )
        if any(readers):
            return [
                tuple(read(v) if read else v for read, v in zip(readers, row, strict=False))
                for row in rows
            ]
        return rows

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.run(conn, params)
        return rows[0] if rows else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        return self.run(conn, params)[0][0]


def insert_rows(table: Any, columns: Sequence[str]) -> Prepared:
    """`INSERT INTO table (columns) VALUES (:column, ...)`, prepared (for `run_many`)."""
    values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
    return Prepared(insert(table).values(values))


def insert_returning_id(table: Any, columns: Sequence[str]) -> Prepared:
    """`INSERT INTO table (columns) VALUES (:column, ...) RETURNING id`, prepared."""
    values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
    return Prepared(insert(table).values(values).returning(table.c.id))
