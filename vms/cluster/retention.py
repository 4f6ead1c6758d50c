"""Retention of one worker's own recordings when several workers share one database.

Each worker deletes only segments it wrote (their files are on its storage); the quota is per
worker (its own disk). Segments of a camera that moved to another worker stay this worker's to
delete. In the all-in-one process every segment is the one worker's, so plain ``Retention`` is used.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Select, func, select

from vms.config.storage import StorageConfig
from vms.db import Database, Segment
from vms.recordings.retention import Retention, RetentionReport

log = logging.getLogger(__name__)


class WorkerRetention(Retention):
    def __init__(self, db: Database, recordings_dir: Path, storage: StorageConfig, worker_id: str) -> None:
        super().__init__(db, recordings_dir, storage)
        self.worker_id = worker_id

    def _deletable(self) -> Select[Segment]:
        return super()._deletable().where(Segment.worker_id == self.worker_id)

    def _by_quota(self, report: RetentionReport) -> None:
        quota = self.storage.quota
        if quota is None:
            return
        with self.db.session() as session:
            used = session.scalar(
                select(func.coalesce(func.sum(Segment.bytes), 0)).where(Segment.worker_id == self.worker_id)
            ) or 0
        while used > quota:
            freed = self._delete_oldest(used - quota, "quota", report)
            if freed == 0:
                log.error("worker %s is %d bytes over its quota and nothing more may be deleted", self.worker_id, used - quota)
                return
            used -= freed
