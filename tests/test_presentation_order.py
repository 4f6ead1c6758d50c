"""Presentation order in recorded files, for B-frame streams through ingest's whole placement chain
(clock-step splicer, decode order, timeline) under stalls, backlogs, pictures missing without a
sequence gap and camera clock steps: no server, seeded random cases (decisions 155-156).

A file's decoder shows its pictures in the camera's order (picture order count); each picture's
PTS is ours. A PTS that does not grow in that order is a file out of presentation order, as the
stall-then-burst test once recorded under load (issue 12).
"""

from __future__ import annotations

import logging
import random
from fractions import Fraction

import pytest

from streams.access_units import AccessUnit
from streams.ingest import IngestSession, StreamSource
from streams.packets import Discontinuity, MediaPacket, StreamInfo
from vms.config.storage import IngestConfig

F = 3600  # one frame at 25 fps, 90 kHz
GOP = 25
EPOCH = 1_700_000_000.0


class _Collect:
    def __init__(self) -> None:
        self.items: list[object] = []

    def publish(self, item: object) -> None:
        self.items.append(item)


def closed_gop_decode_order(gops: int) -> list[tuple[int, bool]]:
    """(picture number, keyframe) in decode order: x264 with 2 B-frames, closed GOPs of 25."""
    out = []
    for g in range(gops):
        out.append((g * GOP, True))
        i = 1
        while i < GOP:
            anchor = min(i + 2, GOP - 1)
            out.append((g * GOP + anchor, False))
            out += [(g * GOP + k, False) for k in range(i, anchor)]
            i = anchor + 1
    return out


def random_case(rng: random.Random) -> list[tuple[int, int, bool, float]]:
    """(picture number, RTP pts, keyframe, arrival) in arrival order for one seeded case."""
    pictures = closed_gop_decode_order(16)
    # B-frames (one RTP packet each at low bitrates) lost on the way, no sequence gap shown.
    loss = rng.choice([0.0, 0.02, 0.08])
    kept, newest = [], -1
    for n, key in pictures:
        if n > newest or rng.random() >= loss:  # a reference picture (shown after all before it) stays
            kept.append((n, key))
        newest = max(newest, n)
    # Camera clock steps, at least 60 pictures apart, of a size the splicer tells from reordering.
    steps = {at + rng.randrange(40): rng.choice([-20.0, -3.0, -1.2, -0.6, 1.5, 3.0, 3600.0])
             for at in rng.sample(range(30, len(kept) - 70, 60), rng.randint(0, 2))}
    sent, newest = [], -1
    for n, _ in kept:
        newest = max(newest, n)  # sent once the newest picture it needs is encoded
        sent.append(EPOCH + newest * 0.04 + rng.uniform(0, 0.005))
    # The network: a stall that holds everything, and a backlog that delays a stretch.
    arrival = list(sent)
    if rng.random() < 0.7:
        start, held = EPOCH + rng.uniform(3, 9), rng.uniform(1.2, 7.0)
        arrival = [start + held if start <= t < start + held else t for t in arrival]
    if rng.random() < 0.5:
        start, length, delay = EPOCH + rng.uniform(2, 8), rng.uniform(3, 9), rng.uniform(0.5, 3.0)
        arrival = [t + delay if start <= t < start + length else t for t in arrival]
    for i in range(1, len(arrival)):
        arrival[i] = max(arrival[i], arrival[i - 1])  # TCP keeps the order
    shift, out = 0, []
    for i, ((n, key), at) in enumerate(zip(kept, arrival)):
        shift += round(steps.get(i, 0.0) * 90000)
        out.append((n, n * F + shift, key, at))
    return out


def recorded_files(items: list[object]) -> list[list[tuple[int, int]]]:
    """(picture number, PTS) of each file, cut as streams/recorder.py cuts: a gap or a lost
    picture ends the file at once (the next starts at a keyframe); another discontinuity at the
    next keyframe."""
    files: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] | None = None
    cut = False
    for item in items:
        if isinstance(item, Discontinuity):
            if item.kind in ("gap", "lost"):
                current = None
            elif item.kind != "drift":
                cut = True
        elif isinstance(item, MediaPacket):
            if item.keyframe and (current is None or cut):
                cut = False
                current = []
                files.append(current)
            if current is not None:
                current.append((int.from_bytes(item.data[5:9], "big"), item.pts))
    return files


@pytest.mark.parametrize("seed", range(60))
def test_recorded_b_frame_pictures_stay_in_presentation_order(seed):
    logging.getLogger("streams.ingest").setLevel(logging.ERROR)  # every case logs its bursts
    session = IngestSession(StreamSource("cam", "main", "rtsp://127.0.0.1:9/cam"), _Collect(),  # type: ignore[arg-type]
                            IngestConfig())
    info = StreamInfo("cam", "main", 1, "h264", 320, 180, Fraction(1, 90000), 25.0, b"")
    feed, finish = session._placing(info, True)
    for number, pts, key, arrival in random_case(random.Random(seed)):
        data = (b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41") + number.to_bytes(4, "big")
        feed(AccessUnit(data, pts, pts, key), arrival)
    finish()
    items = session.fanout.items  # type: ignore[attr-defined]
    for file in recorded_files(items):
        shown = [pts for _, pts in sorted(file)]
        assert all(b > a for a, b in zip(shown, shown[1:])), f"seed {seed}: a file out of presentation order"
    packets = [item for item in items if isinstance(item, MediaPacket)]
    assert all(b.dts > a.dts for a, b in zip(packets, packets[1:])) and all(p.pts >= p.dts for p in packets)
