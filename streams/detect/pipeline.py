"""One camera's detection: packets from its fan-out, decoded and analysed off the ingest thread.

Two threads per camera. The decoder thread drains the fan-out queue (bounded; ingest drops
packets for it rather than wait) and decodes; the detector thread runs the detectors on the
newest frames. When detection falls behind, frames — not packets — are dropped and counted,
so the decoder never loses its reference frames and events stay fresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.decode import FrameDecoder
from streams.fanout import PacketQueue
from streams.packets import StreamEnd

log = logging.getLogger(__name__)

FRAME_QUEUE = 4


class EventSink(Protocol):
    """Where events go (``vms.events.EventRecorder``); times are UTC epoch seconds."""

    def open(self, camera_id: str, type: str, start: float, detected_at: float | None = None, zone: str | None = None,
             score: float = 1.0, snapshot: bytes | None = None, details: dict[str, Any] | None = None) -> int: ...

    def close(self, event_id: int, end: float, score: float | None = None) -> None: ...


@dataclass
class PipelineStats:
    frames: int = 0
    dropped_frames: int = 0
    events: int = 0
    detect_seconds: float = 0.0  # CPU-ish time spent in detectors (wall time of their calls)
    per_detector: dict[str, float] = field(default_factory=dict)


class EventLifecycle:
    """Opens an event when a signal appears and ends it at the first frame it is missing."""

    def __init__(self, camera_id: str, sink: EventSink, snapshot_width: int = 640, snapshot_quality: int = 85) -> None:
        self.camera_id = camera_id
        self.sink = sink
        self.snapshot_width = snapshot_width
        self.snapshot_quality = snapshot_quality
        self._open: dict[tuple[Any, ...], tuple[int, float]] = {}  # identity -> (event id, best score)
        self._last_time: float | None = None

    def update(self, frame: Frame, signals: list[EventSignal]) -> int:
        """Apply one frame's signals; returns how many events were opened."""
        self._last_time = frame.wall_time
        active = {signal.identity: signal for signal in signals}
        for identity in [i for i in self._open if i not in active]:
            self._close(identity, frame.wall_time)
        opened = 0
        for identity, signal in active.items():
            if identity in self._open:
                event_id, best = self._open[identity]
                self._open[identity] = (event_id, max(best, signal.score))
                continue
            details = dict(signal.details)
            if signal.box is not None:
                details["box"] = [round(v, 4) for v in signal.box]
            if signal.key is not None:
                details["key"] = signal.key
            try:
                event_id = self.sink.open(
                    self.camera_id,
                    signal.type,
                    start=min(signal.since, frame.wall_time) if signal.since is not None else frame.wall_time,
                    detected_at=frame.wall_time,
                    zone=signal.zone,
                    score=signal.score,
                    snapshot=self._snapshot(frame, signal),
                    details=details,
                )
            except Exception:
                log.exception("camera %s: could not record a %s event", self.camera_id, signal.type)
                continue
            self._open[identity] = (event_id, signal.score)
            opened += 1
        return opened

    def close_all(self, end: float | None = None) -> None:
        end = end if end is not None else (self._last_time or time.time())
        for identity in list(self._open):
            self._close(identity, end)

    def _close(self, identity: tuple[Any, ...], end: float) -> None:
        event_id, best = self._open.pop(identity)
        try:
            self.sink.close(event_id, end, best)
        except Exception:
            log.exception("camera %s: could not end event %s", self.camera_id, event_id)

    def _snapshot(self, frame: Frame, signal: EventSignal) -> bytes | None:
        try:
            picture = frame.colour(self.snapshot_width)
            # Every object the event counts (e.g. each person) is boxed, else the one it is about.
            boxes = signal.details.get("boxes") or ([signal.box] if signal.box is not None else [])
            h, w = picture.shape[:2]
            for x1, y1, x2, y2 in boxes:
                cv2.rectangle(picture, (int(x1 * w), int(y1 * h)), (int(x2 * w), int(y2 * h)), (0, 0, 255), 2)
            ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.snapshot_quality])
            return jpeg.tobytes() if ok else None
        except Exception:
            log.exception("camera %s: snapshot failed", self.camera_id)
            return None


class Analysis:
    """The detectors of one camera and the events they open, one frame at a time (no threads).

    ``DetectionPipeline`` runs it on its detector thread; ``bench/aid.py`` calls it directly on
    frames decoded from files.
    """

    def __init__(self, camera_id: str, detectors: list[Detector], sink: EventSink, snapshot_width: int = 640,
                 snapshot_quality: int = 85, stats: PipelineStats | None = None) -> None:
        self.camera_id = camera_id
        self.detectors = detectors
        self.lifecycle = EventLifecycle(camera_id, sink, snapshot_width, snapshot_quality)
        self.stats = stats or PipelineStats()
        self._suspended: list[Detector] = []

    def analyse(self, frame: Frame) -> None:
        signals: list[EventSignal] = []
        skipped: list[Detector] = []
        for detector in self.detectors:
            if any(d.picture_unreliable for d in self.detectors[: self.detectors.index(detector)]):
                skipped.append(detector)
                continue
            if detector in self._suspended:
                # The picture is back, perhaps changed: learn it afresh *before* analysing it. Reset
                # after, the stale latch reopened the event just closed (same start: a duplicate).
                self._reset(detector)
            started = time.perf_counter()
            try:
                signals.extend(detector.process(frame))
            except Exception:
                log.exception("camera %s: detector %s failed", self.camera_id, detector.name)
            spent = time.perf_counter() - started
            self.stats.detect_seconds += spent
            self.stats.per_detector[detector.name] = self.stats.per_detector.get(detector.name, 0.0) + spent
        self._suspended = skipped
        self.stats.frames += 1
        self.stats.events += self.lifecycle.update(frame, signals)

    def _reset(self, detector: Detector) -> None:
        try:
            detector.on_gap()
        except Exception:
            log.exception("camera %s: detector %s failed to reset", self.camera_id, detector.name)

    def gap(self) -> None:
        """The stream ended: close open events and let every detector start afresh."""
        self.lifecycle.close_all()
        for detector in self.detectors:
            self._reset(detector)


class DetectionPipeline:
    """Runs ``detectors`` on frames decoded from ``queue`` and records their events in ``sink``.

    ``drop_frames=False`` makes the decoder wait for detection instead of dropping frames
    (the packet queue then absorbs the delay, dropping packets if it overflows); tests and the
    benchmark use it to analyse every frame of a clip fed faster than real time.
    """

    def __init__(
        self,
        camera_id: str,
        queue: PacketQueue,
        decoder: FrameDecoder,
        detectors: list[Detector],
        sink: EventSink,
        snapshot_width: int = 640,
        snapshot_quality: int = 85,
        drop_frames: bool = True,
    ) -> None:
        self.camera_id = camera_id
        self.queue = queue
        self.decoder = decoder
        self.detectors = detectors
        self.drop_frames = drop_frames
        self.stats = PipelineStats()
        self.analysis = Analysis(camera_id, detectors, sink, snapshot_width, snapshot_quality, self.stats)
        self.lifecycle = self.analysis.lifecycle
        self._frames: deque[Frame | StreamEnd] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ends_seen = 0
        self._decode_thread = threading.Thread(target=self._decode_loop, name=f"decode-{camera_id}", daemon=True)
        self._detect_thread = threading.Thread(target=self._detect_loop, name=f"detect-{camera_id}", daemon=True)

    def start(self) -> "DetectionPipeline":
        self._decode_thread.start()
        self._detect_thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self.queue.close()
        with self._cond:
            self._cond.notify_all()
        self._decode_thread.join(timeout)
        self._detect_thread.join(timeout)
        self.lifecycle.close_all()

    @property
    def running(self) -> bool:
        return self._detect_thread.is_alive()

    @property
    def dropped_packets(self) -> int:
        return self.queue.stats.dropped

    def wait_stream_ends(self, count: int = 1, timeout: float = 30) -> bool:
        """Wait until the detector thread has worked through ``count`` stream ends (tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ends_seen < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    return self._ends_seen >= count
        return True

    # -- threads --------------------------------------------------------------------------

    def _decode_loop(self) -> None:
        while not self._stop.is_set():
            item = self.queue.get(timeout=0.5)
            if item is None:
                if self.queue.closed:
                    break
                continue
            try:
                frames = self.decoder.feed(item)
            except Exception:
                log.exception("camera %s: decoder failed", self.camera_id)
                frames = []
            for frame in frames:
                self._offer(frame)
            if isinstance(item, StreamEnd):
                self._offer(item)
        with self._cond:
            self._cond.notify_all()

    def _offer(self, item: Frame | StreamEnd) -> None:
        with self._cond:
            if isinstance(item, Frame):
                if self.drop_frames:
                    if sum(isinstance(i, Frame) for i in self._frames) >= FRAME_QUEUE:
                        self._drop_oldest_frame()
                else:
                    while len(self._frames) >= FRAME_QUEUE and not self._stop.is_set():
                        self._cond.wait(0.5)
            self._frames.append(item)
            self._cond.notify_all()

    def _drop_oldest_frame(self) -> None:
        for i, queued in enumerate(self._frames):
            if isinstance(queued, Frame):
                del self._frames[i]
                self.stats.dropped_frames += 1
                return

    def _detect_loop(self) -> None:
        while True:
            with self._cond:
                while not self._frames and not self._stop.is_set() and self._decode_thread.is_alive():
                    self._cond.wait(0.5)
                if not self._frames:
                    if self._stop.is_set() or not self._decode_thread.is_alive():
                        return
                    continue
                item = self._frames.popleft()
                self._cond.notify_all()
            if isinstance(item, StreamEnd):
                self._gap()
                with self._cond:
                    self._ends_seen += 1
                    self._cond.notify_all()
            else:
                self._analyse(item)

    def _analyse(self, frame: Frame) -> None:
        self.analysis.analyse(frame)

    def _gap(self) -> None:
        self.analysis.gap()
