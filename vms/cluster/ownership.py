"""Which cameras this worker may record: all of them (one process) or those it leases in Redis.

The stream worker asks ``owned()`` and reconciles its pipelines when told ``on_change``. With
Redis a keeper thread, every third of the lease period:

1. advertises the worker (``vms.cluster.members``) and learns how many workers are alive;
2. renews its leases in one round trip; a lease another worker now holds is dropped at once;
3. computes its fair share, ``ceil(cameras / live workers)`` (capped by ``capacity``), sheds the
   extras when a new worker appeared, and claims free cameras up to its share.

Safety when Redis cannot be reached: each lease has a local deadline (send time of the last
successful renewal + the lease period, measured on this host's monotonic clock, so it can only
be earlier than Redis's). A camera is dropped ``guard`` seconds before that deadline, whether or
not Redis answered, so a worker cut off from Redis has stopped recording before another
worker can take the camera over.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from vms.cluster.config import ClusterConfig

if TYPE_CHECKING:
    from vms.cluster.leases import Lease
    from vms.config import Settings

log = logging.getLogger(__name__)

OnChange = Callable[[], None]


class Ownership(abc.ABC):
    """The cameras this worker may record, kept current while it runs."""

    def __init__(self, on_change: OnChange = lambda: None) -> None:
        self.on_change = on_change

    @abc.abstractmethod
    def set_cameras(self, camera_ids: Iterable[str]) -> None:
        """The enabled cameras of the registry (the worker re-reads them periodically)."""

    @abc.abstractmethod
    def owned(self) -> set[str]:
        """Cameras whose pipelines should run here now."""

    def holds(self, camera_id: str) -> bool:
        return camera_id in self.owned()

    def token(self, camera_id: str) -> int | None:
        """The fencing token of this worker's lease on ``camera_id`` (None without leases)."""
        return None

    def settle(self, running: set[str]) -> None:
        """The worker runs pipelines for ``running`` only: shed leases of the others may go now."""

    def start(self) -> "Ownership":
        return self

    def stop(self) -> None:
        """Give up every camera (after the worker stopped their pipelines)."""

    def describe(self) -> dict[str, Any]:
        return {"mode": "local", "cameras": sorted(self.owned())}


class LocalOwnership(Ownership):
    """The all-in-one process: every enabled camera is ours."""

    def __init__(self, on_change: OnChange = lambda: None) -> None:
        super().__init__(on_change)
        self._cameras: set[str] = set()

    def set_cameras(self, camera_ids: Iterable[str]) -> None:
        self._cameras = set(camera_ids)

    def owned(self) -> set[str]:
        return set(self._cameras)

    def holds(self, camera_id: str) -> bool:
        return True


def fair_share(cameras: int, workers: int, capacity: int | None = None) -> int:
    """How many cameras one of ``workers`` live workers should hold: ceil(cameras / workers), at most ``capacity``."""
    share = math.ceil(cameras / max(1, workers))
    return share if capacity is None else min(share, capacity)


def preference(camera_id: str, worker_id: str) -> int:
    """Rendezvous hashing: workers prefer different cameras, so their claims rarely collide."""
    return int.from_bytes(hashlib.blake2b(f"{camera_id}|{worker_id}".encode(), digest_size=8).digest(), "big")


@dataclass
class _Held:
    lease: Lease
    deadline: float  # monotonic: the lease may have expired in Redis from this moment on


class RedisOwnership(Ownership):
    def __init__(
        self,
        redis_url: str,
        worker_id: str,
        config: ClusterConfig = ClusterConfig(),
        on_change: OnChange = lambda: None,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from vms.cluster.leases import LeaseStore
        from vms.cluster.members import Membership

        super().__init__(on_change)
        self.worker_id = worker_id
        self.config = config
        self.ttl = config.lease_seconds
        self.period = self.ttl / 3
        self.guard = self.ttl / 6
        # Short timeouts and no hidden retries: a renewal that hangs must not outlive the lease.
        self.client = redis.Redis.from_url(
            redis_url,
            socket_timeout=self.guard,
            socket_connect_timeout=self.guard,
            retry=Retry(NoBackoff(), 0),
        )
        self.leases = LeaseStore(self.client, config.key_prefix)
        self.members = Membership(self.client, config.key_prefix)
        self.live_workers: list[str] = []
        self.redis_ok = False
        self._cameras: set[str] = set()
        self._held: dict[str, _Held] = {}
        self._shedding: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._keeper = threading.Thread(target=self._keep, name="ownership-keeper", daemon=True)
        self._notifier = threading.Thread(target=self._notify_loop, name="ownership-notifier", daemon=True)
        self._last_error_log = 0.0

    # -- the worker's side ----------------------------------------------------------------

    def set_cameras(self, camera_ids: Iterable[str]) -> None:
        with self._lock:
            self._cameras = set(camera_ids)

    def owned(self) -> set[str]:
        with self._lock:
            return set(self._held)

    def holds(self, camera_id: str) -> bool:
        with self._lock:
            held = self._held.get(camera_id)
            return held is not None and time.monotonic() < held.deadline - self.guard

    def token(self, camera_id: str) -> int | None:
        with self._lock:
            held = self._held.get(camera_id)
            return held.lease.token if held is not None else None

    def settle(self, running: set[str]) -> None:
        # A shed camera is released only once its pipeline is gone, so the next owner never
        # records while this worker still does.
        with self._lock:
            done = [c for c in self._shedding if c not in running]
            released = [self._shedding.pop(c) for c in done]
        for held in released:
            self._release(held)

    def start(self) -> "RedisOwnership":
        self._tick()  # claim a first share before the worker starts its pipelines
        self._keeper.start()
        self._notifier.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        self._keeper.join(self.ttl)
        self._notifier.join(self.ttl)
        with self._lock:
            held = list(self._held.values()) + list(self._shedding.values())
            self._held.clear()
            self._shedding.clear()
        for item in held:
            self._release(item)
        try:
            self.members.leave(self.worker_id)
        except Exception as exc:
            log.warning("could not leave the worker set: %s", exc)
        self.client.close()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": "redis",
                "worker_id": self.worker_id,
                "cameras": sorted(self._held),
                "live_workers": list(self.live_workers),
                "redis_ok": self.redis_ok,
            }

    # -- the keeper -----------------------------------------------------------------------

    def _keep(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                deadlines = [h.deadline - self.guard for h in self._held.values()]
            wait = self.period
            if deadlines:
                # Wake up in time to drop a lease we could not renew.
                wait = min(wait, max(0.05, min(deadlines) - time.monotonic()))
            if self._stop.wait(wait):
                return
            self._tick()

    def _tick(self) -> None:
        import redis

        changed = False
        try:
            changed = self._coordinate()
            self.redis_ok = True
        except redis.RedisError as exc:
            self.redis_ok = False
            if time.monotonic() - self._last_error_log > 5:
                self._last_error_log = time.monotonic()
                log.warning("worker %s cannot reach Redis (%s); leases lapse in at most %g s", self.worker_id, exc, self.ttl)
        except Exception:
            log.exception("ownership tick failed")
        changed |= self._drop_expired()
        if changed:
            self._changed.set()

    def _coordinate(self) -> bool:
        ttl_ms = int(self.ttl * 1000)
        with self._lock:
            cameras = set(self._cameras)
            info = {"host": socket.gethostname(), "pid": os.getpid(), "capacity": self.config.capacity, "cameras": len(self._held)}
        live = self.members.heartbeat(self.worker_id, ttl_ms, info)
        self.live_workers = live
        changed = self._renew(ttl_ms)
        with self._lock:
            # Cameras disabled or removed, then the extras above our share, are shed.
            share = fair_share(len(cameras), len(live), self.config.capacity)
            gone = [c for c in self._held if c not in cameras]
            keep = sorted((c for c in self._held if c in cameras), key=lambda c: preference(c, self.worker_id), reverse=True)
            for camera_id in gone + keep[share:]:
                self._shedding[camera_id] = self._held.pop(camera_id)
                changed = True
            missing = share - len(self._held)
            busy = set(self._held) | set(self._shedding)
        if missing > 0:
            candidates = [c for c in cameras if c not in busy]
            holders = self.leases.holders(candidates)
            free = sorted((c for c, h in holders.items() if h is None), key=lambda c: preference(c, self.worker_id), reverse=True)
            for camera_id in free[:missing]:
                sent = time.monotonic()
                lease = self.leases.acquire(camera_id, self.worker_id, ttl_ms)
                if lease is not None:
                    with self._lock:
                        self._held[camera_id] = _Held(lease, sent + self.ttl)
                    log.info("worker %s took camera %s (token %d)", self.worker_id, camera_id, lease.token)
                    changed = True
        return changed

    def _renew(self, ttl_ms: int) -> bool:
        from vms.cluster.leases import Renewal

        with self._lock:
            items = list(self._held.items()) + list(self._shedding.items())
        sent = time.monotonic()
        results = self.leases.renew_many([h.lease for _, h in items], ttl_ms)
        changed = False
        for (camera_id, held), result in zip(items, results):
            if result is Renewal.RENEWED:
                held.deadline = sent + self.ttl
                continue
            if result is Renewal.GONE:
                # Nobody holds it (Redis restarted empty): take it again, with a fresh token.
                lease = self.leases.acquire(camera_id, self.worker_id, ttl_ms)
                if lease is not None:
                    held.lease, held.deadline = lease, sent + self.ttl
                    log.info("worker %s re-took camera %s after its lease vanished", self.worker_id, camera_id)
                    continue
            log.warning("worker %s lost camera %s to another worker", self.worker_id, camera_id)
            with self._lock:
                if self._held.pop(camera_id, None) is not None:
                    changed = True
                self._shedding.pop(camera_id, None)
        return changed

    def _drop_expired(self) -> bool:
        now = time.monotonic()
        with self._lock:
            expired = [c for c, h in self._held.items() if now >= h.deadline - self.guard]
            for camera_id in expired:
                del self._held[camera_id]
            for camera_id in [c for c, h in self._shedding.items() if now >= h.deadline]:
                del self._shedding[camera_id]
        for camera_id in expired:
            log.error("worker %s could not renew its lease on %s: stops recording it", self.worker_id, camera_id)
        return bool(expired)

    def _release(self, held: _Held) -> None:
        try:
            self.leases.release(held.lease)
        except Exception as exc:
            log.warning("could not release %s (it expires by itself): %s", held.lease, exc)

    def _notify_loop(self) -> None:
        while not self._stop.is_set():
            self._changed.wait()
            self._changed.clear()
            if self._stop.is_set():
                return
            try:
                self.on_change()
            except Exception:
                log.exception("ownership change handler failed")


def ownership_for(settings: Settings, worker_id: str, on_change: OnChange = lambda: None) -> Ownership:
    """Leases in Redis when ``redis_url`` is set, else every camera is ours."""
    if settings.redis_url:
        return RedisOwnership(settings.redis_url, worker_id, settings.cluster, on_change)
    return LocalOwnership(on_change)
