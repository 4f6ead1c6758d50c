"""Which cameras this worker may record: all of them (one process) or those it leases in Redis.

The stream worker asks ``owned()`` and reconciles its pipelines when told ``on_change``. With
Redis a keeper thread, every third of the lease period:

1. advertises the worker (``vms.cluster.members``) and learns how many workers are alive;
2. renews its leases in one round trip; a lease another worker now holds is dropped at once;
3. computes its fair share, ``ceil(cameras / live workers)`` (capped by ``capacity``), sheds the
   extras when a new worker appeared, and claims free cameras up to its share.

Recording never waits for Redis (issue 11: a 20 s Redis outage used to stop every camera).
When Redis cannot be reached, a worker keeps every camera it holds, however long the outage;
its leases are then *unconfirmed* (``describe()``): they may have lapsed in Redis. When Redis
answers again each lease is renewed, or taken again if Redis lost it; a camera another worker
took meanwhile (this worker was cut off, the others were not) is given up then. So a partition
can make two workers record one camera for a while, never none: duplicates over loss
(``docs/decisions.md``). Playback and export skip the duplicate (``vms.recordings.playback``).

A worker whose process died is noticed faster than its leases expire: every worker keeps a
presence subscription open in Redis (``vms.cluster.presence``), and a watcher thread checks
the other live workers' subscriptions every ``WATCH_SECONDS``. One gone for
``presence_grace_seconds`` while this worker's own subscription was up is removed from the
worker set and its leases are broken, and the keeper claims the freed cameras at once. After a
Redis outage (or a lost subscription of its own) a worker breaks nothing and claims nothing
for a lease period, so a restart of Redis does not move cameras.

A camera this worker sheds (rebalance) is handed over without a gap: its lease is released at
once so another worker can claim it, and its pipeline keeps recording until another worker
holds the lease and ``handover_seconds`` more (``handing_over()``), so the next owner starts
before this one stops.

A worker told to stop (``drain``) leaves the worker set at once but records on for a while; it
says so in Redis (``vms.cluster.draining``: its cameras, since when, until when), renewed by the
keeper while it stops and withdrawn by ``stop``, so ``vms workers`` shows it as draining rather
than gone. A failed write of that notice is logged and changes nothing else.

Warm standby (``standby_seconds`` > 0): every camera is also pulled, unrecorded, by one other
worker, which keeps a pre-roll ring of it and records from that ring if it takes the camera over.
The standby of a camera is the live worker, other than the lease holder, with the highest
rendezvous ``preference``; no state in Redis says so: each worker works out which cameras it
stands by for (``standby()``) on every keeper tick from the live workers and one MGET of the
lease holders, and claims free cameras it stands by for before any other. Workers may disagree
for a tick (two standbys or none for a moment); that costs a pull, never a recording.
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

WATCH_SECONDS = 0.25  # how often the other workers' presence is checked (one PUBSUB NUMSUB)

OnChange = Callable[[], None]


def cameras_phrase(count: int) -> str:
    """'1 camera', '3 cameras': for log lines."""
    return f"{count} camera" if count == 1 else f"{count} cameras"


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

    def standby(self) -> set[str]:
        """Cameras to pull here unrecorded, ready to take over (some may be ``owned()`` as well)."""
        return set()

    def token(self, camera_id: str) -> int | None:
        """The fencing token of this worker's lease on ``camera_id`` (None without leases)."""
        return None

    def check_identity(self) -> None:
        """Raise ``vms.cluster.identity.DuplicateWorker`` when another live process has this
        worker's id (nothing to check in one process)."""

    def start(self) -> "Ownership":
        return self

    def drain(self, timeout: float) -> int:
        """Hand every held camera over before the worker stops; returns how many were not taken
        within ``timeout`` seconds (nothing to hand over in one process: 0)."""
        return 0

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

    def confirmed(self, now: float) -> bool:
        return now < self.deadline


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

        from vms.cluster.draining import DrainNotices
        from vms.cluster.leases import LeaseStore
        from vms.cluster.members import Membership
        from vms.cluster.presence import Presence

        super().__init__(on_change)
        self.worker_id = worker_id
        self.config = config
        self.ttl = config.lease_seconds
        self._identity_checked = False
        self._draining = False  # drain(): stopping, handing every camera over
        self._drain_asked = False  # drain() ran once (the runtime's stop, then the worker's)
        self._drain_since: float | None = None  # UTC epoch s drain() was asked (the notice's "since")
        self._drain_until: float | None = None  # UTC epoch s the hand-over gives up (None: alone)
        self._noticed: tuple[list[str], list[str], float] | None = None  # last notice: cameras, taken, monotonic
        self.period = self.ttl / 3
        self.handover = config.handover_seconds
        self.standby_seconds = config.standby_seconds
        # Short timeouts and no hidden retries: a renewal that hangs must not outlive the lease.
        self.client = redis.Redis.from_url(
            redis_url,
            socket_timeout=self.ttl / 6,
            socket_connect_timeout=self.ttl / 6,
            retry=Retry(NoBackoff(), 0),
        )
        self.leases = LeaseStore(self.client, config.key_prefix)
        self.members = Membership(self.client, config.key_prefix)
        self.notices = DrainNotices(self.client, config.key_prefix)
        self.grace = config.presence_grace_seconds
        self.presence = (Presence(self.client, config.key_prefix, worker_id, on_reconnect=self._presence_back)
                         if self.grace > 0 else None)
        self.gone_workers = 0  # workers declared gone by presence (their cameras taken before their leases expired)
        self._absent: dict[str, float] = {}  # other worker -> monotonic time its presence was first missed
        self._uses_presence: dict[str, bool] = {}  # whether a worker advertises a presence subscription
        self.live_workers: list[str] = []
        self.redis_ok = False
        self.lost_to_others = 0  # cameras given up because another worker took them (a partition healed)
        self._cameras: set[str] = set()
        self._held: dict[str, _Held] = {}
        # Shed camera -> monotonic time its pipeline stops; None until another worker holds it.
        self._handover: dict[str, float | None] = {}
        self._standby: set[str] = set()  # cameras this worker stands by for (warm standby)
        self._others_standby: set[str] = set()  # cameras another live worker stands by for
        self._seen_free: set[str] = set()  # cameras free at the last tick
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._wake = threading.Event()  # the keeper ticks now (a gone worker's cameras are free)
        self._keeper = threading.Thread(target=self._keep, name="ownership-keeper", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="ownership-watcher", daemon=True)
        self._notifier = threading.Thread(target=self._notify_loop, name="ownership-notifier", daemon=True)
        self._last_error_log = 0.0
        self._outage_seen = False
        self._claim_after = 0.0  # monotonic: no free camera is claimed before this

    # -- the worker's side ----------------------------------------------------------------

    def set_cameras(self, camera_ids: Iterable[str]) -> None:
        with self._lock:
            self._cameras = set(camera_ids)

    def owned(self) -> set[str]:
        with self._lock:
            return set(self._held) | set(self._handover)

    def holds(self, camera_id: str) -> bool:
        # Whether or not Redis answers: a lease that may have lapsed is still recorded (duplicates over loss).
        with self._lock:
            return camera_id in self._held or camera_id in self._handover

    def token(self, camera_id: str) -> int | None:
        with self._lock:
            held = self._held.get(camera_id)
            return held.lease.token if held is not None else None

    def standby(self) -> set[str]:
        with self._lock:
            return set(self._standby)

    def handing_over(self) -> list[str]:
        """Shed cameras still recorded here while their next owner starts."""
        with self._lock:
            return sorted(self._handover)

    def unconfirmed(self) -> list[str]:
        """Held cameras whose lease may have lapsed in Redis (not renewed in time): maybe recorded twice."""
        now = time.monotonic()
        with self._lock:
            return sorted(c for c, h in self._held.items() if not h.confirmed(now))

    def check_identity(self) -> None:
        """Once per process: ``vms run`` asks before its live loop, the worker again before its
        repair (a check can wait up to a lease period for a worker without presence)."""
        from vms.cluster.identity import ensure_unique

        if self._identity_checked:
            return
        ensure_unique(self.client, self.config.key_prefix, self.worker_id, self.ttl)
        self._identity_checked = True

    def start(self) -> "RedisOwnership":
        if self.presence is not None:
            self.presence.start()  # before the first heartbeat: nobody may see this worker without it
        self._tick()  # claim a first share before the worker starts its pipelines
        self._keeper.start()
        self._notifier.start()
        if self.presence is not None:
            self._watcher.start()
        return self

    def drain(self, timeout: float) -> int:
        """Hand every held camera over, as a rebalance does, before the worker stops (SIGTERM, a
        rolling restart): leave the worker set so the others' fair share takes this worker's
        cameras at their next tick, release every lease, and keep recording each camera until
        another worker holds it and ``handover_seconds`` more. Stopping first and releasing
        after left each camera unrecorded from the stop until another worker had claimed it
        and connected. Returns how many cameras were not taken within ``timeout`` seconds, or
        before every other worker left too (they stop regardless); 0 at once when no other
        worker is live."""
        import redis

        with self._lock:
            if self._drain_asked or not self._held:
                return 0
            self._drain_asked = True
            self._drain_since = time.time()
            alone = not [w for w in self.live_workers if w != self.worker_id]
            if not alone:
                self._drain_until = self._drain_since + timeout
        if alone:
            log.info("worker %s stops: no other worker to hand its %s over to", self.worker_id,
                     cameras_phrase(len(self.owned())))
            self._announce_drain()  # it records on while its pipelines close; leases stay until then
            return 0
        with self._lock:
            self._draining = True
            shed = list(self._held.items())
            self._held.clear()
            for camera_id, _ in shed:
                self._handover[camera_id] = None
        log.info("worker %s stops: handing %s over", self.worker_id, cameras_phrase(len(shed)))
        try:
            self.members.leave(self.worker_id)
        except redis.RedisError as exc:
            log.warning("worker %s could not leave the worker set (%s); its cameras move once its "
                        "leases lapse", self.worker_id, exc)
        for _, held in shed:
            self._release(held)
        self._announce_drain()
        deadline = time.monotonic() + timeout
        # Time with Redis away does not count: nobody else can claim a camera then, so stopping
        # at the deadline would leave it recorded by nobody until Redis is back (a trial: 58 s).
        give_up = deadline + self.config.drain_outage_seconds
        last = time.monotonic()
        outage_logged = False
        back_at: float | None = None  # monotonic: Redis answered again after an outage
        while time.monotonic() < deadline:
            with self._lock:
                waiting = [c for c, stop_at in self._handover.items() if stop_at is None]
                if not self._handover:
                    return 0
            try:
                self._handed(waiting)
                # After an outage the others' heartbeats may have lapsed (a restarted Redis is
                # empty): "nobody else is live" means something only a lease period later.
                if outage_logged and back_at is None:
                    back_at = time.monotonic()
                    # The others claim nothing for a lease period after an outage (each first
                    # takes its own back), then claim within a renewal period, then need the
                    # hand-over's overlap: what is left of drain_seconds may be less than that.
                    deadline = min(give_up, max(deadline, back_at + 2 * self.ttl + self.config.handover_seconds))
                    with self._lock:
                        self._drain_until = time.time() + (deadline - back_at)
                settled = back_at is None or time.monotonic() - back_at >= self.ttl
                if settled and not [w for w in self.members.live() if w != self.worker_id]:
                    break  # every other worker is stopping too (compose down): nobody takes over
            except redis.RedisError as exc:
                back_at = None
                now = time.monotonic()
                deadline = min(give_up, deadline + (now - last))
                with self._lock:
                    self._drain_until = time.time() + (deadline - now)
                if not outage_logged:
                    outage_logged = True
                    log.warning("worker %s cannot hand its cameras over: Redis does not answer (%s); it records "
                                "them on until another worker can take them (at most %.0f s more)",
                                self.worker_id, exc, give_up - now)
            last = time.monotonic()
            if self._end_handovers():
                self._changed.set()  # the worker stops the pipelines handed over, one by one
            self._announce_drain()
            self._stop.wait(0.2)
        with self._lock:
            left = len(self._handover)
        if left:
            log.warning("worker %s stops with %s not taken by another worker", self.worker_id, cameras_phrase(left))
        return left

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        self._wake.set()
        self._keeper.join(self.ttl)
        self._notifier.join(self.ttl)
        if self._watcher.is_alive():
            self._watcher.join(self.ttl)
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
            self._handover.clear()
            self._standby.clear()
        for item in held:
            self._release(item)
        try:
            self.members.leave(self.worker_id)
            if self._drain_asked:
                self.notices.leave(self.worker_id)  # stopped: no longer draining, gone
        except Exception as exc:
            log.warning("could not leave the worker set: %s", exc)
        if self.presence is not None:
            self.presence.stop()  # last: the leases are released already, nothing left to break
        self.client.close()

    def describe(self) -> dict[str, Any]:
        unconfirmed = self.unconfirmed()
        with self._lock:
            return {
                "mode": "redis",
                "worker_id": self.worker_id,
                "state": "draining" if self._drain_asked else "live",
                "cameras": sorted(set(self._held) | set(self._handover)),
                "unconfirmed": unconfirmed,
                "handing_over": sorted(self._handover),
                "standby": sorted(self._standby - set(self._held) - set(self._handover)),
                "live_workers": list(self.live_workers),
                "redis_ok": self.redis_ok,
                "lost_to_others": self.lost_to_others,
                "gone_workers": self.gone_workers,
            }

    # -- the keeper -----------------------------------------------------------------------

    def _keep(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ends = [end for end in self._handover.values() if end is not None]
            wait = self.period
            if ends:
                # Wake up in time to end a hand-over.
                wait = min(wait, max(0.05, min(ends) - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._tick()

    def _tick(self) -> None:
        import redis

        changed = False
        if not self.redis_ok and self._outage_seen:
            # Perhaps back from an outage: the other workers' heartbeats and leases may have
            # lapsed too. Claim nothing new for a lease period, so each first takes its own back.
            self._claim_after = time.monotonic() + self.ttl
        try:
            changed = self._coordinate()
            self.redis_ok = True
        except redis.RedisError as exc:
            self.redis_ok = False
            self._outage_seen = True
            if time.monotonic() - self._last_error_log > 5:
                self._last_error_log = time.monotonic()
                log.warning("worker %s cannot reach Redis (%s); it keeps recording its %s",
                            self.worker_id, exc, cameras_phrase(len(self._held)))
        except Exception:
            log.exception("ownership tick failed")
        changed |= self._end_handovers()
        if changed:
            self._changed.set()
        if self._drain_asked:
            self._announce_drain()  # renewed while the worker stops (drain() has returned meanwhile)

    def _coordinate(self) -> bool:
        if self._draining:
            return False  # drain() hands the cameras over; no heartbeat would rejoin the set
        ttl_ms = int(self.ttl * 1000)
        with self._lock:
            cameras = set(self._cameras)
            info = {"host": socket.gethostname(), "pid": os.getpid(), "capacity": self.config.capacity,
                    "cameras": len(self._held), "presence": self.presence is not None}
        live = self.members.heartbeat(self.worker_id, ttl_ms, info)
        self.live_workers = live
        changed = self._renew(ttl_ms)
        shed: list[_Held] = []
        with self._lock:
            # Cameras disabled or removed stop at once; the extras above our share are handed over.
            share = fair_share(len(cameras), len(live), self.config.capacity)
            gone = [c for c in self._held if c not in cameras]
            keep = sorted((c for c in self._held if c in cameras), key=lambda c: preference(c, self.worker_id), reverse=True)
            for camera_id in gone:
                shed.append(self._held.pop(camera_id))
                changed = True
            for camera_id in keep[share:]:
                shed.append(self._held.pop(camera_id))
                self._handover[camera_id] = None  # recorded here until another worker holds it
            for camera_id in [c for c in self._handover if c not in cameras]:
                del self._handover[camera_id]  # disabled or removed meanwhile
                changed = True
            waiting = [c for c, stop_at in self._handover.items() if stop_at is None]
            missing = share - len(self._held)
            busy = set(self._held) | set(self._handover)
        for held in shed:
            self._release(held)  # the next owner may claim it now; a hand-over keeps recording meanwhile
        holders: dict[str, tuple[int, str] | None] | None = None
        if self.standby_seconds > 0 and cameras:
            holders = self.leases.holders(sorted(cameras))  # one MGET: the claims and the standby set
        seen = self._seen_free
        if holders is not None:
            self._seen_free = {c for c, h in holders.items() if h is None}
        if missing > 0 and time.monotonic() >= self._claim_after:
            candidates = [c for c in cameras if c not in busy]
            if holders is None:
                holders = self.leases.holders(candidates)
            with self._lock:
                standing, others = set(self._standby), set(self._others_standby)
            free = [c for c in candidates if holders.get(c) is None]
            # A camera another worker stands by for is left to it for one tick: its recording can
            # start from that worker's pre-roll. Those this worker stands by for come first.
            free = sorted((c for c in free if c not in others or c in seen),
                          key=lambda c: (c in standing, preference(c, self.worker_id)), reverse=True)
            for camera_id in free[:missing]:
                sent = time.monotonic()
                lease = self.leases.acquire(camera_id, self.worker_id, ttl_ms)
                if lease is not None:
                    with self._lock:
                        self._held[camera_id] = _Held(lease, sent + self.ttl)
                    log.info("worker %s took camera %s (token %d)", self.worker_id, camera_id, lease.token)
                    changed = True
        if self.standby_seconds > 0 and holders is not None:
            changed |= self._stand_by(cameras, holders, live)
        self._handed(waiting)
        return changed

    def _stand_by(self, cameras: set[str], holders: dict[str, tuple[int, str] | None], live: list[str]) -> bool:
        """Work out the cameras this worker stands by for; True when they changed."""
        with self._lock:
            held = set(self._held)
        mine, theirs = set(), set()
        for camera_id in cameras - held:
            holder = holders.get(camera_id)
            candidates = [w for w in live if holder is None or w != holder[1]]
            if not candidates:
                continue
            if max(candidates, key=lambda w: preference(camera_id, w)) == self.worker_id:
                mine.add(camera_id)
            else:
                theirs.add(camera_id)
        with self._lock:
            changed = mine != self._standby
            self._standby, self._others_standby = mine, theirs
        if changed:
            log.info("worker %s stands by for %s: %s", self.worker_id, cameras_phrase(len(mine)), ", ".join(sorted(mine)) or "none")
        return changed

    def _renew(self, ttl_ms: int) -> bool:
        from vms.cluster.leases import Renewal

        with self._lock:
            items = list(self._held.items())
        sent = time.monotonic()
        results = self.leases.renew_many([h.lease for _, h in items], ttl_ms)
        changed = False
        for (camera_id, held), result in zip(items, results):
            if result is Renewal.RENEWED:
                held.deadline = sent + self.ttl
                continue
            if result is Renewal.GONE:
                # Nobody holds it (it lapsed during an outage, or Redis restarted empty): take it again.
                lease = self.leases.acquire(camera_id, self.worker_id, ttl_ms)
                if lease is not None:
                    held.lease, held.deadline = lease, sent + self.ttl
                    log.info("worker %s re-took camera %s after its lease lapsed", self.worker_id, camera_id)
                    continue
            # Another worker holds it now (it took the camera while this one was cut off, or
            # claimed it before this one was back after an outage): hand it over, recording on
            # until that worker has surely started, rather than leave a hole.
            log.warning("worker %s hands camera %s over: another worker holds it now", self.worker_id, camera_id)
            with self._lock:
                if self._held.pop(camera_id, None) is not None:
                    self.lost_to_others += 1
                    self._handover[camera_id] = time.monotonic() + self.handover
        return changed

    def _handed(self, waiting: list[str]) -> None:
        """Start the hand-over clock of shed cameras another worker now holds."""
        if not waiting:
            return
        holders = self.leases.holders(waiting)
        now = time.monotonic()
        with self._lock:
            for camera_id, holder in holders.items():
                if holder is not None and holder[1] != self.worker_id and camera_id in self._handover:
                    if self._handover[camera_id] is None:
                        self._handover[camera_id] = now + self.handover

    def _end_handovers(self) -> bool:
        now = time.monotonic()
        with self._lock:
            ended = [c for c, stop_at in self._handover.items() if stop_at is not None and now >= stop_at]
            for camera_id in ended:
                del self._handover[camera_id]
        for camera_id in ended:
            log.info("worker %s handed camera %s over", self.worker_id, camera_id)
        return bool(ended)

    def _announce_drain(self) -> None:
        """Write (or renew) this worker's drain notice when its cameras changed or a third of its
        TTL passed. Never raises: the notice is for people, and recording must not wait on it."""
        now = time.monotonic()
        with self._lock:
            cameras = sorted(set(self._held) | set(self._handover))
            taken = sorted(c for c, stop_at in self._handover.items() if stop_at is not None)
            last = self._noticed
            if last is not None and last[:2] == (cameras, taken) and now - last[2] < self.period:
                return
            self._noticed = (cameras, taken, now)
            info = {"host": socket.gethostname(), "pid": os.getpid(), "since": self._drain_since,
                    "until": self._drain_until, "cameras": cameras, "taken": taken}
        try:
            self.notices.heartbeat(self.worker_id, int(self.ttl * 1000), info)
        except Exception as exc:
            log.warning("worker %s could not announce its drain in Redis (%s); `vms workers` may not "
                        "list it while it stops", self.worker_id, exc)

    def _release(self, held: _Held) -> None:
        try:
            self.leases.release(held.lease)
        except Exception as exc:
            log.warning("could not release %s (it expires by itself): %s", held.lease, exc)

    # -- the watcher: dead processes, before their leases expire ---------------------------

    def _presence_back(self) -> None:
        """This worker's own subscription was lost and is back: Redis restarted or the link
        was reset, so everybody's subscription is being taken again. Break and claim nothing
        for a lease period."""
        self._claim_after = max(self._claim_after, time.monotonic() + self.ttl)

    def _watch(self) -> None:
        import redis

        while not self._stop.wait(WATCH_SECONDS):
            try:
                gone = self._gone()
                if gone:
                    self._free(gone)
                    self._wake.set()
            except redis.RedisError:
                self._absent.clear()  # the keeper reports the outage; absences seen now mean nothing
            except Exception:
                log.exception("presence watch failed")

    def _gone(self) -> list[str]:
        """Other workers whose presence subscription has been missing ``grace`` seconds."""
        from vms.cluster.presence import connected

        assert self.presence is not None
        now = time.monotonic()
        mine = self.presence.up_since
        if mine is None or not self.redis_ok or now < self._claim_after:
            self._absent.clear()
            return []
        others = [w for w in self.live_workers if w != self.worker_id and self._advertises_presence(w)]
        up = connected(self.client, self.config.key_prefix, others)
        self._absent = {w: since for w, since in self._absent.items() if w in up and not up[w]}
        gone = []
        for worker_id, present in up.items():
            if present:
                continue
            # Only an absence seen while this worker's own subscription was up counts.
            since = max(self._absent.setdefault(worker_id, now), mine)
            if now - since >= self.grace:
                gone.append(worker_id)
        return gone

    def _advertises_presence(self, worker_id: str) -> bool:
        """Whether ``worker_id`` keeps a presence subscription (a worker of an older version does not)."""
        known = self._uses_presence.get(worker_id)
        if known is None:
            info = self.members.info(worker_id)
            if info is None:
                return False  # not advertised (yet): ask again next time
            known = self._uses_presence[worker_id] = bool(info.get("presence"))
        return known

    def _free(self, gone: list[str]) -> None:
        with self._lock:
            cameras = sorted(self._cameras)
        for worker_id in gone:
            freed = self.leases.break_worker(cameras, worker_id)
            self.members.leave(worker_id)  # out of the fair share: the survivors' shares grow now
            self._absent.pop(worker_id, None)
            self._uses_presence.pop(worker_id, None)
            self.gone_workers += 1
            log.warning("worker %s is gone (its Redis connection closed); cameras freed: %d",
                        worker_id, freed)
        self.live_workers = [w for w in self.live_workers if w not in gone]

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
