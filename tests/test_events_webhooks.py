"""Webhooks against a real local HTTP server: signature, retries with backoff, filters."""

from __future__ import annotations

import json
import time

from tests.support.webhook_receiver import receiving
from vms.config.detection import WebhookConfig
from vms.events.webhooks import SIGNATURE_HEADER, WebhookDispatcher, sign, verify

SECRET = "hotline-1022-secret"


def hook(url: str, **fields) -> WebhookConfig:
    return WebhookConfig(url=url, secret=SECRET, backoff_initial_seconds=0.2, backoff_max_seconds=1, **fields)


EVENT = {"id": 7, "phase": "start", "type": "wrong_way", "camera_id": "t-01", "group": "tunnel", "zone": "tube",
         "start": "2026-05-01T08:00:00+00:00", "details": {"vi": "ngược chiều"}}


def test_delivered_with_a_valid_signature_and_retried_after_a_500():
    with receiving(statuses=[500]) as receiver:
        dispatcher = WebhookDispatcher([hook(receiver.url)]).start()
        try:
            dispatcher.submit(EVENT)
            first, second = receiver.wait(2)
        finally:
            dispatcher.stop()
    assert first["status"] == 500 and second["status"] == 200
    assert second["at"] - first["at"] >= 0.15  # waited (backoff), did not hammer the receiver
    body = second["body"]
    assert json.loads(body) == EVENT
    assert second["headers"][SIGNATURE_HEADER] == sign(body, SECRET)
    assert verify(body, SECRET, second["headers"][SIGNATURE_HEADER])
    assert not verify(body, "wrong-secret", second["headers"][SIGNATURE_HEADER])
    assert second["headers"]["X-VMS-Delivery"] == first["headers"]["X-VMS-Delivery"]  # same delivery, retried
    stats = dispatcher.stats()[receiver.url]
    assert (stats.delivered, stats.retried, stats.failed) == (1, 1, 0)


def test_client_errors_are_final_and_attempts_are_bounded():
    with receiving(statuses=[400, 503, 503, 503]) as receiver:
        dispatcher = WebhookDispatcher([hook(receiver.url, max_attempts=2)]).start()
        try:
            dispatcher.submit(EVENT)  # 400: not retried
            dispatcher.submit({**EVENT, "id": 8})  # 503, 503: gives up after 2 attempts
            requests = receiver.wait(3)
            time.sleep(1.0)
        finally:
            dispatcher.stop()
    assert len(receiver.requests) == 3
    assert [json.loads(r["body"])["id"] for r in requests] == [7, 8, 8]
    stats = dispatcher.stats()[receiver.url]
    assert (stats.delivered, stats.failed) == (0, 2)


def test_filters_and_a_slow_receiver_never_blocks_the_caller():
    with receiving(delay=0.5) as slow, receiving() as fast:
        dispatcher = WebhookDispatcher([
            hook(slow.url),
            hook(fast.url, types=["stopped_vehicle"], groups=["tunnel"]),
        ]).start()
        try:
            started = time.perf_counter()
            for i in range(5):
                dispatcher.submit({**EVENT, "id": i})  # wrong_way: the fast hook does not want it
            dispatcher.submit({**EVENT, "id": 99, "type": "stopped_vehicle"})
            dispatcher.submit({**EVENT, "id": 100, "type": "stopped_vehicle", "group": "rented"})
            assert time.perf_counter() - started < 0.1
            assert [json.loads(r["body"])["id"] for r in fast.wait(1)] == [99]
            assert len(slow.wait(7, timeout=15)) == 7
        finally:
            dispatcher.stop()
    assert len(fast.requests) == 1
