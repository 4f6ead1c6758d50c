"""Benchmark: how fast a raised alarm reaches the operator's dashboard — the live feed
(server-sent events, what the wall's alarm dock uses) against the obvious alternative, a
dashboard polling ``GET /api/alarms`` every second.

One vms API process (SQLite, in-process bus, alarm service) served by uvicorn; events are
written through the same ``EventRecorder.open`` a detector calls, at random moments; both
clients watch at the same time.

    python -m bench.alarms --alarms 40 --poll-seconds 1

Prints, for each client: median, 95th percentile and worst latency from the event written to
the alarm in the client's hands, and the HTTP requests each made; then the ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from dashboard.app import create_app
from tests.support.server import serve_app  # the bench reuses the tests' in-process server
from vms.auth.roles import Role
from vms.auth.sessions import create_session
from vms.auth.users import Users, random_password
from vms.cameras.registry import CameraRegistry
from vms.config import Settings
from vms.config.cameras import CameraConfig
from vms.events import EventRecorder
from vmsapp.runtime import Runtime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def sse_client(url: str, headers: dict, seen: dict[int, float], stop: threading.Event, held: list) -> None:
    try:
        with httpx.Client(timeout=None) as client, client.stream("GET", url + "/api/alarms/stream", headers=headers) as response:
            held.append(response)  # closed by the main thread at the end
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data: "):
                    message = json.loads(line[6:])
                    if message.get("phase") == "raised":
                        seen.setdefault(message["event_id"], time.time())
    except Exception:
        if not stop.is_set():
            raise  # closing the stream at the end is expected; before, it is a failure


def polling_client(url: str, headers: dict, seen: dict[int, float], stop: threading.Event, every: float, counter: list) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            for alarm in client.get(url + "/api/alarms", params={"limit": 1000}, headers=headers).json():
                seen.setdefault(alarm["event_id"], time.time())
            counter[0] += 1
            stop.wait(every)


def run(alarms: int, poll_seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="vms-bench-alarms-") as folder:
        settings = Settings(data_dir=Path(folder), storage={"min_free": 0}, alarms={
            "rules": [{"id": "all", "priority": "high", "escalate_after_seconds": None}]})
        runtime = Runtime.build(settings, with_worker=False).start()
        try:
            CameraRegistry(runtime.db).add(CameraConfig(id="t-01", name="t-01", group="tunnel", main_url="rtsp://10.0.0.9/x"))
            user = Users(runtime.db, settings.security).add("bench", random_password(), Role.ADMIN)
            headers = {"Authorization": "Bearer " + create_session(runtime.db, user.id, settings.security, kind="api", name="bench").token}
            recorder = EventRecorder(runtime.db, runtime.bus, Path(folder), settings.events)
            with serve_app(create_app(runtime)) as served:
                pushed: dict[int, float] = {}
                polled: dict[int, float] = {}
                polls = [0]
                stop = threading.Event()
                held: list = []
                threads = [threading.Thread(target=sse_client, args=(served.url, headers, pushed, stop, held), daemon=True),
                           threading.Thread(target=polling_client, args=(served.url, headers, polled, stop, poll_seconds, polls),
                                            daemon=True)]
                for thread in threads:
                    thread.start()
                time.sleep(1.0)  # both clients connected before the first alarm
                written: dict[int, float] = {}
                started = time.monotonic()
                for _ in range(alarms):
                    time.sleep(random.uniform(0.2, 0.8))
                    at = time.time()
                    written[recorder.open("t-01", "stopped_vehicle", at)] = at
                deadline = time.monotonic() + 2 * poll_seconds + 5
                while time.monotonic() < deadline and (len(pushed) < alarms or len(polled) < alarms):
                    time.sleep(0.05)
                minutes = (time.monotonic() - started) / 60
                stop.set()
                for response in held:
                    response.close()
                for thread in threads:
                    thread.join(5)
        finally:
            runtime.stop()
    rows = []
    print(f"{alarms} alarms over {minutes * 60:.0f} s")
    for name, seen, requests in (("live feed (SSE)", pushed, 1), (f"polling every {poll_seconds:g} s", polled, polls[0])):
        latencies = [seen[e] - t for e, t in written.items() if e in seen]
        rows.append((name, latencies, requests, len(latencies)))
        print(f"{name:24s} median {statistics.median(latencies) * 1000:7.1f} ms   p95 {percentile(latencies, 0.95) * 1000:7.1f} ms"
              f"   worst {max(latencies) * 1000:7.1f} ms   HTTP requests {requests:4d}   seen {len(latencies)}/{alarms}")
    (_, sse, _, _), (_, poll, _, _) = rows
    print(f"polling / live feed: median latency x{statistics.median(poll) / statistics.median(sse):.0f}, "
          f"p95 x{percentile(poll, 0.95) / percentile(sse, 0.95):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=40)
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    args = parser.parse_args()
    run(args.alarms, args.poll_seconds)


if __name__ == "__main__":
    main()
