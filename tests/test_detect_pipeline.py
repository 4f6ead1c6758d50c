"""The detection pipeline: decode rate, keyframes-only, never stalling ingest, event lifecycle."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from streams.detect.base import Detector, EventSignal, Frame
from streams.detect.decode import FrameDecoder
from streams.detect.pipeline import DetectionPipeline
from streams.fanout import PacketFanout
from streams.packets import StreamEnd
from tests.support.media import media_packets
from tests.support.scenes import EventLog


class Recording(Detector):
    """Remembers the frames it saw; optionally slow, failing or signalling."""

    name = "recording"

    def __init__(self, delay: float = 0.0, fail_every: int = 0, signal_from: float | None = None) -> None:
        self.frames: list[Frame] = []
        self.delay = delay
        self.fail_every = fail_every
        self.signal_from = signal_from
        self.gaps = 0

    def process(self, frame: Frame) -> list[EventSignal]:
        self.frames.append(frame)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_every and len(self.frames) % self.fail_every == 0:
            raise RuntimeError("detector bug")
        if self.signal_from is not None and frame.wall_time >= self.signal_from:
            return [EventSignal("motion", "zone-a", score=len(self.frames) / 100, box=(0.1, 0.1, 0.5, 0.5))]
        return []

    def on_gap(self) -> None:
        self.gaps += 1


def pipeline_for(detector: Detector, fps: float = 5, keyframes: bool = False, drop_frames: bool = False, max_packets: int = 10_000):
    fanout = PacketFanout("cam", "sub")
    queue = fanout.subscribe("detection", max_packets)
    sink = EventLog()
    pipeline = DetectionPipeline("cam", queue, FrameDecoder("cam", fps, keyframes), [detector], sink, drop_frames=drop_frames)
    return fanout, pipeline.start(), sink


def publish(fanout: PacketFanout, info, packets, end: bool = True) -> float:
    started = time.perf_counter()
    fanout.publish(info)
    for packet in packets:
        fanout.publish(packet)
    if end:
        fanout.publish(StreamEnd("cam", "sub", info.session, "test"))
    return time.perf_counter() - started


def test_frames_come_at_the_configured_rate_with_wall_times():
    info, packets = media_packets(frames=100, fps=25, gop=25)
    detector = Recording()
    fanout, pipeline, _ = pipeline_for(detector, fps=5)
    publish(fanout, info, packets)
    assert pipeline.wait_stream_ends()
    pipeline.stop()
    times = [f.wall_time - packets[0].wall_time for f in detector.frames]
    assert len(times) == 20
    assert np.allclose(np.diff(times), 0.2, atol=0.01)
    frame = detector.frames[0]
    assert frame.array.dtype == np.uint8 and frame.array.shape == (240, 320) and frame.size == (320, 240)
    assert pipeline.decoder.stats.decoded == 100 and pipeline.decoder.stats.delivered == 20


def test_keyframes_only_decodes_nothing_else():
    info, packets = media_packets(frames=100, fps=25, gop=25)
    detector = Recording()
    fanout, pipeline, _ = pipeline_for(detector, fps=5, keyframes=True)
    publish(fanout, info, packets)
    assert pipeline.wait_stream_ends()
    pipeline.stop()
    assert pipeline.decoder.stats.decoded == 4 and pipeline.decoder.stats.skipped_packets == 96
    assert [round(f.wall_time - packets[0].wall_time, 2) for f in detector.frames] == [0.0, 1.0, 2.0, 3.0]


def test_slow_detection_drops_frames_never_stalls_ingest():
    info, packets = media_packets(frames=250, fps=25, gop=25)
    detector = Recording(delay=0.1)
    fanout, pipeline, _ = pipeline_for(detector, fps=25, drop_frames=True)
    elapsed = publish(fanout, info, packets)
    assert elapsed < 1.0  # ingest hands 10 s of video over at once however slow detection is
    assert pipeline.wait_stream_ends(timeout=30)
    pipeline.stop()
    assert pipeline.stats.dropped_frames > 100
    assert pipeline.stats.frames + pipeline.stats.dropped_frames == 250
    assert detector.frames[-1].wall_time == pytest.approx(packets[-1].wall_time)  # the newest frames win


def test_a_stalled_decoder_costs_dropped_packets_not_a_stalled_ingest():
    info, packets = media_packets(frames=250, fps=25, gop=25)
    release = threading.Event()

    class Stuck(Recording):
        def process(self, frame):
            release.wait(10)
            return super().process(frame)

    detector = Stuck()
    fanout, pipeline, _ = pipeline_for(detector, fps=25, drop_frames=False, max_packets=30)
    elapsed = publish(fanout, info, packets)
    assert elapsed < 1.0
    release.set()
    assert pipeline.wait_stream_ends(timeout=30)
    pipeline.stop()
    assert pipeline.dropped_packets > 100  # counted by the fan-out queue, resynchronised at keyframes
    assert pipeline.decoder.stats.errors == 0  # never fed a packet after a hole


def test_events_open_once_close_when_gone_and_at_stream_end():
    info, packets = media_packets(frames=100, fps=25, gop=25)
    start = packets[0].wall_time
    detector = Recording(signal_from=start + 1.0)
    fanout, pipeline, sink = pipeline_for(detector)
    publish(fanout, info, packets)
    assert pipeline.wait_stream_ends()
    [event] = sink.events
    assert event.type == "motion" and event.zone == "zone-a"
    assert event.start == pytest.approx(start + 1.0, abs=0.01)
    assert event.end == pytest.approx(packets[-1].wall_time, abs=0.25)  # closed by the stream end
    assert event.details["box"] == [0.1, 0.1, 0.5, 0.5]
    snapshot = cv2.imdecode(np.frombuffer(event.snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot.shape == (240, 320, 3)
    assert detector.gaps == 1
    # A new session: detection goes on and opens a new event.
    info2, packets2 = media_packets(frames=50, fps=25, gop=25, start_wall=start + 100, session=2)
    publish(fanout, info2, packets2)
    assert pipeline.wait_stream_ends(2)
    pipeline.stop()
    assert len(sink.events) == 2 and sink.events[1].start >= start + 100


def test_a_failing_detector_does_not_stop_the_pipeline():
    info, packets = media_packets(frames=100, fps=25, gop=25)
    detector = Recording(fail_every=3)
    fanout, pipeline, _ = pipeline_for(detector)
    publish(fanout, info, packets)
    assert pipeline.wait_stream_ends()
    pipeline.stop()
    assert len(detector.frames) == 20


class Unreliable(Detector):
    """Says the picture cannot be trusted on the frames listed (as tampering checks do)."""

    name = "unreliable"

    def __init__(self, bad_frames: set[int]) -> None:
        self.bad_frames = bad_frames
        self.frame = -1

    def process(self, frame: Frame) -> list[EventSignal]:
        self.frame += 1
        return []

    @property
    def picture_unreliable(self) -> bool:
        return self.frame in self.bad_frames


class Latched(Detector):
    """Motion from the second frame after a (re)start, with the onset a latch would report."""

    name = "latched"

    def __init__(self) -> None:
        self.on_gap()

    def on_gap(self) -> None:
        self.seen = 0
        self.onset: float | None = None

    def process(self, frame: Frame) -> list[EventSignal]:
        self.seen += 1
        if self.seen < 2:
            return []
        if self.onset is None:
            self.onset = frame.wall_time
        return [EventSignal("motion", "road", since=self.onset)]


def test_a_detector_back_from_an_unreliable_picture_does_not_reopen_its_old_event():
    """The demo stored every motion event twice (same start, ends 0.4-1 s apart): a detector
    skipped while tampering made the picture unreliable was reset only after it had analysed
    the first good frame, so its stale latch reopened the event just closed."""
    from streams.detect.pipeline import Analysis

    sink = EventLog()
    analysis = Analysis("cam", [Unreliable(bad_frames={5, 6}), Latched()], sink)
    for n in range(12):
        analysis.analyse(Frame("cam", 1000.0 + n * 0.2, np.zeros((8, 8), np.uint8), (8, 8)))
    starts = [event.start for event in sink.of("motion")]
    assert len(starts) == len(set(starts)), f"events reopened with the same start: {starts}"
    assert len(starts) == 2  # before the unreliable frames, and afresh once the picture is back
