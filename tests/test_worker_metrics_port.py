"""A second worker on one host finds the metrics port taken: it keeps running, and its error
says how to give it a port of its own (VMS_METRICS__PORT)."""

from __future__ import annotations

import logging
import socket
import urllib.request

from prometheus_client import CollectorRegistry

from vmsapp.metrics_server import MetricsServer


def test_a_taken_metrics_port_is_logged_with_the_fix(caplog):
    caplog.set_level(logging.ERROR, logger="vmsapp.metrics_server")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = MetricsServer(CollectorRegistry(), "127.0.0.1", port).start()
        server.stop()
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0], errors
    assert "VMS_METRICS__PORT" in errors[0] and "metrics.port" in errors[0], errors[0]


def test_a_free_port_serves_metrics():
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0).start()
    try:
        assert server._server is not None
        port = server._server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.status == 200 and b"vms_logins_total" in response.read()
    finally:
        server.stop()
