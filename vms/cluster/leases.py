"""Camera leases in Redis: one holder per camera, a fencing token per grant.

A lease is the key ``<prefix>lease:<camera>`` holding ``<token>:<worker>`` with a TTL:

* acquire: ``SET key value NX PX ttl``; the token comes from one counter (``INCR``) raised to
  at least the Redis clock in milliseconds, so tokens keep growing even across a Redis that
  lost its data;
* renew: a Lua compare-and-extend (``PEXPIRE`` only if the value is still ours);
* release: a Lua compare-and-delete;
* break: a Lua delete of every listed lease a given (dead) worker holds, whatever its token.

Every call is one round trip; ``renew_many`` pipelines a worker's leases into one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import redis

# Token: INCR, but never below the server clock in ms (monotonic across a data loss).
_NEXT_TOKEN = """
local token = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if token < ms then
  redis.call('SET', KEYS[1], ms)
  token = ms
end
return token
"""

# 1: extended; 0: someone else holds it; -1: nobody holds it (expired, or Redis lost it).
_RENEW = """
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if value then return 0 end
return -1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Delete the leases among KEYS whose holder is the worker ARGV[1]; returns how many.
_BREAK = """
local freed = 0
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    local sep = string.find(value, ':', 1, true)
    if sep and string.sub(value, sep + 1) == ARGV[1] then
      redis.call('DEL', key)
      freed = freed + 1
    end
  end
end
return freed
"""


class Renewal(enum.Enum):
    RENEWED = 1
    TAKEN = 0  # another worker holds the camera now
    GONE = -1  # nobody holds it: the key expired or Redis restarted empty


@dataclass(frozen=True)
class Lease:
    camera_id: str
    worker_id: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.token}:{self.worker_id}"


def parse_holder(value: bytes | str | None) -> tuple[int, str] | None:
    """``(token, worker)`` from a lease key's value."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    token, _, worker = text.partition(":")
    return int(token), worker


class LeaseStore:
    def __init__(self, client: redis.Redis, prefix: str = "vms:") -> None:
        self.client = client
        self.prefix = prefix
        self._next_token = client.register_script(_NEXT_TOKEN)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._break = client.register_script(_BREAK)

    def key(self, camera_id: str) -> str:
        return f"{self.prefix}lease:{camera_id}"

    def acquire(self, camera_id: str, worker_id: str, ttl_ms: int) -> Lease | None:
        """The lease, or None when another worker holds the camera."""
        if self.client.exists(self.key(camera_id)):
            return None  # cheap check first: no token is spent on a busy camera
        lease = Lease(camera_id, worker_id, int(self._next_token(keys=[f"{self.prefix}lease-token"])))
        if self.client.set(self.key(camera_id), lease.value, nx=True, px=ttl_ms):
            return lease
        return None

    def renew(self, lease: Lease, ttl_ms: int) -> Renewal:
        return Renewal(int(self._renew(keys=[self.key(lease.camera_id)], args=[lease.value, ttl_ms])))

    def renew_many(self, leases: list[Lease], ttl_ms: int) -> list[Renewal]:
        """Renew several leases in one round trip."""
        if not leases:
            return []
        pipe = self.client.pipeline(transaction=False)
        for lease in leases:
            self._renew(keys=[self.key(lease.camera_id)], args=[lease.value, ttl_ms], client=pipe)
        return [Renewal(int(result)) for result in pipe.execute()]

    def release(self, lease: Lease) -> bool:
        return bool(self._release(keys=[self.key(lease.camera_id)], args=[lease.value]))

    def break_worker(self, camera_ids: list[str], worker_id: str) -> int:
        """Free every camera of ``camera_ids`` that ``worker_id`` holds (it is known dead); how many.

        One atomic script: a lease taken by another worker meanwhile is left alone.
        """
        if not camera_ids:
            return 0
        return int(self._break(keys=[self.key(c) for c in camera_ids], args=[worker_id]))

    def holders(self, camera_ids: list[str]) -> dict[str, tuple[int, str] | None]:
        """Who holds each camera (token, worker), None for free cameras; one MGET."""
        if not camera_ids:
            return {}
        values = self.client.mget([self.key(c) for c in camera_ids])
        return {camera_id: parse_holder(value) for camera_id, value in zip(camera_ids, values)}

    def holder(self, camera_id: str) -> str | None:
        """The worker recording ``camera_id`` now, or None."""
        held = parse_holder(self.client.get(self.key(camera_id)))
        return held[1] if held else None
