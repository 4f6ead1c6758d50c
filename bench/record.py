"""Benchmark: this recorder (one process, PyAV remux) vs one `ffmpeg -c copy` process per camera.

Both record the same simulated cameras, one after the other in one run, for the same time.
Cameras share a few encoded RTSP mounts (2 cores cannot encode 120 live streams), but each
camera is its own RTSP session, exactly as with real cameras.

    python -m bench.record --cameras 8,32,120 --seconds 60
    python -m bench.record --cameras 4,16,60,120 --streams-per-camera 2 --profile /tmp/flames

vms runs once per ``--rtsp-clients`` value (default both: FFmpeg's RTSP demuxer and the built-in
client of streams/rtsp), then ffmpeg, all on the same simulated cameras.

With ``--streams-per-camera 2`` every camera also has a sub-stream (640x360, ~500 kb/s) that is
pulled and fanned out but not recorded, as detection and live use it; ffmpeg then runs a second
``-c copy`` process per camera into the null muxer. ``--profile DIR`` samples the vms worker with
py-spy over the measured seconds and writes ``DIR/flame-<cameras>.svg`` (``--native``: with C frames).

Prints, per camera count: streams, CPU % of one core per camera and per stream, RSS per camera,
frames lost (main streams; net over time spans, and those in holes inside files), and the ratio
vms / ffmpeg for each.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av
import yaml

from bench.mounts import add_stream_arguments, shared_mounts, sub_stream_mounts
from bench.procstat import usage
from streams.simulator import CameraSimulator


@dataclass
class Result:
    name: str
    cameras: int
    streams: int
    cpu_percent_per_camera: float
    rss_mb_per_camera: float
    frames_expected: int
    frames_recorded: int
    threads: int  # of the vms process, or the ffmpeg processes together
    frames_in_holes: int = 0  # missing inside files where frames are over 1.5 intervals apart

    @property
    def holes_percent(self) -> float:
        return 100 * self.frames_in_holes / max(1, self.frames_expected)

    @property
    def lost_percent(self) -> float:
        # Files are measured by their timestamps; rounding at file edges can read as a hair below 0.
        return max(0.0, 100 * (1 - self.frames_recorded / max(1, self.frames_expected)))


def count_frames(folder: Path, fps: int) -> tuple[int, int, int]:
    """(frames recorded, frames the recorded time spans should hold, frames missing in holes)
    over every file.

    A lost packet or a hole inside a recording shows as fewer frames than its span holds;
    the time before a recorder first connects is not counted as loss. The span figure is net:
    a file whose frames the time model placed a hair closer than 1/fps (slewing) holds more
    than its span and offsets another's loss. Holes are counted alone: where two frames are
    over 1.5 frame intervals apart, the frames that fit between them (decision 136).
    """
    frames = expected = holes = 0
    for path in folder.rglob("*.mp4"):
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                # Read while the file is open: a closed container's stream reads freed memory
                # (a time base of garbage made spans, and so the loss figure, wrong; decision 136).
                time_base = float(stream.time_base)
                pts = [p.pts for p in container.demux(stream) if p.size and p.pts is not None]
        except av.error.FFmpegError:
            continue
        if pts:
            frames += len(pts)
            expected += round((max(pts) - min(pts)) * time_base * fps) + 1
            ordered = sorted(pts)
            for gap in ((b - a) * time_base * fps for a, b in zip(ordered, ordered[1:])):
                if gap > 1.5:
                    holes += round(gap) - 1
    return frames, expected, holes


def wait_recording(folder: Path, cameras: int, timeout: float = 300.0) -> None:
    """Wait until every camera has a file in ``folder`` (a loaded machine starts 240 streams slowly)."""
    deadline = time.monotonic() + timeout
    while sum(1 for d in folder.glob("*") if any(d.rglob("*.mp4"))) < cameras:
        if time.monotonic() > deadline:
            sys.exit(f"only some of {cameras} cameras recorded into {folder} within {timeout:g} s")
        time.sleep(0.5)


def measure(pids: list[int], warmup: float, seconds: float) -> tuple[float, int]:
    """CPU seconds used over ``seconds`` after ``warmup``, and the RSS at the end."""
    time.sleep(warmup)
    before = usage(pids)
    time.sleep(seconds)
    after = usage(pids)
    return after.cpu_seconds - before.cpu_seconds, after.rss_bytes


def run_vms(urls: list[str], subs: list[str], seconds: float, fps: int, workdir: Path, profile: Path | None,
            native: bool = False, rtsp_client: str = "ffmpeg") -> Result:
    data = workdir / "vms"
    config = workdir / "vms.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "storage": {"min_free": 0},
                "ingest": {"rtsp_client": rtsp_client},
                "cameras": [
                    {"id": f"cam-{i:03d}", "name": f"cam {i}", "group": "rented", "main_url": url,
                     **({"sub_url": subs[i]} if subs else {}), "recording": {"segment_seconds": 60}}
                    for i, url in enumerate(urls)
                ],
            }
        )
    )
    empty = workdir / "empty.yaml"
    empty.write_text(yaml.safe_dump({"data_dir": str(workdir / "empty"), "storage": {"min_free": 0}}))
    # The same process with no cameras: its RSS is the fixed cost, not a per-camera one.
    # `vms worker` plus a consumer of each sub-stream (bench/record_worker.py).
    idle = subprocess.Popen([sys.executable, "-m", "bench.record_worker", str(empty)], stdout=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "bench.record_worker", str(config)], stdout=subprocess.DEVNULL)
    try:
        wait_recording(data / "recordings", len(urls))
        warmup = 5.0
        spy = _profiler(worker.pid, warmup, seconds, profile / f"flame-{len(urls)}.svg", native) if profile else None
        cpu, rss = measure([worker.pid], warmup, seconds)
        threads = _threads([worker.pid])
        if spy is not None:
            spy.wait(seconds + 60)
        idle_rss = usage([idle.pid]).rss_bytes
    finally:
        for process in (worker, idle):
            process.terminate()
        for process in (worker, idle):
            process.wait(30)
    recorded, expected, holes = count_frames(data / "recordings", fps)
    name = "vms, built-in RTSP" if rtsp_client == "builtin" else "vms, FFmpeg RTSP"
    return Result(name, len(urls), len(urls) + len(subs), 100 * cpu / seconds / len(urls), (rss - idle_rss) / len(urls) / 1e6, expected, recorded,
                  threads, holes)


def _threads(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                total += int(line.split()[1])
    return total


def _profiler(pid: int, delay: float, seconds: float, out: Path, native: bool) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` once ``delay`` has passed.

    Without ``native`` py-spy reads the worker's memory without pausing it, so the run's figures
    hold. Native frames need a pause per sample, and 64 paused ingest threads then see their
    packets arrive in bursts: the timeline reports (and logs) bursts the unprofiled run never has.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", *(["--native"] if native else ["--nonblocking"]), "--rate", "50",
               "--duration", str(int(seconds)), "-o", str(out), "--pid", str(pid)]
    return subprocess.Popen(["sh", "-c", f'sleep {delay} && exec "$@"', "sh", *command], stdout=subprocess.DEVNULL)


def run_ffmpeg(urls: list[str], subs: list[str], seconds: float, fps: int, workdir: Path, profile: Path | None,
               native: bool = False) -> Result:
    processes = []
    for url in subs:
        # The sub-stream is pulled and dropped: what detection's and live's share of ingest costs.
        processes.append(
            subprocess.Popen(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "null", "-"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
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
        wait_recording(workdir / "ffmpeg", len(urls))
        warmup = 5.0
        cpu, rss = measure([p.pid for p in processes], warmup, seconds)
        threads = _threads([p.pid for p in processes])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    recorded, expected, holes = count_frames(workdir / "ffmpeg", fps)
    return Result("ffmpeg -c copy per stream", len(urls), len(urls) + len(subs), 100 * cpu / seconds / len(urls), rss / len(urls) / 1e6, expected, recorded, threads, holes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="8,32,120", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--streams-per-camera", type=int, choices=(1, 2), default=1,
                        help="2: each camera also has a sub-stream, pulled but not recorded")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write a py-spy flame graph of each vms run into DIR")
    parser.add_argument("--native", action="store_true", help="with --profile: native frames too (pauses the worker)")
    parser.add_argument("--rtsp-clients", default="ffmpeg,builtin",
                        help="vms runs, one per ingest.rtsp_client value (ffmpeg: PyAV's demuxer; builtin: streams/rtsp)")
    add_stream_arguments(parser)
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed for the comparison (apt-get install ffmpeg)")
    if args.profile and shutil.which("py-spy") is None:
        sys.exit("--profile needs py-spy (pip install py-spy)")

    mounts = shared_mounts(args)
    sub_mounts = sub_stream_mounts(args) if args.streams_per_camera == 2 else []
    results: list[Result] = []
    with CameraSimulator(mounts + sub_mounts).start() as sim:
        for count in [int(c) for c in args.cameras.split(",")]:
            urls = [sim.url(mounts[i % len(mounts)].id) for i in range(count)]
            subs = [sim.url(sub_mounts[i % len(sub_mounts)].id) for i in range(count)] if sub_mounts else []
            runs: list[Callable[[Path], Result]] = [
                functools.partial(run_vms, urls, subs, args.seconds, args.fps, profile=args.profile, native=args.native,
                                  rtsp_client=client)
                for client in args.rtsp_clients.split(",")
            ]
            runs.append(functools.partial(run_ffmpeg, urls, subs, args.seconds, args.fps, profile=None))
            for run in runs:
                load = os.getloadavg()[0]
                with tempfile.TemporaryDirectory(prefix="vms-bench-") as workdir:
                    result = run(Path(workdir))
                results.append(result)
                print(f"  (load average {load:.2f} before the run)", flush=True)
                print(f"  {result.name:28s} {count:4d} cameras ({result.streams} streams): "
                      f"{result.cpu_percent_per_camera:6.2f} % CPU/camera, "
                      f"{result.rss_mb_per_camera:6.1f} MB RSS/camera, {result.lost_percent:5.2f} % frames lost "
                      f"({result.frames_in_holes} in holes)", flush=True)

    print(f"\nmain {args.width}x{args.height}@{args.fps}, ~{args.bitrate} kb/s"
          + (", sub 640x360, ~500 kb/s" if sub_mounts else "") + f"; {args.seconds:g} s measured per run\n")
    print("| cameras | streams | recorder | CPU % of a core per camera | per stream | total CPU % | RSS MB per camera | frames lost | in holes | threads |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.cameras} | {r.streams} | {r.name} | {r.cpu_percent_per_camera:.2f} | "
              f"{r.cpu_percent_per_camera * r.cameras / r.streams:.2f} | {r.cpu_percent_per_camera * r.cameras:.1f} | "
              f"{r.rss_mb_per_camera:.1f} | {r.lost_percent:.2f} % | {r.frames_in_holes} ({r.holes_percent:.2f} %) | {r.threads} |")
    print(f"\nratios (vms / ffmpeg; the goal is CPU <= 0.5); load average now {os.getloadavg()[0]:.2f}:")
    for ff in [r for r in results if r.name.startswith("ffmpeg")]:
        for vms_result in [r for r in results if r.cameras == ff.cameras and r.name.startswith("vms")]:
            print(f"  {vms_result.cameras:4d} cameras, {vms_result.name}: CPU x{vms_result.cpu_percent_per_camera / max(ff.cpu_percent_per_camera, 1e-9):.2f}, "
                  f"RSS x{vms_result.rss_mb_per_camera / max(ff.rss_mb_per_camera, 1e-9):.2f}")


if __name__ == "__main__":
    main()
