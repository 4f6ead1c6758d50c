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


# -- the pre-roll ring of a warm-standby pipeline --------------------------------------------


def _publish(fanout: PacketFanout, items) -> None:
    for item in items:
        fanout.publish(item)


def _drain(queue) -> list:
    items = []
    while (item := queue.get(0)) is not None:
        items.append(item)
    return items


def test_preroll_ring_keeps_whole_gops_from_the_newest_keyframe_at_least_the_window_old():
    info, packets = media_packets(frames=150, gop=25)  # 6 s, a keyframe every second
    fanout = PacketFanout("cam", "main")
    fanout.keep_preroll(2.5)
    _publish(fanout, [info, *packets])
    seconds, count, size = fanout.preroll()
    # The newest packet is at 5.96 s; the newest keyframe at least 2.5 s before it is the one at 3 s.
    first = packets[75]
    assert count == 75 and size == sum(len(p.data) for p in packets[75:])
    assert abs(seconds - (packets[-1].wall_time - first.wall_time)) < 1e-9
    queue = fanout.subscribe("recorder", max_packets=10, preroll=True)
    got = _drain(queue)
    assert got[0] is info and got[1:] == packets[75:], "info, then the ring from its oldest keyframe, in order"


def test_preroll_ring_is_bounded_in_bytes_dropping_the_oldest_gops_first():
    info, packets = media_packets(frames=100, gop=25)
    gop_bytes = [sum(len(p.data) for p in packets[i:i + 25]) for i in range(0, 100, 25)]
    fanout = PacketFanout("cam", "main")
    fanout.keep_preroll(60, max_bytes=gop_bytes[2] + gop_bytes[3])  # the window would keep all four
    _publish(fanout, [info, *packets])
    assert fanout.preroll()[1:] == (50, gop_bytes[2] + gop_bytes[3])
    fanout.keep_preroll(60, max_bytes=gop_bytes[3] - 1)
    _publish(fanout, [info, *packets])  # one GOP over the bound: no pre-roll rather than half a GOP
    assert fanout.preroll() == (0.0, 0, 0)


def test_preroll_ring_is_reset_by_a_new_session_and_a_stream_end():
    info, packets = media_packets(frames=50, gop=25)
    info2, packets2 = media_packets(frames=40, gop=25, session=2, start_wall=1_700_000_100.0)
    fanout = PacketFanout("cam", "main")
    fanout.keep_preroll(30)
    _publish(fanout, [info, *packets])
    assert fanout.preroll()[1] == 50
    _publish(fanout, [info2, *packets2[:5]])
    assert fanout.preroll()[1] == 5, "the old session's packets are gone"
    assert _drain(fanout.subscribe("r", preroll=True))[1:] == packets2[:5]
    fanout.publish(StreamEnd("cam", "main", 2, "gone"))
    assert fanout.preroll() == (0.0, 0, 0)
    late = fanout.subscribe("late", preroll=True)
    assert late.get(0) is None, "nothing to pre-roll without a session"
    fanout.keep_preroll(0)
    _publish(fanout, [info, *packets])
    assert fanout.preroll() == (0.0, 0, 0), "keep_preroll(0) keeps nothing"


def test_preroll_subscriber_gets_the_ring_then_live_packets_nothing_twice_or_lost():
    info, packets = media_packets(frames=200, gop=25)
    fanout = PacketFanout("cam", "main")
    fanout.keep_preroll(2.0)
    _publish(fanout, [info, *packets[:110]])
    # A queue bound smaller than the ring: the pre-roll goes beyond it, live packets still fit.
    queue = fanout.subscribe("recorder", max_packets=20, preroll=True)
    got = queue.drain(0)
    _publish(fanout, packets[110:125])
    got += queue.drain(0)
    for start in range(125, 200, 15):
        _publish(fanout, packets[start:start + 15])
        got += queue.drain(0)
    assert got[0] is info
    media = got[1:]
    assert media[0] is packets[50] and media[0].keyframe  # newest keyframe >= 2 s before 4.36 s
    assert media == packets[50:], "every packet once, in order"
    assert queue.stats.dropped == 0


def test_preroll_since_starts_at_the_first_kept_keyframe_at_or_after_it():
    info, packets = media_packets(frames=125, gop=25)
    fanout = PacketFanout("cam", "main")
    fanout.keep_preroll(10)
    _publish(fanout, [info, *packets])
    since = packets[60].wall_time  # already recorded up to here by this worker
    got = _drain(fanout.subscribe("recorder", preroll=True, preroll_since=since))
    assert got[1] is packets[75] and got[1:] == packets[75:]
    none_left = fanout.subscribe("r2", preroll=True, preroll_since=packets[-1].wall_time + 1)
    assert none_left.get(0) is info
    fanout.publish(packets[-1])  # not a keyframe: the queue waits for one, as without pre-roll
    assert none_left.get(0) is None
