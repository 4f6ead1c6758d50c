"""Which workers' processes are still connected to Redis: a dead process is seen at once.

A lease only tells that its holder stopped renewing once it expires (``lease_seconds``). A
worker killed with ``kill -9``, crashed or OOM-killed is known much sooner: the kernel closes
its sockets and Redis drops its connections. Each worker therefore keeps one connection
subscribed to ``<prefix>presence:<worker>``; ``PUBSUB NUMSUB`` of that channel is 0 from the
moment its process is gone. This is Redis's own bookkeeping (no protocol of ours, no clock).

A subscription also drops when Redis restarts or a connection is reset while the worker lives;
the watcher in ``vms.cluster.ownership`` therefore acts only on an absence that lasted
``grace`` seconds while its own subscription was up, and never during the claim pause after an
outage. The lease TTL remains the rule for everything presence cannot see (a hung process, a
host without power, a partition): presence only shortens failover after a process death.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import redis

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.2  # a lost subscription is taken again this soon after Redis answers
# One read of the subscription waits this long: ``stop`` waits for it (1 s was most of a worker's
# ownership stop); 4 idle reads a second cost nothing measurable.
READ_SECONDS = 0.25


def channel(prefix: str, worker_id: str) -> str:
    return f"{prefix}presence:{worker_id}"


def connected(client: redis.Redis, prefix: str, worker_ids: list[str]) -> dict[str, bool]:
    """Whether each worker has its presence subscription open now; one ``PUBSUB NUMSUB``.

    Raises ``redis.RedisError`` when Redis does not answer.
    """
    if not worker_ids:
        return {}
    counts = client.pubsub_numsub(*(channel(prefix, w) for w in worker_ids))
    by_channel = {(c.decode() if isinstance(c, bytes) else c): int(n) for c, n in counts}
    return {w: by_channel.get(channel(prefix, w), 0) > 0 for w in worker_ids}


def _open_pubsub(client: redis.Redis) -> redis.client.PubSub:
    """``client.pubsub()``, typed (redis-py leaves ``Redis.pubsub`` unannotated)."""
    factory: Callable[..., redis.client.PubSub] = client.pubsub
    return factory()


class Presence:
    """Holds this worker's presence subscription open, taking it again after any loss.

    ``up_since`` is the monotonic time the current subscription was confirmed (None while it is
    down); ``on_reconnect`` runs after a subscription was lost and taken again (Redis restarted
    or the connection was reset), so the owner can pause claims as after an outage.
    """

    def __init__(self, client: redis.Redis, prefix: str, worker_id: str,
                 on_reconnect: Callable[[], None] = lambda: None) -> None:
        self.client = client
        self.channel = channel(prefix, worker_id)
        self.on_reconnect = on_reconnect
        self.up_since: float | None = None
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)

    def start(self, wait: float = 2.0) -> "Presence":
        """Subscribe; waits up to ``wait`` s for the first confirmation (Redis may be down)."""
        self._thread.start()
        self.subscribed.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    def _run(self) -> None:
        lost_before = False
        while not self._stop.is_set():
            pubsub = _open_pubsub(self.client)
            try:
                pubsub.subscribe(self.channel)
                # The confirmation proves Redis registered the subscription.
                while not self._stop.is_set() and pubsub.get_message(timeout=READ_SECONDS) is None:
                    pass
                self.up_since = time.monotonic()
                self.subscribed.set()
                if lost_before:
                    lost_before = False
                    log.info("presence of this worker in Redis is back")
                    self.on_reconnect()
                while not self._stop.is_set():
                    pubsub.get_message(timeout=READ_SECONDS)  # nothing is published; a read notices a dead link
            except (redis.RedisError, OSError) as exc:
                if self.up_since is not None:
                    log.warning("presence subscription lost (%s); taking it again", exc)
                    lost_before = True
                self.up_since = None
            finally:
                try:
                    pubsub.close()
                except Exception:
                    pass
            self._stop.wait(RETRY_SECONDS)
