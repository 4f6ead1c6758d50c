"""Evidence export holds exactly what its manifest says: checked against the time shown in each picture.

The simulator stamps every frame with its capture time (``streams.simulator.timecode``); after
recording through the real ingest and recorder, the exported MP4's pictures are read back and
compared with the manifest. No OCR, no trust in our own index.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest
from sqlalchemy import select
from sqlalchemy.orm import make_transient

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from streams.simulator.timecode import read_timecode
from tests.support.recordings import record
from tests.support.system import camera_entry, make_settings, running_worker
from vms.db import Database, Segment
from vms.evidence.keys import load_or_create
from vms.recordings.export import request_export, run_export
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.recordings.playback import plan_range, stream_mp4

FPS = 25
FRAME = 1 / FPS


def pictures(path: Path) -> list[tuple[float, int | None]]:
    """(presentation seconds, timecode ms) of every decoded picture of an MP4."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(float(f.pts * stream.time_base), read_timecode(f)) for f in container.decode(stream)]


def export(db: Database, files: SegmentFiles, folder: Path, camera_id: str, start: datetime, end: datetime):
    row = request_export(db, folder, camera_id, start, end, "investigator", reason="test")
    done = run_export(db, files, row.id, load_or_create(folder / "keys" / "evidence.key"), role="investigator")
    assert done.state == "done", done.error
    manifest = json.loads((Path(done.folder) / "manifest.json").read_text())
    return manifest, Path(done.folder) / manifest["file"]["name"]


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")
def test_a_20_s_export_holds_20_s_plus_its_lead_in_and_the_pictures_show_the_manifest_times(tmp_path):
    camera = SimulatedCamera(id="gate-01", scene="road", width=320, height=180, fps=FPS, gop=2 * FPS, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, segment_seconds=4)])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=20)
            online_at = datetime.now(timezone.utc)
            start = online_at + timedelta(seconds=2.37)  # inside a GOP: the export needs a lead-in
            end = start + timedelta(seconds=20)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                closed = [s.end for s in worker.index.of_camera(camera.id) if s.end is not None]
                if closed and max(closed) > end + timedelta(seconds=1):
                    break
                time.sleep(0.2)
            else:
                raise TimeoutError("the recording did not reach the end of the range")
            db = Database(settings.effective_database_url)
            files = SegmentFiles.of(settings)
            manifest, mp4 = export(db, files, tmp_path / "exports", camera.id, start, end)
            plan = plan_range(db, files, camera.id, start, end)
            played = tmp_path / "played.mp4"
            played.write_bytes(b"".join(stream_mp4(plan, files)))
            segments = [s for s in SegmentIndex(db).of_camera(camera.id) if s.end is not None]
            db.dispose()

    # Index vs picture: each closed segment's start and end against the capture times its
    # pictures show; the difference is the capture-to-arrival delay, the same for every one.
    delays = []
    for segment in segments:
        codes = [ms for _, ms in pictures(settings.recordings_dir / segment.path)]
        delays.append(segment.start.timestamp() * 1000 - codes[0])
        delays.append(segment.end.timestamp() * 1000 - (codes[-1] + FRAME * 1000))
    assert max(delays) - min(delays) <= FRAME * 1000, delays
    # Playback: the picture at media time t shows media_start + t (less the same delay)
    media_start = plan.media_start.timestamp() * 1000
    played_delays = [media_start + t * 1000 - ms for t, ms in pictures(played)]
    assert max(played_delays) - min(played_delays) <= FRAME * 1000
    assert abs(statistics.median(played_delays) - statistics.median(delays)) <= FRAME * 1000
    print(f"index vs picture over {len(segments)} segments: delay {min(delays):.0f}..{max(delays):.0f} ms; "
          f"playback {min(played_delays):.0f}..{max(played_delays):.0f} ms")

    contained, lead = manifest["contained"], manifest["lead_in"]
    first, last = iso(contained["first_frame"]), iso(contained["last_frame"])
    # the lead-in: the keyframe before the start, no more than one GOP (2 s) early
    assert first <= start and lead["seconds"] == pytest.approx((start - first).total_seconds(), abs=1e-3)
    assert lead["seconds"] <= 2.0 + FRAME
    # cut at the end exactly: the last picture is the last one before the end
    assert end - timedelta(seconds=2 * FRAME) <= last < end
    assert manifest["gaps"] == [] and manifest["discontinuities"] == []
    shown = pictures(mp4)
    assert len(shown) == contained["frames"]
    assert all(ms is not None for _, ms in shown), "a picture without a readable timecode"
    codes = [ms for _, ms in shown]
    # no picture twice, none missing: the camera's own clock steps one frame at a time
    assert all(b - a == 40 for a, b in zip(codes, codes[1:])), sorted(set(b - a for a, b in zip(codes, codes[1:])))
    # a 20 s request gives 20 s plus the lead-in, never more
    covered = (codes[-1] - codes[0]) / 1000 + FRAME
    assert covered == pytest.approx(20 + lead["seconds"], abs=2 * FRAME)
    # the manifest's first/last times are the pictures' capture times shifted by one constant
    # (capture to arrival at vms: encoder and network), equal at both ends within one frame
    offset_first = first.timestamp() * 1000 - codes[0]
    offset_last = last.timestamp() * 1000 - codes[-1]
    assert abs(offset_first - offset_last) <= FRAME * 1000, (offset_first, offset_last)
    assert 0 <= offset_first < 2000
    print(f"export window: requested 20 s, pictures cover {covered:.2f} s (lead-in {lead['seconds']:.2f} s), "
          f"last picture {(end - last).total_seconds() * 1000:.0f} ms before the end; manifest minus picture time: "
          f"first {offset_first:.0f} ms, last {offset_last:.0f} ms, drift {offset_last - offset_first:.0f} ms")


def test_overlapping_index_rows_never_put_a_picture_twice_into_an_export(tmp_path):
    """Two recordings of the same camera overlap by 3.5 s (a stall then a burst, a re-anchored clock).

    The index now refuses such rows where they are written, but a database from before that
    (or another writer) may hold them: export must still never put a picture in twice."""
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other.create_schema()
    recordings = tmp_path / "recordings"
    t0 = float(int(time.time()) - 600)
    record(db, recordings, "cam", t0, seconds=6, segment_seconds=3, session=1)
    record(other, recordings, "cam", t0 + 2.5, seconds=6, segment_seconds=3, session=2)
    with other.session() as source, db.session() as target:  # rows copied past the index's checks
        for row in source.scalars(select(Segment)):
            source.expunge(row)
            make_transient(row)
            row.id = None
            target.add(row)
    other.dispose()
    at = lambda s: datetime.fromtimestamp(t0 + s, timezone.utc)  # noqa: E731
    manifest, mp4 = export(db, SegmentFiles(recordings), tmp_path / "exports", "cam", at(1.5), at(8.5))
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        times = sorted(float(f.pts * stream.time_base) for f in container.decode(stream))
    steps = [b - a for a, b in zip(times, times[1:])]
    assert min(steps) >= FRAME * 0.9, "a picture appears twice or time went back"
    # never more than the requested 7 s plus the lead-in (1.5 s into a 1 s GOP: 0.5 s)
    assert times[-1] - times[0] <= 7 + 0.5 + FRAME
    # rows sorted by start: 0-3, 2.5-5.5 (overlaps the first by 0.5 s), 3-6 (covered by the two
    # before it but for its last half second: the whole 3 s row is left out, and reported)
    overlaps = [(d["kind"], d["seconds"]) for d in manifest["discontinuities"]]
    assert [kind for kind, _ in overlaps] == ["overlap", "overlap"]
    assert overlaps[0][1] == pytest.approx(0.46, abs=0.05) and overlaps[1][1] == pytest.approx(3.0, abs=0.05)
    # resuming at the next keyframe costs at most one GOP (1 s), and says so as a gap
    assert all(g["seconds"] <= 1.0 for g in manifest["gaps"])
    assert iso(manifest["contained"]["last_frame"]) < at(8.5)
    # playback follows the same rules
    plan = plan_range(db, SegmentFiles(recordings), "cam", at(1.5), at(8.5))
    played = tmp_path / "played.mp4"
    played.write_bytes(b"".join(stream_mp4(plan, SegmentFiles(recordings))))
    with av.open(str(played)) as container:
        stream = container.streams.video[0]
        played_times = sorted(float(f.pts * stream.time_base) for f in container.decode(stream))
    assert played_times == times
    db.dispose()


def test_a_b_frame_export_ends_before_the_end_and_every_picture_decodes(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    recordings = tmp_path / "recordings"
    t0 = float(int(time.time()) - 600)
    record(db, recordings, "cam", t0, seconds=6, segment_seconds=3, bframes=2)
    at = lambda s: datetime.fromtimestamp(t0 + s, timezone.utc)  # noqa: E731
    manifest, mp4 = export(db, SegmentFiles(recordings), tmp_path / "exports", "cam", at(1.23), at(4.57))
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"err_detect": "explode"}
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    assert len(times) == manifest["contained"]["frames"]
    media_start = iso(manifest["contained"]["media_start"])
    last = media_start + timedelta(seconds=max(times))
    assert at(4.57) - timedelta(seconds=4 * FRAME) <= last < at(4.57)
    assert iso(manifest["contained"]["last_frame"]) == pytest.approx(last, abs=timedelta(milliseconds=1))
    db.dispose()


def sample_entry(path: Path) -> bytes:
    """The four-character type of the first video sample entry (moov/trak/mdia/minf/stbl/stsd)."""
    data = path.read_bytes()

    def children(start: int, end: int):
        while start + 8 <= end:
            size, kind = int.from_bytes(data[start : start + 4], "big"), data[start + 4 : start + 8]
            if size < 8:
                return
            yield kind, start + 8, start + size
            start += size

    def find(start: int, end: int, path: list[bytes]):
        for kind, body, stop in children(start, end):
            if kind == path[0]:
                return (body, stop) if len(path) == 1 else find(body, stop, path[1:])
        raise AssertionError(f"no {path[0]!r} box in {path}")

    body, _ = find(0, len(data), [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    return data[body + 8 + 4 : body + 8 + 8]  # version/flags, entry count, then the first entry's size and type


@pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")
def test_h265_is_recorded_and_exported_as_hvc1(tmp_path):
    camera = SimulatedCamera(id="hevc-01", codec="h265", width=320, height=180, fps=FPS, gop=FPS, bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = make_settings(tmp_path, [camera_entry(sim, camera.id, segment_seconds=2)])
        with running_worker(settings) as (worker, statuses):
            statuses.wait_state(camera.id, "online", timeout=20)
            deadline = time.monotonic() + 60
            while len([s for s in worker.index.of_camera(camera.id) if s.end is not None]) < 2:
                assert time.monotonic() < deadline, "no closed H.265 segment"
                time.sleep(0.2)
            segments = [s for s in worker.index.of_camera(camera.id) if s.end is not None]
            db = Database(settings.effective_database_url)
            manifest, mp4 = export(db, SegmentFiles.of(settings), tmp_path / "exports", camera.id,
                                   segments[0].start, segments[1].end)
            db.dispose()
        assert sample_entry(settings.recordings_dir / segments[0].path) == b"hvc1"
        assert sample_entry(mp4) == b"hvc1"
        # still a valid file: every picture decodes and shows its timecode
        shown = pictures(mp4)
        assert len(shown) == manifest["contained"]["frames"] and all(ms is not None for _, ms in shown)


def test_retagging_waits_for_a_whole_moov_and_leaves_h264_alone(tmp_path):
    from vms.recordings.hvc1 import retag_hvc1

    partial = tmp_path / "partial.mp4"
    partial.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00\x00\x10\x00moov")
    assert retag_hvc1(partial) is None  # the moov is not all there yet
    db = Database(f"sqlite:///{tmp_path / 'vms.db'}")
    db.create_schema()
    record(db, tmp_path / "rec", "cam", float(int(time.time()) - 600), seconds=2, segment_seconds=3)
    (segment,) = [s for s in SegmentIndex(db).of_camera("cam")]
    path = tmp_path / "rec" / segment.path
    before = path.read_bytes()
    assert retag_hvc1(path) is False and path.read_bytes() == before and sample_entry(path) == b"avc1"
    db.dispose()
