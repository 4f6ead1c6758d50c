"""Secrets and evidence at rest (issue 13): a copied database holds no camera password; files are private."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from cryptography.fernet import Fernet

from vmsapp.runtime import Runtime
from tests.support.api import api_system, make_settings
from vms.cameras.registry import CameraRegistry
from vms.config import CameraConfig
from vms.db import Database
from vms.sealing import KEY_ENV, Sealer, SealingError

SECRET = "Cam-Pass-7731"
CAMERA = {"id": "gate-01", "name": "Gate 1", "group": "gateway", "main_url": "rtsp://10.1.1.5/s",
          "credentials": {"username": "viewer", "password": SECRET}}


@pytest.fixture
def restore_umask():
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _stored_passwords(data_dir) -> list[str]:
    with sqlite3.connect(data_dir / "vms.db") as connection:
        return [row[0] for row in connection.execute("SELECT password FROM cameras WHERE password IS NOT NULL")]


async def test_camera_passwords_are_sealed_and_data_files_private(tmp_path, restore_umask, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    os.umask(0o022)  # as a service would start: files world-readable unless vms says otherwise
    data = tmp_path / "data"
    async with api_system(data, roles=False) as system:
        CameraRegistry(system.db).add(CameraConfig(**CAMERA))
        assert CameraRegistry(system.db).get("gate-01").password == SECRET  # workers still get it
        (data / "recordings" / "gate-01").mkdir(parents=True, exist_ok=True)
        evidence = data / "exports" / "one.mp4"
        evidence.parent.mkdir(parents=True, exist_ok=True)
        evidence.write_bytes(b"x")
    stored = _stored_passwords(data)
    assert stored and all(SECRET not in value and value.startswith("fernet:") for value in stored)
    assert SECRET.encode() not in (data / "vms.db").read_bytes()
    assert _mode(data / "secret.key") == 0o600
    assert _mode(data / "vms.db") == 0o600 and _mode(data) == 0o700
    assert _mode(data / "recordings" / "gate-01") == 0o700 and _mode(evidence) == 0o600
    # Without the key the database's copy is useless; with another key it is refused, not misread.
    other = Database(f"sqlite:///{data / 'vms.db'}", sealer=Sealer(Fernet.generate_key()))
    with pytest.raises(SealingError):
        CameraRegistry(other).get("gate-01")
    other.dispose()


def test_plain_passwords_of_an_older_database_are_sealed_at_start(tmp_path, restore_umask, monkeypatch):
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    data = tmp_path / "data"
    old = Database(f"sqlite:///{data / 'vms.db'}")  # no sealer: as vms stored it before
    old.create_schema()
    settings = make_settings(data)
    from vms.cameras.registry import CameraRegistry as Registry

    Registry(old).sync_from_config(settings.groups, [])
    Registry(old).add(CameraConfig(**CAMERA))
    old.dispose()
    assert _stored_passwords(data) == [SECRET]
    runtime = Runtime.build(settings, with_worker=False)
    try:
        assert _stored_passwords(data)[0].startswith("fernet:")
        assert CameraRegistry(runtime.db).get("gate-01").password == SECRET
        assert not (data / "secret.key").exists()  # the variable's key was used, no file written
    finally:
        runtime.stop()
