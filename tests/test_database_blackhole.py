"""A PostgreSQL host that accepts TCP and never answers (a blackhole, a hung proxy): connecting
gives up within ``connect_timeout`` instead of TCP's minutes, so the recording path (the segment
index buffers while the database is away) is never held up for long."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import OperationalError

from vms.db import Database
from vms.db.engine import POSTGRES_CONNECT_ARGS
from vms.recordings.buffered_index import BufferedSegmentIndex
from vms.recordings.index import SegmentOpened


class Blackhole:
    """Accepts connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def blackhole():
    hole = Blackhole()
    yield hole
    hole.close()


def test_connecting_to_a_silent_database_gives_up_within_connect_timeout(blackhole):
    db = Database(f"postgresql://vms@127.0.0.1:{blackhole.port}/vms")
    started = time.monotonic()
    with pytest.raises(OperationalError):
        db.ping()
    took = time.monotonic() - started
    db.dispose()
    assert blackhole.accepted, "the attempt never reached the listener"
    # pool_pre_ping may try twice; each attempt is bounded.
    assert took < 2 * POSTGRES_CONNECT_ARGS["connect_timeout"] + 3, f"connecting hung for {took:.1f} s"


def test_connect_timeout_in_the_url_wins(blackhole):
    db = Database(f"postgresql://vms@127.0.0.1:{blackhole.port}/vms?connect_timeout=1")
    started = time.monotonic()
    with pytest.raises(OperationalError):
        db.ping()
    took = time.monotonic() - started
    db.dispose()
    assert took < POSTGRES_CONNECT_ARGS["connect_timeout"], f"the URL's connect_timeout=1 was ignored ({took:.1f} s)"


def test_the_segment_index_buffers_instead_of_waiting_on_a_silent_database(blackhole, tmp_path):
    db = Database(f"postgresql://vms@127.0.0.1:{blackhole.port}/vms")
    index = BufferedSegmentIndex(db, "w1", tmp_path / "journal.jsonl").start()
    try:
        started = time.monotonic()
        segment_id = index.begin(SegmentOpened(camera_id="cam-1", start=datetime.now(timezone.utc), path="cam-1/a.mp4",
                                               codec="h264", width=320, height=180))
        took = time.monotonic() - started
        assert segment_id < 0, "a provisional id: the row waits in the buffer"
        assert index.pending == 1
        assert took < 2 * POSTGRES_CONNECT_ARGS["connect_timeout"] + 3, f"a new segment waited {took:.1f} s for the database"
    finally:
        index.stop()
        db.dispose()
