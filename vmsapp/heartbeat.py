"""A worker's heartbeat on the bus: every stream's status and every camera's recording health.

Ingest publishes a stream's status when it changes and every 2 s while packets flow; a stream
that stays offline would otherwise go quiet. Repeating everything every ``HEARTBEAT_SECONDS``
lets every status board (``vms.cameras.status``) expire exactly the cameras whose worker died.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vms.background import Periodic
from vms.cameras.status import HEARTBEAT_SECONDS, RECORDING_TOPIC

if TYPE_CHECKING:
    from vmsapp.worker import StreamWorker


class StatusHeartbeat(Periodic):
    """Every ``interval`` seconds, publish all of a worker's stream statuses and recording health."""
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
