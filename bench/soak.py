"""Soak: N simulated cameras for T minutes through scheduled faults; is everything recorded?

Scale-out on one machine: two ``vms worker`` processes and one ``vms api`` share a private
redis-server (random port), PostgreSQL when it answers (SQLite otherwise) and one recordings
folder. The cameras pull a few shared encoded mounts (2 cores cannot encode 120 live streams);
one mount, ``drop``, serves ~1/8 of the cameras so they can be dropped together. Faults, at
fractions of the run:

* 0.20  camera drop: the ``drop`` mount stops for 20 s (those cameras' own downtime);
* 0.35  ``kill -9`` of worker w0, started again 20 s later (its cameras fail over, then move back);
* 0.55  Redis restart: killed, started again 5 s later (persistence on);
* 0.75  burst of slow HTTP clients: 2 000 half-sent requests on the API for 20 s.

The clock starts once every camera has recorded a segment (warm-up). Afterwards, for the window
from the first segment of every camera to the end:

* recorded ÷ expected seconds per camera (union of all workers' segments; expected excludes
  the camera's own downtime plus ``--reconnect-grace`` seconds to reconnect; rows less than
  ``--join-seconds`` apart count as one run, every longer hole is lost time), printed for every
  camera; in aggregate both camera-seconds (Σ recorded ÷ Σ expected) and the mean and lowest
  of the per-camera ratios;
* corrupt segments: unreadable by PyAV, or fewer frames in the file than the row says;
* index invariant violations: rows of one camera and worker overlapping, ending before they
  start or in the future, ``bytes`` different from the file, rows left open after a clean stop;
* the worst gap of any camera outside its own downtime.

    nice -n 10 python -m bench.soak --cameras 16 --minutes 3
    nice -n 10 python -m bench.soak --cameras 16 --minutes 3 --standby 12   # warm standby (decision 100)

Each worker's CPU seconds and resident memory at the end are printed too: warm standby costs a
second pull of every camera and its pre-roll ring.

The load average (1 min) is printed at the start and the end: the machine is shared.
This is not a test: it prints figures (README "Recording never stops" quotes a run).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select

from streams.simulator import CameraSimulator, SimulatedCamera
from tests.support.cluster import RedisServer, free_port, postgres_admin_url, throwaway_database
from vms.db import Database, Segment
from vms.recordings.locate import SegmentFiles
from vms.recordings.repair import measure



@dataclass
class Fault:
    at: float  # seconds after the start of the run
    name: str
    started: float = 0.0  # wall clock
    ended: float = 0.0


@dataclass
class Run:
    workdir: Path
    database_url: str
    redis: RedisServer
    config: Path
    api_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, role: str, name: str) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        command = [sys.executable, "-m", "vmsapp.cli", role, "-c", str(self.config)]
        command += ["--worker-id", name] if role == "worker" else ["--host", "127.0.0.1", "--port", str(self.api_port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def mounts(args) -> list[SimulatedCamera]:
    common = dict(width=args.width, height=args.height, fps=args.fps, gop=args.fps, bitrate_kbps=args.bitrate, shared=True)
    return [SimulatedCamera(id=f"mount-{m}", scene="road" if m % 2 else "tunnel", **common) for m in range(args.mounts)] + [
        SimulatedCamera(id="drop", scene="road", **common)
    ]


def cameras(sim: CameraSimulator, args) -> tuple[list[dict], set[str]]:
    entries, dropping = [], set()
    for i in range(args.cameras):
        camera_id = f"cam-{i:03d}"
        mount = "drop" if i % 8 == 7 else f"mount-{i % args.mounts}"
        if mount == "drop":
            dropping.add(camera_id)
        entries.append({"id": camera_id, "name": camera_id, "group": "rented", "main_url": sim.url(mount),
                        "recording": {"segment_seconds": args.segment_seconds}})
    return entries, dropping


def slow_clients(port: int, count: int, hold: float) -> int:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        except OSError:
            sock.close()
    time.sleep(hold)
    for sock in sockets:
        sock.close()
    return len(sockets)


def warm_up(db: Database, cameras: int, timeout: float = 600) -> None:
    """Wait until every camera has a closed segment (imports and RTSP opens are slow on a busy machine)."""
    started = time.time()
    while time.time() - started < timeout:
        try:
            with db.session() as session:
                recorded = set(session.scalars(select(Segment.camera_id).where(Segment.end.is_not(None)).distinct()))
        except Exception:
            recorded = set()  # the workers have not created the schema yet
        if len(recorded) == cameras:
            print(f"  warm-up: every camera recorded after {time.time() - started:.0f} s; the clock starts", flush=True)
            return
        time.sleep(2)
    raise SystemExit(f"only {len(recorded)} of {cameras} cameras recorded within {timeout:g} s")


def schedule(total: float) -> list[Fault]:
    return [Fault(0.20 * total, "camera drop 20 s"), Fault(0.35 * total, "worker w0 kill -9, back after 20 s"),
            Fault(0.55 * total, "Redis restart (5 s down)"), Fault(0.75 * total, "2000 slow HTTP clients for 20 s")]


def inject(fault: Fault, run: Run, sim: CameraSimulator) -> None:
    fault.started = time.time()
    if fault.name.startswith("camera drop"):
        sim.stop_camera("drop")
        time.sleep(20)
        sim.start_camera("drop")
    elif fault.name.startswith("worker"):
        run.processes["w0"].send_signal(signal.SIGKILL)
        run.processes["w0"].wait(10)
        time.sleep(20)
        run.start("worker", "w0")
    elif fault.name.startswith("Redis"):
        run.redis.kill()
        time.sleep(5)
        run.redis.start()
    else:
        slow_clients(run.api_port, 2000, 20)
    fault.ended = time.time()


def coverage(rows: list[Segment], since: float, until: float, excluded: list[tuple[float, float]],
             join: float = 0.1) -> tuple[float, float, float, float, list[tuple[float, float]]]:
    """(recorded s, expected s, worst gap s, when it began, every hole as (start, seconds)) of one
    camera in [since, until] (epoch s) outside ``excluded``; rows at most ``join`` s apart are one run."""
    intervals = sorted((max(since, r.start.timestamp()), min(until, r.end.timestamp())) for r in rows if r.end)
    merged: list[list[float]] = []
    for start, end in intervals:
        if end <= start:
            continue
        if merged and start <= merged[-1][1] + join:  # a segment cut: next row starts at the same keyframe
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    holes, edge = [], since
    for start, end in merged:
        if start > edge:
            holes.append((edge, start))
        edge = max(edge, end)
    if edge < until:
        holes.append((edge, until))

    def outside(a: float, b: float) -> float:
        length = b - a
        for x, y in excluded:
            length -= max(0.0, min(b, y) - max(a, x))
        return max(0.0, length)

    expected = outside(since, until)
    missing = [(outside(a, b), a) for a, b in holes]
    worst, at = max(missing, default=(0.0, since))
    return expected - sum(m for m, _ in missing), expected, worst, at, [(a, m) for m, a in missing if m > 0]


def check_segments(rows: list[Segment], files: SegmentFiles, now: float) -> tuple[int, list[str]]:
    corrupt, violations = 0, []
    by_stream: dict[tuple[str, str], list[Segment]] = {}
    for row in rows:
        by_stream.setdefault((row.camera_id, row.worker_id), []).append(row)
        if row.end is None:
            violations.append(f"{row.path}: left open")
            continue
        if row.end <= row.start:
            violations.append(f"{row.path}: ends before it starts")
        if row.end.timestamp() > now + 1:
            violations.append(f"{row.path}: ends in the future")
        path = files.path(row)
        try:
            size = path.stat().st_size
            if size != row.bytes:
                violations.append(f"{row.path}: {size} bytes on disk, {row.bytes} in the index")
            span = measure(path)
            if span.frames < row.frames:
                corrupt += 1
        except Exception:
            corrupt += 1
    for (camera_id, worker_id), mine in by_stream.items():
        mine.sort(key=lambda r: r.start)
        for a, b in zip(mine, mine[1:]):
            if a.end and b.start < a.end:
                violations.append(f"{camera_id}/{worker_id}: {a.path} and {b.path} overlap")
    return corrupt, violations


def report(results: list[tuple], dropping: set[str], began: float, since: float, ended: float, segments: int,
           corrupt: int, violations: list[str], load: tuple[float, float]) -> None:
    """Every camera's recorded ÷ expected seconds, then the aggregate both ways."""
    print(f"\nwindow {since - began:.0f}..{ended - began:.0f} s (0: every camera had recorded); {segments} segments; "
          f"load average (1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end (2 cores, shared)\n")
    print("| camera | recorded ÷ expected s | ratio | worst gap s | gap began at s |")
    print("|---|---:|---:|---:|---:|")
    for camera_id, recorded, expected, gap, at, _ in sorted(results):
        note = " (dropped)" if camera_id in dropping else ""
        print(f"| {camera_id}{note} | {recorded:.1f} ÷ {expected:.1f} | {100 * recorded / max(expected, 1e-9):.2f} % "
              f"| {gap:.1f} | {at - began:.0f} |")
    ratios = [r[1] / r[2] for r in results if r[2] > 0]
    worst = max(results, key=lambda r: r[3])
    recorded, expected = sum(r[1] for r in results), sum(r[2] for r in results)
    print(f"\naggregate: {recorded:.1f} of {expected:.1f} camera-seconds = {100 * recorded / expected:.3f} % recorded; "
          f"per camera: mean {100 * sum(ratios) / len(ratios):.3f} %, lowest {100 * min(ratios):.2f} %; "
          f"worst gap {worst[3]:.1f} s ({worst[0]}), corrupt segments {corrupt}, "
          f"index invariant violations {len(violations)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=120)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--mounts", type=int, default=3, help="shared encoded streams (plus one for dropped cameras)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--bitrate", type=int, default=800)
    parser.add_argument("--segment-seconds", type=float, default=10)
    parser.add_argument("--keep", type=Path, help="copy the processes' logs here")
    parser.add_argument("--reconnect-grace", type=float, default=5, help="seconds after a camera's own downtime not counted")
    parser.add_argument("--join-seconds", type=float, default=0.1, help="rows closer than this count as one run")
    parser.add_argument("--lease-seconds", type=float, help="cluster.lease_seconds (default: the configuration's default)")
    parser.add_argument("--rtsp-client", choices=["ffmpeg", "builtin"],
                        help="ingest.rtsp_client of the workers (default: the configuration's default)")
    parser.add_argument("--standby", type=float, default=0.0,
                        help="cluster.standby_seconds: warm standby with this much pre-roll (0: off, the default)")
    args = parser.parse_args()

    total = args.minutes * 60
    admin = postgres_admin_url()
    with tempfile.TemporaryDirectory(prefix="vms-soak-") as tmp, CameraSimulator(mounts(args)).start() as sim:
        workdir = Path(tmp)
        redis = RedisServer(workdir / "redis", durable=True).start()
        database = throwaway_database(admin) if admin else None
        database_url = database.__enter__() if database else f"sqlite:///{workdir / 'vms.db'}"
        entries, dropping = cameras(sim, args)
        config = workdir / "vms.yaml"
        config.write_text(yaml.safe_dump({
            "data_dir": str(workdir / "data"), "database_url": database_url, "redis_url": redis.url,
            "cluster": {"key_prefix": "soak:", "standby_seconds": args.standby,
                        **({"lease_seconds": args.lease_seconds} if args.lease_seconds else {})},
            "storage": {"min_free": 0},
            "ingest": {"backoff_initial_seconds": 0.5, "backoff_max_seconds": 2,
                       **({"rtsp_client": args.rtsp_client} if args.rtsp_client else {})},
            "http": {"header_timeout_seconds": 5}, "cameras": entries,
        }))
        run = Run(workdir, database_url, redis, config, free_port())
        faults = schedule(total)
        try:
            run.start("worker", "w0")
            run.start("worker", "w1")
            run.start("api", "api")
            db = Database(database_url)
            warm_up(db, len(entries))
            began = time.time()
            load_before = os.getloadavg()[0]
            print(f"soak: {args.cameras} cameras, {args.minutes:g} min, {args.width}x{args.height}@{args.fps} "
                  f"{args.bitrate} kb/s on {args.mounts}+1 mounts, 2 workers + API, "
                  f"{'PostgreSQL' if admin else 'SQLite'}, RTSP client {args.rtsp_client or 'default'}", flush=True)
            threads = []
            for fault in faults:
                delay = began + fault.at - time.time()
                if delay > 0:
                    time.sleep(delay)
                print(f"  {time.time() - began:6.0f} s  {fault.name}", flush=True)
                thread = threading.Thread(target=inject, args=(fault, run, sim))
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            remaining = began + total - time.time()
            if remaining > 0:
                time.sleep(remaining)
            ended = time.time()
            load_after = os.getloadavg()[0]
            usage = {name: process_usage(run.processes[name]) for name in ("w0", "w1")}
        finally:
            run.stop_all()
            if args.keep:  # also when the run failed: the logs say why
                args.keep.mkdir(parents=True, exist_ok=True)
                for log in workdir.glob("*.log"):
                    (args.keep / log.name).write_bytes(log.read_bytes())
        with db.session() as session:
            rows = list(session.scalars(select(Segment)))
        files = SegmentFiles(workdir / "data" / "recordings", per_worker=True)
        drop = next(f for f in faults if f.name.startswith("camera drop"))
        results = []
        firsts = {}
        for row in rows:
            firsts[row.camera_id] = min(firsts.get(row.camera_id, row.start.timestamp()), row.start.timestamp())
        since = max(firsts.values()) if len(firsts) == args.cameras else began
        for entry in entries:
            camera_id = entry["id"]
            mine = [r for r in rows if r.camera_id == camera_id]
            excluded = [(drop.started, drop.ended + args.reconnect_grace)] if camera_id in dropping else []
            results.append((camera_id, *coverage(mine, since, ended, excluded, args.join_seconds)))
        corrupt, violations = check_segments(rows, files, time.time())
        db.dispose()
        redis.kill()
        if database:
            database.__exit__(None, None, None)

    report(results, dropping, began, since, ended, len(rows), corrupt, violations, (load_before, load_after))
    lost: dict[str, float] = {}
    for line in violations[:10]:
        print("  violation:", line)
    for result in results:
        for start, seconds in result[5]:
            # A hole belongs to the latest fault that began before it ended and ended at most 30 s
            # before it began (a killed worker's last GOP is lost from just before the kill).
            during = [f for f in faults if f.started - 1 <= start + seconds and start <= f.ended + 30]
            cause = max(during, key=lambda f: f.started).name if during else "no fault"
            lost[cause] = lost.get(cause, 0.0) + seconds
    for fault in faults:
        print(f"  fault at {fault.started - began:5.0f} s for {fault.ended - fault.started:4.0f} s: {fault.name}; "
              f"camera-seconds lost {lost.get(fault.name, 0.0):.1f}")
    print(f"  outside any fault: camera-seconds lost {lost.get('no fault', 0.0):.1f}")
    parts = []
    for name, used in usage.items():
        if isinstance(used, int):
            parts.append(f"{name}: EXITED during the run, status {used}")
        else:
            cpu, alive, rss = used
            parts.append(f"{name}: {cpu:.0f} CPU s over {alive:.0f} s ({100 * cpu / max(alive, 1e-9):.0f} % of a core), "
                         f"RSS {rss / 1e6:.0f} MB")
    print(f"  standby {args.standby:g} s; " + "; ".join(parts) + " (w0 was restarted by the kill fault)")


def process_usage(process: subprocess.Popen) -> tuple[float, float, int] | int:
    """(CPU seconds used, seconds alive, resident bytes) of a running process, from /proc; its
    exit status if it is not running any more (a worker that died during the soak)."""
    if process.poll() is not None:
        return process.returncode
    pid = process.pid
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    with open("/proc/uptime") as uptime:
        alive = float(uptime.read().split()[0]) - int(fields[19]) / ticks  # starttime
    rss = next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return cpu, alive, rss


if __name__ == "__main__":
    main()
