"""GOP cache, per-viewer timeline and the passthrough track, without any network."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from aiortc.mediastreams import MediaStreamError

from streams.live.gop import GopCache
from streams.live.track import BURST_STEP, PassthroughTrack, Timeline, VIDEO_TIME_BASE
from streams.packets import StreamEnd
from tests.support.media import media_packets


def test_gop_cache_keeps_packets_from_the_last_keyframe():
    info, packets = media_packets(frames=60, gop=25)
    cache = GopCache()
    cache.start(info)
    for seq, packet in enumerate(packets, 1):
        cache.add(seq, packet)
    cached = cache.packets()
    assert cached[0].keyframe and cached[0] is packets[50]
    assert cached == packets[50:]


def test_stream_end_empties_the_gop():
    info, packets = media_packets(frames=30, gop=25)
    cache = GopCache()
    cache.start(info)
    for seq, packet in enumerate(packets, 1):
        cache.add(seq, packet)
    cache.end()
    assert cache.packets() == [] and cache.info is None


def test_the_gop_limit_is_time_not_packets():
    # 60 frames at 25 fps: a 2.4 s GOP fits a 3 s limit, whatever its packet count...
    info, packets = media_packets(frames=60, gop=60)
    cache = GopCache(max_seconds=3.0)
    cache.start(info)
    for seq, packet in enumerate(packets, 1):
        cache.add(seq, packet)
    assert len(cache.packets()) == 60
    # ...and not a 2 s limit, nor a byte limit below its size
    for limit in (dict(max_seconds=2.0), dict(max_bytes=cache.bytes - 1)):
        small = GopCache(**limit)
        small.start(info)
        for seq, packet in enumerate(packets, 1):
            small.add(seq, packet)
        assert small.packets() == []


def test_the_fanout_keeps_the_newest_keyframe_across_stream_ends_and_notices_b_frames():
    from streams.fanout import PacketFanout

    info, packets = media_packets(frames=30, gop=25)
    fanout = PacketFanout("cam", "main")
    fanout.publish(info)
    for packet in packets:
        fanout.publish(packet)
    assert fanout.keyframe_interval == pytest.approx(1.0)  # 25 frames at 25 fps
    fanout.publish(StreamEnd("cam", "main", info.session, "lost"))
    assert fanout.latest_keyframe == (info, packets[25]) and not fanout.b_frames
    info_b, with_b = media_packets(frames=10, gop=25, bframes=2, session=2)
    fanout.publish(info_b)
    for packet in with_b:
        fanout.publish(packet)
    assert fanout.b_frames and fanout.latest_keyframe == (info_b, with_b[0])
    assert fanout.keyframe_interval is None  # a new session: not known yet


def test_timeline_bursts_cached_frames_then_follows_the_camera_clock():
    _, packets = media_packets(frames=30, fps=25)
    timeline = Timeline()
    stamps = [timeline.stamp(p, burst=True)[1] for p in packets[:10]]
    assert stamps == [i * BURST_STEP for i in range(10)]
    live = [timeline.stamp(p, burst=False)[1] for p in packets[10:13]]
    assert [b - a for a, b in zip([stamps[-1], *live], live)] == [3600, 3600, 3600]  # 40 ms at 90 kHz


def test_timeline_keeps_increasing_across_camera_reconnects():
    _, first = media_packets(frames=10, session=1)
    _, second = media_packets(frames=10, session=2)  # pts start again at 0
    timeline = Timeline()
    stamps = [timeline.stamp(p, burst=False)[1] for p in first + second]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))


def test_timeline_keeps_b_frame_offsets():
    _, packets = media_packets(frames=25, bframes=2)
    timeline = Timeline()
    for packet in packets:
        pts, dts = timeline.stamp(packet, burst=False)
        assert pts - dts == round((packet.pts - packet.dts) * VIDEO_TIME_BASE.denominator * packet.time_base)


async def test_passthrough_track_returns_the_camera_bytes_as_packets():
    info, packets = media_packets(frames=30, gop=25)
    track = PassthroughTrack("test")
    attached = []
    track.on_start = lambda t: (attached.append(t), t.start_from(info, packets[25:28]))
    first = await track.recv()
    assert attached == [track]
    assert bytes(first) == packets[25].data and first.time_base == VIDEO_TIME_BASE
    for packet in packets[28:]:
        track.feed(packet)
    rest = [await track.recv() for _ in range(4)]
    assert [bytes(p) for p in rest] == [p.data for p in packets[26:30]]
    assert all(b.pts > a.pts for a, b in zip([first, *rest], rest))


async def test_a_new_viewer_without_cache_waits_for_a_keyframe():
    info, packets = media_packets(frames=30, gop=25)
    track = PassthroughTrack("test")
    track.on_start = lambda t: t.start_from(info, [])
    receiving = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    for packet in packets[10:27]:
        track.feed(packet)
    first = await asyncio.wait_for(receiving, 1)
    assert bytes(first) == packets[25].data


async def test_keyframe_requests_restart_from_the_gop_at_most_twice_a_second():
    info, packets = media_packets(frames=30, gop=25)
    track = PassthroughTrack("test")
    restarts = []
    track.on_restart = restarts.append
    track.request_keyframe()
    track.request_keyframe()
    assert restarts == [track] and track.keyframe_requests == 2


async def test_a_viewer_that_falls_behind_is_restarted():
    info, packets = media_packets(frames=30, gop=25)
    track = PassthroughTrack("test", max_queue=5)
    restarts = []
    track.on_restart = restarts.append
    track.start_from(info, packets[:1])
    for packet in packets[1:10]:
        track.feed(packet)
    assert restarts and track.queued <= 5


async def test_a_track_ends_when_the_camera_switches_to_h265():
    info, _ = media_packets(frames=1)
    track = PassthroughTrack("test")
    track.feed(replace(info, codec="hevc"))
    assert track.readyState == "ended" and "hevc" in track.end_reason
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_stream_end_makes_the_viewer_wait_for_the_next_keyframe():
    info, packets = media_packets(frames=30, gop=25)
    track = PassthroughTrack("test")
    track.start_from(info, packets[:1])
    track.feed(StreamEnd("cam", "main", 1, "lost"))
    track.feed(packets[1])  # a stray packet after the end is not sent
    assert track.queued == 1
