"""The recorder as a pipeline output: one ``Recorder`` per attached camera that records."""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import partial
from pathlib import Path
from typing import Any, Callable, TYPE_CHECKING

from streams.mux_pool import MUX_LANES, MuxPool
from streams.recorder import Recorder
from vms.recordings.index import SegmentIndex

if TYPE_CHECKING:
    from streams.pipeline import CameraPipeline

# Recording rates: "recent" over the last 5 minutes, the camera's "normal" over the last hour
# (known once 10 minutes of history exist). Segments close every minute or so, so shorter
# windows would swing with each close.
RECENT_SECONDS = 300.0
NORMAL_SECONDS = 3600.0
NORMAL_AFTER_SECONDS = 600.0


class Recording:
    """Records every attached pipeline whose camera has recording enabled.

    The recorders share ``mux_lanes`` threads (streams.mux_pool), not one thread per camera.

    ``on_storage_error(camera_id, message)`` is told when a segment cannot be written (disk full,
    folder gone); the recorder itself resumes at the next keyframe.
    """

    def __init__(
        self,
        index: SegmentIndex,
        recordings_dir: Path,
        queue_packets: int,
        on_storage_error: Callable[[str, str], None] = lambda camera_id, message: None,
        mux_lanes: int = MUX_LANES,
    ) -> None:
        self.index = index
        self.recordings_dir = recordings_dir
        self.queue_packets = queue_packets
        self.on_storage_error = on_storage_error
        self._recorders: dict[str, tuple[CameraPipeline, Recorder]] = {}
        self._samples: dict[str, deque[tuple[float, int]]] = {}  # camera -> (time, bytes written)
        self._started_at: dict[str, float] = {}
        # Camera -> where this process's last recorder of it stopped recording (UTC epoch s): a
        # recorder started later from a pre-roll ring starts after it (one worker's rows never overlap).
        self._recorded_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pool = MuxPool(mux_lanes)

    def attach(self, pipeline: CameraPipeline) -> None:
        """Start a recorder on the camera's recorded stream (nothing when its recording is off)."""
        spec = pipeline.spec
        if not spec.recording_enabled:
            return
        with self._lock:
            since = self._recorded_until.get(spec.id)
        # A warm standby's pre-roll ring (if any) first: the recording starts seconds before the takeover.
        queue = pipeline.fanout(spec.recorded_stream).subscribe("recorder", self.queue_packets, wake_per_packet=False,
                                                               preroll=True, preroll_since=since)
        recorder = Recorder(spec.id, queue, self.index, self.recordings_dir, spec.segment_seconds,
                            partial(self.on_storage_error, spec.id))
        with self._lock:
            self._recorders[spec.id] = (pipeline, recorder)
            self._samples[spec.id] = deque()
            self._started_at[spec.id] = time.time()
        recorder.start(self._pool)

    def detach(self, pipeline: CameraPipeline) -> None:
        """Stop the camera's recorder: it finishes and indexes the open segment."""
        with self._lock:
            held = self._recorders.get(pipeline.spec.id)
            if held is None or held[0] is not pipeline:
                return
            del self._recorders[pipeline.spec.id]
            self._samples.pop(pipeline.spec.id, None)
        held[1].stop()
        until = held[1].recorded_until
        if until is not None:
            with self._lock:
                self._recorded_until[pipeline.spec.id] = max(until, self._recorded_until.get(pipeline.spec.id, until))

    def recorder(self, camera_id: str) -> Recorder | None:
        """The recorder of ``camera_id`` (None: not recorded by this process)."""
        with self._lock:
            held = self._recorders.get(camera_id)
        return held[1] if held else None

    def health(self, now: float | None = None) -> list[dict[str, Any]]:
        """Recording health of each recorded camera, sampled now (call every few seconds).

        Each item: ``camera_id``, ``segment_seconds``, ``started_at`` and ``last_segment_at`` (UTC
        epoch seconds; the latter None before a first segment is finished), ``segments_written``,
        ``bytes_per_minute`` over the last 5 minutes, ``normal_bytes_per_minute`` over the last hour
        (None before 10 minutes of history) and ``storage_error`` (the last one, or None).
        """
        now = time.time() if now is None else now
        with self._lock:
            held = {camera_id: recorder for camera_id, (_, recorder) in self._recorders.items()}
            report = []
            for camera_id, recorder in sorted(held.items()):
                samples = self._samples[camera_id]
                samples.append((now, recorder.bytes_written))
                while samples and now - samples[0][0] > NORMAL_SECONDS:
                    samples.popleft()
                recent = [s for s in samples if now - s[0] <= RECENT_SECONDS]
                report.append({
                    "camera_id": camera_id,
                    "segment_seconds": recorder.segment_seconds,
                    "started_at": self._started_at[camera_id],
                    "last_segment_at": recorder.last_segment_at,
                    "segments_written": recorder.segments_written,
                    "bytes_per_minute": _per_minute(recent),
                    "normal_bytes_per_minute": (
                        _per_minute(list(samples)) if now - samples[0][0] >= NORMAL_AFTER_SECONDS else None
                    ),
                    "storage_error": recorder.last_storage_error,
                })
        return report


def _per_minute(samples: list[tuple[float, int]]) -> float:
    """Bytes per minute between the first and last ``(time, bytes so far)`` sample (0 if under a second)."""
    span = samples[-1][0] - samples[0][0]
    return 0.0 if span < 1.0 else round((samples[-1][1] - samples[0][1]) * 60.0 / span, 1)
