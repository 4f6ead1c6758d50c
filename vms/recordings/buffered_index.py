"""The segment index as the worker uses it: writes survive a database that is down for a while.

Recording must not depend on the database answering. When a write fails because the database
is unreachable, the operation is kept in memory (bounded) **and** appended to a journal file
(one JSON line, fsynced) beside the recordings, and the caller carries on: ``begin`` hands out a
provisional negative id. A background thread replays the operations in order once the database
answers, then empties the journal. Each replayed operation is keyed by the segment's path (unique
in the table), so replaying twice — after a crash in the middle of a flush, say — changes nothing.
A worker killed while the database is down finds its journal at the next start and replays it
before the crash repair runs.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from concurrent.futures import Future
from collections import deque
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vms.background import Periodic
from vms.db import Database, Segment
from vms.db.types import utcnow
from vms.recordings.index import (
    NotOwner,
    SegmentClosed,
    SegmentIndex,
    SegmentOpened,
    SegmentPathTaken,
    allowed_end,
    close_segment,
    delete_segment,
    insert_segment,
    neighbour_end,
    note_progress,
    refused_for_its_path,
)
from vms.recordings.invariants import FUTURE_TOLERANCE_SECONDS, IndexInvariantError
from vms.recordings.index_writer import IndexWriter, database_unavailable  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

# 100 000 operations is about 13 hours of a 64-camera worker with 60 s segments.
MAX_PENDING = 100_000
# A close whose end is still in the future (a line the time model is bringing back to its
# arrivals, at most a few seconds) waits until the end has passed, up to this far ahead; one
# further ahead is a broken clock and is closed at now at once (logged).
DEFER_CLOSE_SECONDS = 30.0
RETRY_SECONDS = 2.0
BATCH = 500


class BufferedSegmentIndex(SegmentIndex):
    def __init__(
        self,
        db: Database,
        worker_id: str = "local",
        journal: Path | None = None,
        may_record: Callable[[str], bool] = lambda camera_id: True,
        max_pending: int = MAX_PENDING,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(db, worker_id)
        self.journal = journal
        self.may_record = may_record
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self.dropped = 0  # operations lost because the buffer was full
        self._pending: deque[dict[str, Any]] = deque()
        self._paths: dict[int, str] = {}  # id handed out -> path, while the segment is open
        self._local_ids = itertools.count(-1, -1)
        self._down = False
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._retry = _Retry(self)
        self.writer = IndexWriter(db)  # every direct write of every recorder, group-committed

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> "BufferedSegmentIndex":
        """Load what a previous process left in the journal, try to flush it, start retrying."""
        if self.journal is not None and self.journal.exists():
            lines = self.journal.read_text(encoding="utf-8").splitlines()
            ops = [json.loads(line) for line in lines if line.strip().endswith("}")]
            self._pending.extend(ops[-self.max_pending :])
            if ops:
                log.info("index journal holds %d operations from a previous run; replaying", len(ops))
                self._down = True
        self.writer.start()
        self.flush()
        self._retry.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._retry.stop(timeout)
        self.writer.stop(timeout)
        self.flush()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- the recorder's writes ------------------------------------------------------------

    def begin(self, opened: SegmentOpened) -> int:
        if not self.may_record(opened.camera_id):
            raise NotOwner(f"camera {opened.camera_id} is no longer leased to worker {self.worker_id}")
        if not self._down:
            try:
                segment_id = self.writer.call(lambda session: insert_segment(session, opened, self.worker_id))
                with self._lock:
                    self._paths[segment_id] = opened.path
                return segment_id
            except Exception as exc:
                holder = refused_for_its_path(exc, self.db, opened.path)
                if holder is not None:
                    raise SegmentPathTaken(opened.path, holder) from exc
                if not database_unavailable(exc):
                    raise
                self._went_down(exc)
        op = {
            "op": "begin",
            "path": opened.path,
            "camera_id": opened.camera_id,
            "start": opened.start.isoformat(),
            "codec": opened.codec,
            "width": opened.width,
            "height": opened.height,
            "worker_id": self.worker_id,
        }
        with self._lock:
            segment_id = next(self._local_ids)
            self._paths[segment_id] = opened.path
            self._queue(op)
        return segment_id

    def finish(self, segment_id: int, closed: SegmentClosed) -> None:
        with self._lock:
            path = self._paths.pop(segment_id, None)
        op = {
            "op": "finish",
            "path": path,
            "end": closed.end.isoformat(),
            "bytes": closed.bytes,
            "frames": closed.frames,
            "keyframes": closed.keyframes,
        }
        if path is not None and _not_yet(op):
            # Refused now, the row stayed open for good; it is closed as it is once the end has
            # passed (the flusher replays it), so the index still says exactly what the file holds.
            log.info("index: %s ends %s, in the future; closing it once that has passed", path, op["end"])
            with self._lock:
                self._queue(op)
            return
        self._write(segment_id, path, op, lambda: self.writer.call(lambda session: close_segment(session, segment_id, closed)))

    def progress(self, segment_id: int, written_until: datetime, size: int) -> None:
        # Only a hint for playback of the newest minute: skipped while the database is away.
        if self._down or segment_id < 0:
            return
        future = self.writer.submit(lambda session: note_progress(session, segment_id, written_until, size))
        future.add_done_callback(self._progress_written)

    def _progress_written(self, future: "Future[None]") -> None:
        exc = future.exception()
        if exc is None:
            return
        if database_unavailable(exc):
            self._went_down(exc)
        else:
            log.error("index: progress of a segment not written: %s", exc)

    def remove(self, segment_id: int) -> None:
        with self._lock:
            path = self._paths.pop(segment_id, None)
        self._write(segment_id, path, {"op": "remove", "path": path},
                    lambda: self.writer.call(lambda session: delete_segment(session, segment_id)))

    def _write(self, segment_id: int, path: str | None, op: dict[str, Any], direct: Callable[[], None]) -> None:
        if path is None and segment_id < 0:
            log.error("index: unknown provisional segment id %d", segment_id)
            return
        if path is None:  # an id this index never handed out (repair of an old row): by id only
            direct()
            return
        with self._lock:
            queued_before = any(p.get("path") == path for p in self._pending) if segment_id < 0 or self._down else False
        if not self._down and not queued_before and segment_id >= 0:
            try:
                direct()
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                self._went_down(exc)
        with self._lock:
            self._queue(op)

    # -- buffering and replay -------------------------------------------------------------

    def _went_down(self, exc: BaseException) -> None:
        if not self._down:
            log.error("database unavailable (%s); buffering segment index writes", str(exc).splitlines()[0])
        self._down = True
        self._retry.wake()

    def _queue(self, op: dict[str, Any]) -> None:
        """Caller holds the lock."""
        if len(self._pending) >= self.max_pending:
            lost = self._pending.popleft()
            self.dropped += 1
            log.error("index buffer full: dropped %s of %s", lost["op"], lost["path"])
        self._pending.append(op)
        self._retry.wake()
        if self.journal is not None:
            try:
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                with self.journal.open("a", encoding="utf-8") as file:
                    file.write(json.dumps(op) + "\n")
                    file.flush()
                    os.fsync(file.fileno())
            except OSError as exc:
                log.error("cannot append to the index journal %s: %s", self.journal, exc)

    def flush(self) -> bool:
        """Replay buffered operations in order; True when nothing is left."""
        with self._flush_lock:
            while True:
                with self._lock:
                    batch = list(itertools.islice(self._pending, BATCH))
                if not batch:
                    break
                # A close whose end has not passed yet ends the batch: what comes before it is
                # written, it and what follows wait for the next tick, in the same order.
                waiting = next((i for i, op in enumerate(batch) if _not_yet(op)), None)
                batch = batch[:waiting]
                try:
                    with self.db.session() as session:
                        for op in batch:
                            _apply(session, op)
                except Exception as exc:
                    if not database_unavailable(exc):
                        log.exception("index replay failed on %s; will retry", batch[0])
                    return False
                with self._lock:
                    for _ in batch:
                        self._pending.popleft()
                if waiting is not None:
                    return False
            with self._lock:
                if self._pending:
                    return False
                if self._down:
                    log.info("database back; segment index writes flushed")
                self._down = False
                if self.journal is not None and self.journal.exists():
                    self.journal.write_text("", encoding="utf-8")
            return True



def _not_yet(op: dict[str, Any]) -> bool:
    """A buffered close whose end has not passed yet (within ``DEFER_CLOSE_SECONDS``)."""
    if op["op"] != "finish":
        return False
    ahead = (datetime.fromisoformat(op["end"]) - utcnow()).total_seconds()
    return FUTURE_TOLERANCE_SECONDS < ahead <= DEFER_CLOSE_SECONDS


class _Retry(Periodic):
    """Flushes the buffer every ``retry_seconds`` while the database is down or rows wait."""

    def __init__(self, index: BufferedSegmentIndex) -> None:
        super().__init__("index-flusher", index.retry_seconds)
        self.index = index

    def tick(self) -> None:
        if self.index._down or self.index.pending:
            self.index.flush()


def _apply(session: Session, op: dict[str, Any]) -> None:
    """Apply one journaled operation, idempotently (keyed by the segment's unique path).

    Replayed rows obey the index invariants like live ones (``insert_segment``/``close_segment``
    enforce them). A replayed row that would break one is not lost: as the recorder does at write
    time, its start moves to where the camera's previous row ends, or its end back to where the
    next row starts (never before its start), and the correction is logged."""
    path = op["path"]
    if op["op"] == "begin":
        if session.scalar(select(Segment.id).where(Segment.path == path)) is None:
            opened = SegmentOpened(op["camera_id"], datetime.fromisoformat(op["start"]), path, op["codec"],
                                   op["width"], op["height"])
            try:  # a refused row raises before anything is written: nothing to roll back
                insert_segment(session, opened, op["worker_id"])
            except IndexInvariantError as exc:
                previous = neighbour_end(session, opened.camera_id, opened.start, op["worker_id"])
                moved = max(opened.start, previous) if previous is not None else opened.start
                log.error("index replay: %s; indexing the segment at %s instead", exc, moved.isoformat())
                insert_segment(session, replace(opened, start=min(moved, utcnow())), op["worker_id"])
    elif op["op"] == "finish":
        segment_id = session.scalar(select(Segment.id).where(Segment.path == path))
        if segment_id is None:
            return
        closed = SegmentClosed(datetime.fromisoformat(op["end"]), op["bytes"], op["frames"], op["keyframes"])
        try:
            close_segment(session, segment_id, closed)
        except IndexInvariantError as exc:
            end = allowed_end(session, segment_id, closed.end)
            log.error("index replay: %s; closing the segment at %s instead", exc, end.isoformat())
            close_segment(session, segment_id, replace(closed, end=end))
    elif op["op"] == "remove":
        session.execute(delete(Segment).where(Segment.path == path))
    else:
        raise ValueError(f"unknown index journal operation {op['op']!r}")
