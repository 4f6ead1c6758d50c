"""A Redis outage does not flood the log: every bus listener thread, publisher and queue consumer
fails about once a second while Redis is down; each cause is logged once per 30 s (with the count
of lines not shown), and once more when it works again."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.support.cluster import RedisServer, redis_server_missing, wait_for
from vms.bus.redis import RedisBus
from vms.bus.streams import QueueConsumer, durable_queue

pytestmark = [pytest.mark.skipif(redis_server_missing() is not None, reason=str(redis_server_missing())),
              pytest.mark.timeout(120)]

LISTENERS = 4
OUTAGE_SECONDS = 5.0


def test_a_5_s_redis_outage_logs_a_bounded_number_of_lines(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vms.bus")
    server = RedisServer(tmp_path / "redis", durable=False).start()
    bus = RedisBus(server.url, "vms:outage:")
    queue = durable_queue(server.url, "events", "store", prefix="vms:outage:")
    handled: list[dict] = []
    consumer = QueueConsumer(queue, "w1", handled.append, retry_seconds=0.2).start()
    heard: list[dict] = []
    for n in range(LISTENERS):
        bus.add_listener(f"topic-{n}", lambda topic, message: heard.append(message))
    stop = threading.Event()

    def publish() -> None:  # what the status heartbeats and ingest threads do: ~20 publishes a second
        while not stop.is_set():
            bus.publish("topic-0", {"t": time.time()})
            stop.wait(0.05)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        wait_for(lambda: heard, 10, "no message heard before the outage")
        server.kill()
        down = time.monotonic()
        time.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for
        failures = consumer.failures
        server = RedisServer(tmp_path / "redis", port=server.port, durable=False).start()
        print(f"outage {time.monotonic() - down:.1f} s, {failures} consumer failures")
        count = len(heard)
        wait_for(lambda: len(heard) > count + 5, 30, "listeners deaf after the outage")
        queue.add({"after": True})
        wait_for(lambda: {"after": True} in handled, 30, "the consumer did not resume")
    finally:
        stop.set()
        publisher.join(5)
        consumer.stop()
        bus.close()
        server.kill()

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("vms.bus")]
    lines = "\n".join(r.getMessage() for r in warnings)
    assert failures >= 5, "the consumer did not even try while Redis was down: the test proves nothing"
    # One line per cause (listener, publish, consumer), where ~10 a second were written before.
    assert len(warnings) <= 3, lines
    assert {"bus listener", "bus publish", "queue events consumer"} <= {
        next((k for k in ("bus listener", "bus publish", "queue events consumer") if r.getMessage().startswith(k)), "")
        for r in warnings}, lines
    assert any(r.getMessage().startswith("bus publish works again") for r in caplog.records)
