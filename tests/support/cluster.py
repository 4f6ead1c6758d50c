"""Helpers for the scale-out tests: a cuttable TCP proxy, private Redis servers, throwaway
PostgreSQL databases, and ``vms worker`` and ``vms api`` subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pytest
import yaml
from sqlalchemy import select

from vms.db import Database, Segment

PG_ADMIN_URLS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
# Bound on a `vms worker` / `vms api` process coming up and recording: its imports alone take
# 7-11 s on a quiet 2-core machine, several times that when the machine is loaded. A bound, not
# a wait: the tests poll for the state itself.
PROCESS_START_SECONDS = 90


def wait_for(predicate: Callable, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (after {timeout} s)")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# -- a TCP proxy that can be cut and restored -------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` refuses new connections and resets the open ones."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            except OSError:
                pass

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# -- a private Redis -------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the test's own on a random port (never the shared one)."""

    def __init__(self, folder: Path, port: int | None = None, durable: bool = True) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.durable = durable
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
                   "--save", "", "--logfile", str(self.folder / "redis.log")]
        if self.durable:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), 10, "redis-server did not start")
        client.close()
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def redis_available(url: str = REDIS_URL) -> str | None:
    """Why the shared Redis cannot be used (None when it answers)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return None
    except Exception as exc:
        return f"Redis at {url} does not answer ({exc}); run scripts/redis-up.sh"


def redis_server_missing() -> str | None:
    return None if shutil.which("redis-server") else "redis-server not installed (apt: redis-server)"


def scale_out_marks(postgres_url: str | None) -> list[pytest.MarkDecorator]:
    """Skip marks of a test running workers against the simulator, Redis and PostgreSQL
    (``postgres_url``: ``postgres_admin_url()``)."""
    from streams.simulator import simulator_available

    return [
        pytest.mark.skipif(not simulator_available(), reason="GStreamer RTSP server (Debian packages) missing"),
        pytest.mark.skipif(redis_available() is not None, reason=str(redis_available())),
        pytest.mark.skipif(postgres_url is None,
                           reason="PostgreSQL does not answer on 127.0.0.1:5432 (user postgres or root, db test)"),
    ]


# -- throwaway PostgreSQL databases ------------------------------------------------------------


def postgres_admin_url() -> str | None:
    import psycopg

    for url in PG_ADMIN_URLS:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return url
        except Exception:
            continue
    return None


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """``CREATE DATABASE vms_test_<random>``; yields its URL, drops it afterwards."""
    import psycopg

    name = f"vms_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- vms worker subprocesses -------------------------------------------------------------------


def write_config(path: Path, **values) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def start_worker(config: Path, worker_id: str, log: Path, metrics_port: int | None = None) -> subprocess.Popen:
    """``vms worker``; its own ``/metrics`` on 127.0.0.1:``metrics_port`` (default: a free port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
    env["VMS_METRICS__PORT"] = str(metrics_port or free_port())
    return subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "worker", "--config", str(config), "--worker-id", worker_id],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
    )


def start_api(config: Path, port: int, log: Path) -> subprocess.Popen:
    """``vms api`` on 127.0.0.1:<port> (wait for ``/healthz`` before using it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "vmsapp.cli", "api", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
    )


def stop_process(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` s (a worker first hands its cameras over: up to
    ``cluster.drain_seconds``)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float = 60) -> None:
    """SIGTERM every process first, then wait for each (SIGKILL after ``timeout`` s). Workers
    stopped together see each other leaving and skip the hand-over wait of a drain, which a
    test's teardown does not need (``stop_process`` one by one would drain each in turn)."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        stop_process(process, timeout)


def segments(db: Database) -> list[Segment]:
    """Every row of the segment index, by camera then start (what the workers of a test wrote)."""
    with db.session() as session:
        return list(session.scalars(select(Segment).order_by(Segment.camera_id, Segment.start)))
