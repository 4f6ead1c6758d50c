"""The stream worker as ``vms worker`` runs it, plus a pull of each camera's sub-stream.

At 120 cameras the command centre pulls 240 streams: the main stream recorded, the sub-stream
fanned out to detection and live. Detection's decoding is measured by bench/detect.py; here the
sub-stream only has to be pulled and fanned out, so a consumer that takes every packet and keeps
none stands in for its subscribers. Used by bench/record.py (``--streams-per-camera 2``).

    python -m bench.record_worker CONFIG.yaml
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from streams.fanout import PacketQueue
from streams.pipeline import CameraPipeline
from vms.config import load_settings
from vmsapp.runtime import Runtime

DRAIN_SECONDS = 0.25


class SubStreamPull:
    """A pipeline output that subscribes to every camera's sub-stream and discards its packets."""

    def __init__(self) -> None:
        self._queues: dict[str, PacketQueue] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sub-stream-pull", daemon=True)
        self.packets = 0

    def attach(self, pipeline: CameraPipeline) -> None:
        if pipeline.spec.sub_url is None:
            return
        queue = pipeline.fanout("sub").subscribe("bench-sub", 500, wake_per_packet=False)
        with self._lock:
            self._queues[pipeline.spec.id] = queue

    def detach(self, pipeline: CameraPipeline) -> None:
        with self._lock:
            self._queues.pop(pipeline.spec.id, None)

    def start(self) -> "SubStreamPull":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(DRAIN_SECONDS):
            with self._lock:
                queues = list(self._queues.values())
            for queue in queues:
                self.packets += len(queue.drain(wait=0))


def main() -> None:
    settings = load_settings(Path(sys.argv[1]))
    runtime = Runtime.build(settings, with_worker=True)
    assert runtime.worker is not None
    runtime.worker.add_output(SubStreamPull().start())
    runtime.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    runtime.stop()


if __name__ == "__main__":
    main()
