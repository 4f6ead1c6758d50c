"""A flood of slow or oversized HTTP requests against a real ``vms run`` costs no recording.

Loopback only and bounded: at most a few thousand sockets, each test under a minute of load.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available
from tests.support.cluster import ROOT, free_port, stop_process, wait_for, write_config
from tests.support.recordings import closed_segments, worst_gap
from tests.support.system import FAST_INGEST
from vms.db import Database

pytestmark = [
    pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
    pytest.mark.timeout(240),
]

HEADER_TIMEOUT = 2.0
MAX_CONNECTIONS = 400


def _rss_of_tree(pid: int) -> int:
    """Resident bytes of a process and its children (the supervisor's API and worker processes)."""
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        direct = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return direct + [grand for child in direct for grand in _children(child)]


@pytest.fixture()
def vms_run(tmp_path):
    mount = SimulatedCamera(id="cam-1", width=320, height=180, fps=25, gop=25, bitrate_kbps=250)
    with CameraSimulator([mount]).start() as sim:
        port = free_port()
        config = write_config(
            tmp_path / "vms.yaml",
            data_dir=str(tmp_path / "data"),
            ingest=FAST_INGEST,
            storage={"min_free": 0},
            http={"header_timeout_seconds": HEADER_TIMEOUT, "max_connections": MAX_CONNECTIONS},
            cameras=[{"id": "cam-1", "name": "cam-1", "group": "tunnel", "main_url": sim.url("cam-1"),
                      "recording": {"segment_seconds": 2}}],
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
        log = tmp_path / "vms.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "vmsapp.cli", "run", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _healthy(url), 60, f"vms run did not answer; log:\n{_tail(log)}")
            db = Database(f"sqlite:///{tmp_path / 'data' / 'vms.db'}")
            wait_for(lambda: len(closed_segments(db)) >= 2, 60, "vms run did not record")
            yield process, url, db
            db.dispose()
        finally:
            stop_process(process)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""


def _half_sent(port: int) -> socket.socket | None:
    sock = socket.socket()
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
    except OSError:
        sock.close()
        return None
    return sock


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except OSError:
        return False


def _read_answer(sock: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data.decode(errors="replace")


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_slow_half_sent_requests_are_cut_and_recording_goes_on(vms_run):
    process, url, db = vms_run
    port = int(url.rsplit(":", 1)[1])
    flood_started = time.time()
    sockets = [s for s in (_half_sent(port) for _ in range(3 * MAX_CONNECTIONS)) if s is not None]
    try:
        # Over the cap, connections are closed at once; the others when their headers are late.
        for sock in sockets:
            sock.settimeout(HEADER_TIMEOUT + 20)
        closed = sum(_closed_by_peer(sock) for sock in sockets)
        cut_within = time.time() - flood_started
    finally:
        for sock in sockets:
            sock.close()
    wait_for(lambda: _healthy(url), 30, "the API did not answer after the flood")
    flood_ended = time.time()
    # Segments of 2 s: wait until the one spanning the end of the flood is closed.
    wait_for(lambda: closed_segments(db)[-1].end.timestamp() > flood_ended + 1, 30, "recording stopped")
    rows = closed_segments(db)
    gap = worst_gap(rows, flood_started, flood_ended)
    print(f"{len(sockets)} half-sent requests, all cut within {cut_within:.1f} s; worst recording gap {gap:.2f} s")
    assert closed == len(sockets), "a half-sent request was left open"
    assert cut_within < HEADER_TIMEOUT + 15
    assert gap < 1.0, f"recording gap of {gap:.2f} s during the flood"
    assert process.poll() is None


def test_a_300_mb_body_is_refused_quickly_without_growing_memory(vms_run):
    process, url, _ = vms_run
    port = int(url.rsplit(":", 1)[1])
    before = _rss_of_tree(process.pid)
    size = 300 * 1024 * 1024
    chunk = b"x" * (1024 * 1024)

    # Declared length: refused before a byte of the body is read.
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {size}\r\n\r\n".encode() + b'{"username": "')
        answer = _read_answer(sock)
    declared_seconds = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "application/problem+json" in answer and "body-too-large" in answer

    # Streamed without a length (chunked): refused once the running size passes the limit.
    def body():
        sent = 0
        while sent < size:
            yield chunk
            sent += len(chunk)

    started = time.monotonic()
    try:
        response = httpx.post(f"{url}/api/auth/login", content=body(), headers={"content-type": "application/json"}, timeout=60)
        status, kind = response.status_code, response.headers.get("content-type")
    except httpx.HTTPError as exc:  # the server may close while the client is still sending
        status, kind = 413, f"closed: {exc}"
    streamed_seconds = time.monotonic() - started
    grown = _rss_of_tree(process.pid) - before
    print(f"413 after {declared_seconds:.2f} s (declared) and {streamed_seconds:.2f} s (chunked); memory +{grown / 1e6:.1f} MB")
    assert status == 413, kind
    assert declared_seconds < 5 and streamed_seconds < 30
    assert grown < 50 * 1024 * 1024
    assert _healthy(url)
