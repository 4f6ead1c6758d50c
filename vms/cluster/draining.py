"""Which workers are stopping: each announces its drain with a TTL, as live workers advertise themselves.

A worker told to stop leaves the worker set (``vms.cluster.members``) at once, so the others'
fair share takes its cameras, but it records on until each camera's next holder has started
(``RedisOwnership.drain``). ``<prefix>draining`` (a sorted set scored by expiry, on the Redis
clock) and ``<prefix>draining:<id>`` (JSON: host, pid, ``since`` and ``until`` in UTC epoch
seconds, ``cameras`` still recorded, ``taken``: those another worker holds already) say so
while it does; the notice is renewed while the worker stops and withdrawn when it has stopped,
and a killed worker's notice lapses after its TTL. ``vms workers`` lists these workers as
``draining`` beside the live ones. Only a view: nothing decides anything from it.
"""

from __future__ import annotations

import json
from typing import Any

from vms.cluster.members import Membership


class DrainNotices(Membership):
    """``heartbeat`` announces (or renews) a worker's drain, ``live`` lists the workers draining
    now, ``info`` reads one notice, ``leave`` withdraws it. Raises ``redis.RedisError`` when Redis
    does not answer."""

    @property
    def set_key(self) -> str:
        return f"{self.prefix}draining"

    def info_key(self, worker_id: str) -> str:
        return f"{self.prefix}draining:{worker_id}"

    def all(self) -> dict[str, dict[str, Any]]:
        """Every draining worker's notice, by worker id (two round trips)."""
        ids = self.live()
        if not ids:
            return {}
        raw = self.client.mget([self.info_key(w) for w in ids])
        return {w: json.loads(r) for w, r in zip(ids, raw) if r}

