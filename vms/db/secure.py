"""Open the database of a configured vms: files private to the service user, secrets sealed.

Every process of vms (``vms run``, the API, workers, the CLI) opens its database here, so all
of them create files 0600 and folders 0700 (umask 077) and read the same sealing key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import text
from sqlalchemy.orm.attributes import flag_modified

from vms.db.engine import Database
from vms.db.models import CameraRow
from vms.sealing import KEY_FILE, is_sealed, sealer_for

if TYPE_CHECKING:
    from vms.config import Settings

PRIVATE_UMASK = 0o077
log = logging.getLogger(__name__)


def keep_private(data_dir: Path, folders: Sequence[Path] = ()) -> None:
    """Files this process creates from now on are 0600, folders 0700; tighten those that exist.

    Recordings and exports are evidence and camera pictures of people: nobody but the service
    user reads them (issue 13: they were created 0644)."""
    os.umask(PRIVATE_UMASK)
    data_dir = Path(data_dir)
    for folder in (data_dir, *folders):
        if folder.is_dir():
            folder.chmod(0o700)
    for name in ("vms.db", "vms.db-wal", "vms.db-shm", KEY_FILE):
        path = data_dir / name
        if path.is_file():
            path.chmod(0o600)


def open_private_database(settings: Settings) -> Database:
    """The settings' database with secrets sealed; rows written before sealing are sealed now."""
    folders = [settings.recordings_dir, settings.data_dir / settings.security.exports_dir]
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    keep_private(settings.data_dir, folders)
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    if key is None and settings.redis_url:
        log.warning("scale-out without VMS_SECRET_KEY: this host seals camera passwords with its own "
                    "%s/%s, which the other hosts cannot open; set the same VMS_SECRET_KEY everywhere",
                    settings.data_dir, KEY_FILE)
    db = Database(settings.effective_database_url, sealer_for(settings.data_dir, key))
    db.create_schema()
    reseal(db)
    return db


def reseal(db: Database) -> int:
    """Seal camera passwords still stored in plain text; returns how many."""
    with db.engine.begin() as connection:  # raw SQL: the stored text, not the opened value
        plain = [
            camera_id
            for camera_id, password in connection.execute(text("SELECT id, password FROM cameras"))
            if password is not None and not is_sealed(password)
        ]
    with db.session() as session:
        for camera_id in plain:
            flag_modified(session.get(CameraRow, camera_id), "password")  # written again, sealed on the way in
    return len(plain)
