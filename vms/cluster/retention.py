"""Retention of one worker's own recordings when several workers share one database.

Each worker deletes only segments it wrote (their files are on its storage); the quota is per
worker (its own disk). Segments of a camera that moved to another worker stay this worker's to
delete. In the all-in-one process every segment is the one worker's, so plain ``Retention`` is used.

A worker that died for good leaves its segments behind with nobody to delete them; every live
worker also applies the age rule (only that one: quota and free space are per disk) to the
segments of workers that are not alive (``live_workers``), in their folders of the shared storage.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import Select, func, select

from vms.config.storage import StorageConfig
from vms.db import Database, Segment
from vms.db.types import utcnow
from vms.recordings.retention import Retention, RetentionReport

log = logging.getLogger(__name__)


class WorkerRetention(Retention):
    def __init__(
        self,
        db: Database,
        recordings_dir: Path,
        storage: StorageConfig,
        worker_id: str,
        live_workers: Callable[[], set[str] | None] = lambda: None,
        folder_of: Callable[[str], Path] | None = None,
    ) -> None:
        super().__init__(db, recordings_dir, storage)
        self.worker_id = worker_id
        self.live_workers = live_workers  # None: unknown now (Redis down), so nobody counts as dead
        self.folder_of = folder_of or (lambda worker_id: recordings_dir.parent / worker_id)

    def run_once(self, now: datetime | None = None, urgent: bool = False) -> RetentionReport:
        report = super().run_once(now, urgent)
        live = self.live_workers()
        if live is None:
            return report
        with self.db.session() as session:
            workers = set(session.scalars(select(Segment.worker_id).distinct()))
        for gone in sorted(workers - set(live) - {self.worker_id}):
            orphan = WorkerRetention(self.db, self.folder_of(gone), self.storage, gone)
            orphan._by_age(now or utcnow(), report)
        return report

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
