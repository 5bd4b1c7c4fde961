"""A fresh database for a benchmark run: a SQLite file, or a new PostgreSQL database at
127.0.0.1:5432 that is dropped afterwards. Uses SQLAlchemy only, so it runs against any commit."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_database(kind: str, workdir: Path) -> tuple[str, str | None]:
    """The URL of an empty database, and the PostgreSQL database's name to drop (or None)."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    name = f"antrean_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def drop_database(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def scratch_database(kind: str) -> Iterator[tuple[str, Path]]:
    """A fresh database and a working directory for one run; both are gone afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="antrean-bench-"))
    url, pg_name = fresh_database(kind, workdir)
    try:
        yield url, workdir
    finally:
        if pg_name:
            drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)
