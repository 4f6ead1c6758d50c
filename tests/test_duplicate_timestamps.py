"""A picture sent with the timestamp of a recent one (seen under load at a session's start, issue
12) is counted and kept, and not taken for a B-frame: learning a reorder depth from it gave
every later packet a DTS behind its PTS, and the live relay refused the camera as a B-frame
stream ("Browsers cannot play this camera's codec live") for the rest of the session."""

from __future__ import annotations

import logging
from fractions import Fraction

import pytest

from streams.access_units import AccessUnit
from streams.decode_order import B_FRAME_DEPTH, DecodeOrder
from streams.fanout import PacketFanout
from streams.ingest import IngestSession, StreamSource
from streams.packets import MediaPacket, StreamInfo
from vms.config.storage import IngestConfig

F = 3600  # one frame at 25 fps, 90 kHz
EPOCH = 1_700_000_000.0


def test_a_repeated_pts_is_not_a_reorder_in_a_stream_without_b_frames():
    order = DecodeOrder(0, F, 90_000)
    stamps = [0, 0] + [F * k for k in range(1, 50)]  # the first picture's PTS twice
    out = [order.dts(pts) for pts in stamps]
    assert order.duplicates == 1 and not order.learned and order.depth == 0
    assert all(pts == dts for pts, dts in out)
    assert all(b[1] > a[1] for a, b in zip(out, out[1:]))


def test_a_repeated_pts_in_a_b_frame_stream_keeps_its_depth():
    order = DecodeOrder(B_FRAME_DEPTH, F, 90_000)
    # I P B B P B B ... in decode order, with the first P repeated.
    stamps = [0, 3 * F, 3 * F, F, 2 * F, 6 * F, 4 * F, 5 * F, 9 * F, 7 * F, 8 * F]
    out = [order.dts(pts) for pts in stamps]
    assert order.duplicates == 1 and order.depth == B_FRAME_DEPTH and not order.learned
    assert all(pts >= dts for pts, dts in out) and all(b[1] > a[1] for a, b in zip(out, out[1:]))


def test_a_deeper_b_frame_is_still_learned():
    order = DecodeOrder(0, F, 90_000)
    for pts in [0, 2 * F, F]:  # F shown before 2F: a reorder the SDP did not announce
        order.dts(pts)
    assert order.learned and order.duplicates == 0


@pytest.mark.parametrize("reorders", [False, True])
def test_ingest_counts_a_repeated_timestamp_and_live_still_sees_no_b_frames(reorders, caplog):
    caplog.set_level(logging.WARNING, logger="streams.ingest")
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("test", max_packets=10_000)
    session = IngestSession(StreamSource("cam", "main", "rtsp://127.0.0.1:9/cam"), fanout, IngestConfig())
    info = StreamInfo("cam", "main", 1, "h264", 320, 180, Fraction(1, 90000), 25.0, b"")
    fanout.publish(info)
    feed, finish = session._placing(info, reorders)
    stamps = [0, 0] + [F * k for k in range(1, 75)]
    for n, pts in enumerate(stamps):
        key = pts % (25 * F) == 0 and n != 1
        data = (b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41") + n.to_bytes(4, "big")
        feed(AccessUnit(data, pts, pts, key), EPOCH + pts / 90_000 + 0.01 * (n == 1))
    finish()
    packets = [item for item in queue.drain(wait=0) if isinstance(item, MediaPacket)]
    assert len(packets) == len(stamps), "every picture is kept"
    assert session.status.discontinuities.get("duplicate") == 1
    assert [r.message for r in caplog.records].count(
        "camera cam/main: " + "a picture came with the timestamp of a recent one (counted, logged once per session); "
        "kept just after the picture before it, not taken for a B-frame") == 1
    assert all(b.dts > a.dts for a, b in zip(packets, packets[1:])) and all(p.pts >= p.dts for p in packets)
    if not reorders:
        assert not fanout.b_frames, "a stream without B-frames must stay playable live"
