"""The fan-out: a slow consumer loses packets (counted), never the others or the producer."""

import time

from streams.fanout import PacketFanout
from streams.packets import MediaPacket, StreamEnd
from tests.support.media import TIME_BASE, media_packets


def test_slow_consumer_drops_and_rejoins_at_a_keyframe_while_others_get_everything():
    info, packets = media_packets(frames=100, gop=25)
    fanout = PacketFanout("cam", "main")
    fast = fanout.subscribe("fast", max_packets=1000)
    slow = fanout.subscribe("slow", max_packets=10)  # never read until the end: a stuck consumer

    started = time.perf_counter()
    for item in [info, *packets, StreamEnd("cam", "main", 1, "done")]:
        fanout.publish(item)
    assert time.perf_counter() - started < 0.5, "publishing must not wait for consumers"

    fast_items = [fast.get(0) for _ in range(102)]
    assert sum(isinstance(i, MediaPacket) for i in fast_items) == 100
    assert fast.stats.dropped == 0

    slow_items = []
    while (item := slow.get(0)) is not None:
        slow_items.append(item)
    slow_packets = [i for i in slow_items if isinstance(i, MediaPacket)]
    assert slow_items[0] is info and isinstance(slow_items[-1], StreamEnd)  # control items never dropped
    assert len(slow_packets) == 10 and slow.stats.dropped == 90
    assert slow_packets[0].keyframe


def test_dropping_consumer_resumes_at_the_next_keyframe():
    info, packets = media_packets(frames=60, gop=25)
    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("q", max_packets=5)
    fanout.publish(info)
    for packet in packets[:8]:  # 5 fit, 3 dropped
        fanout.publish(packet)
    drained = [queue.get(0) for _ in range(6)]
    assert queue.stats.dropped == 3
    for packet in packets[8:]:
        fanout.publish(packet)
    resumed = queue.get(0)
    assert resumed.keyframe and resumed.pts == packets[25].pts, "must skip to the next keyframe, not resume mid-GOP"
    assert drained[0] is info


def test_late_subscriber_gets_the_stream_description_and_starts_at_a_keyframe():
    info, packets = media_packets(frames=40, gop=25)
    fanout = PacketFanout("cam", "main")
    fanout.publish(info)
    for packet in packets[:10]:
        fanout.publish(packet)
    late = fanout.subscribe("late")
    for packet in packets[10:]:
        fanout.publish(packet)
    assert late.get(0) is info
    first = late.get(0)
    assert first.keyframe and first.pts == packets[25].pts
    assert first.time_base == TIME_BASE
