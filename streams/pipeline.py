"""One camera's pipeline: an ingest session per stream, fanned out to the outputs attached to it.

Outputs (the recorder, the live hub, detection) all attach the same way: the pipeline calls
``attach(pipeline)`` on each when it starts and ``detach(pipeline)`` when it stops, and an output
subscribes to ``fanout(stream)`` for the packets it wants. The pipeline never opens a second RTSP
session for the same stream however many outputs there are, and nobody polls who is running.

A pipeline can also run as a warm standby (``start(standby=True)``, ``demote()``): it pulls only
the recorded stream, with no output attached, and its fan-out keeps a pre-roll ring. ``promote()``
attaches the outputs to the running session (no reconnect); the recorder then starts from the
ring, seconds back (vms.cluster.ownership, decision 100).
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
        preroll: tuple[float, int] = (0.0, 0),
    ) -> None:
        """``preroll``: (seconds, bytes) of the pre-roll ring kept while a standby (0 s: none)."""
        self.spec = spec
        self._open_gate = open_gate
        self._ingest_config = ingest_config
        self._on_status = on_status
        self._outputs = list(outputs)
        self._fanouts: dict[str, PacketFanout] = {}
        self._ingests: dict[str, IngestSession] = {}
        self._started = False
        self._attached = False  # outputs attached; False while a warm standby
        self._preroll = preroll

    @property
    def standby(self) -> bool:
        """True while the pipeline runs (or is about to) as a warm standby: ingest only, no outputs."""
        return not self._attached

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
        if self._started and self._attached:
            output.attach(self)

    def start(self, standby: bool = False) -> "CameraPipeline":
        """Attach the outputs, then start pulling; as a ``standby``, pull the recorded stream
        into the pre-roll ring with no output attached."""
        if standby:
            self._keep_preroll()
        else:
            self._attach_outputs()
        self._started = True
        for ingest in self._ingests.values():
            ingest.start()
        return self

    def promote(self) -> None:
        """A standby becomes the recording pipeline: attach the outputs to the running session
        (the recorder takes the pre-roll ring first), then let go of the ring."""
        if self._attached:
            return
        self._attach_outputs()
        for fanout in self._fanouts.values():
            fanout.keep_preroll(0)

    def demote(self) -> None:
        """Back to a standby: detach the outputs (the recorder finishes its segment) and stop
        every stream but the recorded one, whose session goes on into the pre-roll ring."""
        if not self._attached:
            return
        recorded = self.spec.recorded_stream
        for stream in [s for s in self._ingests if s != recorded]:
            self._ingests.pop(stream).stop()
        self._detach_outputs()
        self._keep_preroll()

    def stop(self) -> None:
        """Stop pulling, close every fan-out queue, then detach the outputs (the recorder drains last)."""
        self._started = False
        for ingest in self._ingests.values():
            ingest.request_stop()  # every stream at once: their waits overlap
        for ingest in self._ingests.values():
            ingest.stop()
        if self._attached:
            self._detach_outputs()

    def _attach_outputs(self) -> None:
        self._attached = True
        for output in self._outputs:
            try:
                output.attach(self)
            except Exception:
                log.exception("camera %s: attaching %s failed", self.spec.id, type(output).__name__)

    def _detach_outputs(self) -> None:
        """Close every fan-out queue, then detach the outputs."""
        self._attached = False
        for stream, fanout in list(self._fanouts.items()):
            for queue in fanout.consumers():
                fanout.unsubscribe(queue)
            if stream not in self._ingests:
                del self._fanouts[stream]  # its ingest was stopped (demote)
        for output in self._outputs:
            try:
                output.detach(self)
            except Exception:
                log.exception("camera %s: detaching %s failed", self.spec.id, type(output).__name__)

    def _keep_preroll(self) -> None:
        seconds, max_bytes = self._preroll
        self.fanout(self.spec.recorded_stream).keep_preroll(seconds, max_bytes)

    def preroll(self) -> tuple[float, int, int]:
        """(seconds, packets, bytes) in the recorded stream's pre-roll ring (zeros when none)."""
        fanout = self._fanouts.get(self.spec.recorded_stream)
        return fanout.preroll() if fanout is not None else (0.0, 0, 0)

    def statuses(self) -> list[StreamStatus]:
        """The state of each stream pulled so far."""
        return [ingest.status for ingest in self._ingests.values()]
