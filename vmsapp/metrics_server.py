"""A worker's own Prometheus endpoint: ``GET /metrics`` on ``settings.metrics`` (no API in the process).

It reports this worker's camera streams and recording health (from the status board, filtered to
its worker id), the bytes its index holds per camera, its live viewers, and the process-wide
counters. A port that cannot be bound is logged and skipped: metrics never stop recording.
"""

from __future__ import annotations

import errno
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from vms.metrics import RuntimeCollector, WorkerCollector, exposition, runtime_registry
from vms.recordings.index import SegmentIndex

log = logging.getLogger(__name__)


def worker_registry(runtime) -> CollectorRegistry:  # runtime: vmsapp.runtime.Runtime (a cycle if imported)
    """The gauges of ``runtime``'s worker: its streams, its recording health, its index, its viewers,
    and the cameras it holds, hands over and stands by for."""
    worker_id = runtime.worker.worker_id

    index = SegmentIndex(runtime.db)
    return runtime_registry(RuntimeCollector(
        lambda: runtime.board.streams(worker_id), lambda: index.bytes_by_camera(worker_id), runtime.viewers,
        lambda: runtime.board.recording(worker_id),
    ), WorkerCollector(runtime.worker.describe))


class MetricsServer:
    """Serves ``exposition(registry)`` at ``/metrics`` on ``host:port`` from a daemon thread."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "MetricsServer":
        """Listen and serve from a daemon thread; a port that cannot be bound is logged, not raised."""
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    body = exposition(registry)
                except Exception:
                    log.exception("collecting metrics failed")
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args) -> None:  # scrapes every 15 s are not news
                pass

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            hint = ""
            if exc.errno == errno.EADDRINUSE:
                # Two workers on one host both default to 9108 (trial 11).
                hint = ("; another process uses the port (a second worker on this host?): give each worker "
                        "its own port with VMS_METRICS__PORT (metrics.port in the config)")
            log.error("worker metrics not served on %s:%s: %s%s", self.host, self.port, exc, hint)
            return self
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="worker-metrics", daemon=True).start()
        log.info("worker metrics on http://%s:%s/metrics", self.host, self._server.server_address[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
