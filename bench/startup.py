"""Start-up at scale: N cameras (default 120) start at once in one ``vms worker``.

The cameras pull a few shared encoded mounts of the simulator (2 cores cannot encode 120 live
streams), as bench/soak.py does. The worker runs in scale-out mode with a private redis-server
(its stream statuses travel over Redis, where this bench listens) and PostgreSQL when it answers
(SQLite otherwise). From the moment the process is started it prints:

* when the first and the last camera reported ``online``, and percentiles in between;
* every ``offline`` / ``error`` state reported before or after a camera was online (a false
  ``offline`` is what the issue saw: "no answer within 10 s" while 120 sessions opened at once);
* when every camera had a closed segment, and how many index-writer complaints the log holds.

    nice -n 10 python -m bench.startup --cameras 120 --seconds 60

Not a test: it prints figures (README "Recording never stops" quotes a run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bench.mounts import add_stream_arguments, shared_mounts
from streams.simulator import CameraSimulator
from tests.support.cluster import RedisServer, postgres_admin_url, throwaway_database, wait_for
from vms.bus.redis import RedisBus
from vms.cameras.status import STATUS_TOPIC
from vms.db import Database, Segment

PREFIX = "startup:"


class States:
    """Every main-stream state change each camera reported, with its arrival time."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, str, str | None]]] = {}
        self._lock = threading.Lock()

    def __call__(self, topic: str, message: dict) -> None:
        if message.get("stream") != "main":
            return
        with self._lock:
            changes = self.seen.setdefault(message["camera_id"], [])
            if not changes or changes[-1][1] != message["state"]:
                changes.append((time.time(), message["state"], message.get("error")))

    def online_at(self) -> dict[str, float]:
        with self._lock:
            return {c: next(t for t, s, _ in ch if s == "online") for c, ch in self.seen.items() if any(s == "online" for _, s, _ in ch)}

    def failures(self) -> list[tuple[str, float, str, str | None]]:
        with self._lock:
            return [(c, t, s, e) for c, ch in self.seen.items() for t, s, e in ch if s in ("offline", "error")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=60, help="watched after the last camera came online")
    parser.add_argument("--concurrent-opens", type=int, help="ingest.concurrent_opens (default: the configuration's)")
    add_stream_arguments(parser, width=640, height=360, bitrate=800)
    parser.set_defaults(mounts=3)
    args = parser.parse_args()

    admin = postgres_admin_url()
    with tempfile.TemporaryDirectory(prefix="vms-startup-") as tmp, CameraSimulator(shared_mounts(args)).start() as sim:
        workdir = Path(tmp)
        server = RedisServer(workdir / "redis", durable=False).start()
        database = throwaway_database(admin) if admin else None
        database_url = database.__enter__() if database else f"sqlite:///{workdir / 'vms.db'}"
        ingest = {"concurrent_opens": args.concurrent_opens} if args.concurrent_opens else {}
        config = workdir / "vms.yaml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(workdir / "data"), "database_url": database_url, "redis_url": server.url,
            "cluster": {"key_prefix": PREFIX}, "storage": {"min_free": 0}, "ingest": ingest,
            "cameras": [{"id": f"cam-{i:03d}", "name": f"cam {i}", "group": "rented",
                         "main_url": sim.url(f"mount-{i % args.mounts}"), "recording": {"segment_seconds": 10}}
                        for i in range(args.cameras)],
        }))
        bus = RedisBus(server.url, PREFIX)
        states = States()
        bus.add_listener(STATUS_TOPIC, states)
        log = workdir / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
        load = [os.getloadavg()[0]]
        started = time.time()
        worker = subprocess.Popen([sys.executable, "-m", "vmsapp.cli", "worker", "-c", str(config), "--worker-id", "w0"],
                                  stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)
        db = Database(database_url)
        try:
            wait_for(lambda: len(states.online_at()) == args.cameras, 600, "not every camera came online", interval=0.5)
            all_online = time.time()

            def recorded() -> int:
                try:
                    with db.session() as session:
                        return int(session.scalar(select(func.count(func.distinct(Segment.camera_id))).where(Segment.end.is_not(None))) or 0)
                except Exception:
                    return 0

            wait_for(lambda: recorded() == args.cameras, 600, "not every camera recorded a segment", interval=0.5)
            all_recorded = time.time()
            time.sleep(args.seconds)
            load.append(os.getloadavg()[0])
        finally:
            worker.terminate()
            worker.wait(60)
            bus.close()
            db.dispose()
            server.kill()
            if database:
                database.__exit__(None, None, None)
        text = log.read_text(errors="replace")

    online = sorted(t - started for t in states.online_at().values())
    failures = states.failures()
    print(f"startup: {args.cameras} cameras in one worker, {args.width}x{args.height}@{args.fps} {args.bitrate} kb/s "
          f"on {args.mounts} shared mounts, {'PostgreSQL' if admin else 'SQLite'}, concurrent opens "
          f"{args.concurrent_opens or 'default'}; load average (1 min) {load[0]:.2f} → {load[-1]:.2f} (2 cores, shared)")
    print(f"  online after process start: first {online[0]:.1f} s, median {statistics.median(online):.1f} s, "
          f"90 % {online[int(0.9 * (len(online) - 1))]:.1f} s, all {all_online - started:.1f} s")
    print(f"  every camera had a closed segment {all_recorded - started:.1f} s after start")
    print(f"  offline/error states reported: {len(failures)} ({len({c for c, *_ in failures})} cameras)")
    for camera_id, at, state, error in sorted(failures, key=lambda f: f[1])[:10]:
        print(f"    {camera_id} {state} at {at - started:.1f} s: {error}")
    print(f"  worker log: {text.count('QueuePool')} QueuePool complaints, {text.count('buffering segment index')} "
          f"index-buffering lines, {text.count('Traceback')} tracebacks")


if __name__ == "__main__":
    main()
