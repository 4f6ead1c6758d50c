"""One camera's pipeline: an ingest session per stream, fanned out to the recorder and others.

Later consumers (live relay, detectors) subscribe to ``fanout(stream)``; the pipeline never
opens a second RTSP session for the same stream however many consumers there are.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager

from streams.fanout import PacketFanout
from streams.ingest import IngestSession, StreamSource
from streams.recorder import Recorder
from streams.status import StreamStatus
from vms.cameras.registry import CameraSpec
from vms.config.storage import IngestConfig
from vms.recordings.index import SegmentIndex

log = logging.getLogger(__name__)


class CameraPipeline:
    def __init__(
        self,
        spec: CameraSpec,
        ingest_config: IngestConfig,
        index: SegmentIndex,
        recordings_dir: Path,
        on_status: Callable[[StreamStatus], None],
        on_storage_error: Callable[[str], None],
        open_gate: ContextManager = nullcontext(),
    ) -> None:
        self.spec = spec
        self._open_gate = open_gate
        self._ingest_config = ingest_config
        self._on_status = on_status
        self._fanouts: dict[str, PacketFanout] = {}
        self._ingests: dict[str, IngestSession] = {}
        self._started = False
        self.recorder: Recorder | None = None
        if spec.recording_enabled:
            stream = spec.record_stream if spec.record_stream == "main" or spec.sub_url else "main"
            queue = self.fanout(stream).subscribe("recorder", ingest_config.consumer_queue_packets, wake_per_packet=False)
            self.recorder = Recorder(spec.id, queue, index, recordings_dir, spec.segment_seconds, on_storage_error)

    def _url(self, stream: str) -> str | None:
        return self.spec.main_url if stream == "main" else self.spec.sub_url

    def fanout(self, stream: str = "main") -> PacketFanout:
        """The packet fan-out of ``stream``, starting its ingest session on first use."""
        if stream not in self._fanouts:
            url = self._url(stream)
            if url is None:
                raise LookupError(f"camera '{self.spec.id}' has no {stream} stream")
            fanout = PacketFanout(self.spec.id, stream)
            source = StreamSource(self.spec.id, stream, url, self.spec.username, self.spec.password)
            ingest = IngestSession(source, fanout, self._ingest_config, self._on_status, self._open_gate)
            self._fanouts[stream] = fanout
            self._ingests[stream] = ingest
            if self._started:
                ingest.start()
        return self._fanouts[stream]

    def start(self) -> "CameraPipeline":
        self._started = True
        if self.recorder is not None:
            self.recorder.start()
        for ingest in self._ingests.values():
            ingest.start()
        return self

    def stop(self) -> None:
        for ingest in self._ingests.values():
            ingest.stop()
        for fanout in self._fanouts.values():
            for queue in fanout.consumers():
                fanout.unsubscribe(queue)
        if self.recorder is not None:
            self.recorder.stop()

    def statuses(self) -> list[StreamStatus]:
        return [ingest.status for ingest in self._ingests.values()]
