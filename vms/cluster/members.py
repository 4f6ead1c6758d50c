"""Which workers are alive: each advertises itself with a TTL, on the Redis clock.

``<prefix>workers`` is a sorted set of worker ids scored by when their advertisement expires
(Redis server time, so workers' clocks never matter); ``<prefix>worker:<id>`` holds the
worker's details (host, capacity, cameras held) with the same TTL, for operators and the API.
"""

from __future__ import annotations

import json
from typing import Any

import redis

_HEARTBEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

_LIVE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], ms, '+inf')
"""


class Membership:
    def __init__(self, client: redis.Redis, prefix: str = "vms:") -> None:
        self.client = client
        self.prefix = prefix
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._live = client.register_script(_LIVE)

    @property
    def set_key(self) -> str:
        return f"{self.prefix}workers"

    def info_key(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    def heartbeat(self, worker_id: str, ttl_ms: int, info: dict[str, Any]) -> list[str]:
        """Advertise ``worker_id`` for ``ttl_ms``; returns every live worker (sorted)."""
        members = self._heartbeat(
            keys=[self.set_key, self.info_key(worker_id)], args=[worker_id, ttl_ms, json.dumps(info)]
        )
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def live(self) -> list[str]:
        return sorted(m.decode() if isinstance(m, bytes) else m for m in self._live(keys=[self.set_key]))

    def info(self, worker_id: str) -> dict[str, Any] | None:
        raw = self.client.get(self.info_key(worker_id))
        return json.loads(raw) if raw else None

    def leave(self, worker_id: str) -> None:
        self.client.zrem(self.set_key, worker_id)
        self.client.delete(self.info_key(worker_id))
