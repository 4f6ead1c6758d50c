"""A durable queue beside the bus: messages that must be handled once even if a process dies.

The bus (``publish``/``subscribe``) is for transient state: a message nobody hears is gone. A
``DurableQueue`` keeps each message until a consumer acknowledges it:

* ``redis://``: a Redis Stream (``XADD ... MAXLEN ~``) read by a consumer group
  (``XREADGROUP``/``XACK``). A consumer that dies leaves its deliveries pending; another one
  takes them over with ``XAUTOCLAIM`` once they have been idle ``claim_idle_seconds``. A
  consumer restarted under the same name first re-reads its own pending deliveries.
* ``memory://``: the same semantics inside one process (the all-in-one ``vms run``, tests).

Delivery is at least once; handlers make it exactly once in effect by being idempotent (the
event store keys every write by the message's unique id). ``add`` never raises: when Redis is
unreachable messages wait in a bounded local buffer, in order, and are sent when it is back.
"""

from __future__ import annotations

import abc
import itertools
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from vms.log_limit import LogLimiter

log = logging.getLogger(__name__)
# Redis down: each consumer and producer would log a line a second; one per cause per 30 s instead.
_limited = LogLimiter(log)

MAXLEN = 100_000  # approximate length a stream is trimmed to
BUFFER = 100_000  # messages kept locally while the backend is unreachable
CLAIM_IDLE_SECONDS = 30.0


@dataclass(frozen=True)
class Delivery:
    id: str
    message: dict[str, Any]


class DurableQueue(abc.ABC):
    """One stream of messages read by one consumer group (``group``)."""

    def __init__(self, stream: str, group: str, claim_idle_seconds: float = CLAIM_IDLE_SECONDS) -> None:
        self.stream = stream
        self.group = group
        self.claim_idle_seconds = claim_idle_seconds

    @abc.abstractmethod
    def add(self, message: dict[str, Any]) -> None:
        """Append ``message`` (JSON-able); never raises, never blocks for long."""

    @abc.abstractmethod
    def read(self, consumer: str, count: int = 10, block_seconds: float = 1.0) -> list[Delivery]:
        """New deliveries for ``consumer`` (waits up to ``block_seconds`` for one)."""

    @abc.abstractmethod
    def own_pending(self, consumer: str, count: int = 100) -> list[Delivery]:
        """Deliveries ``consumer`` received earlier and never acknowledged (after a restart or a failure)."""

    @abc.abstractmethod
    def claim_stale(self, consumer: str, count: int = 100) -> list[Delivery]:
        """Take over deliveries idle longer than ``claim_idle_seconds`` (their consumer died)."""

    @abc.abstractmethod
    def ack(self, ids: list[str]) -> None:
        """The deliveries are handled; they are never delivered again."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Deliveries handed out and not yet acknowledged, across the group."""

    def buffered(self) -> int:
        """Messages waiting locally for the backend to come back."""
        return 0

    def close(self) -> None:
        pass


def durable_queue(
    url: str, stream: str, group: str, claim_idle_seconds: float = CLAIM_IDLE_SECONDS, prefix: str = "vms:"
) -> DurableQueue:
    """The durable queue ``stream`` with consumer ``group`` on the bus of ``url`` (Redis Streams for
    ``redis://``, in memory for ``memory://``); raises ``ValueError`` for another scheme."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryQueue.named(stream, group, claim_idle_seconds)
    if scheme in ("redis", "rediss", "unix"):
        return RedisQueue(url, stream, group, claim_idle_seconds, prefix=prefix)
    raise ValueError(f"unknown queue URL scheme '{scheme}://' (use memory:// or redis://)")


class QueueConsumer:
    """Runs ``handler(message)`` for each delivery in a thread; acknowledges only what succeeded.

    A handler that raises (the database is down, say) leaves the delivery pending; the consumer
    backs off and retries it before taking anything new, so messages are handled in order.
    """

    def __init__(
        self,
        queue: DurableQueue,
        consumer: str,
        handler: Callable[[dict[str, Any]], None],
        batch: int = 50,
        retry_seconds: float = 1.0,
    ) -> None:
        self.queue = queue
        self.consumer = consumer
        self.handler = handler
        self.batch = batch
        self.retry_seconds = retry_seconds
        self.handled = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-{queue.stream}-{consumer}", daemon=True)

    def start(self) -> "QueueConsumer":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self, block_seconds: float = 0.5) -> int:
        """Handle what is there now (own pending, stale, then new); returns how many were acknowledged."""
        done = 0
        fetches: tuple[Callable[[], list[Delivery]], ...] = (
            lambda: self.queue.own_pending(self.consumer, self.batch),
            lambda: self.queue.claim_stale(self.consumer, self.batch),
            lambda: self.queue.read(self.consumer, self.batch, block_seconds),
        )
        for fetch in fetches:
            deliveries = fetch()
            for delivery in deliveries:
                self.handler(delivery.message)  # raises: stays pending, retried first next time
                self.queue.ack([delivery.id])
                self.handled += 1
                done += 1
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                _limited.recovered(f"consumer {self.queue.stream}", "queue %s consumer %s works again",
                                   self.queue.stream, self.consumer)
            except Exception as exc:
                self.failures += 1
                _limited.warning(f"consumer {self.queue.stream}", "queue %s consumer %s: %s; retrying every %g s",
                                 self.queue.stream, self.consumer, exc, self.retry_seconds)
                self._stop.wait(self.retry_seconds)


# -- in process -------------------------------------------------------------------------------


class _MemoryStream:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.counter = itertools.count(1)
        self.groups: dict[str, dict[str, Any]] = {}  # group -> {"next": index, "pending": {id: [consumer, at]}}
        self.cond = threading.Condition()


class MemoryQueue(DurableQueue):
    _streams: dict[str, _MemoryStream] = {}
    _registry_lock = threading.Lock()

    def __init__(self, stream: str, group: str, claim_idle_seconds: float = CLAIM_IDLE_SECONDS, maxlen: int = MAXLEN) -> None:
        super().__init__(stream, group, claim_idle_seconds)
        self.maxlen = maxlen
        with self._registry_lock:
            self._s = self._streams.setdefault(stream, _MemoryStream())
        with self._s.cond:
            self._s.groups.setdefault(group, {"next": 0, "pending": {}})

    @classmethod
    def named(cls, stream: str, group: str, claim_idle_seconds: float = CLAIM_IDLE_SECONDS) -> "MemoryQueue":
        return cls(stream, group, claim_idle_seconds)

    def add(self, message: dict[str, Any]) -> None:
        s = self._s
        with s.cond:
            entry_id = f"{int(time.time() * 1000)}-{next(s.counter)}"
            s.entries[entry_id] = json.loads(json.dumps(message, default=str))
            s.order.append(entry_id)
            while len(s.order) > self.maxlen:
                del s.entries[s.order.pop(0)]
                for group in s.groups.values():
                    group["next"] = max(0, group["next"] - 1)
            s.cond.notify_all()

    def read(self, consumer: str, count: int = 10, block_seconds: float = 1.0) -> list[Delivery]:
        s = self._s
        deadline = time.monotonic() + block_seconds
        with s.cond:
            group = s.groups[self.group]
            while group["next"] >= len(s.order):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                s.cond.wait(remaining)
            ids = s.order[group["next"] : group["next"] + count]
            group["next"] += len(ids)
            for entry_id in ids:
                group["pending"][entry_id] = [consumer, time.monotonic()]
            return [Delivery(i, dict(s.entries[i])) for i in ids]

    def own_pending(self, consumer: str, count: int = 100) -> list[Delivery]:
        s = self._s
        with s.cond:
            pending = s.groups[self.group]["pending"]
            ids = [i for i, (owner, _) in pending.items() if owner == consumer and i in s.entries][:count]
            for i in ids:
                pending[i][1] = time.monotonic()
            return [Delivery(i, dict(s.entries[i])) for i in ids]

    def claim_stale(self, consumer: str, count: int = 100) -> list[Delivery]:
        s = self._s
        now = time.monotonic()
        with s.cond:
            pending = s.groups[self.group]["pending"]
            ids = [i for i, (_, at) in pending.items() if now - at >= self.claim_idle_seconds and i in s.entries][:count]
            for i in ids:
                pending[i] = [consumer, now]
            return [Delivery(i, dict(s.entries[i])) for i in ids]

    def ack(self, ids: list[str]) -> None:
        with self._s.cond:
            for i in ids:
                self._s.groups[self.group]["pending"].pop(i, None)

    def pending(self) -> int:
        with self._s.cond:
            return len(self._s.groups[self.group]["pending"])


# -- Redis Streams ---------------------------------------------------------------------------


class RedisQueue(DurableQueue):
    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        claim_idle_seconds: float = CLAIM_IDLE_SECONDS,
        maxlen: int = MAXLEN,
        buffer: int = BUFFER,
        prefix: str = "vms:",
    ) -> None:
        import redis

        super().__init__(stream, group, claim_idle_seconds)
        self._redis = redis
        self.key = f"{prefix}stream:{stream}"
        self.maxlen = maxlen
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._outbox: deque[str] = deque(maxlen=buffer)
        self._outbox_lock = threading.Lock()
        self._outbox_wake = threading.Event()
        self._closed = threading.Event()
        self._sender: threading.Thread | None = None
        self._group_ready = False

    # -- producing --------------------------------------------------------------------------

    def add(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, default=str, separators=(",", ":"))
        with self._outbox_lock:
            direct = not self._outbox
        if direct:
            try:
                self.client.xadd(self.key, {"m": body}, maxlen=self.maxlen, approximate=True)
                return
            except self._redis.RedisError as exc:
                _limited.warning(f"add {self.stream}", "queue %s: Redis unreachable (%s); buffering messages locally",
                                 self.stream, exc)
        with self._outbox_lock:
            if len(self._outbox) == self._outbox.maxlen:
                log.error("queue %s: local buffer full, the oldest message is lost", self.stream)
            self._outbox.append(body)  # behind earlier ones: this thread's order is kept
            self._start_sender()
        self._outbox_wake.set()

    def buffered(self) -> int:
        with self._outbox_lock:
            return len(self._outbox)

    def _start_sender(self) -> None:
        if self._sender is None or not self._sender.is_alive():
            self._sender = threading.Thread(target=self._send_buffered, name=f"queue-{self.stream}-outbox", daemon=True)
            self._sender.start()

    def _send_buffered(self) -> None:
        """The only remover of outbox entries: sends the oldest until none is left."""
        while not self._closed.is_set():
            with self._outbox_lock:
                if not self._outbox:
                    self._sender = None
                    return
                body = self._outbox[0]
            try:
                self.client.xadd(self.key, {"m": body}, maxlen=self.maxlen, approximate=True)
            except self._redis.RedisError:
                self._outbox_wake.wait(0.5)
                self._outbox_wake.clear()
                continue
            with self._outbox_lock:
                self._outbox.popleft()

    # -- consuming --------------------------------------------------------------------------

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the start of the stream: messages added before any consumer existed count too.
            self.client.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except self._redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _call(self, fn: Callable[[], Any]) -> Any:
        self._ensure_group()
        try:
            return fn()
        except self._redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # Redis restarted without the stream: make the group again
            self._ensure_group()
            return fn()

    def _deliveries(self, entries: list[tuple[Any, dict[bytes, bytes]]]) -> list[Delivery]:
        out = []
        for entry_id, fields in entries:
            if not fields:  # trimmed away while pending
                self.ack([_text(entry_id)])
                continue
            out.append(Delivery(_text(entry_id), json.loads(fields[b"m"])))
        return out

    def read(self, consumer: str, count: int = 10, block_seconds: float = 1.0) -> list[Delivery]:
        block = max(1, int(block_seconds * 1000))
        result = self._call(lambda: self.client.xreadgroup(self.group, consumer, {self.key: ">"}, count=count, block=block))
        return self._deliveries(result[0][1]) if result else []

    def own_pending(self, consumer: str, count: int = 100) -> list[Delivery]:
        result = self._call(lambda: self.client.xreadgroup(self.group, consumer, {self.key: "0"}, count=count))
        return self._deliveries(result[0][1]) if result else []

    def claim_stale(self, consumer: str, count: int = 100) -> list[Delivery]:
        idle_ms = int(self.claim_idle_seconds * 1000)
        result = self._call(lambda: self.client.xautoclaim(self.key, self.group, consumer, idle_ms, "0-0", count=count))
        return self._deliveries(result[1])

    def ack(self, ids: list[str]) -> None:
        if ids:
            self.client.xack(self.key, self.group, *ids)

    def pending(self) -> int:
        summary = self._call(lambda: self.client.xpending(self.key, self.group))
        return int(summary["pending"])

    def close(self) -> None:
        self._closed.set()
        self._outbox_wake.set()
        if self._sender is not None:
            self._sender.join(2)
        self.client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
