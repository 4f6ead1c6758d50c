"""Benchmark: cameras per worker process, and what coordinating workers through Redis costs.

For each camera count, one ``vms worker`` in scale-out mode (its own Redis on a random port,
PostgreSQL when it answers, SQLite otherwise) records N simulated cameras that share a few
encoded mounts (each camera is its own RTSP session, as with real cameras). Measured over
``--seconds`` after a warm-up:

* CPU % of one core and RSS per camera (RSS above an idle worker's), from /proc;
* bytes written per camera per second (the storage bandwidth);
* Redis commands per camera per minute, from ``INFO commandstats`` deltas on the private Redis
  (lease renewals, heartbeats, claims); the first run also measures them with 2 workers.

    python -m bench.scale --cameras 8,32 --seconds 60

Prints a table and the figures docs/scale.md sizes a 10 000-camera city from.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import yaml

from bench.mounts import add_stream_arguments, shared_mounts
from bench.procstat import usage
from streams.simulator import CameraSimulator
from tests.support.cluster import RedisServer, postgres_admin_url, throwaway_database


@dataclass
class Result:
    cameras: int
    workers: int
    cpu_percent_per_camera: float
    rss_mb_per_camera: float
    write_kbps_per_camera: float
    redis_ops_per_camera_minute: float
    redis_ops_by_command: dict[str, float]
    idle_rss_mb: float


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.mp4")) if folder.exists() else 0


def worker_config(path: Path, data: Path, urls: list[str], redis_url: str | None, database_url: str | None) -> Path:
    values: dict = {
        "data_dir": str(data),
        "storage": {"min_free": 0},
        "cameras": [
            {"id": f"cam-{i:03d}", "name": f"cam {i}", "group": "rented", "main_url": url, "recording": {"segment_seconds": 60}}
            for i, url in enumerate(urls)
        ],
    }
    if redis_url:
        values["redis_url"] = redis_url
    if database_url:
        values["database_url"] = database_url
    path.write_text(yaml.safe_dump(values))
    return path


def start(config: Path, worker_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "worker", "-c", str(config), "--worker-id", worker_id],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def run(urls: list[str], workers: int, seconds: float, workdir: Path, database_url: str | None) -> Result:
    server = RedisServer(workdir / "redis", durable=False).start()
    client = redis.Redis(port=server.port)
    empty = worker_config(workdir / "idle.yaml", workdir / "idle", [], None, None)
    idle = start(empty, "idle")  # same process, no cameras, no Redis: its RSS is the fixed cost
    processes = [
        start(worker_config(workdir / f"w{i}.yaml", workdir / f"w{i}", urls, server.url, database_url), f"w{i}")
        for i in range(workers)
    ]
    try:
        time.sleep(12)  # imports, leases, RTSP sessions, first keyframes
        before_cpu = usage([p.pid for p in processes])
        before_ops = commandstats(client)
        before_bytes = sum(folder_bytes(workdir / f"w{i}") for i in range(workers))
        time.sleep(seconds)
        after_cpu = usage([p.pid for p in processes])
        after_ops = commandstats(client)
        after_bytes = sum(folder_bytes(workdir / f"w{i}") for i in range(workers))
        idle_rss = usage([idle.pid]).rss_bytes
    finally:
        for process in processes + [idle]:
            process.terminate()
        for process in processes + [idle]:
            process.wait(30)
        client.close()
        server.stop()
    n = len(urls)
    minutes = seconds / 60
    ops = {k: (after_ops.get(k, 0) - before_ops.get(k, 0)) / n / minutes for k in after_ops}
    ops = {k: round(v, 1) for k, v in sorted(ops.items(), key=lambda kv: -kv[1]) if v > 0 and k != "info"}
    return Result(
        cameras=n,
        workers=workers,
        cpu_percent_per_camera=100 * (after_cpu.cpu_seconds - before_cpu.cpu_seconds) / seconds / n,
        rss_mb_per_camera=(after_cpu.rss_bytes - workers * idle_rss) / n / 1e6,
        write_kbps_per_camera=8 * (after_bytes - before_bytes) / seconds / n / 1000,
        redis_ops_per_camera_minute=sum(ops.values()),
        redis_ops_by_command=ops,
        idle_rss_mb=idle_rss / 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="8,32", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=60)
    add_stream_arguments(parser)
    args = parser.parse_args()

    mounts = shared_mounts(args)
    admin = postgres_admin_url()
    results: list[Result] = []
    with CameraSimulator(mounts).start() as sim:
        counts = [int(c) for c in args.cameras.split(",")]
        plan = [(counts[0], 2)] + [(c, 1) for c in counts]
        for count, workers in plan:
            urls = [sim.url(mounts[i % len(mounts)].id) for i in range(count)]
            with tempfile.TemporaryDirectory(prefix="vms-scale-") as workdir:
                if admin:
                    with throwaway_database(admin) as database_url:
                        result = run(urls, workers, args.seconds, Path(workdir), database_url)
                else:
                    result = run(urls, workers, args.seconds, Path(workdir), None)
            results.append(result)
            print(f"  {count:4d} cameras on {workers} worker(s): {result.cpu_percent_per_camera:5.2f} % CPU/camera, "
                  f"{result.rss_mb_per_camera:5.1f} MB/camera (idle worker {result.idle_rss_mb:.0f} MB), {result.write_kbps_per_camera:7.0f} kbit/s written/camera, "
                  f"{result.redis_ops_per_camera_minute:5.1f} Redis ops/camera/min {result.redis_ops_by_command}", flush=True)

    print(f"\n{args.width}x{args.height}@{args.fps}, ~{args.bitrate} kb/s, {args.seconds:g} s measured per run, "
          f"database: {'PostgreSQL' if admin else 'SQLite'}\n")
    print("| cameras | workers | CPU % of a core per camera | RSS MB per camera | written kbit/s per camera | Redis ops per camera per minute |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.cameras} | {r.workers} | {r.cpu_percent_per_camera:.2f} | {r.rss_mb_per_camera:.1f} | "
              f"{r.write_kbps_per_camera:.0f} | {r.redis_ops_per_camera_minute:.1f} |")


if __name__ == "__main__":
    main()
