"""Shared fixtures: a fresh database per test, and real camera simulators."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vms.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A fresh SQLite database in WAL mode (set VMS_TEST_DATABASE_URL to use PostgreSQL)."""
    url = os.environ.get("VMS_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'vms.db'}"
    database = Database(url)
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture
def recordings_dir(tmp_path: Path) -> Path:
    path = tmp_path / "recordings"
    path.mkdir()
    return path
