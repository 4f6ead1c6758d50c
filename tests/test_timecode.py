"""The simulator's in-frame timecode: drawn into every frame, read back after H.264/H.265 and scaling."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from streams.simulator import CameraSimulator, SimulatedCamera, simulator_available, simulator_unavailable_reason
from streams.simulator.timecode import BLOCKS, read_timecode, strip_pixels, strip_rows

NOW_MS = 1_796_000_123_456  # 2026-11-30, any 42-bit value works


def picture_with_strip(milliseconds: int, width: int = 640, height: int = 360) -> np.ndarray:
    """A grey luma picture with the strip drawn as the simulator draws it."""
    picture = np.full((height, width), 90, dtype=np.uint8)
    row = np.frombuffer(strip_pixels(milliseconds, width), dtype=np.uint8).reshape(width, 4)[:, 0]
    picture[height - strip_rows(height) :] = row
    return picture


def test_round_trip_survives_scaling_blur_and_levels():
    picture = picture_with_strip(NOW_MS)
    assert read_timecode(picture) == NOW_MS
    # limited-range levels (16..235) and a blur across block edges
    squeezed = (16 + picture.astype(np.float32) * 219 / 255).astype(np.uint8)
    blurred = (squeezed[:, :-2].astype(np.float32) + squeezed[:, 1:-1] + squeezed[:, 2:]) / 3
    assert read_timecode(blurred) == NOW_MS
    # scaled to half size, then to an odd size, with an average filter
    frame = av.VideoFrame.from_ndarray(np.repeat(picture[:, :, None], 3, axis=2), format="rgb24")
    for width, height in ((320, 180), (500, 281)):
        assert read_timecode(frame.reformat(width=width, height=height, interpolation="AREA")) == NOW_MS


def test_a_damaged_or_missing_strip_reads_as_none():
    picture = picture_with_strip(NOW_MS)
    assert read_timecode(np.full((360, 640), 90, dtype=np.uint8)) is None
    block = 640 // BLOCKS
    damaged = picture.copy()
    column = 20 * block + block // 2  # flip one data bit
    damaged[-strip_rows(360) :, column - block // 3 : column + block // 3] ^= 0xFF
    assert read_timecode(damaged) is None
    assert read_timecode(np.zeros((40, 60), dtype=np.uint8)) is None


needs_simulator = pytest.mark.skipif(not simulator_available(), reason=simulator_unavailable_reason() or "")


@needs_simulator
@pytest.mark.parametrize(
    "camera",
    [
        SimulatedCamera(id="h264", scene="road", width=640, height=360, bitrate_kbps=600),
        SimulatedCamera(id="small-b", scene="ball", width=320, height=180, bframes=2, bitrate_kbps=250),
        SimulatedCamera(id="hevc", scene="tunnel", width=320, height=180, codec="h265", bitrate_kbps=250),
    ],
    ids=lambda camera: camera.id,
)
def test_every_streamed_frame_shows_its_capture_time(camera):
    with CameraSimulator([camera]).start() as sim:
        with av.open(sim.url(camera.id), options={"rtsp_transport": "tcp"}, timeout=10) as container:
            shown, ages = [], []
            for frame in container.decode(video=0):
                ms = read_timecode(frame)
                assert ms is not None, f"frame {len(shown)} has no readable timecode"
                shown.append(ms)
                ages.append(time.time() * 1000 - ms)
                if len(shown) == 50:
                    break
    # frames are stamped at their true spacing (25 fps: 40 ms), in display order
    assert set(np.diff(shown)) == {40}
    # and with the wall clock: captured before we saw them, and not long before
    assert 0 < min(ages) and max(ages) < 5000
