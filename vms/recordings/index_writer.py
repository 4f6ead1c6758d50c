"""One thread writes a worker's segment index: every recorder's writes in one transaction.

With a session per write, 120 cameras × 2 streams opening, closing and reporting progress on
their segments exhausted the connection pool within 10 s of start (``QueuePool limit of size 5
overflow 10 reached``, issue 11). Here recorders hand their writes to one ``IndexWriter``, which
takes whatever is queued (up to ``max_batch``) and applies it in one transaction on one
connection: group commit. A caller that needs the result (a new segment's id) waits for its
batch, typically a few milliseconds.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from vms.db import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 500
WAIT_SECONDS = 30.0  # a caller waiting longer treats the database as unavailable


class WriterTimeout(RuntimeError):
    """The index writer did not get to this write in time (the database hangs)."""


def database_unavailable(exc: BaseException) -> bool:
    """True for failures that mean "the database cannot be reached now", not "bad data"."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout, WriterTimeout, FutureTimeout)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class IndexWriter:
    def __init__(self, db: Database, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self.batches = 0
        self.writes = 0
        self._queue: queue.SimpleQueue[tuple[Callable[[Session], object], Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="index-writer", daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> "IndexWriter":
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Write what is queued, then end the thread."""
        if self._started and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, write: Callable[[Session], T]) -> "Future[T]":
        future: Future[Any] = Future()
        if not self._started or not self._thread.is_alive():
            # Not running (before start, after stop): write directly rather than never.
            try:
                with self.db.session() as session:
                    future.set_result(write(session))
            except Exception as exc:
                future.set_exception(exc)
            return future
        self._queue.put((write, future))
        return future

    def call(self, write: Callable[[Session], T], timeout: float = WAIT_SECONDS) -> T:
        try:
            return self.submit(write).result(timeout)
        except FutureTimeout:
            raise WriterTimeout(f"the segment index writer did not answer within {timeout:g} s") from None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stopping = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[tuple[Callable[[Session], object], Future[Any]]]) -> None:
        try:
            with self.db.session() as session:
                results = [write(session) for write, _ in batch]
        except Exception as exc:
            if database_unavailable(exc) or len(batch) == 1:
                for _, future in batch:
                    future.set_exception(exc)
                return
            # One bad write must not fail the others: each alone, in its own transaction.
            for write, future in batch:
                try:
                    with self.db.session() as session:
                        future.set_result(write(session))
                except Exception as alone:
                    future.set_exception(alone)
            return
        self.batches += 1
        self.writes += len(batch)
        for (_, future), result in zip(batch, results):
            future.set_result(result)
