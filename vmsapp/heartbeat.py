"""A worker's heartbeat on the bus: every stream's status, every camera's recording health and
its live hub's viewers.

Ingest publishes a stream's status when it changes and every 2 s while packets flow; a stream
that stays offline would otherwise go quiet. Repeating everything every ``HEARTBEAT_SECONDS``
lets every status board (``vms.cameras.status``) expire exactly the cameras whose worker died.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vms.background import Periodic
from vms.cameras.status import HEARTBEAT_SECONDS, LIVE_TOPIC, RECORDING_TOPIC

if TYPE_CHECKING:
    from vmsapp.worker import StreamWorker


class StatusHeartbeat(Periodic):
    """Every ``interval`` seconds, publish all of a worker's stream statuses, recording health and viewers."""
    def __init__(self, worker: StreamWorker, interval: float = HEARTBEAT_SECONDS) -> None:
        super().__init__("status-heartbeat", interval)
        self.worker = worker

    def tick(self) -> None:
        """Publish once now."""
        worker = self.worker
        for status in worker.statuses():
            worker.publish_status(status)
        for health in worker.recording.health():
            worker.bus.publish(RECORDING_TOPIC, {**health, "worker_id": worker.worker_id})
        if worker.live_viewers is not None:
            # Also when nobody watches: an API process (vms run, scale-out) has no hub of its own,
            # and its /metrics must see a count fall back to 0.
            worker.bus.publish(LIVE_TOPIC, {"worker_id": worker.worker_id, "viewers": worker.live_viewers()})
