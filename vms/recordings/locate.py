"""Where a worker's segment files are, seen from any host.

One process (``vms run``): ``<recordings_dir>/<path>``. Scale-out (``redis_url`` set): every
worker writes below ``<recordings_dir>/<worker_id>/``, and ``recordings_dir`` is one shared
filesystem (NFS or similar, see docs/scale.md) mounted at the same place on the API hosts, so
playback and export of any worker's recordings read
``worker_recordings_dir(settings, segment.worker_id) / segment.path`` (``SegmentFiles``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from vms.config import Settings

WORKER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StoredFile(Protocol):
    """Anything naming a recorded file: its ``path`` below its worker's folder, and that ``worker_id``."""

    path: str
    worker_id: str


class UnsafePath(ValueError):
    """An index row points outside the recordings directory; it is never opened."""


def worker_folder(root: Path, worker_id: str) -> Path:
    """``root/<worker_id>``, refusing a worker id that is not one plain folder name."""
    if not isinstance(worker_id, str) or not WORKER_ID.match(worker_id) or worker_id in (".", ".."):
        raise UnsafePath(f"worker id {worker_id!r} cannot name a folder (letters, digits, '.', '_', '-')")
    return root / worker_id


def worker_recordings_dir(settings: Settings, worker_id: str) -> Path:
    """The folder ``worker_id`` records into (and the only one its retention deletes from)."""
    if not settings.redis_url:
        return settings.recordings_dir
    return worker_folder(settings.recordings_dir, worker_id)


def segment_file(recordings_dir: Path, relative: str) -> Path:
    """The file of a segment, refusing any path that would leave the recordings directory."""
    root = recordings_dir.resolve()
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise UnsafePath(f"segment path {relative!r} is not inside the recordings directory")
    path = (root / candidate).resolve()
    if not path.is_relative_to(root):
        raise UnsafePath(f"segment path {relative!r} is not inside the recordings directory")
    return path


class SegmentFiles:
    """Finds the file of any index row: in ``root`` (one process) or in its worker's folder below it."""

    def __init__(self, root: Path, per_worker: bool = False) -> None:
        self.root = Path(root)
        self.per_worker = per_worker

    @classmethod
    def of(cls, settings: Settings) -> "SegmentFiles":
        return cls(settings.recordings_dir, per_worker=bool(settings.redis_url))

    def folder(self, worker_id: str) -> Path:
        return worker_folder(self.root, worker_id) if self.per_worker else self.root

    def path(self, segment: StoredFile) -> Path:
        """The file of ``segment`` (anything with ``path`` and ``worker_id``)."""
        return segment_file(self.folder(segment.worker_id), segment.path)
