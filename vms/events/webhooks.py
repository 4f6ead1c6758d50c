"""Deliver events to other systems (hotline, e-government portals) as signed HTTP POSTs.

Each webhook has its own thread and queue, so a slow or dead receiver delays only itself,
never detection nor the other receivers. A delivery is retried with capped exponential
backoff on network errors, 408, 429 and 5xx; other 4xx answers are final. The body is the
event's JSON; ``X-VMS-Signature: sha256=<hex>`` is its HMAC-SHA256 under the webhook's secret.
Redirects are not followed (a 3xx is a final answer): a receiver that moved is a configuration
change, not something to chase with a signed event. HTTP goes through the standard library
(``urllib.request``): one POST at a time per webhook needs no client library.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from vms.config.detection import WebhookConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-VMS-Signature"
# A receiver down for long loses the oldest deliveries rather than the worker's memory.
MAX_PENDING = 10_000
RETRY_STATUSES = {408, 425, 429}


def sign(body: bytes, secret: str) -> str:
    """The ``X-VMS-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256 under secret>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """What a receiver does: check the signature header in constant time."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def post(url: str, body: bytes, headers: dict[str, str], timeout: float,
         opener: urllib.request.OpenerDirector = urllib.request.build_opener(_NoRedirects)) -> int:
    """POST ``body`` to ``url``; the HTTP status code (redirects not followed).

    Raises ``OSError`` (``urllib.error.URLError``, timeouts, refused connections) when no answer came.
    """
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
        exc.close()
        return int(exc.code)


@dataclass
class WebhookStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    body: bytes = field(compare=False)
    delivery_id: str = field(compare=False)
    event_type: str = field(compare=False)
    attempt: int = field(default=0, compare=False)


class _Endpoint:
    """One webhook: a due-time ordered queue and the thread that works through it."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.stats = WebhookStats()
        self._heap: list[_Delivery] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"webhook-{config.url[:40]}", daemon=True)

    def wants(self, message: dict[str, Any]) -> bool:
        c = self.config
        return (
            (not c.types or message.get("type") in c.types)
            and (not c.cameras or message.get("camera_id") in c.cameras)
            and (not c.groups or message.get("group") in c.groups)
        )

    def put(self, body: bytes, event_type: str) -> None:
        with self._cond:
            if len(self._heap) >= MAX_PENDING:
                self._heap.remove(min(self._heap, key=lambda d: d.seq))
                heapq.heapify(self._heap)
                self.stats.dropped += 1
            heapq.heappush(self._heap, _Delivery(time.monotonic(), next(self._seq), body, uuid.uuid4().hex, event_type))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                    self._cond.wait(self._heap[0].due - time.monotonic() if self._heap else None)
                if self._stop:
                    return
                delivery = heapq.heappop(self._heap)
            retry = self._send(delivery)
            if retry:
                with self._cond:
                    heapq.heappush(self._heap, delivery)

    def _send(self, delivery: _Delivery) -> bool:
        """POST once; True when the delivery should be tried again later."""
        c = self.config
        delivery.attempt += 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vms-webhook/1",
            SIGNATURE_HEADER: sign(delivery.body, c.secret.get_secret_value()),
            "X-VMS-Event": delivery.event_type,
            "X-VMS-Delivery": delivery.delivery_id,
        }
        try:
            status = post(c.url, delivery.body, headers, c.timeout_seconds)
            if 200 <= status < 300:
                self.stats.delivered += 1
                return False
            retryable = status >= 500 or status in RETRY_STATUSES
            problem = f"HTTP {status}"
        except (OSError, ValueError) as exc:  # ValueError: http.client's answer to a malformed reply
            retryable, problem = True, f"{type(exc).__name__}: {exc}"
        if not retryable or delivery.attempt >= c.max_attempts:
            self.stats.failed += 1
            log.warning("webhook %s gave up on delivery %s after %d attempts: %s", c.url, delivery.delivery_id, delivery.attempt, problem)
            return False
        self.stats.retried += 1
        delay = min(c.backoff_initial_seconds * 2 ** (delivery.attempt - 1), c.backoff_max_seconds)
        delivery.due = time.monotonic() + delay * random.uniform(0.8, 1.2)
        log.info("webhook %s: %s; retrying delivery %s in %.1f s", c.url, problem, delivery.delivery_id, delay)
        return True


class WebhookDispatcher:
    """Hands every submitted event message to the webhooks that want it, in the background."""

    def __init__(self, webhooks: list[WebhookConfig]) -> None:
        self._endpoints = [_Endpoint(config) for config in webhooks]
        self._started = False

    def start(self) -> "WebhookDispatcher":
        if not self._started:
            self._started = True
            for endpoint in self._endpoints:
                endpoint.start()
        return self

    def submit(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for delivery; never blocks on the network."""
        targets = [e for e in self._endpoints if e.wants(message)]
        if not targets:
            return
        body = json.dumps(message, default=str, ensure_ascii=False, separators=(",", ":")).encode()
        for endpoint in targets:
            endpoint.put(body, str(message.get("type", "")))

    def stats(self) -> dict[str, WebhookStats]:
        return {e.config.url: e.stats for e in self._endpoints}

    def pending(self) -> int:
        return sum(e.pending() for e in self._endpoints)

    def stop(self, timeout: float = 5) -> None:
        for endpoint in self._endpoints:
            endpoint.stop(timeout)
