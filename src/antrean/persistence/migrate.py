"""Run the Alembic migrations programmatically (used by `antrean db upgrade`, `serve` and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate in one transaction. On SQLite, foreign keys are off meanwhile and checked before
    the commit, as SQLite's own procedure for changing tables asks: a table is changed by
    building a new one and dropping the old, and with foreign keys on, dropping a table that
    other rows refer to would fail (or take rows that cascade along with it)."""
    cfg = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        if sqlite:  # before the transaction begins: inside one the pragma does nothing
            keys_were = raw.execute("PRAGMA foreign_keys").fetchone()[0]
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"the migration broke a foreign key: {tuple(broken)}")
        finally:
            if sqlite:
                raw.execute(f"PRAGMA foreign_keys={'ON' if keys_were else 'OFF'}")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
