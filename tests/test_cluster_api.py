"""Scale-out seen from the API: a ``vms api`` process without cameras serves live video, events,
playback and exports of what a ``vms worker`` process records (real Redis, PostgreSQL, RTSP).

Also, without any server: how ``RemoteLive`` turns a worker's RPC errors into the API's problems.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import av
import httpx
import pytest
import redis
from sqlalchemy import select

from dashboard.api.live import live_problem
from vms.live import errors
from vms.live.gateway import LiveAnswer
from vmsapp.live_remote import RemoteLive, serve_live
from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import (
    REDIS_URL,
    free_port,
    postgres_admin_url,
    redis_available,
    start_api,
    start_worker,
    stop_processes,
    throwaway_database,
    unique,
    wait_for,
    write_config,
)
from tests.support.system import FAST_INGEST
from tests.support.whep_client import WhepViewer
from vms.bus.memory import MemoryBus
from vms.bus.rpc import RpcServer, worker_service
from vms.cluster.leases import LeaseStore

PG = postgres_admin_url()
SKIP = (
    "GStreamer RTSP server (Debian packages) missing" if not simulator_available()
    else redis_available() if redis_available() is not None
    else "PostgreSQL does not answer on 127.0.0.1:5432 (user postgres or root, db test)" if PG is None
    else None
)
CAMERAS = ["cam-a", "cam-b"]


def cluster_test(test):
    """A test of the running cluster: skipped (with the reason) when Redis, PostgreSQL or GStreamer are missing."""
    for mark in (pytest.mark.skipif(SKIP is not None, reason=SKIP or ""), pytest.mark.slow, pytest.mark.timeout(180)):
        test = mark(test)
    return test


# -- RPC errors become the same problems as a local hub's refusals ------------------------------


class _Hub:
    """Stands in for a worker's LiveHub: refuses as told, by camera id."""

    REFUSALS = {
        "unknown": errors.CameraNotFound("no camera 'unknown' is live on this server"),
        "h265": errors.CodecNotSupported("camera h265 sends hevc"),
        "full": errors.ViewerLimitReached("camera full already has its limit of 1 live viewers"),
        "dark": errors.NoPicture("no picture from camera dark yet"),
        "broken": RuntimeError("boom"),
        "connecting": errors.TooManyConnecting("4 still connecting"),
    }

    async def create_session(self, camera_id, sdp, stream="main", transcode=False, owner=""):
        if camera_id in self.REFUSALS:
            raise self.REFUSALS[camera_id]
        self.owners.append(owner)
        return SimpleNamespace(id="s3ss10n_-x", answer=f"answer to {sdp}")

    async def close_owner(self, owner):
        return self.owners.count(owner)

    async def close_session(self, session_id, camera_id=None):
        if session_id != "s3ss10n_-x":
            raise errors.SessionNotFound(f"no live session '{session_id}'")

    async def snapshot(self, camera_id, stream="main", width=None):
        raise self.REFUSALS.get(camera_id, errors.NoPicture("nothing"))

    def describe(self):
        return {"sessions": [{"id": "s3ss10n_-x", "camera_id": "ok"}], "relays": []}


def test_remote_refusals_map_to_the_same_problems():
    bus = MemoryBus()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = RpcServer(bus, worker_service("w.1"))
    hub = _Hub()
    hub.owners = []
    serve_live(server, hub, loop)
    server.start()
    owners = {"ok": "w.1", "unknown": "w.1", "h265": "w.1", "full": "w.1", "dark": "w.1", "broken": "w.1", "gone": "w.2", "connecting": "w.1"}
    leases = SimpleNamespace(holder=lambda camera_id: owners.get(camera_id))
    members = SimpleNamespace(live=lambda: ["w.1"])
    live = RemoteLive(bus, leases, members)

    async def status(call) -> int:
        try:
            await call
        except errors.LiveError as exc:
            return live_problem(exc).status_code
        return 200

    async def scenario():
        assert await live.offer("ok", "v=0", owner="user:7") == LiveAnswer("w.1.s3ss10n_-x", "answer to v=0")
        assert hub.owners == ["user:7"]  # the viewer travels to the worker's hub
        assert await live.close_owner("user:7") == 1  # asked of every live worker
        assert await status(live.offer("connecting", "v=0")) == 429
        assert await status(live.offer("unknown", "v=0")) == 404
        assert await status(live.offer("h265", "v=0")) == 422
        assert await status(live.offer("full", "v=0")) == 503
        assert await status(live.snapshot("dark")) == 503
        assert await status(live.offer("broken", "v=0")) == 502
        assert await status(live.offer("nobody", "v=0")) == 503  # no lease: not owned right now
        with pytest.raises(errors.CameraNotOwned):
            await live.offer("nobody", "v=0")
        await live.close("ok", "w.1.s3ss10n_-x")  # the worker's name may hold dots itself
        with pytest.raises(errors.SessionNotFound):
            await live.close("ok", "w.1.other")
        for bad in ("no-dot", "../x.y", ".s3ss10n_-x"):
            with pytest.raises(errors.SessionNotFound):
                await live.close("ok", bad)
        with pytest.raises(errors.SessionNotFound, match="gone"):
            await live.close("gone", "w.2.s3ss10n_-x")  # its worker died: so did the session
        described = await live.describe()
        assert described["sessions"] == [{"id": "s3ss10n_-x", "camera_id": "ok", "worker_id": "w.1"}]
        await live.aclose()

    try:
        asyncio.run(scenario())
    finally:
        server.close()
        loop.call_soon_threadsafe(loop.stop)


def test_an_unanswered_worker_is_unavailable(monkeypatch):
    monkeypatch.setattr("vmsapp.live_remote.OFFER_SECONDS", 0.3)
    live = RemoteLive(MemoryBus(), SimpleNamespace(holder=lambda c: "silent"), SimpleNamespace(live=lambda: []))

    async def scenario():
        with pytest.raises(errors.WorkerUnavailable) as refused:
            await live.offer("cam", "v=0")
        assert live_problem(refused.value).status_code == 503
        await live.aclose()

    asyncio.run(scenario())


# -- one worker, one API process ---------------------------------------------------------------


class EventFeed:
    """Reads ``/api/events/stream`` in a thread; ``messages`` holds every event message."""

    def __init__(self, url: str, headers: dict) -> None:
        self.messages: list[dict] = []
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("data: "):
                        self.messages.append(json.loads(line[6:]))
        except Exception:
            pass  # closed by the test

    def close(self) -> None:
        self._client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if SKIP is not None:
        pytest.skip(SKIP)
    from vms.auth.roles import Role
    from vms.auth.sessions import create_session
    from vms.auth.users import Users, random_password
    from vms.config.security import SecurityConfig
    from vms.db import Database

    tmp = tmp_path_factory.mktemp("cluster-api")
    prefix = f"vms:{unique('api-')}:"
    worker_id = unique("w-")
    port = free_port()
    mounts = [SimulatedCamera(id=c, width=320, height=180, fps=15, gop=15, bitrate_kbps=250) for c in CAMERAS]
    processes = []
    with CameraSimulator(mounts).start() as sim, throwaway_database(PG) as database_url:
        common = dict(
            database_url=database_url,
            redis_url=REDIS_URL,
            cluster={"key_prefix": prefix},
            storage={"min_free": 0, "recordings_dir": str(tmp / "recordings")},  # shared by all hosts
            ingest=FAST_INGEST,
            detection={"offline_after_seconds": 1},
            # Worker and API both run an alarm service: the database keeps each alarm single.
            alarms={"rules": [{"id": "offline", "event_types": ["camera_offline"], "escalate_after_seconds": None}]},
            cameras=[
                {"id": c, "name": c, "group": "tunnel", "main_url": sim.url(c), "recording": {"segment_seconds": 2}}
                for c in CAMERAS
            ],
        )
        worker_config = write_config(tmp / "worker.yaml", data_dir=str(tmp / "worker"), **common)
        api_config = write_config(tmp / "api.yaml", data_dir=str(tmp / "api"), **common)
        db = Database(database_url)
        leases = LeaseStore(redis.Redis.from_url(REDIS_URL), prefix)
        try:
            processes.append(start_worker(worker_config, worker_id, tmp / "worker.log"))
            processes.append(start_api(api_config, port, tmp / "api.log"))
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(base + "/healthz"), 40, "vms api did not come up")
            wait_for(lambda: all(leases.holder(c) == worker_id for c in CAMERAS), 30, "the worker took no cameras")
            security = SecurityConfig()
            user = Users(db, security).add("cluster-admin", random_password(), Role.ADMIN)
            token = create_session(db, user.id, security, kind="api", name="cluster tests").token
            yield SimpleNamespace(base=base, auth={"Authorization": f"Bearer {token}"}, db=db, sim=sim,
                                  worker_id=worker_id, recordings=tmp / "recordings", logs=tmp)
        finally:
            stop_processes(processes)
            leases.client.close()
            db.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@cluster_test
def test_live_view_through_the_api_reaches_the_worker(cluster):
    async def scenario():
        viewer = await WhepViewer(cluster.base, "cam-a", headers=cluster.auth).start()
        try:
            session = viewer.location.rsplit("/", 1)[1]
            assert session.startswith(cluster.worker_id + "."), viewer.location
            await viewer.wait_frames(10, timeout=20)
            assert viewer.frames[-1][1:] == (320, 180)
            async with httpx.AsyncClient(base_url=cluster.base, headers=cluster.auth, timeout=20) as client:
                described = (await client.get("/api/live")).json()
                mine = [s for s in described["sessions"] if s["worker_id"] == cluster.worker_id]
                assert [s["camera_id"] for s in mine] == ["cam-a"] and mine[0]["frames_sent"] > 0
                snapshot = await client.get("/api/cameras/cam-b/snapshot.jpg", params={"width": 160})
                assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
                assert (await client.get("/api/cameras/nope/snapshot.jpg")).status_code == 404
        finally:
            status = await viewer.stop()
        assert status == 200
        async with httpx.AsyncClient(base_url=cluster.base, headers=cluster.auth, timeout=20) as client:
            assert (await client.get("/api/live")).json()["sessions"] == []  # ended on the worker
            again = await client.delete(viewer.location)
            assert again.status_code == 404 and again.json()["type"].endswith("session-not-found")

    asyncio.run(scenario())
    from vms.db.auth import AuditEntry

    with cluster.db.session() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("live.%")).order_by(AuditEntry.id)))
    assert actions == ["live.start", "live.snapshot", "live.stop"]  # written by the API process


@cluster_test
def test_playback_and_export_of_the_workers_recordings(cluster):
    from vms.db import Segment

    def finished():
        with cluster.db.session() as session:
            rows = list(session.scalars(select(Segment).where(Segment.camera_id == "cam-a", Segment.end.is_not(None))
                                        .order_by(Segment.start)))
        return rows if len(rows) >= 2 else None

    rows = wait_for(finished, 30, "the worker recorded no two segments")
    assert all(r.worker_id == cluster.worker_id for r in rows)
    assert (cluster.recordings / cluster.worker_id / rows[0].path).is_file()  # its own folder on shared storage
    start, end = rows[0].start + timedelta(seconds=0.5), rows[1].end - timedelta(seconds=0.2)
    client = httpx.Client(base_url=cluster.base, headers=cluster.auth, timeout=30)
    try:
        response = client.get("/api/cameras/cam-a/playback.mp4", params={"start": start.isoformat(), "end": end.isoformat()})
        assert response.status_code == 200, response.text
        with av.open(io.BytesIO(response.content)) as container:
            frames = list(container.decode(video=0))
        assert len(frames) >= 15 and (frames[0].width, frames[0].height) == (320, 180)

        response = client.post("/api/exports", json={"camera_id": "cam-a", "start": start.isoformat(),
                                                      "end": end.isoformat(), "reason": "cluster test"})
        assert response.status_code == 202, response.text
        export_id = response.json()["id"]
        done = wait_for(lambda: _finished(client, export_id), 30, "the export did not finish")
        assert done["state"] == "done", done["error"]
        mp4 = client.get(done["file_url"]).content
        manifest = client.get(done["manifest_url"]).json()
        assert hashlib.sha256(mp4).hexdigest() == manifest["file"]["sha256"] == done["sha256"]
        assert {s["worker_id"] for s in manifest["segments"]} == {cluster.worker_id}
    finally:
        client.close()


def _finished(client: httpx.Client, export_id: str) -> dict | None:
    export = client.get(f"/api/exports/{export_id}").json()
    return export if export["state"] in ("done", "failed") else None


@cluster_test
def test_an_event_raised_on_the_worker_reaches_the_api(cluster):
    feed = EventFeed(cluster.base + "/api/events/stream?camera=cam-b", cluster.auth)
    try:
        assert feed.connected.wait(10), "the event stream did not open"
        stopped = time.time()
        cluster.sim.stop_camera("cam-b")

        def offline():
            return [m for m in feed.messages if m["type"] == "camera_offline" and m["camera_id"] == "cam-b"]

        live = wait_for(offline, 30, "no camera_offline on the API's event stream")
        print(f"camera_offline on the API's stream {time.time() - stopped:.1f} s after the camera stopped")
        assert live[0]["phase"] == "start"
        listed = httpx.get(cluster.base + "/api/events", params={"camera": "cam-b", "type": "camera_offline"},
                           headers=cluster.auth, timeout=10).json()
        assert [e["id"] for e in listed] == [live[0]["id"]]
        alarms = wait_for(lambda: httpx.get(cluster.base + "/api/alarms", params={"camera": "cam-b"}, headers=cluster.auth,
                                            timeout=10).json(), 15, "no alarm for the camera_offline event")
        assert [(a["event_id"], a["rule_id"], a["state"]) for a in alarms] == [(live[0]["id"], "offline", "new")]
    finally:
        feed.close()
        cluster.sim.start_camera("cam-b")


@cluster_test
def test_the_api_shows_the_workers_camera_status_health_and_metrics(cluster):
    """``vms api`` runs no worker: what it shows of the cameras comes from the status board."""

    def cameras_online() -> list[dict] | None:
        cameras = httpx.get(cluster.base + "/api/cameras", headers=cluster.auth, timeout=5).json()
        # Online and measured: the first "online" of a stream comes before its rate is known.
        online = [c for c in cameras if c["status"].get("main", {}).get("state") == "online"
                  and c["status"]["main"]["fps"] > 0]
        return cameras if len(online) == len(CAMERAS) else None

    cameras = wait_for(cameras_online, 40, "the API never showed the worker's cameras online")
    assert {c["status"]["main"]["worker_id"] for c in cameras} == {cluster.worker_id}
    health = httpx.get(cluster.base + "/healthz", timeout=5).json()
    assert health["cameras"] == len(CAMERAS) and health["online"] == len(CAMERAS)
    assert health["recording"]["cameras"] == len(CAMERAS)
    metrics = httpx.get(cluster.base + "/metrics", headers=cluster.auth, timeout=5).text
    assert f"vms_cameras_online {float(len(CAMERAS))}" in metrics
    assert 'vms_camera_up{camera="cam-a",stream="main"} 1.0' in metrics
