"""The Redis bus: pub/sub for transient messages (state, signaling) across hosts."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Any, AsyncIterator, Awaitable, Callable

import redis
import redis.asyncio as aioredis

from vms.bus.base import Bus, Listener
from vms.log_limit import LogLimiter

log = logging.getLogger(__name__)
# Every listener thread and publisher of the process fails at once when Redis is down: one line
# per cause per 30 s (with the count of the lines not shown), not ~10 a second.
_limited = LogLimiter(log)
# How long a listener thread's read waits before it looks whether it was asked to stop: removing
# a listener (and closing the bus) waits up to this per thread. 0.5 s made a worker's stop spend
# ~1.5 s in these joins one after the other; 0.1 s costs 10 idle wake-ups a second per thread.
LISTEN_SECONDS = 0.1
# Messages waiting to be published while Redis is slow or away; the oldest go first when full
# (240 streams send ~120 statuses a second: ~80 s of them).
OUTBOX_MESSAGES = 10_000


class RedisBus(Bus):
    def __init__(self, url: str, prefix: str = "vms:") -> None:
        self.url = url
        self.prefix = prefix
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._threads: list[tuple[redis.client.PubSub, redis.client.PubSubWorkerThread]] = []
        # `publish` only queues: a worker publishes its streams' statuses from the packet path,
        # and a Redis that hangs (shutting down, a black-holed network) held each publish up to
        # the 5 s socket timeout there: a camera went unrecorded 5.6 s in a Redis outage test.
        self._outbox: deque[tuple[str, str, str]] = deque()
        self._outbox_changed = threading.Condition()
        self._closing = False
        self.dropped = 0  # messages dropped because the outbox was full
        self._sender = threading.Thread(target=self._send, name="bus-publisher", daemon=True)
        self._sender.start()

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for the publisher thread and return at once (in order, per bus)."""
        data = json.dumps(message, default=str)
        with self._outbox_changed:
            if len(self._outbox) >= OUTBOX_MESSAGES:
                self._outbox.popleft()
                self.dropped += 1
            self._outbox.append((topic, self._channel(topic), data))
            self._outbox_changed.notify()

    def _send(self) -> None:
        while True:
            with self._outbox_changed:
                while not self._outbox and not self._closing:
                    self._outbox_changed.wait()
                if not self._outbox:
                    return
                topic, channel, data = self._outbox.popleft()
            try:
                self._client.publish(channel, data)
            except Exception as exc:  # noqa: BLE001 - the sender must outlive any failed send
                if self._closing:
                    return  # the bus closed under a hung send (a closed socket: OSError, ValueError)
                # Transient state is republished periodically; losing one message is acceptable.
                _limited.warning("publish", "bus publish on %s failed: %s", topic, exc)
                continue
            _limited.recovered("publish", "bus publish works again")

    async def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub()
        await pubsub.subscribe(self._channel(topic))
        try:
            async for raw in pubsub.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])
        finally:
            await _aclose(pubsub)
            await client.aclose()

    def add_listener(self, topic: str, listener: Listener) -> Callable[[], None]:
        pubsub = _open_pubsub(self._client)

        def handle(raw: dict[str, Any]) -> None:
            try:
                listener(topic, json.loads(raw["data"]))
            except Exception:
                log.exception("bus listener for %s failed", topic)

        pubsub.subscribe(**{self._channel(topic): handle})
        thread = pubsub.run_in_thread(sleep_time=LISTEN_SECONDS, daemon=True, exception_handler=_ride_out)
        entry = (pubsub, thread)
        self._threads.append(entry)

        def remove() -> None:
            thread.stop()
            thread.join(2)  # closing under a thread still reading raises in that thread
            pubsub.close()
            if entry in self._threads:
                self._threads.remove(entry)

        return remove

    def close(self) -> None:
        with self._outbox_changed:
            self._closing = True  # what is queued is still sent (for up to 2 s)
            self._outbox_changed.notify()
        self._sender.join(2)
        threads = list(self._threads)
        for _, thread in threads:
            thread.stop()  # all at once: their last reads end together
        for pubsub, thread in threads:
            thread.join(2)
            pubsub.close()
        self._threads.clear()
        self._client.close()


def _open_pubsub(client: redis.Redis) -> redis.client.PubSub:
    """``client.pubsub(ignore_subscribe_messages=True)``, typed (redis-py leaves ``Redis.pubsub`` unannotated)."""
    factory: Callable[..., redis.client.PubSub] = client.pubsub
    return factory(ignore_subscribe_messages=True)


def _aclose(pubsub: aioredis.client.PubSub) -> Awaitable[None]:
    """``pubsub.aclose()``, typed (redis-py leaves the asyncio ``PubSub.aclose`` unannotated)."""
    close: Callable[[], Awaitable[None]] = pubsub.aclose
    return close()


def _ride_out(exc: BaseException, pubsub: object, thread: object) -> None:
    """A listener thread outlives a Redis outage: wait, then read again (redis-py reconnects and
    subscribes the channels again), instead of the thread dying and the listener going deaf."""
    if isinstance(exc, redis.RedisError):
        _limited.warning("listener", "bus listener: %s; each listener retries every 1 s", exc)
        time.sleep(1.0)
        return
    raise exc
