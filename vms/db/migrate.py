"""Bring a database to the current schema with Alembic, once, whoever starts first.

Every process calls ``upgrade`` at start. On PostgreSQL a transaction-scoped advisory lock (the
start lock the schema creation always took) makes concurrent starters wait for the first one;
SQLite serialises writers by itself. A database made before migrations existed (by
``create_all``, no ``alembic_version`` table) is stamped with the revision its tables match and
then upgraded like any other, so its rows stay.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
START_LOCK = 7265001  # pg_advisory_xact_lock key shared by every vms process of a deployment
BASELINE = "0001"  # the first released schema (before segments.written_until)
WRITTEN_UNTIL = "0002"
ALARMS = "0003"  # alarm_rules and alarms (issue 14)
CAMERA_TRANSPORT = "0004"
BOOKMARKS_CASES = "0005"  # bookmarks, cases, case items, case packages (issue 15)
SECURITY = "0006"  # two-factor, known addresses, session stage, lock counts (issue 13)
MOTION_SEARCHES = "0007"  # motion searches kept across restarts (issue 15)
EXPORT_FAILURES = "0008"  # exports' and case packages' failure codes (issue 14)
CAMERA_RTSP_CLIENT = "0009"  # cameras.rtsp_client: a camera's own choice of RTSP client (issue 12)


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of our migrations, running on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision id."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS}")
    return revision


def current(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate the database of ``engine`` to ``head()`` (a no-op when it is there already)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": START_LOCK})
        cfg = config(connection)
        before = current(connection)
        if before is None:
            adopted = _revision_of_unversioned(connection)
            if adopted is not None:
                log.info("database made before migrations: taken as revision %s", adopted)
                command.stamp(cfg, adopted)
                before = adopted
        if before != head():
            command.upgrade(cfg, "head")
            log.info("database schema upgraded from %s to %s", before or "empty", head())


def _revision_of_unversioned(connection: Connection) -> str | None:
    """The revision whose schema a pre-migration database has (None: an empty database)."""
    inspector = inspect(connection)
    if "segments" not in inspector.get_table_names():
        return None
    if "rtsp_client" in {column["name"] for column in inspector.get_columns("cameras")}:
        return CAMERA_RTSP_CLIENT
    if "error_code" in {column["name"] for column in inspector.get_columns("exports")}:
        return EXPORT_FAILURES
    if "motion_searches" in inspector.get_table_names():
        return MOTION_SEARCHES
    if "two_factor" in inspector.get_table_names():
        return SECURITY
    if "bookmarks" in inspector.get_table_names():
        return BOOKMARKS_CASES
    if "transport" in {column["name"] for column in inspector.get_columns("cameras")}:
        return CAMERA_TRANSPORT
    if "alarms" in inspector.get_table_names():
        return ALARMS
    columns = {column["name"] for column in inspector.get_columns("segments")}
    return WRITTEN_UNTIL if "written_until" in columns else BASELINE
