"""Viewers come and go: nothing (sessions, relays, tasks, threads, sockets) may stay behind."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import httpx

from tests.support.feeder import PacketFeeder
from tests.support.live_system import live_system, offline_camera
from tests.support.whep_client import make_offer
from vms.auth.audit import AuditQuery, query_audit

SDP = {"Content-Type": "application/sdp"}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("live-"))


async def server_tasks(system) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return system.served.call(count())


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_200_connects_and_disconnects_leave_nothing_behind(tmp_path):
    live = {"idle_seconds": 0.5}
    with live_system(tmp_path, [offline_camera("cam1")], live=live) as system:
        feeder = PacketFeeder(system.fanout("cam1"), 160, 96).start()
        try:
            # Warm up lazily created things (executor threads, HTTP keep-alive), then take the baseline.
            viewer = await system.viewer("cam1").start()
            await viewer.wait_frames(3)
            await viewer.stop()
            await wait_until(lambda: not system.hub.relays(), 10, "the relay to go idle")
            baseline = (open_fds(), await server_tasks(system), threading.active_count())

            async with httpx.AsyncClient(base_url=system.url, headers=system.auth, timeout=20) as client:
                for _ in range(200):
                    pc, offer = await make_offer()
                    created = await client.post("/api/cameras/cam1/whep", content=offer, headers=SDP)
                    assert created.status_code == 201, created.text
                    assert (await client.delete(created.headers["location"])).status_code == 200
                    await pc.close()
            # And a few that really play before they leave.
            for _ in range(5):
                viewer = await system.viewer("cam1").start()
                await viewer.wait_frames(2)
                await viewer.stop()

            assert system.hub.sessions() == []
            await wait_until(lambda: not system.hub.relays() and not live_threads(), 10, "relays to unsubscribe")
            assert len(system.fanout("cam1").consumers()) == 0  # unsubscribed; ingest itself untouched
            fds, tasks, threads = baseline
            await wait_until(lambda: open_fds() <= fds + 2, 10, f"sockets to close (baseline {fds}, now {open_fds()})")
            assert await server_tasks(system) <= tasks
            assert threading.active_count() <= threads
        finally:
            feeder.stop()


async def test_a_viewer_that_vanishes_is_dropped(tmp_path):
    """No DELETE and no more receiver reports (tab killed, network gone): the session ends."""
    live = {"viewer_timeout_seconds": 2}
    with live_system(tmp_path, [offline_camera("cam1")], live=live) as system:
        feeder = PacketFeeder(system.fanout("cam1"), 160, 96).start()
        try:
            viewer = await system.viewer("cam1").start()
            await viewer.wait_frames(5)
            assert len(system.hub.sessions()) == 1

            async def silent(packets) -> None:
                return None

            receiver = viewer.pc.getTransceivers()[0].receiver
            receiver._send_rtcp = silent  # the browser stops answering
            await wait_until(lambda: not system.hub.sessions(), 8, "the silent viewer to be dropped")
            await viewer.stop(delete=False)

            # A viewer that closes its peer connection without DELETE is dropped too.
            viewer = await system.viewer("cam1").start()
            await viewer.wait_frames(5)
            await viewer.stop(delete=False)
            await wait_until(lambda: not system.hub.sessions(), 8, "the closed viewer to be dropped")
            # Both ends are in the audit log though no DELETE came: the server ended them. The
            # entry is written when the API hears the hub's bus message, just after the hub forgot it.
            def stops_written():
                return query_audit(system.runtime.db, AuditQuery(action="live.stop"))
            await wait_until(lambda: len(stops_written()) >= 2, 8, "both live.stop entries")
            stops = stops_written()
            assert len(stops) == 2 and all(e.detail["ended_by"] == "server" and e.target == "cam1" for e in stops), stops
            assert "no receiver report" in stops[-1].detail["reason"]
        finally:
            feeder.stop()
