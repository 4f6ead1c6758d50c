"""Start ``vms run`` (the supervisor with its API and worker processes) on one simulated camera."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import vms.db.auth  # noqa: F401  (registers the users and sessions tables)
from tests.support.cluster import ROOT, free_port, write_config
from tests.support.system import FAST_INGEST
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users, random_password
from vms.config import Settings
from vms.db import Database


@dataclass
class SupervisedRun:
    """``url`` of the API, ``auth`` headers of an admin token, ``db`` the installation's database
    (open, for reading what was recorded), ``log`` where every process writes."""

    url: str
    auth: dict[str, str]
    db: Database
    log: Path
    process: subprocess.Popen


def start_run(tmp_path: Path, camera_url: str, camera_id: str = "cam-1") -> SupervisedRun:
    """Write a config for one camera (2 s segments), add an admin, start ``vms run`` on free ports."""
    port = free_port()
    data = tmp_path / "data"
    config = write_config(
        tmp_path / "vms.yaml", data_dir=str(data), ingest=FAST_INGEST, storage={"min_free": 0},
        cameras=[{"id": camera_id, "name": camera_id, "group": "tunnel", "main_url": camera_url,
                  "recording": {"segment_seconds": 2}}],
    )
    settings = Settings(data_dir=data)
    data.mkdir()
    db = Database(settings.effective_database_url)
    db.create_schema()
    admin = Users(db, settings.security).add("admin", random_password(), Role.ADMIN)
    auth = {"Authorization": f"Bearer {create_session(db, admin.id, settings.security, kind='api', name='t').token}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
    env["VMS_METRICS__PORT"] = str(free_port())  # the worker's own endpoint: never a fixed port in tests
    log = tmp_path / "vms.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "run", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT, env=env,
    )
    return SupervisedRun(f"http://127.0.0.1:{port}", auth, db, log, process)
