"""Read and write the segment index (one row per fragmented-MP4 file)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vms.db import Database, Segment
from vms.recordings.invariants import enforce, time_problems

log = logging.getLogger(__name__)


class NotOwner(RuntimeError):
    """This worker no longer holds the camera's lease: it must not index new segments of it.

    Not a storage fault: the end of a hand-over's overlap, or a lapsed lease another worker
    took. The new holder records the camera."""


class SegmentPathTaken(ValueError):
    """Another row already holds this segment's path; nothing was written.

    Two workers record one camera during a Redis partition (duplicates over loss, decision 43),
    and on the same host their placements of a keyframe can agree to the millisecond: the file
    name, made of the start time, is then the same. The recorder takes another name. With warm
    standby the same happens at every hand-over and takeover: the new holder records from its
    pre-roll, starting on a keyframe the previous holder recorded too. ``holder``: the worker id
    of the row that has the path."""

    def __init__(self, path: str, holder: str | None = None) -> None:
        super().__init__(path)
        self.holder = holder


def path_holder(db: Database, path: str) -> str | None:
    """The worker id of the row holding ``path`` (relative to the recordings directory), or None."""
    with db.session() as session:
        return session.scalar(select(Segment.worker_id).where(Segment.path == path))


def path_taken(db: Database, path: str) -> bool:
    """Whether a row of the index holds ``path`` (relative to the recordings directory)."""
    return path_holder(db, path) is not None


def refused_for_its_path(exc: BaseException, db: Database, path: str) -> str | None:
    """The worker whose row holds ``path`` when ``exc``, raised inserting a row for ``path``, is
    the path's unique constraint; None when ``exc`` is something else."""
    return path_holder(db, path) if isinstance(exc, IntegrityError) else None


@dataclass(frozen=True)
class SegmentOpened:
    camera_id: str
    start: datetime
    path: str  # relative to the recordings directory
    codec: str
    width: int
    height: int


@dataclass(frozen=True)
class SegmentClosed:
    end: datetime
    bytes: int
    frames: int
    keyframes: int


class SegmentIndex:
    """The recorder's and retention's view of the ``segments`` table."""

    def __init__(self, db: Database, worker_id: str = "local") -> None:
        self.db = db
        self.worker_id = worker_id

    def begin(self, opened: SegmentOpened) -> int:
        """Insert the row of a segment being written; raises IndexInvariantError if it would
        start inside the camera's previous row or in the future, SegmentPathTaken if another
        row holds its path."""
        try:
            with self.db.session() as session:
                return insert_segment(session, opened, self.worker_id)
        except IntegrityError as exc:
            holder = refused_for_its_path(exc, self.db, opened.path)
            if holder is not None:
                raise SegmentPathTaken(opened.path, holder) from exc
            raise

    def finish(self, segment_id: int, closed: SegmentClosed) -> None:
        """Close a row; raises IndexInvariantError (row left open) if [start, end) would be
        negative, reach into the future or overlap the camera's next row."""
        with self.db.session() as session:
            close_segment(session, segment_id, closed)

    def progress(self, segment_id: int, written_until: datetime, size: int) -> None:
        """Record how far the open segment's whole fragments reach (a hint for playback)."""
        with self.db.session() as session:
            note_progress(session, segment_id, written_until, size)

    def remove(self, segment_id: int) -> None:
        with self.db.session() as session:
            delete_segment(session, segment_id)

    def unfinished(self) -> list[Segment]:
        """Segments of this worker still marked as being written (left by a crash)."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Segment).where(Segment.end.is_(None), Segment.worker_id == self.worker_id)
                )
            )

    def unfinished_of_others(self) -> list[Segment]:
        """Segments of other workers still marked as being written (theirs, or left by their crash)."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Segment).where(Segment.end.is_(None), Segment.worker_id != self.worker_id)
                )
            )

    def covering(self, camera_id: str, start: datetime, end: datetime) -> list[Segment]:
        """Segments of a camera overlapping [start, end), oldest first.

        A segment still being written is included up to ``written_until`` (its whole fragments
        on disk), reported as its ``end``; the rows returned are detached copies.
        """
        reach = func.coalesce(Segment.end, Segment.written_until)
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(Segment)
                    .where(Segment.camera_id == camera_id, reach.is_not(None), Segment.start < end, reach > start)
                    .order_by(Segment.start)
                )
            )
            session.expunge_all()
        for row in rows:
            if row.end is None:
                row.end = row.written_until
        return rows

    def bytes_by_camera(self, worker_id: str | None = None) -> dict[str, int]:
        """Bytes of recordings in the index by camera (only ``worker_id``'s segments, if given)."""
        query = select(Segment.camera_id, func.sum(Segment.bytes)).group_by(Segment.camera_id)
        if worker_id is not None:
            query = query.where(Segment.worker_id == worker_id)
        with self.db.session() as session:
            rows = session.execute(query).all()
        return {camera_id: int(size or 0) for camera_id, size in rows}

    def of_camera(self, camera_id: str) -> list[Segment]:
        with self.db.session() as session:
            return list(
                session.scalars(select(Segment).where(Segment.camera_id == camera_id).order_by(Segment.start))
            )


# -- the writes, each within a caller's session (one transaction may hold many) -------------


def insert_segment(session: Session, opened: SegmentOpened, worker_id: str) -> int:
    """Insert an open row; raises IndexInvariantError if it would start inside the camera's
    previous row or in the future."""
    previous = neighbour_end(session, opened.camera_id, opened.start, worker_id)
    enforce(opened.camera_id, opened.path, time_problems(opened.start, None, previous, None, _now()))
    row = Segment(
        camera_id=opened.camera_id,
        start=opened.start,
        end=None,
        path=opened.path,
        codec=opened.codec,
        width=opened.width,
        height=opened.height,
        worker_id=worker_id,
    )
    session.add(row)
    session.flush()
    return row.id


def close_segment(session: Session, segment_id: int, closed: SegmentClosed) -> None:
    """Close a row; raises IndexInvariantError (row left open) if [start, end) would be
    negative, reach into the future or overlap the camera's next row."""
    row = session.get(Segment, segment_id)
    if row is not None:
        following = _next_start(session, row)
        enforce(row.camera_id, row.path, time_problems(row.start, closed.end, None, following, _now()))
    session.execute(
        update(Segment)
        .where(Segment.id == segment_id)
        .values(end=closed.end, bytes=closed.bytes, frames=closed.frames, keyframes=closed.keyframes)
    )


def allowed_end(session: Session, segment_id: int, end: datetime) -> datetime:
    """``end`` moved back as little as the invariants need: not past the camera's next row of the
    same worker, nor past now, and never before the row's start. Raises LookupError for no row."""
    row = session.get(Segment, segment_id)
    if row is None:
        raise LookupError(f"no segment {segment_id}")
    limits = [end, _now()]
    following = _next_start(session, row)
    if following is not None:
        limits.append(following)
    return max(min(limits), row.start)


def _next_start(session: Session, row: Segment) -> datetime | None:
    """Where the camera's next row of the same worker starts (None: it has none)."""
    following: datetime | None = session.scalar(
        select(func.min(Segment.start)).where(
            Segment.camera_id == row.camera_id, Segment.start > row.start, Segment.id != row.id,
            Segment.worker_id == row.worker_id,
        )
    )
    return following


def note_progress(session: Session, segment_id: int, written_until: datetime, size: int) -> None:
    session.execute(
        update(Segment)
        .where(Segment.id == segment_id, Segment.end.is_(None))
        .values(written_until=written_until, bytes=size)
    )


def delete_segment(session: Session, segment_id: int) -> None:
    session.execute(delete(Segment).where(Segment.id == segment_id))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def neighbour_end(session: Session, camera_id: str, start: datetime, worker_id: str) -> datetime | None:
    """Where the camera's latest row of this worker starting at or before ``start`` ends (closed
    rows, or how far an open one is written). Rows of one camera by two workers may overlap: a
    hand-over or a Redis partition records it twice rather than not at all (docs/decisions.md)."""
    reach = func.coalesce(Segment.end, Segment.written_until)
    end: datetime | None = session.scalar(
        select(reach)
        .where(Segment.camera_id == camera_id, Segment.worker_id == worker_id, Segment.start <= start)
        .order_by(Segment.start.desc())
        .limit(1)
    )
    return end
