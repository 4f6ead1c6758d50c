"""A few threads that mux the packets of every recorder of a worker, instead of one per camera.

A recorder is not latency-sensitive: it takes what its queue gathered every ``DRAIN_SECONDS``.
With a thread per camera, 120 cameras meant 120 more threads waking four times a second each
and contending for the GIL with the ingest threads; a lane (one thread) serves many recorders
in one wake-up. Recorders are spread over the lanes (fewest first); a lane's thread ends when
its last recorder has finished and starts again with the next one.

The price: one lane's recorders share its thread, so a write that blocks (a stalled disk)
delays the others of its lane. Their queues hold ``consumer_queue_packets`` packets (20 s at
25 fps by default) before they drop, counted, and resume at a keyframe, as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)

# How long a lane lets packets gather before muxing them (seconds).
DRAIN_SECONDS = 0.25
# Lanes of a worker: enough that one slow segment close (it reads the file back to index it)
# never holds up every camera, few enough that threads stay a handful on a 2-core box.
MUX_LANES = 4


class Muxed(Protocol):
    name: str

    def service(self) -> bool:
        """Mux what has arrived; True once finished for good (its queue closed and drained)."""


class Lane:
    def __init__(self, number: int, interval: float) -> None:
        self.number = number
        self.interval = interval
        self._members: list[Muxed] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: Muxed) -> None:
        with self._lock:
            self._members.append(member)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"mux-lane-{self.number}", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Serve the lane now (a recorder is stopping and its owner waits)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                members = list(self._members)
            finished = [member for member in members if self._serve(member)]
            with self._lock:
                for member in finished:
                    self._members.remove(member)
                if not self._members:
                    self._thread = None  # an add() from now on starts a new thread
                    return

    @staticmethod
    def _serve(member: Muxed) -> bool:
        try:
            return member.service()
        except Exception:
            # One camera's fault must not stop the lane's other recordings.
            log.exception("recorder %s failed; its packets are dropped until it recovers", member.name)
            return False


class MuxPool:
    """Serves recorders on ``lanes`` threads, each recorder every ``interval`` seconds."""

    def __init__(self, lanes: int = MUX_LANES, interval: float = DRAIN_SECONDS) -> None:
        if lanes < 1:
            raise ValueError("a mux pool needs at least one lane")
        self._lanes = [Lane(number, interval) for number in range(lanes)]
        self._lock = threading.Lock()

    def add(self, member: Muxed) -> Lane:
        """Serve ``member`` from now until its ``service()`` returns True; the lane it is on."""
        with self._lock:
            lane = min(self._lanes, key=len)
            lane.add(member)
        return lane

    def threads(self) -> int:
        """Lanes running a thread now."""
        return sum(1 for lane in self._lanes if len(lane))
