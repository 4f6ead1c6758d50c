"""Crash repair: a segment cut anywhere is trimmed to whole fragments and its row closed."""

import shutil
from datetime import datetime, timezone

import pytest

from streams.segment_writer import SegmentWriter
from tests.support.media import decode_all, media_packets
from vms.recordings.fmp4 import playable_length, trim_to_playable
from vms.recordings.index import SegmentIndex, SegmentOpened
from vms.recordings.repair import repair_unfinished


def write_unclosed(path, frames=100):
    """Write a segment and copy it before close(), as a killed process would leave it."""
    info, packets = media_packets(frames=frames, gop=25)
    writer = SegmentWriter(path, info)
    for packet in packets:
        writer.write(packet)
    crashed = path.with_name("crashed.mp4")
    shutil.copy(path, crashed)  # fragments are flushed as they complete; the last GOP is not
    writer.close()
    return crashed


@pytest.mark.parametrize("cut_fraction", [1.0, 0.93, 0.61, 0.37, 0.05])
def test_trimmed_file_decodes_cleanly_wherever_it_was_cut(tmp_path, cut_fraction):
    crashed = write_unclosed(tmp_path / "seg.mp4")
    data = crashed.read_bytes()
    crashed.write_bytes(data[: int(len(data) * cut_fraction)])
    size = trim_to_playable(crashed)
    if size == 0:
        assert cut_fraction < 0.1
        return
    assert crashed.stat().st_size == size
    frames = decode_all(crashed)
    assert frames % 25 == 0  # whole GOPs only
    assert (frames > 0) == (cut_fraction > 0.3)  # early cuts keep only the header


def test_repair_closes_rows_and_removes_empty_segments(db, recordings_dir):
    index = SegmentIndex(db)
    start = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
    crashed = write_unclosed(recordings_dir / "cam/2026-11-24/a.mp4")
    crashed.rename(recordings_dir / "cam/2026-11-24/b.mp4")
    (recordings_dir / "cam/2026-11-24/c.mp4").write_bytes(b"\x00\x00\x00\x08ftyp")  # header never finished
    ids = {}
    for name in ("a", "b", "c", "missing"):
        opened = SegmentOpened("cam", start, f"cam/2026-11-24/{name}.mp4", "h264", 320, 240)
        ids[name] = index.begin(opened)

    report = repair_unfinished(index, recordings_dir)

    assert sorted(report.repaired) == ["cam/2026-11-24/a.mp4", "cam/2026-11-24/b.mp4"]
    assert sorted(report.removed) == ["cam/2026-11-24/c.mp4", "cam/2026-11-24/missing.mp4"]
    rows = {s.path: s for s in index.of_camera("cam")}
    assert rows["cam/2026-11-24/a.mp4"].duration_seconds == pytest.approx(4.0, abs=0.01)
    crashed_row = rows["cam/2026-11-24/b.mp4"]
    assert crashed_row.frames == decode_all(recordings_dir / crashed_row.path)
    assert crashed_row.duration_seconds == pytest.approx(crashed_row.frames / 25, abs=0.01)
    assert not (recordings_dir / "cam/2026-11-24/c.mp4").exists()
    assert index.unfinished() == []


def test_playable_length_of_garbage_is_zero(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"not an mp4 at all")
    assert playable_length(path) == 0
