"""The embedded ``vms run``: a supervisor with a worker process and an API process.

Recording must not share a process with the web server: an overloaded, crashed or attacked API
(descriptors exhausted, memory blown by a huge body, an exception in a C extension) would take
recording down with it. So ``vms run`` starts

* ``vms worker``: pulls, records, detects, serves live video over the bus (no HTTP at all);
* ``vms api``: the web server, reaching the worker over the bus;

and restarts either when it dies: at once the first time (recording is down until the worker
is back), then after 1 s doubling to 30 s while it keeps dying, reset once a child has run a
minute. A thread per child waits on it, so a death is noticed the moment it happens. The two share SQLite (WAL) and a ``LocalBroker`` on a UNIX socket that the supervisor
itself runs, because it is the one process that does not restart (``docs/decisions.md``).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vms.bus.local import LocalBroker

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.0  # a child that dies after running well is started again at once
BACKOFF_SECOND = 1.0  # then 1 s, doubling while it keeps dying
BACKOFF_MAX = 30.0
POLL_SECONDS = 0.5  # the run loop's pace when nothing died (a death wakes it at once)
HEALTHY_AFTER = 60.0  # a child that ran this long starts again at the first backoff step
STOP_SECONDS = 20.0


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = BACKOFF_FIRST
    due: float = 0.0  # monotonic time of the next start, while dead
    history: list[int] = field(default_factory=list)  # exit codes, newest last


class Supervisor:
    def __init__(self, config: Path | None, data_dir: Path, host: str, port: int, verbose: bool = False) -> None:
        self.bus_path = (data_dir / "run" / "bus.sock").resolve()
        base = [sys.executable, "-m", "vmsapp.cli"]
        options = (["--config", str(config)] if config else []) + (["--verbose"] if verbose else [])
        self.children = [
            Child("worker", [*base, "worker", *options]),  # first: recording starts before the web
            Child("api", [*base, "api", *options, "--host", host, "--port", str(port)]),
        ]
        self.broker = LocalBroker(self.bus_path)
        self._stop = threading.Event()
        self._died = threading.Event()  # set by a child's waiter thread the moment it exits
        self._lock = threading.Lock()

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def start(self) -> "Supervisor":
        self.broker.start()
        for child in self.children:
            self._spawn(child)
        return self

    def run(self) -> None:
        """Start the children and keep them running until SIGINT or SIGTERM."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.request_stop())
        self.start()
        try:
            self.keep()
        finally:
            self.stop()

    def keep(self) -> None:
        """Restart children as they die until ``request_stop`` (``run``'s loop, callable from a thread)."""
        while not self._stop.is_set():
            self._died.wait(self._next_wait())
            self._died.clear()
            if self._stop.is_set():
                break
            self.check()

    def request_stop(self) -> None:
        """Make ``keep`` return (the children keep running until ``stop``)."""
        self._stop.set()
        self._died.set()

    def _next_wait(self) -> float:
        """Seconds until the run loop must look again: the next due restart, at most ``POLL_SECONDS``."""
        now = time.monotonic()
        with self._lock:
            dues = [c.due - now for c in self.children if c.process is None]
        return max(0.0, min([POLL_SECONDS, *dues]))

    def check(self) -> None:
        """Restart a dead child once its backoff has passed (``run`` calls it when a child dies,
        when a restart is due, and every ``POLL_SECONDS``)."""
        now = time.monotonic()
        with self._lock:
            for child in self.children:
                process = child.process
                if process is not None and process.poll() is None:
                    if now - child.started_at > HEALTHY_AFTER:
                        child.backoff = BACKOFF_FIRST
                    continue
                if process is not None:
                    child.history.append(process.returncode)
                    child.process = None
                    child.due = now + child.backoff
                    log.error("%s process exited with %s; starting it again in %g s", child.name, process.returncode, child.backoff)
                    child.backoff = min(BACKOFF_MAX, max(BACKOFF_SECOND, child.backoff * 2))
                if now >= child.due and not self._stop.is_set():
                    child.restarts += 1
                    self._spawn(child)

    def stop(self) -> None:
        """The API first (no new requests), then the worker, which closes its segments."""
        self._stop.set()
        with self._lock:
            for child in reversed(self.children):
                _terminate(child.process)
                child.process = None
        self.broker.close()

    def _spawn(self, child: Child) -> None:
        env = {**os.environ, "VMS_LOCAL_BUS": str(self.bus_path)}
        process = child.process = subprocess.Popen(child.command, env=env)
        child.started_at = time.monotonic()
        log.info("%s process started (pid %d)", child.name, process.pid)
        threading.Thread(target=self._wait_for, args=(process,), name=f"wait-{child.name}", daemon=True).start()

    def _wait_for(self, process: subprocess.Popen) -> None:
        process.wait()
        self._died.set()


def _terminate(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        log.error("process %d did not stop within %g s; killing it", process.pid, STOP_SECONDS)
        process.kill()
        process.wait(5)
