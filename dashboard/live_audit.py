"""``live.stop`` audit entries for live sessions that end without the viewer's DELETE.

The API remembers who started each session (the hub, possibly on another worker, does not
know users); when a hub announces on the bus that it ended a session itself (the tab was
killed, the browser never connected, the server stopped), the entry is written here with
the hub's reason. A session the viewer ended is audited by its DELETE request and forgotten.

An API process killed outright (kill -9, power cut) forgets the sessions it started. On the
next start ``reconcile`` reads the audit log: a session started but never stopped is still
remembered when a hub still plays it (its end is then audited as usual), and otherwise gets
its ``live.stop`` with ``ended_by: "restart"``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vms.auth.audit import audit
from vms.bus import Bus
from vms.db import Database
from vms.db.auth import AuditEntry
from vms.db.types import utcnow
from vms.live.gateway import LiveGateway
from vms.live.sessions import LIVE_SESSIONS_TOPIC

log = logging.getLogger(__name__)

# Sessions whose end was never heard (a worker died with them) must not grow memory forever.
MAX_REMEMBERED = 10_000
# How far back a restart looks for sessions left open: longer than any operator's shift.
RECONCILE_DAYS = 7


@dataclass(frozen=True)
class _Started:
    user: object
    camera_id: str
    client_ip: str


@dataclass(frozen=True)
class _Recorded:
    """The user of an audit entry, as ``audit`` takes it (username and role)."""

    username: str
    role: str


def _key(session: str) -> str:
    return session.rsplit(".", 1)[-1]  # scale-out ids are "<worker>.<session>"


def open_sessions(db: Database, days: float = RECONCILE_DAYS) -> list[AuditEntry]:
    """``live.start`` entries of the last ``days`` with no ``live.stop`` of the same session."""
    since = utcnow() - timedelta(days=days)
    with db.session() as session:
        entries = list(session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("live.start", "live.stop")), AuditEntry.at >= since)
            .order_by(AuditEntry.id)
        ))
    stopped = {_key(str(e.detail.get("session", ""))) for e in entries if e.action == "live.stop"}
    return [e for e in entries if e.action == "live.start" and e.detail.get("session")
            and _key(str(e.detail["session"])) not in stopped]


class LiveStopAudit:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus
        self._started: dict[str, _Started] = {}
        self._lock = threading.Lock()
        self._remove = None

    def start(self) -> "LiveStopAudit":
        self._remove = self.bus.add_listener(LIVE_SESSIONS_TOPIC, self._heard)
        return self

    def close(self) -> None:
        if self._remove is not None:
            self._remove()

    def started(self, session: str, user, camera_id: str, client_ip: str) -> None:
        with self._lock:
            if len(self._started) >= MAX_REMEMBERED:
                self._started.pop(next(iter(self._started)))
            self._started[_key(session)] = _Started(user, camera_id, client_ip)

    def stopped_by_viewer(self, session: str) -> None:
        with self._lock:
            self._started.pop(_key(session), None)

    async def reconcile(self, gateway: LiveGateway) -> dict[str, int]:
        """Settle the sessions the audit log shows open (call once the gateway has started).

        Returns ``{"adopted": n, "closed": m}``. Sessions on a worker that did not answer are
        adopted: their end cannot be known yet, and writing it early would be false."""
        dangling = await run_in_threadpool(open_sessions, self.db)
        if not dangling:
            return {"adopted": 0, "closed": 0}
        try:
            described: dict[str, Any] = await gateway.describe()
        except Exception as exc:  # no live here (NoLive) or no worker reachable: nothing plays
            log.info("live sessions not described at start (%s); open ones count as ended", type(exc).__name__)
            described = {"sessions": [], "workers": []}
        alive = {_key(str(s.get("id", ""))) for s in described.get("sessions", [])}
        silent = {str(w.get("worker_id")) for w in described.get("workers", []) if w.get("error")}
        adopted = closed = 0
        for entry in dangling:
            session = str(entry.detail["session"])
            worker = session.rsplit(".", 1)[0] if "." in session else None
            user = _Recorded(entry.username, entry.role)
            if _key(session) in alive or (worker is not None and worker in silent):
                self.started(session, user, entry.target, entry.client_ip)
                adopted += 1
                continue
            await run_in_threadpool(audit, self.db, user, "live.stop", entry.target,
                                    {"session": session, "ended_by": "restart",
                                     "reason": "the API process stopped without ending the session"}, entry.client_ip)
            closed += 1
        if closed or adopted:
            log.info("live sessions left open by an earlier API process: %d ended, %d still playing", closed, adopted)
        return {"adopted": adopted, "closed": closed}

    def _heard(self, topic: str, message: dict) -> None:
        with self._lock:
            entry = self._started.pop(_key(str(message.get("session", ""))), None)
        if entry is None:
            return  # started by another API process, which writes the entry
        audit(self.db, entry.user, "live.stop", entry.camera_id,
              {"session": message.get("session"), "reason": message.get("reason"), "ended_by": "server"}, entry.client_ip)
