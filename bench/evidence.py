"""Benchmark: case export (remux of every clip, hashing, signing, zip) vs `ffmpeg -c copy` per clip.

N cameras x M minutes are synthesized first (``streams.simulator.recording``: a few GOPs encoded
once, repeated, recorded by the real recorder into 60 s segments), then one case holding one clip
per camera is exported as a signed package, and the same clips are cut with one
`ffmpeg -f concat -c copy` process each (the obvious alternative, which neither hashes, signs,
locks nor describes anything). Finally `vms verify` of the package is timed.

    python -m bench.evidence --cameras 4 --minutes 10 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from streams.simulator.recording import synthesize_recording
from vms.config import Settings
from vms.db import Database, Segment
from vms.evidence.case_export import request_case_export, run_case_export
from vms.evidence.cases import add_clip, create_case
from vms.evidence.keys import load_or_create
from vms.evidence.package import verify_package
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles


class _Investigator:
    username, role = "bench", "investigator"


def _ffmpeg_copy(db: Database, recordings: Path, camera_id: str, start: datetime, end: datetime, out: Path) -> None:
    with db.session() as session:
        paths = list(session.scalars(select(Segment.path).where(Segment.camera_id == camera_id,
                                                                 Segment.start < end, Segment.end > start)
                                     .order_by(Segment.start)))
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{recordings / p}'\n" for p in paths))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    "-movflags", "+faststart", str(out)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="vms-bench-evidence-") as scratch:
        root = Path(scratch)
        settings = Settings(data_dir=root, storage={"min_free": 0})
        db = Database(settings.effective_database_url)
        db.create_schema()
        start_wall = time.time() - seconds - 3600
        began = time.perf_counter()
        size = 0
        for number in range(args.cameras):
            size += synthesize_recording(SegmentIndex(db), settings.recordings_dir, f"cam-{number}", start_wall, seconds + 2,
                                         width=args.width, height=args.height)
        print(f"synthesized {args.cameras} x {args.minutes:g} min at {args.width}x{args.height} "
              f"({size * 8 / (seconds * args.cameras) / 1e6:.2f} Mbit/s each) in {time.perf_counter() - began:.1f} s")
        start = datetime.fromtimestamp(start_wall + 1, timezone.utc)
        end = start + timedelta(seconds=seconds)
        actor = _Investigator()
        case = create_case(db, actor, "BENCH-1", "benchmark")
        for number in range(args.cameras):
            add_clip(db, actor, case.id, f"cam-{number}", start, end)
        key = load_or_create(root / "key.pem")
        row = request_case_export(db, root / "cases", case.id, actor.username)
        began = time.perf_counter()
        result = run_case_export(db, SegmentFiles.of(settings), row.id, key, "investigator")
        ours = time.perf_counter() - began
        assert result.state == "done", result.error
        began = time.perf_counter()
        verified = verify_package(Path(result.folder), key.public)
        check = time.perf_counter() - began
        assert verified.ok
        if shutil.which("ffmpeg"):
            began = time.perf_counter()
            for number in range(args.cameras):
                _ffmpeg_copy(db, settings.recordings_dir, f"cam-{number}", start, end, root / f"ffmpeg-{number}.mp4")
            theirs = time.perf_counter() - began
        else:
            theirs = float("nan")
        print(f"{'case export (remux, SHA-256, lock, sign)':52s} {ours:7.2f} s")
        print(f"{'ffmpeg -f concat -c copy, one process per clip':52s} {theirs:7.2f} s   ratio ffmpeg/vms {theirs / ours:.2f}")
        print(f"{'vms verify of the package (hash every file, signature)':52s} {check:7.2f} s")


if __name__ == "__main__":
    main()
