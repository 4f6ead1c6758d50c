"""Benchmark: motion search over one hour of one camera, keyframes only vs decoding every frame.

The hour is synthesized (``streams.simulator.recording``: GOPs encoded once and repeated,
recorded by the real recorder) with two scripted movements in the searched region and one
elsewhere. The keyframe search runs over the whole hour; the obvious alternative, decoding every
frame and comparing consecutive ones, runs over the first ``--compare-minutes`` and is scaled to an
hour (said so in its line), because running it over the hour would take the machine for minutes.

    python -m bench.search --minutes 60 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import cv2
import numpy as np

from streams.search.keyframes import ANALYSIS_WIDTH, PIXEL_THRESHOLD, KeyframeMotion
from streams.simulator.recording import Movement, synthesize_recording
from vms.config import Settings
from vms.db import Database
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles
from vms.recordings.motion_search import MotionSearch, MotionSearches, Region

LANE = (0.1, 0.4, 0.3, 0.3)


def _every_frame(files: SegmentFiles, segments, region) -> int:
    """Decode every picture and compare each with the one before, in the region."""
    frames, previous = 0, None
    for segment in segments:
        with av.open(str(files.path(segment))) as container:
            for frame in container.decode(video=0):
                height = round(ANALYSIS_WIDTH * frame.height / frame.width)
                plane = frame.planes[0]
                luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
                grey = cv2.resize(luma, (ANALYSIS_WIDTH, height), interpolation=cv2.INTER_AREA)
                x, y, w, h = region
                area = grey[int(y * height): int((y + h) * height), int(x * ANALYSIS_WIDTH): int((x + w) * ANALYSIS_WIDTH)]
                if previous is not None:
                    np.count_nonzero(cv2.absdiff(area, previous) > PIXEL_THRESHOLD)
                previous = area
                frames += 1
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--compare-minutes", type=float, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    seconds = args.minutes * 60
    movements = (Movement(seconds * 0.25, seconds * 0.25 + 12, LANE), Movement(seconds * 0.7, seconds * 0.7 + 6, LANE),
                 Movement(seconds * 0.5, seconds * 0.5 + 20, (0.6, 0.05, 0.3, 0.3)))
    with tempfile.TemporaryDirectory(prefix="vms-bench-search-") as scratch:
        settings = Settings(data_dir=Path(scratch), storage={"min_free": 0})
        db = Database(settings.effective_database_url)
        db.create_schema()
        start_wall = float(int(time.time() - seconds - 600))
        began = time.perf_counter()
        synthesize_recording(SegmentIndex(db), settings.recordings_dir, "cam", start_wall, seconds, movements,
                             width=args.width, height=args.height)
        print(f"synthesized {args.minutes:g} min at {args.width}x{args.height} in {time.perf_counter() - began:.1f} s")
        start = datetime.fromtimestamp(start_wall, timezone.utc)
        files = SegmentFiles.of(settings)
        searches = MotionSearches(db, files, KeyframeMotion)
        began, cpu = time.perf_counter(), time.process_time()
        found = searches.run(MotionSearch("bench", "cam", Region(*LANE), start, start + timedelta(seconds=seconds),
                                          0.02, "bench"))
        ours, ours_cpu = time.perf_counter() - began, time.process_time() - cpu
        moments = [(round((m.start - start).total_seconds()), round((m.end - start).total_seconds())) for m in found.moments]
        expected = [(round(m.start), round(m.end)) for m in movements if m.region == LANE]
        # CPU seconds as well: on a shared machine the wall time says more about the neighbours.
        print(f"{'keyframes only, whole range':44s} {ours:7.2f} s (CPU {ours_cpu:.1f} s)  {found.keyframes} keyframes; moments {moments} "
              f"(scripted {expected})")
        part = SegmentIndex(db).covering("cam", start, start + timedelta(minutes=args.compare_minutes))
        began, cpu = time.perf_counter(), time.process_time()
        frames = _every_frame(files, part, LANE)
        scale = seconds / (len(part) * 60)
        theirs, theirs_cpu = (time.perf_counter() - began) * scale, (time.process_time() - cpu) * scale
        print(f"{'every frame decoded (scaled from a part)':44s} {theirs:7.2f} s (CPU {theirs_cpu:.1f} s)  ({frames} frames in "
              f"{len(part)} min, x{seconds / (len(part) * 60):.0f})   ratio every-frame/keyframes {theirs / ours:.1f}")


if __name__ == "__main__":
    main()
