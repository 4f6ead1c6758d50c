"""Publish generated H.264 into a camera's fan-out at real pace, as its ingest would.

Lets live-view tests run without an RTSP server: the packets, sessions and stream ends are the
ones ingest would publish, only their source differs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from streams.fanout import PacketFanout
from streams.packets import MediaPacket, StreamEnd
from tests.support.media import media_packets


class PacketFeeder:
    """Loops ``seconds`` of generated video into ``fanout`` until stopped."""

    def __init__(
        self, fanout: PacketFanout, width: int = 320, height: int = 180, fps: int = 25, gop: int = 25,
        seconds: int = 4, session: int = 1000, codec: str = "h264",
    ) -> None:
        self.fanout = fanout
        self.fps = fps
        info, self.packets = media_packets(
            fanout.camera_id, frames=fps * seconds, fps=fps, gop=gop, width=width, height=height
        )
        self.info = replace(info, stream=fanout.stream, session=session, codec=codec)
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feeder-{fanout.camera_id}", daemon=True)

    def start(self) -> "PacketFeeder":
        self._thread.start()
        return self

    def _run(self) -> None:
        info = self.info
        self.fanout.publish(info)
        span = self.packets[-1].pts - self.packets[0].pts + (self.packets[1].pts - self.packets[0].pts)
        started = time.monotonic()
        loop = 0
        while not self._stop.is_set():
            for packet in self.packets:
                offset = loop * span + packet.pts
                due = started + float(offset * packet.time_base)
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                self.fanout.publish(
                    MediaPacket(info.session, packet.data, offset, loop * span + packet.dts, packet.time_base,
                                packet.keyframe, time.time())
                )
                self.published += 1
            loop += 1
        self.fanout.publish(StreamEnd(info.camera_id, info.stream, info.session, "feeder stopped"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
