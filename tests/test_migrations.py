"""Schema migrations: they build what the models say, and upgrade an old database keeping its rows.

The oldest released schema is Alembic revision 0001 (before ``segments.written_until``). A database
of that time was made by ``create_all`` and has no ``alembic_version`` table; the test makes one
the same way (revision 0001's tables, then the version table dropped), fills it with rows, and
lets the normal start path (``Database.create_schema``) bring it to the newest revision.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from tests.support.cluster import postgres_admin_url, throwaway_database
from vms.db import Database, Segment
from vms.db.migrate import config, current, head
from vms.db.tables import metadata
from vms.recordings.index import SegmentIndex, SegmentOpened

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable")
    with throwaway_database(admin) as url:
        yield url


def oldest_released_database(url: str) -> Database:
    """A database as the first release's ``create_all`` left it, with real rows in it."""
    db = Database(url)
    with db.engine.begin() as connection:
        command.upgrade(config(connection), "0001")
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("INSERT INTO camera_groups (id, name, retention_days) VALUES ('tunnel', 'Thu Thiem', 30)"))
        connection.execute(text(
            "INSERT INTO cameras (id, name, group_id, main_url, location_description, enabled, recording_enabled,"
            " segment_seconds, record_stream, source, created_at, updated_at) VALUES ('t-01', 'Tunnel 1', 'tunnel',"
            " 'rtsp://10.0.0.1/main', '', true, true, 60, 'main', 'config', :at, :at)"), {"at": T0.replace(tzinfo=None)})
        for i in range(3):
            start = (T0 + timedelta(minutes=i)).replace(tzinfo=None)
            connection.execute(text(
                'INSERT INTO segments (camera_id, start, "end", path, bytes, codec, width, height, frames, keyframes,'
                " worker_id) VALUES ('t-01', :start, :end, :path, 1000, 'h264', 1280, 720, 1500, 30, 'local')"),
                {"start": start, "end": start + timedelta(minutes=1), "path": f"t-01/2026-05-01/{i}.mp4"})
    assert "written_until" not in {c["name"] for c in inspect(db.engine).get_columns("segments")}
    return db


def test_the_oldest_released_database_upgrades_with_its_rows(database_url):
    old = oldest_released_database(database_url)
    old.dispose()
    db = Database(database_url)
    try:
        db.create_schema()  # what every process does at start
        with db.engine.connect() as connection:
            assert current(connection) == head()
        with db.session() as session:
            segments = session.scalars(select(Segment).order_by(Segment.start)).all()
            assert [s.path for s in segments] == [f"t-01/2026-05-01/{i}.mp4" for i in range(3)]
            assert all(s.written_until is None and s.end - s.start == timedelta(minutes=1) for s in segments)
            assert session.execute(text("SELECT name FROM cameras WHERE id = 't-01'")).scalar_one() == "Tunnel 1"
            # cameras registered before the transport setting keep TCP first (auto)
            assert session.execute(text("SELECT transport FROM cameras WHERE id = 't-01'")).scalar_one() == "auto"
        # The column that broke old databases is usable: the live edge of a segment being written.
        index = SegmentIndex(db)
        opened = index.begin(SegmentOpened("t-01", T0 + timedelta(minutes=3), "t-01/2026-05-01/3.mp4", "h264", 1280, 720))
        index.progress(opened, T0 + timedelta(minutes=3, seconds=5), 4096)
        with db.session() as session:
            assert session.get(Segment, opened).written_until == T0 + timedelta(minutes=3, seconds=5)
        db.create_schema()  # a second start changes nothing
    finally:
        db.dispose()


def test_a_database_made_by_create_all_of_today_is_adopted_without_changes(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'today.db'}")
    metadata.create_all(db.engine)
    db.create_schema()
    with db.engine.connect() as connection:
        assert current(connection) == head()
    db.dispose()


def test_migrations_build_exactly_what_the_models_say(database_url):
    db = Database(database_url)
    try:
        db.create_schema()
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
        assert differences == [], "a model changed without a migration (add one under vms/db/migrations/versions)"
    finally:
        db.dispose()
