"""The Redis bus: pub/sub for transient messages (state, signaling) across hosts."""

from __future__ import annotations

import json
import logging
import time
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


class RedisBus(Bus):
    def __init__(self, url: str, prefix: str = "vms:") -> None:
        self.url = url
        self.prefix = prefix
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._threads: list[tuple[redis.client.PubSub, redis.client.PubSubWorkerThread]] = []

    def _channel(self, topic: str) -> str:
        return self.prefix + topic

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        try:
            self._client.publish(self._channel(topic), json.dumps(message, default=str))
        except redis.RedisError as exc:
            # Transient state is republished periodically; losing one message is acceptable.
            _limited.warning("publish", "bus publish on %s failed: %s", topic, exc)
            return
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
        _limited.warning("listener", "bus listener: %s; retrying every 1 s", exc)
        time.sleep(1.0)
        return
    raise exc
