"""A picture FFmpeg hands over without timestamps must not leave a corrupt recording behind.

Seen in the clock soak (RTP over TCP, B-frames, a 3 s stall then a burst): FFmpeg's RTSP
demuxer gave one P-frame neither PTS nor DTS; ingest skipped it silently and the rest of the
GOP was recorded without its reference ("mmco: unref short failure" on decode).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

from streams.access_units import AccessUnit, LostPicture, access_units, holds_picture
from streams.fanout import PacketFanout
from streams.ingest import IngestSession, StreamSource
from streams.packets import Discontinuity, MediaPacket, StreamInfo
from streams.segment_writer import SegmentWriter
from tests.support.media import decode_all, encode_h264
from vms.config.storage import IngestConfig

TIME_BASE = Fraction(1, 90000)


@dataclass
class FakePacket:
    data: bytes
    pts: int | None
    dts: int | None
    is_keyframe: bool = False

    def __bytes__(self) -> bytes:
        return self.data


def b_frame_stream(frames: int = 100) -> list[FakePacket]:
    """Real H.264 with B-frames (decode order), rebased to 90 kHz as RTSP gives it."""
    raw = encode_h264(frames, 25, 25, bframes=2)
    scale = Fraction(raw[0][4]) / TIME_BASE
    first = raw[0][2]
    return [FakePacket(data, int((pts - first) * scale), int((dts - first) * scale), key) for data, pts, dts, key, _ in raw]


def test_a_timestamp_less_picture_is_reported_and_parameter_sets_alone_are_not():
    stream = b_frame_stream(30)
    sps_pps = b"\x00\x00\x00\x01\x67\x42\x00\x1e" + b"\x00\x00\x00\x01\x68\xce\x38\x80"
    assert not holds_picture(sps_pps, "h264") and not holds_picture(b"", "h264")
    assert holds_picture(stream[4].data, "h264")
    lost = FakePacket(stream[4].data, None, None)
    packets = [FakePacket(sps_pps, None, None), *stream[:4], lost, *stream[5:], FakePacket(b"", None, None)]
    out = list(access_units(packets, "h264"))
    assert [type(u) for u in out[:6]] == [AccessUnit] * 4 + [LostPicture, AccessUnit]
    assert out[4] == LostPicture(len(stream[4].data))
    # Every other picture comes out, but the last: a stream that ends may have cut it short.
    assert sum(isinstance(u, AccessUnit) for u in out) == len(stream) - 2


def test_slices_of_one_picture_are_joined():
    stream = b_frame_stream(10)
    first = stream[0]
    halves = [FakePacket(first.data[: len(first.data) // 2], first.pts, first.dts, True),
              FakePacket(first.data[len(first.data) // 2:], first.pts, first.dts, False)]
    out = list(access_units([*halves, *stream[1:]], "h264"))
    assert out[0] == AccessUnit(first.data, first.pts, first.dts, True)
    assert len(out) == len(stream) - 1  # the last one is held back (see above)


class FakeContainer:
    def __init__(self, packets: list[FakePacket]) -> None:
        self.packets = packets

    def demux(self, video: object) -> list[FakePacket]:
        return self.packets


class FakeVideo:
    class codec_context:  # noqa: N801 - the attribute PyAV has
        has_b_frames = True


def test_ingest_leaves_out_what_depends_on_a_lost_picture_and_reports_it(tmp_path):
    stream = b_frame_stream(100)
    # The P-frame right after the second keyframe loses its timestamps, as FFmpeg did.
    second_key = [i for i, p in enumerate(stream) if p.is_keyframe][1]
    lost_at = second_key + 1
    stream[lost_at] = FakePacket(stream[lost_at].data, None, None)

    fanout = PacketFanout("cam", "main")
    queue = fanout.subscribe("test", max_packets=10_000)
    # FFmpeg's path (the built-in client has its own test of a lost picture, test_rtsp_builtin.py)
    session = IngestSession(StreamSource("cam", "main", "rtsp://127.0.0.1:9/cam", rtsp_client="ffmpeg"), fanout,
                            IngestConfig(rtsp_client="ffmpeg"))
    info = StreamInfo("cam", "main", 1, "h264", 320, 240, TIME_BASE, 25.0, b"")
    session._pump(FakeContainer(stream), FakeVideo(), info)  # type: ignore[arg-type]

    items = queue.drain(wait=0)
    gaps = [i for i, item in enumerate(items) if isinstance(item, Discontinuity)]
    assert len(gaps) == 1 and items[gaps[0]].kind == "lost"
    assert session.status.discontinuities == {"lost": 1}
    before = [item for item in items[: gaps[0]] if isinstance(item, MediaPacket)]
    after = [item for item in items[gaps[0]:] if isinstance(item, MediaPacket)]
    # Everything before the loss is kept; after it, delivery resumes at the next keyframe.
    assert len(before) == lost_at
    assert after[0].keyframe
    third_key = [i for i, p in enumerate(stream) if p.is_keyframe][2]
    assert len(after) == len(stream) - third_key - 1  # the stream's last access unit is held back

    # Both runs record into files that decode to exactly the camera's pictures.
    reference = pictures(record(tmp_path / "all.mp4", info, as_media_packets(b_frame_stream(100))))
    for number, run in enumerate((before, after)):
        got = pictures(record(tmp_path / f"run{number}.mp4", info, run))
        first = 0 if number == 0 else third_key
        assert len(got) == len(run)
        # The stream's end is ragged (its last access unit held back): compare whole GOPs.
        whole = got if number == 0 else got[:third_key - second_key]
        assert all((a == b).all() for a, b in zip(whole, reference[first:first + len(whole)]))


def as_media_packets(stream: list[FakePacket]) -> list[MediaPacket]:
    out = []
    for p in stream:
        assert p.pts is not None and p.dts is not None
        out.append(MediaPacket(1, p.data, p.pts, p.dts, TIME_BASE, p.is_keyframe, 0.0))
    return out


def record(path, info: StreamInfo, packets: list[MediaPacket]):
    writer = SegmentWriter(path, info)
    for packet in packets:
        writer.write(packet)
    writer.close()
    return path


def pictures(path) -> list:
    """Every decoded picture of a file, in presentation order, as arrays; raises on decoding errors."""
    assert decode_all(path) >= 0
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def test_without_the_gap_the_recording_would_be_wrong(tmp_path):
    """The failure this guards against: the GOP recorded without its lost P-frame shows other pictures."""
    stream = b_frame_stream(50)
    info = StreamInfo("cam", "main", 1, "h264", 320, 240, TIME_BASE, 25.0, b"")
    second_key = [i for i, p in enumerate(stream) if p.is_keyframe][1]
    whole = pictures(record(tmp_path / "whole.mp4", info, as_media_packets(stream[second_key:])))
    kept = stream[second_key:second_key + 1] + stream[second_key + 2:]
    try:
        broken = pictures(record(tmp_path / "broken.mp4", info, as_media_packets(kept)))
    except av.FFmpegError:
        return  # the decoder noticed: a corrupt file
    # Or it concealed the loss: the pictures after the lost one are not the camera's.
    assert any((a != b).any() for a, b in zip(broken[1:], whole[1:]))
