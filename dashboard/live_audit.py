"""``live.stop`` audit entries for live sessions that end without the viewer's DELETE.

The API remembers who started each session (the hub, possibly on another worker, does not
know users); when a hub announces on the bus that it ended a session itself (the tab was
killed, the browser never connected, the server stopped), the entry is written here with
the hub's reason. A session the viewer ended is audited by its DELETE request and forgotten.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vms.auth.audit import audit
from vms.bus import Bus
from vms.db import Database
from vms.live.sessions import LIVE_SESSIONS_TOPIC

# Sessions whose end was never heard (a worker died with them) must not grow memory forever.
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class _Started:
    user: object
    camera_id: str
    client_ip: str


def _key(session: str) -> str:
    return session.rsplit(".", 1)[-1]  # scale-out ids are "<worker>.<session>"


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

    def _heard(self, topic: str, message: dict) -> None:
        with self._lock:
            entry = self._started.pop(_key(str(message.get("session", ""))), None)
        if entry is None:
            return  # started by another API process, which writes the entry
        audit(self.db, entry.user, "live.stop", entry.camera_id,
              {"session": message.get("session"), "reason": message.get("reason"), "ended_by": "server"}, entry.client_ip)
