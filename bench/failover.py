"""Failover timeline: where the seconds go after ``kill -9`` of a worker.

Two ``vms worker`` processes share a private redis-server, PostgreSQL (SQLite when it does not
answer) and the recordings folder; N simulated cameras pull a few shared mounts. Once the
cameras are spread, worker w0 is killed with SIGKILL; for each of its cameras the bench records,
in seconds after the kill:

* ``lease``  — the camera's lease no longer names w0 (Redis polled every 20 ms);
* ``taken``  — w1 holds the lease;
* ``status`` — w1 reports the stream online over the bus (heard here; the bus adds its latency);
* ``first``  — wall time of the first frame of w1's first segment (the index row's start);
* ``gap``    — ``first`` minus the end of w0's last segment, once a live worker repaired it.

w0 is started again and the cameras spread back before the next round (``--rounds``).

    nice -n 10 python -m bench.failover --cameras 8 --rounds 3

Not a test: it prints figures (docs/decisions.md quotes runs).
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
from contextlib import ExitStack
from pathlib import Path

import redis
import yaml
from sqlalchemy import select

from streams.simulator import CameraSimulator, SimulatedCamera
from tests.support.cluster import RedisServer, postgres_admin_url, throwaway_database, wait_for
from vms.bus.redis import RedisBus
from vms.cameras.status import STATUS_TOPIC
from vms.cluster.leases import LeaseStore
from vms.db import Database, Segment

PREFIX = "failover:"
PHASES = ("lease", "taken", "first", "gap", "status")


def worker(config: Path, name: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
    return subprocess.Popen([sys.executable, "-m", "vmsapp.cli", "worker", "-c", str(config), "--worker-id", name],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


class Watch:
    """Polls lease holders and listens to stream status, noting when each camera changed."""

    def __init__(self, store: LeaseStore, bus: RedisBus, cameras: list[str]) -> None:
        self.store, self.cameras = store, cameras
        self.holders: dict[str, str | None] = {}
        self.changes: list[tuple[float, str, str | None]] = []  # (wall time, camera, new holder)
        self.online: list[tuple[float, str, str]] = []  # (wall time, camera, worker)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        bus.add_listener(STATUS_TOPIC, self._status)

    def start(self) -> "Watch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _poll(self) -> None:
        while not self._stop.wait(0.02):
            try:
                now = {c: (h[1] if h else None) for c, h in self.store.holders(self.cameras).items()}
            except redis.RedisError:
                continue
            for camera, holder in now.items():
                if self.holders.get(camera, "?") != holder:
                    self.changes.append((time.time(), camera, holder))
            self.holders = now

    def _status(self, topic: str, message: dict) -> None:
        if message.get("state") == "online" and message.get("stream") == "main":
            self.online.append((time.time(), message["camera_id"], message.get("worker_id", "")))


def segments(db: Database) -> list[Segment]:
    with db.session() as session:
        return list(session.scalars(select(Segment)))


def one_round(db: Database, watch: Watch, processes: dict, config: Path, workdir: Path) -> dict[str, dict[str, float]]:
    owners = dict(watch.holders)
    moved = sorted(c for c, w in owners.items() if w == "w0")
    processes["w0"].kill()
    processes["w0"].wait(10)
    killed = time.time()

    def firsts() -> dict[str, Segment] | None:
        rows = [r for r in segments(db) if r.camera_id in moved and r.worker_id == "w1" and r.start.timestamp() > killed - 1]
        found: dict[str, Segment] = {}
        for row in sorted(rows, key=lambda r: r.start):
            found.setdefault(row.camera_id, row)
        return found if set(found) == set(moved) else None

    first = wait_for(firsts, 60, "the killed worker's cameras were not recorded again")

    def closed() -> list[Segment] | None:
        rows = [r for r in segments(db) if r.worker_id == "w0"]
        return rows if all(r.end for r in rows) else None

    repaired = wait_for(closed, 90, "w0's open segments were not repaired")
    timeline: dict[str, dict[str, float]] = {}
    for camera in moved:
        last_end = max(r.end.timestamp() for r in repaired if r.camera_id == camera)
        timeline[camera] = {
            "lease": next((t for t, c, h in watch.changes if c == camera and t > killed and h != "w0"), float("nan")) - killed,
            "taken": next((t for t, c, h in watch.changes if c == camera and t > killed and h == "w1"), float("nan")) - killed,
            "status": next((t for t, c, w in watch.online if c == camera and w == "w1" and t > killed), float("nan")) - killed,
            "first": first[camera].start.timestamp() - killed,
            "gap": first[camera].start.timestamp() - last_end,
        }
    processes["w0"] = worker(config, "w0", workdir / "w0.log")
    wait_for(lambda: sorted(list(watch.holders.values()).count(w) for w in ("w0", "w1")) == [len(owners) // 2, len(owners) - len(owners) // 2],
             60, "the cameras did not spread again")
    time.sleep(15)  # the hand-over back to w0 ends (handover_seconds) before the next kill
    return timeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mounts", type=int, default=2)
    parser.add_argument("--lease-seconds", type=float, help="cluster.lease_seconds (default: the configuration's)")
    args = parser.parse_args()

    admin = postgres_admin_url()
    mounts = [SimulatedCamera(id=f"m{i}", width=640, height=360, fps=25, gop=25, bitrate_kbps=800, shared=True)
              for i in range(args.mounts)]
    with tempfile.TemporaryDirectory(prefix="vms-failover-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        sim = stack.enter_context(CameraSimulator(mounts).start())
        server = RedisServer(workdir / "redis", durable=False).start()
        stack.callback(server.kill)
        database_url = stack.enter_context(throwaway_database(admin)) if admin else f"sqlite:///{workdir / 'vms.db'}"
        cameras = [f"cam-{i:03d}" for i in range(args.cameras)]
        config = workdir / "vms.yaml"
        cluster = {"key_prefix": PREFIX, **({"lease_seconds": args.lease_seconds} if args.lease_seconds else {})}
        config.write_text(yaml.safe_dump({
            "data_dir": str(workdir / "data"), "database_url": database_url, "redis_url": server.url,
            "cluster": cluster, "storage": {"min_free": 0},
            "ingest": {"backoff_initial_seconds": 0.5, "backoff_max_seconds": 2},
            "cameras": [{"id": c, "name": c, "group": "rented", "main_url": sim.url(f"m{i % args.mounts}"),
                         "recording": {"segment_seconds": 10}} for i, c in enumerate(cameras)],
        }))
        client = redis.Redis.from_url(server.url)
        bus = RedisBus(server.url, PREFIX)
        stack.callback(bus.close)
        watch = Watch(LeaseStore(client, PREFIX), bus, cameras).start()
        stack.callback(watch.stop)
        processes = {name: worker(config, name, workdir / f"{name}.log") for name in ("w0", "w1")}
        stack.callback(lambda: [p.kill() for p in processes.values()])
        db = Database(database_url)
        stack.callback(db.dispose)
        half = args.cameras // 2
        wait_for(lambda: sorted(list(watch.holders.values()).count(w) for w in ("w0", "w1")) == [half, args.cameras - half]
                 and {r.camera_id for r in segments(db) if r.end} == set(cameras), 180, "cameras did not spread and record")
        time.sleep(15)
        load = [os.getloadavg()[0]]
        timelines: list[dict[str, float]] = []
        for number in range(args.rounds):
            result = one_round(db, watch, processes, config, workdir)
            timelines += result.values()
            print(f"round {number + 1}: " + "; ".join(
                f"{phase} {min(t[phase] for t in result.values()):.2f}–{max(t[phase] for t in result.values()):.2f} s"
                for phase in PHASES), flush=True)
        load.append(os.getloadavg()[0])
    print(f"\n{len(timelines)} camera failovers, {args.cameras} cameras, lease "
          f"{args.lease_seconds or 'default'}; load average (1 min) {load[0]:.2f} → {load[1]:.2f} (2 cores, shared)\n")
    print("| after kill -9, s | median | max |")
    print("|---|---:|---:|")
    for phase in PHASES:
        values = [t[phase] for t in timelines if t[phase] == t[phase]]
        if values:
            print(f"| {phase} | {statistics.median(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
