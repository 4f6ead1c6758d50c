"""Benchmark: live view over WebRTC (H.264 passthrough) against aiortc re-encoding.

A real ``vms run`` process records simulated RTSP cameras; viewers are aiortc clients in this
process and headless Chromium (Debian's, driven by Playwright). Measured:

* time from the WHEP offer to the first decoded frame, with the relay's GOP cache warm (the
  camera is being watched, or was within ``live.idle_seconds``) and cold (a keyframe must come);
* latency from ingest to decoded picture (in-process, from each packet's ingest wall time);
* a 4x4 wall in one browser: decoded frames per second per tile;
* server CPU per viewer with N passthrough viewers of one camera, and with M re-encoded ones.

    python -m bench.live --viewers 25 --transcoded 4 --seconds 10

Cameras share a few encoded simulator mounts (2 cores cannot encode 16 live streams), but
each camera is its own RTSP session, as with real cameras. CPU figures are % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from bench.mounts import add_stream_arguments, shared_mounts
from bench.procstat import usage
from streams.simulator import CameraSimulator

# The bench reuses the test helpers: an aiortc WHEP viewer, Chromium flags, an in-process server.
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from aiortc.mediastreams import MediaStreamError

from tests.support.whep_client import WhepViewer

FIRST_FRAME_JS = """
async ([url, auth]) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (e) => {
    const v = document.createElement("video");
    v.muted = true; v.autoplay = true; v.width = 160;
    v.srcObject = new MediaStream([e.track]);
    document.body.appendChild(v);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 2000);
  });
  const t0 = performance.now();
  const response = await fetch(url, { method: "POST", headers: { ...auth, "Content-Type": "application/sdp" },
                                      body: pc.localDescription.sdp });
  if (response.status !== 201) return { error: await response.text() };
  const answered = performance.now() - t0;
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  let decoded = 0;
  while (decoded === 0 && performance.now() - t0 < 10000) {
    await new Promise((r) => setTimeout(r, 5));
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") decoded = s.framesDecoded || 0;
    });
  }
  const firstFrame = performance.now() - t0;
  window._pcs = (window._pcs || []).concat([[pc, response.headers.get("Location")]]);
  return { answered, firstFrame, decoded };
}
"""


def sign_in_admin(db) -> tuple[dict[str, str], str]:
    """Create a benchmark admin; returns bearer headers and the password (for the browser)."""
    from vms.auth.roles import Role
    from vms.auth.sessions import create_session
    from vms.auth.users import Users, random_password
    from vms.config.security import SecurityConfig

    password = random_password()
    user = Users(db).add("bench-admin", password, Role.ADMIN)
    token = create_session(db, user.id, SecurityConfig(), kind="api", name="bench").token
    return {"Authorization": f"Bearer {token}"}, password


def line(title: str, value: str, note: str = "") -> None:
    print(f"  {title:<58} {value:>16}  {note}")


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f})"


# -- a real vms process -------------------------------------------------------------------------


@contextmanager
def vms_server(workdir: Path, urls: dict[str, str], live: dict):
    config = workdir / "vms.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(workdir / "data"),
                "storage": {"min_free": 0},
                "ingest": {"backoff_initial_seconds": 0.5, "backoff_max_seconds": 2},
                "live": live,
                "cameras": [
                    {"id": cid, "name": cid, "group": "tunnel", "main_url": url, "recording": {"segment_seconds": 60}}
                    for cid, url in urls.items()
                ],
            }
        )
    )
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(workdir / "vms.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "run", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(base + "/healthz", timeout=2).json()
                if health["cameras"] >= len(urls) and health["online"] >= len(urls):
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                tail = (workdir / "vms.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"vms did not start or cameras did not come online:\n{tail}")
            time.sleep(0.3)
        from vms.db import Database

        db = Database(f"sqlite:///{workdir / 'data' / 'vms.db'}")
        auth, password = sign_in_admin(db)
        db.dispose()
        yield base, process.pid, auth, password
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def acpu_percent(pid: int, seconds: float) -> float:
    before = usage([pid], include_children=False).cpu_seconds
    await asyncio.sleep(seconds)
    return 100 * (usage([pid], include_children=False).cpu_seconds - before) / seconds


# -- stages -------------------------------------------------------------------------------------


async def first_frames_aiortc(base: str, auth: dict, cold_cameras: list[str]) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for camera in cold_cameras:
        viewer = await WhepViewer(base, camera, headers=auth).start()
        await viewer.wait_frames(1, timeout=10)
        cold.append(viewer.first_frame_seconds)
        await viewer.wait_frames(5)
        second = await WhepViewer(base, camera, headers=auth).start()  # the first one keeps watching: GOP cache warm
        await second.wait_frames(1, timeout=10)
        warm.append(second.first_frame_seconds)
        await second.stop()
        await viewer.stop()
    return cold, warm


async def first_frames_chromium(page, base: str, auth: dict, cold_cameras: list[str]) -> tuple[list[float], list[float]]:
    cold, warm = [], []
    for camera in cold_cameras:
        url = f"{base}/api/cameras/{camera}/whep"
        for bucket in (cold, warm):  # the second viewer finds the relay (and its GOP) still warm
            result = await page.evaluate(FIRST_FRAME_JS, [url, auth])
            if "error" in result or not result["decoded"]:
                print("   chromium first frame failed:", result)
                continue
            bucket.append(result["firstFrame"] / 1000)
        await page.evaluate(
            "(auth) => Promise.all(window._pcs.map(([pc, loc]) => { pc.close(); "
            "return fetch(loc, {method: 'DELETE', headers: auth}); }))"
            ".then(() => { window._pcs = []; document.querySelectorAll('video').forEach((v) => v.remove()); })",
            auth,
        )
    return cold, warm


async def many_viewers(base: str, auth: dict, pid: int, camera: str, count: int, seconds: float, transcode: bool) -> dict:
    viewers = []
    try:
        for _ in range(count):
            viewers.append(await WhepViewer(base, camera, transcode=transcode, headers=auth).start())
        await asyncio.gather(*(v.wait_frames(10, timeout=30) for v in viewers))
        await asyncio.sleep(2)
        frames_before = [len(v.frames) for v in viewers]
        cpu = await acpu_percent(pid, seconds)
        rates = [(len(v.frames) - b) / seconds for v, b in zip(viewers, frames_before)]
        return {"cpu": cpu, "fps_min": min(rates), "fps_median": statistics.median(rates)}
    finally:
        await asyncio.gather(*(v.stop() for v in viewers), return_exceptions=True)


async def wall_16(page, base: str, cameras: list[str], seconds: float, pid: int) -> dict:
    await page.goto(f"{base}/live?layout=4&stream=main&cameras={','.join(cameras)}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = await page.evaluate("window.vmsWall ? window.vmsWall.stats() : []")
        if len(stats) == len(cameras) and all(s["state"] == "live" for s in stats):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    before = {s["camera"]: s.get("framesDecoded", 0) for s in await page.evaluate("window.vmsWall.stats()")}
    cpu = await acpu_percent(pid, seconds)
    after = await page.evaluate("window.vmsWall.stats()")
    rates = [(s.get("framesDecoded", 0) - before[s["camera"]]) / seconds for s in after]
    jitter = [s["jitterBufferDelay"] for s in after if s.get("jitterBufferDelay") is not None]
    await page.goto("about:blank")
    return {"rates": rates, "cpu": cpu, "jitter": jitter, "live": sum(s["state"] == "live" for s in after)}


async def ingest_to_picture_latency(url: str, seconds: float) -> list[float]:
    """In-process: when an aiortc viewer decoded each frame, minus when ingest published its packet."""
    from dashboard.app import create_app
    from vmsapp.runtime import Runtime
    from streams.live import track as track_module
    from tests.support.server import serve_app
    from vms.config import Settings

    from streams.fanout import PacketFanout

    published: dict[tuple[int, int], float] = {}  # (session, pts) -> when ingest published it
    sent: dict[int, float] = {}  # the viewer's 90 kHz pts -> when its packet was published
    stamp, publish = track_module.Timeline.stamp, PacketFanout.publish

    def recording_publish(self, item):
        if hasattr(item, "pts"):
            published[(item.session, item.pts)] = time.time()
        publish(self, item)

    def recording_stamp(self, packet, burst):
        pts, dts = stamp(self, packet, burst)
        sent[pts] = published.get((packet.session, packet.pts), packet.wall_time)
        return pts, dts

    track_module.Timeline.stamp = recording_stamp
    PacketFanout.publish = recording_publish
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="vms-live-lat-")),
        storage={"min_free": 0},
        cameras=[{"id": "lat", "name": "lat", "group": "tunnel", "main_url": url, "recording": {"enabled": False}}],
    )
    runtime = Runtime.build(settings).start()
    auth, _ = sign_in_admin(runtime.db)
    latencies: list[float] = []
    try:
        with serve_app(create_app(runtime)) as served:
            fanout = runtime.worker.pipeline("lat").fanout("main")
            while fanout.current_info is None:
                await asyncio.sleep(0.1)
            viewer = WhepViewer(served.url, "lat", headers=auth)
            origin: list[int] = []
            received: list[tuple[int, float]] = []

            async def consume(track):
                try:
                    while True:
                        frame = await track.recv()
                        now = time.time()
                        if not origin:
                            origin.append(frame.pts)
                        received.append(((frame.pts - origin[0]) % 2**32, now))
                        viewer.frames.append((time.monotonic(), frame.width, frame.height))
                except MediaStreamError:
                    pass

            viewer._consume = consume  # type: ignore[method-assign]
            await viewer.start()
            await asyncio.sleep(seconds)
            await viewer.stop()
            for pts, now in received[30:]:  # skip the cached burst at the start
                if pts in sent:
                    latencies.append(now - sent[pts])
    finally:
        track_module.Timeline.stamp, PacketFanout.publish = stamp, publish
        runtime.stop()
    return latencies


# -- main ---------------------------------------------------------------------------------------


async def run(args) -> None:
    mounts = shared_mounts(args)
    with CameraSimulator(mounts).start() as sim, tempfile.TemporaryDirectory(prefix="vms-bench-live-") as tmp:
        urls = {f"cam-{i:02d}": sim.url(mounts[i % len(mounts)].id) for i in range(args.cameras)}
        live = {"max_viewers_per_camera": max(64, args.viewers + 4), "max_viewers_total": 256,
                "max_transcoded_viewers": args.transcoded, "idle_seconds": 60}
        print(f"vms live benchmark: {args.cameras} cameras {args.width}x{args.height}@{args.fps} "
              f"(gop {args.fps}) from {args.mounts} simulator mounts; CPU in % of one core; "
              f"{os.cpu_count()} cores shared with other work, so figures are noisy\n")
        with vms_server(Path(tmp), urls, live) as (base, pid, auth, password):
            ids = list(urls)
            await asyncio.sleep(2)
            idle_cpu = await acpu_percent(pid, args.seconds)
            line("server CPU, recording, no viewers", f"{idle_cpu:.1f} %", f"({args.cameras} cameras)")

            cold, warm = await first_frames_aiortc(base, auth, ids[0:4])
            line("first frame, aiortc viewer, GOP cache warm", summary(warm), "offer sent -> frame decoded")
            line("first frame, aiortc viewer, cold relay", summary(cold), "waits for the next keyframe")

            result = await many_viewers(base, auth, pid, ids[8], args.viewers, args.seconds, transcode=False)
            per = (result["cpu"] - idle_cpu) / args.viewers
            line(f"{args.viewers} passthrough viewers of one camera: server CPU", f"{result['cpu']:.1f} %",
                 f"-> {per:.2f} % per viewer; fps/viewer median {result['fps_median']:.1f} min {result['fps_min']:.1f}")
            if args.transcoded:
                result_t = await many_viewers(base, auth, pid, ids[9], args.transcoded, args.seconds, transcode=True)
                per_t = (result_t["cpu"] - idle_cpu) / args.transcoded
                line(f"{args.transcoded} re-encoded viewers (aiortc x264): server CPU", f"{result_t['cpu']:.1f} %",
                     f"-> {per_t:.2f} % per viewer; fps/viewer median {result_t['fps_median']:.1f}")
                line("re-encoding / passthrough CPU per viewer", f"{per_t / max(per, 0.01):.0f} x")

            if not args.skip_browser:
                from playwright.async_api import async_playwright

                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    page = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
                    # The wall page signs in with the session cookie, as an operator's browser does.
                    await page.request.post(base + "/api/auth/login", data={"username": "bench-admin", "password": password})
                    await page.goto(base + "/static/live.html")  # any page of the server: same origin
                    cold_c, warm_c = await first_frames_chromium(page, base, auth, ids[4:8])
                    line("first frame, Chromium, GOP cache warm", summary(warm_c), "offer sent -> framesDecoded > 0")
                    line("first frame, Chromium, cold relay", summary(cold_c))
                    wall = await wall_16(page, base, ids[:16], args.seconds, pid)
                    rates = wall["rates"]
                    line(f"{len(rates)}-tile wall in one Chromium: decoded fps per tile",
                         f"{statistics.median(rates):.1f} (min {min(rates):.1f})",
                         f"camera {args.fps} fps; {wall['live']} tiles live; server CPU {wall['cpu']:.1f} %")
                    if wall["jitter"]:
                        jitter_ms = statistics.median(wall["jitter"]) * 1000
                        line("Chromium jitter-buffer delay per tile (median)", f"{jitter_ms:.0f} ms")
                    await browser.close()

        latencies = await ingest_to_picture_latency(sim.url(mounts[0].id), min(args.seconds, 8))
        line("latency ingest -> decoded at aiortc viewer", summary(latencies),
             "relay + WebRTC + decode; camera encode and RTSP not included")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--viewers", type=int, default=25)
    parser.add_argument("--transcoded", type=int, default=4, help="re-encoded viewers for the comparison (0: skip)")
    parser.add_argument("--seconds", type=float, default=10)
    add_stream_arguments(parser, width=640, height=360, bitrate=800)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    if args.cameras < 16 and not args.skip_browser:
        parser.error("the 4x4 wall needs --cameras 16")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
