"""Benchmark: this recorder (one process, PyAV remux) vs one `ffmpeg -c copy` process per camera.

Both record the same simulated cameras, one after the other in one run, for the same time.
Cameras share a few encoded RTSP mounts (2 cores cannot encode 120 live streams), but each
camera is its own RTSP session, exactly as with real cameras.

    python -m bench.record --cameras 8,32,120 --seconds 60

Prints, per camera count: CPU % of one core per camera, RSS per camera, frames lost, and the
ratio ffmpeg / vms for each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import yaml

from bench.mounts import add_stream_arguments, shared_mounts
from bench.procstat import usage
from streams.simulator import CameraSimulator


@dataclass
class Result:
    name: str
    cameras: int
    cpu_percent_per_camera: float
    rss_mb_per_camera: float
    frames_expected: int
    frames_recorded: int

    @property
    def lost_percent(self) -> float:
        # Files are measured by their timestamps; rounding at file edges can read as a hair below 0.
        return max(0.0, 100 * (1 - self.frames_recorded / max(1, self.frames_expected)))


def count_frames(folder: Path, fps: int) -> tuple[int, int]:
    """(frames recorded, frames the recorded time spans should hold) over every file.

    A lost packet or a hole inside a recording shows as fewer frames than its span holds;
    the time before a recorder first connects is not counted as loss.
    """
    frames = expected = 0
    for path in folder.rglob("*.mp4"):
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                pts = [p.pts for p in container.demux(stream) if p.size and p.pts is not None]
        except av.error.FFmpegError:
            continue
        if pts:
            frames += len(pts)
            expected += round(float((max(pts) - min(pts)) * stream.time_base) * fps) + 1
    return frames, expected


def measure(pids: list[int], warmup: float, seconds: float) -> tuple[float, int]:
    """CPU seconds used over ``seconds`` after ``warmup``, and the RSS at the end."""
    time.sleep(warmup)
    before = usage(pids)
    time.sleep(seconds)
    after = usage(pids)
    return after.cpu_seconds - before.cpu_seconds, after.rss_bytes


def run_vms(urls: list[str], seconds: float, fps: int, workdir: Path) -> Result:
    data = workdir / "vms"
    config = workdir / "vms.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "storage": {"min_free": 0},
                "cameras": [
                    {"id": f"cam-{i:03d}", "name": f"cam {i}", "group": "rented", "main_url": url, "recording": {"segment_seconds": 60}}
                    for i, url in enumerate(urls)
                ],
            }
        )
    )
    empty = workdir / "empty.yaml"
    empty.write_text(yaml.safe_dump({"data_dir": str(workdir / "empty"), "storage": {"min_free": 0}}))
    # The same process with no cameras: its RSS is the fixed cost, not a per-camera one.
    idle = subprocess.Popen([sys.executable, "-m", "vmsapp.cli", "worker", "-c", str(empty)], stdout=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "vmsapp.cli", "worker", "-c", str(config)], stdout=subprocess.DEVNULL)
    try:
        warmup = 8.0
        cpu, rss = measure([worker.pid], warmup, seconds)
        idle_rss = usage([idle.pid]).rss_bytes
    finally:
        for process in (worker, idle):
            process.terminate()
        for process in (worker, idle):
            process.wait(30)
    recorded, expected = count_frames(data / "recordings", fps)
    return Result("vms (one process)", len(urls), 100 * cpu / seconds / len(urls), (rss - idle_rss) / len(urls) / 1e6, expected, recorded)


def run_ffmpeg(urls: list[str], seconds: float, fps: int, workdir: Path) -> Result:
    processes = []
    for i, url in enumerate(urls):
        out = workdir / "ffmpeg" / f"cam-{i:03d}"
        out.mkdir(parents=True)
        processes.append(
            subprocess.Popen(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy",
                 "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1", str(out / "%05d.mp4")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        warmup = 8.0
        cpu, rss = measure([p.pid for p in processes], warmup, seconds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    recorded, expected = count_frames(workdir / "ffmpeg", fps)
    return Result("ffmpeg -c copy per camera", len(urls), 100 * cpu / seconds / len(urls), rss / len(urls) / 1e6, expected, recorded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="8,32,120", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=60)
    add_stream_arguments(parser)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed for the comparison (apt-get install ffmpeg)")

    mounts = shared_mounts(args)
    results: list[Result] = []
    with CameraSimulator(mounts).start() as sim:
        for count in [int(c) for c in args.cameras.split(",")]:
            urls = [sim.url(mounts[i % len(mounts)].id) for i in range(count)]
            for runner in (run_vms, run_ffmpeg):
                with tempfile.TemporaryDirectory(prefix="vms-bench-") as workdir:
                    result = runner(urls, args.seconds, args.fps, Path(workdir))
                results.append(result)
                print(f"  {result.name:28s} {count:4d} cameras: {result.cpu_percent_per_camera:6.2f} % CPU/camera, "
                      f"{result.rss_mb_per_camera:6.1f} MB RSS/camera, {result.lost_percent:5.2f} % frames lost", flush=True)

    print(f"\n{args.width}x{args.height}@{args.fps}, ~{args.bitrate} kb/s, {args.seconds:g} s measured per run\n")
    print("| cameras | recorder | CPU % of a core per camera | total CPU % | RSS MB per camera | frames lost |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.cameras} | {r.name} | {r.cpu_percent_per_camera:.2f} | {r.cpu_percent_per_camera * r.cameras:.1f} | "
              f"{r.rss_mb_per_camera:.1f} | {r.lost_percent:.2f} % |")
    print("\nratios (ffmpeg / vms):")
    for vms_result, ff in zip(results[::2], results[1::2]):
        print(f"  {vms_result.cameras:4d} cameras: CPU x{ff.cpu_percent_per_camera / max(vms_result.cpu_percent_per_camera, 1e-9):.2f}, "
              f"RSS x{ff.rss_mb_per_camera / max(vms_result.rss_mb_per_camera, 1e-9):.1f}")


if __name__ == "__main__":
    main()
