"""One camera's pipeline: an ingest session per stream, fanned out to the outputs attached to it.

Outputs (the recorder, the live hub, detection) all attach the same way: the pipeline calls
``attach(pipeline)`` on each when it starts and ``detach(pipeline)`` when it stops, and an output
subscribes to ``fanout(stream)`` for the packets it wants. The pipeline never opens a second RTSP
session for the same stream however many outputs there are, and nobody polls who is running.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Callable, ContextManager, Iterable, Protocol

from streams.fanout import PacketFanout
from streams.ingest import IngestSession, StreamSource
from streams.status import StreamStatus
from vms.cameras.spec import CameraSpec
from vms.config.storage import IngestConfig

log = logging.getLogger(__name__)


class PipelineOutput(Protocol):
    """Something fed by camera pipelines: told when one starts (``attach``) and stops (``detach``).

    ``attach`` runs before the pipeline's ingest sessions start, so no first packet is missed;
    ``detach`` runs after they stopped and every fan-out queue was closed. Both run on the
    worker's thread and must not block on the network.
    """

    def attach(self, pipeline: "CameraPipeline") -> None:
        """``pipeline`` is starting: subscribe to its fan-outs (``pipeline.fanout(stream)``)."""

    def detach(self, pipeline: "CameraPipeline") -> None:
        """``pipeline`` has stopped: let go of everything taken from it."""


class CameraPipeline:
    """One camera: an ingest session per stream in use, each fanned out to the attached outputs."""

    def __init__(
        self,
        spec: CameraSpec,
        ingest_config: IngestConfig,
        on_status: Callable[[StreamStatus], None],
        outputs: Iterable[PipelineOutput] = (),
        open_gate: ContextManager[object] = nullcontext(),
    ) -> None:
        self.spec = spec
        self._open_gate = open_gate
        self._ingest_config = ingest_config
        self._on_status = on_status
        self._outputs = list(outputs)
        self._fanouts: dict[str, PacketFanout] = {}
        self._ingests: dict[str, IngestSession] = {}
        self._started = False

    def fanout(self, stream: str = "main") -> PacketFanout:
        """The packet fan-out of ``stream``, starting its ingest session on first use.

        Raises ``LookupError`` when the camera has no such stream.
        """
        if stream not in self._fanouts:
            url = self.spec.url(stream)
            if url is None:
                raise LookupError(f"camera '{self.spec.id}' has no {stream} stream")
            fanout = PacketFanout(self.spec.id, stream)
            source = StreamSource(
                self.spec.id, stream, url, self.spec.username, self.spec.password, self.spec.transport,
                self.spec.rtsp_client,
            )
            ingest = IngestSession(source, fanout, self._ingest_config, self._on_status, self._open_gate)
            self._fanouts[stream] = fanout
            self._ingests[stream] = ingest
            if self._started:
                ingest.start()
        return self._fanouts[stream]

    def fanouts(self) -> dict[str, PacketFanout]:
        """The fan-outs of the streams started so far (none is started by asking this)."""
        return dict(self._fanouts)

    def add_output(self, output: PipelineOutput) -> None:
        """Attach ``output`` now if the pipeline runs, and at every later start."""
        self._outputs.append(output)
        if self._started:
            output.attach(self)

    def start(self) -> "CameraPipeline":
        """Attach the outputs, then start pulling."""
        for output in self._outputs:
            try:
                output.attach(self)
            except Exception:
                log.exception("camera %s: attaching %s failed", self.spec.id, type(output).__name__)
        self._started = True
        for ingest in self._ingests.values():
            ingest.start()
        return self

    def stop(self) -> None:
        """Stop pulling, close every fan-out queue, then detach the outputs (the recorder drains last)."""
        self._started = False
        for ingest in self._ingests.values():
            ingest.stop()
        for fanout in self._fanouts.values():
            for queue in fanout.consumers():
                fanout.unsubscribe(queue)
        for output in self._outputs:
            try:
                output.detach(self)
            except Exception:
                log.exception("camera %s: detaching %s failed", self.spec.id, type(output).__name__)

    def statuses(self) -> list[StreamStatus]:
        """The state of each stream pulled so far."""
        return [ingest.status for ingest in self._ingests.values()]
