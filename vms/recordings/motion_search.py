"""Motion search: where, in a region of one camera's picture, did something move in a time range?

Runs in the background over the recorded segments, a few at a time, with progress. The media
work (decoding keyframes, comparing them) is done by an ``Analyzer`` given by the composition
root (``streams.search.keyframes.KeyframeMotion``); this module plans the segments, keeps the
analyzer's comparison honest across gaps, and turns scores into moments. Searches are kept in the
database (the newest ``KEEP``), so a result outlives an API restart; a search running in this
process is read from memory, with its progress of the moment. They are a finding aid, not evidence.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator, Protocol

from sqlalchemy import delete, select, update

from vms.db import Database, Segment
from vms.db.searches import MotionSearchRow
from vms.db.types import utcnow
from vms.errors import CodedError
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.recordings.playback import JOIN_SECONDS

log = logging.getLogger(__name__)

KEEP = 100
# Changes closer than this are one moment (a vehicle passing takes a few keyframes).
MERGE = timedelta(seconds=3)
# Progress is written to the database at most this often (seconds): another API process polled
# for the search sees it move, without a write per keyframe.
SAVE_EVERY = 1.0
INTERRUPTED = "interrupted: vms restarted before it finished; start the search again"


class SearchNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Region:
    """A rectangle as fractions of the picture: x, y of the top-left corner, width, height."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        if not (0 <= self.x < 1 and 0 <= self.y < 1 and 0 < self.w <= 1 - self.x + 1e-9 and 0 < self.h <= 1 - self.y + 1e-9):
            raise CodedError("the region must lie inside the picture: 0 <= x, y < 1 and 0 < w, h with x+w, y+h <= 1",
                             "bad-region")

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h


class Analyzer(Protocol):
    def forget(self) -> None: ...

    def segment(self, path: Path, segment_start: datetime) -> Iterator[tuple[datetime, float]]: ...


@dataclass
class Moment:
    start: datetime  # the keyframe before the change
    end: datetime  # the last keyframe that still differed
    peak: float  # largest share of the region that changed (0..1)


@dataclass
class MotionSearch:
    id: str
    camera_id: str
    region: Region
    start: datetime
    end: datetime
    sensitivity: float  # share of the region that must change (0..1)
    requested_by: str
    state: str = "queued"  # queued, running, done, failed
    progress: float = 0.0  # 0..1 of the range analysed
    keyframes: int = 0
    moments: list[Moment] = field(default_factory=list)
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    def row(self) -> MotionSearchRow:
        return MotionSearchRow(
            id=self.id, camera_id=self.camera_id, region=list(self.region.as_tuple()), start=self.start, end=self.end,
            sensitivity=self.sensitivity, requested_by=self.requested_by, state=self.state, progress=self.progress,
            keyframes=self.keyframes, error=self.error, created_at=self.created_at, finished_at=self.finished_at,
            moments=[[m.start.isoformat(), m.end.isoformat(), float(m.peak)] for m in list(self.moments)])

    @classmethod
    def of(cls, row: MotionSearchRow) -> "MotionSearch":
        return cls(row.id, row.camera_id, Region(*row.region), row.start, row.end, row.sensitivity, row.requested_by,
                   state=row.state, progress=row.progress, keyframes=row.keyframes,
                   moments=[Moment(datetime.fromisoformat(a), datetime.fromisoformat(b), peak) for a, b, peak in row.moments],
                   error=row.error, created_at=row.created_at, finished_at=row.finished_at)


def fail_interrupted(db: Database) -> None:
    """Searches this installation was running when it stopped cannot finish; say so (at API start)."""
    with db.session() as session:
        session.execute(
            update(MotionSearchRow)
            .where(MotionSearchRow.state.in_(("queued", "running")), MotionSearchRow.created_at < utcnow() - timedelta(seconds=1))
            .values(state="failed", error=INTERRUPTED, finished_at=utcnow()))


class MotionSearches:
    """Runs searches on a background thread; ``get`` returns one with its progress so far."""

    def __init__(self, db: Database, files: SegmentFiles, analyzer: Callable[[tuple[float, float, float, float]], Analyzer],
                 workers: int = 1,
                 parallel: int = 2) -> None:
        self.db, self.files, self.analyzer, self.parallel = db, files, analyzer, parallel
        self._running: dict[str, MotionSearch] = {}  # queued or running here: their live progress
        self._saved_at: dict[str, float] = {}  # monotonic time of each running search's last save
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="motion-search")
        self._parts = ThreadPoolExecutor(max_workers=workers * parallel, thread_name_prefix="motion-search-part")

    def submit(self, camera_id: str, region: Region, start: datetime, end: datetime, sensitivity: float,
               username: str) -> MotionSearch:
        """Queue a search; CodedError (bad-range, bad-sensitivity; a bad region: bad-region) for an empty range or a sensitivity outside (0, 1]."""
        if end <= start:
            raise CodedError("the range must end after it starts", "bad-range")
        if not 0 < sensitivity <= 1:
            raise CodedError("sensitivity is the share of the region that must change, in (0, 1]", "bad-sensitivity")
        search = MotionSearch(secrets.token_hex(16), camera_id, region, start, end, sensitivity, username)
        self._save(search)
        with self._lock:
            self._running[search.id] = search
        self._forget_old()
        self._pool.submit(self.run, search)
        return search

    def get(self, search_id: str) -> MotionSearch:
        """The search (SearchNotFound when unknown or no longer among the newest ``KEEP``)."""
        with self._lock:
            search = self._running.get(search_id)
        if search is not None:
            return search
        with self.db.session() as session:
            row = session.get(MotionSearchRow, search_id)
            if row is None:
                raise SearchNotFound(f"motion search '{search_id}' does not exist (or is too old)")
            return MotionSearch.of(row)

    def run(self, search: MotionSearch) -> MotionSearch:
        search.state = "running"
        self._try_save(search)
        try:
            self._analyse(search)
            search.state = "done"
        except Exception as exc:
            log.exception("motion search %s failed", search.id)
            search.state, search.error = "failed", str(exc) or "motion search failed"
        search.progress = 1.0 if search.state == "done" else search.progress
        search.finished_at = utcnow()
        # First the row, then out of memory: a poll in between still finds it. A result that
        # could not be saved stays in memory, readable until this process stops.
        if self._try_save(search):
            with self._lock:
                self._running.pop(search.id, None)
                self._saved_at.pop(search.id, None)
        return search

    def _save(self, search: MotionSearch) -> None:
        with self.db.session() as session:
            session.merge(search.row())
        with self._lock:
            self._saved_at[search.id] = time.monotonic()

    def _try_save(self, search: MotionSearch) -> bool:
        """Save; a database that fails is logged (the search goes on, in memory)."""
        try:
            self._save(search)
            return True
        except Exception:
            log.exception("motion search %s: cannot save its state", search.id)
            return False

    def _checkpoint(self, search: MotionSearch) -> None:
        """Save the progress if the last save is older than ``SAVE_EVERY``."""
        with self._lock:
            due = time.monotonic() - self._saved_at.get(search.id, 0.0) >= SAVE_EVERY
            if due:
                self._saved_at[search.id] = time.monotonic()  # one part saves; the others go on
        if due:
            self._try_save(search)

    def _forget_old(self) -> None:
        """Only the newest ``KEEP`` searches are kept."""
        with self.db.session() as session:
            keep = select(MotionSearchRow.id).order_by(MotionSearchRow.created_at.desc()).limit(KEEP).scalar_subquery()
            session.execute(delete(MotionSearchRow).where(MotionSearchRow.id.not_in(keep)))

    def _analyse(self, search: MotionSearch) -> None:
        """Split the segments into ``parallel`` runs analysed side by side (decoding releases the
        GIL). Each run after the first starts one segment early, only to have a keyframe to
        compare its first one with; that segment's own findings belong to the run before."""
        segments = SegmentIndex(self.db).covering(search.camera_id, search.start, search.end)
        total = (search.end - search.start).total_seconds()
        size = max(1, -(-len(segments) // self.parallel))
        runs = [(max(0, i - 1), i, segments[max(0, i - 1): i + size]) for i in range(0, len(segments), size)]
        done, counted = [0.0] * len(runs), [0] * len(runs)  # per run: no counter shared between threads

        def analyse(number: int, first: int, owned_from: int, part: list[Segment]) -> list[Moment]:
            moments: list[Moment] = []
            analyzer = self.analyzer(search.region.as_tuple())
            previous_end: datetime | None = None
            previous_keyframe: datetime | None = None
            for offset, segment in enumerate(part):
                owned = first + offset >= owned_from
                if previous_end is not None and (segment.start - previous_end).total_seconds() > JOIN_SECONDS:
                    analyzer.forget()  # a gap: the next keyframe is not "after" the last one
                    previous_keyframe = None
                path = self.files.path(segment)
                if path.is_file():
                    for moment, score in analyzer.segment(path, segment.start):
                        if owned and search.start <= moment < search.end:
                            counted[number] += 1
                            if score >= search.sensitivity:
                                _merge(moments, Moment(previous_keyframe or moment, moment, score))
                        previous_keyframe = moment
                previous_end = segment.end or segment.written_until or segment.start
                if owned:
                    done[number] += (min(previous_end, search.end) - max(segment.start, search.start)).total_seconds()
                    search.progress = min(1.0, max(0.0, sum(done) / total))
                    search.keyframes = sum(counted)
                    self._checkpoint(search)
            return moments

        futures = [self._parts.submit(analyse, n, first, owned, part) for n, (first, owned, part) in enumerate(runs)]
        found: list[Moment] = []
        for future in futures:
            for moment in future.result():
                _merge(found, moment)
        search.moments = found

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._parts.shutdown(wait=False, cancel_futures=True)


def _merge(moments: list[Moment], moment: Moment) -> None:
    """Append ``moment`` (in time order), joining it with the last one when they are close."""
    last = moments[-1] if moments else None
    if last is not None and moment.start - last.end <= MERGE:
        last.end, last.peak = max(last.end, moment.end), max(last.peak, moment.peak)
    else:
        moments.append(moment)
