"""Where a worker's segment files are, seen from any host.

One process (``vms run``): ``<recordings_dir>/<path>``. Scale-out (``redis_url`` set): every
worker writes below ``<recordings_dir>/<worker_id>/``, and ``recordings_dir`` is one shared
filesystem (NFS or similar, see docs/scale.md) mounted at the same place on the API hosts, so
playback and export of any worker's recordings read
``worker_recordings_dir(settings, segment.worker_id) / segment.path``.
"""

from __future__ import annotations

import re
from pathlib import Path

from vms.config import Settings

WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def worker_recordings_dir(settings: Settings, worker_id: str) -> Path:
    """The folder ``worker_id`` records into (and the only one its retention deletes from)."""
    if not settings.redis_url:
        return settings.recordings_dir
    if not WORKER_ID.match(worker_id) or worker_id in (".", ".."):
        raise ValueError(f"worker id {worker_id!r} cannot name a folder (letters, digits, '.', '_', '-')")
    return settings.recordings_dir / worker_id
