"""Live sessions an API process never saw end (it was killed outright) get their ``live.stop``
when the API starts again (issue 14: every live session's end is in the audit log)."""

from __future__ import annotations

from typing import Any

from dashboard.live_audit import LiveStopAudit
from tests.support.api import api_system
from vms.auth.audit import AuditQuery, audit, query_audit
from vms.live.gateway import LiveGateway
from vms.live.sessions import LIVE_SESSIONS_TOPIC


class _Operator:
    username, role = "operator", "operator"


def _started(db, session: str, camera: str = "tun-1") -> None:
    audit(db, _Operator(), "live.start", camera, {"session": session, "stream": "main", "transcode": False}, "10.0.0.7")


def _stops(db) -> dict[str, dict]:
    return {e.detail["session"]: {**e.detail, "user": e.username, "ip": e.client_ip, "camera": e.target}
            for e in query_audit(db, AuditQuery(action="live.stop"))}


class _Playing(LiveGateway):
    """A gateway whose hubs still play ``sessions`` (and whose worker ``silent`` does not answer)."""

    def __init__(self, sessions: list[str], silent: str | None = None) -> None:
        self.sessions = sessions
        self.silent = silent

    async def offer(self, *args: Any, **kwargs: Any):
        raise AssertionError("the restart must not call this")  # a fake: any call is a test failure

    async def close(self, camera_id: str, session: str) -> None:
        raise AssertionError("the restart must not call this")  # a fake: any call is a test failure

    async def close_owner(self, owner: str) -> int:
        return 0

    async def snapshot(self, *args: Any, **kwargs: Any):
        raise AssertionError("the restart must not call this")  # a fake: any call is a test failure

    async def describe(self) -> dict[str, Any]:
        workers = [{"worker_id": "w1", "error": None}]
        if self.silent:
            workers.append({"worker_id": self.silent, "error": "timeout"})
        return {"sessions": [{"id": s, "camera_id": "tun-1"} for s in self.sessions], "relays": [], "workers": workers}


async def test_sessions_left_open_by_a_killed_api_are_stopped_at_start(tmp_path):
    async with api_system(tmp_path) as system:
        db = system.db
        _started(db, "s-open")                      # the API died with this one playing
        _started(db, "s-done")
        audit(db, _Operator(), "live.stop", "tun-1", {"session": "s-done"})  # ended normally
        # The API starts (its lifespan): this server plays no live video, so nothing still plays.
        async with system.app.router.lifespan_context(system.app):
            stops = _stops(db)
            assert set(stops) == {"s-open", "s-done"}
            assert stops["s-open"]["ended_by"] == "restart"
            # Written as the viewer's entry: who watched, from where, which camera.
            assert (stops["s-open"]["user"], stops["s-open"]["ip"], stops["s-open"]["camera"]) == (
                "operator", "10.0.0.7", "tun-1")
        # A second start writes nothing more.
        async with system.app.router.lifespan_context(system.app):
            assert len(query_audit(db, AuditQuery(action="live.stop"))) == 2


async def test_sessions_still_playing_on_a_worker_are_adopted_not_stopped(tmp_path):
    async with api_system(tmp_path) as system:
        db, bus = system.db, system.runtime.bus
        _started(db, "w1.playing")
        _started(db, "w1.gone")
        _started(db, "w2.unknown")  # its worker does not answer: its end is not known yet
        watcher = LiveStopAudit(db, bus).start()
        try:
            settled = await watcher.reconcile(_Playing(["playing"], silent="w2"))
            assert settled == {"adopted": 2, "closed": 1}
            assert set(_stops(db)) == {"w1.gone"} and _stops(db)["w1.gone"]["ended_by"] == "restart"
            # The hub ends the adopted session later (the viewer vanished): audited as usual.
            bus.publish(LIVE_SESSIONS_TOPIC, {"phase": "ended", "session": "playing", "camera_id": "tun-1",
                                              "reason": "no receiver report for 10 s"})
            stops = _stops(db)
            assert stops["playing"]["ended_by"] == "server" and stops["playing"]["user"] == "operator"
        finally:
            watcher.close()
