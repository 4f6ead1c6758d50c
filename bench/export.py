"""Benchmark: how exactly an evidence export holds the requested window, read from the pictures.

A simulated camera stamps every frame with its capture time (``streams.simulator.timecode``);
vms records it through the real ingest and recorder; then random windows are exported two
ways, side by side:

* **vms**: ``run_export`` (cut at the keyframe before the start and exactly at the end);
* **whole segments**: the obvious alternative, every recorded segment file that overlaps the
  window concatenated unchanged (``ffmpeg -f concat -c copy``), as a simple NVR exports.

    python -m bench.export --seconds 70 --windows 8 --window 20 --segment 10

For each, the first and last pictures' capture times are mapped onto the index's clock (by the
camera's capture-to-arrival delay, measured at each segment's first picture) and compared with
the requested start and end. Prints the lead before the start, the overrun past the end, the
content duration per requested second, and the time each export took.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import av

from streams.simulator import CameraSimulator, SimulatedCamera
from streams.simulator.timecode import read_timecode
from vmsapp.worker import StreamWorker
from vms.bus.memory import MemoryBus
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.db import Database
from vms.evidence.keys import load_or_create
from vms.recordings.export import request_export, run_export
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles


def shown_times(path: Path) -> list[int]:
    """Capture times (ms) shown by the pictures of ``path``, in presentation order."""
    with av.open(str(path)) as container:
        codes = [read_timecode(frame) for frame in container.decode(video=0)]
    return [code for code in codes if code is not None]


def record(args, folder: Path) -> tuple[Settings, Database]:
    camera = SimulatedCamera(id="cam", scene="road", width=320, height=180, fps=args.fps, gop=args.gop * args.fps,
                             bitrate_kbps=300)
    with CameraSimulator([camera]).start() as sim:
        settings = Settings(data_dir=folder, storage={"min_free": 0}, cameras=[{
            "id": "cam", "name": "Cam", "group": "tunnel", "main_url": sim.url("cam"),
            "recording": {"segment_seconds": args.segment}}])
        db = Database(settings.effective_database_url)
        db.create_schema()
        CameraRegistry(db).sync_from_config(settings.groups, settings.cameras)
        worker = StreamWorker(settings, db, MemoryBus()).start()
        try:
            time.sleep(args.seconds)
        finally:
            worker.stop()
    return settings, db


def arrival_delay_ms(settings: Settings, db: Database) -> float:
    """Median of (index start - capture time shown) over segments: capture to arrival at vms."""
    delays = []
    files = SegmentFiles.of(settings)
    for segment in SegmentIndex(db).of_camera("cam"):
        with av.open(str(files.path(segment))) as container:
            first = next(container.decode(video=0), None)
        code = read_timecode(first) if first is not None else None
        if code is not None:
            delays.append(segment.start.timestamp() * 1000 - code)
    return statistics.median(delays)


def whole_segments(settings: Settings, db: Database, start: datetime, end: datetime, out: Path) -> Path:
    files = SegmentFiles.of(settings)
    listing = out / "list.txt"
    paths = [files.path(s) for s in SegmentIndex(db).covering("cam", start, end)]
    listing.write_text("".join(f"file '{p}'\n" for p in paths))
    target = out / "whole.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(target)], check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=70, help="how long to record")
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--window", type=float, default=20, help="seconds per export")
    parser.add_argument("--segment", type=float, default=10, help="segment_seconds of the recording")
    parser.add_argument("--gop", type=int, default=2, help="keyframe interval in seconds")
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    frame_ms = 1000 / args.fps
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        settings, db = record(args, folder)
        delay = arrival_delay_ms(settings, db)
        segments = SegmentIndex(db).of_camera("cam")
        first, last = segments[0].start, max(s.end for s in segments if s.end)
        rng = random.Random(9)
        rows = {"vms": [], "whole segments": []}
        for number in range(args.windows):
            offset = rng.uniform(1, (last - first).total_seconds() - args.window - 1)
            start = first + timedelta(seconds=offset)
            end = start + timedelta(seconds=args.window)
            started = time.perf_counter()
            row = request_export(db, folder / "exports", "cam", start, end, "bench")
            done = run_export(db, SegmentFiles.of(settings), row.id, load_or_create(Path(settings.data_dir) / "keys" / "evidence.key"))
            vms_seconds = time.perf_counter() - started
            out = folder / f"whole-{number}"
            out.mkdir()
            started = time.perf_counter()
            whole = whole_segments(settings, db, start, end, out)
            whole_seconds = time.perf_counter() - started
            for name, path, took in (("vms", Path(done.folder) / done.file_name, vms_seconds),
                                     ("whole segments", whole, whole_seconds)):
                codes = shown_times(path)
                shown_start = codes[0] + delay
                shown_end = codes[-1] + delay + frame_ms
                rows[name].append((start.timestamp() * 1000 - shown_start, shown_end - end.timestamp() * 1000,
                                   (shown_end - shown_start) / 1000 / args.window, took))
        print(f"{args.windows} windows of {args.window:g} s, GOP {args.gop} s, segments {args.segment:g} s; "
              f"capture-to-arrival delay {delay:.0f} ms (measured, subtracted)")
        print("| export | lead before start, ms (mean / max) | last picture ends past the end, ms (mean / max) | "
              "content per requested second | export time, s |")
        print("|---|---:|---:|---:|---:|")
        for name, values in rows.items():
            leads, overruns, ratio, took = zip(*values)
            print(f"| {name} | {statistics.mean(leads):.0f} / {max(leads):.0f} | "
                  f"{statistics.mean(overruns):.0f} / {max(overruns):.0f} | {statistics.mean(ratio):.2f} | "
                  f"{statistics.mean(took):.2f} |")
        db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
