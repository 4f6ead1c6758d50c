"""A WHEP viewer written with aiortc, to play cameras end to end without a browser."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


class WhepRefused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code}: {response.text}")
        self.response = response


def answer_codec(sdp: str) -> str:
    """The codec the answer chose for video: the first payload type of its m=video line."""
    media = re.search(r"^m=video \S+ \S+ (\d+)", sdp, re.M)
    assert media, "answer has no video"
    rtpmap = re.search(rf"^a=rtpmap:{media.group(1)} ([^/\s]+)", sdp, re.M)
    return rtpmap.group(1) if rtpmap else "?"


async def make_offer() -> tuple[RTCPeerConnection, str]:
    """A real recvonly video offer, as aiortc orders codecs (VP8 before H.264)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server (aiortc's default)
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


class WhepViewer:
    """POST an offer, apply the answer, decode what arrives; ``stop()`` DELETEs the session."""

    def __init__(
        self, base_url: str, camera_id: str, stream: str = "main", transcode: bool = False, headers: dict | None = None
    ) -> None:
        self.headers = dict(headers or {})  # e.g. a bearer token: WHEP endpoints need a signed-in user
        query = f"?stream={stream}" + ("&transcode=1" if transcode else "")
        self.endpoint = f"{base_url}/api/cameras/{camera_id}/whep{query}"
        self.base_url = base_url
        self.pc: RTCPeerConnection | None = None
        self.location: str | None = None
        self.answer = ""
        self.frames: list[tuple[float, int, int]] = []  # (monotonic time, width, height)
        self.offered_at = 0.0
        self.track_ended = asyncio.Event()
        self._new_frame = asyncio.Event()
        self._consumer: asyncio.Task | None = None

    async def start(self) -> "WhepViewer":
        self.pc, offer = await make_offer()

        @self.pc.on("track")
        def on_track(track) -> None:
            self._consumer = asyncio.ensure_future(self._consume(track))

        self.offered_at = time.monotonic()
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(
                self.endpoint, content=offer, headers={**self.headers, "Content-Type": "application/sdp"}
            )
        if response.status_code != 201:
            await self.pc.close()
            raise WhepRefused(response)
        self.location = response.headers["location"]
        self.answer = response.text
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return self

    async def _consume(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames.append((time.monotonic(), frame.width, frame.height))
                self._new_frame.set()
        except MediaStreamError:
            self.track_ended.set()

    async def wait_frames(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` more frames than now have been decoded."""
        target = len(self.frames) + count
        deadline = time.monotonic() + timeout
        while len(self.frames) < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.frames)} frames decoded, waited for {target}")
            self._new_frame.clear()
            try:
                await asyncio.wait_for(self._new_frame.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    @property
    def first_frame_seconds(self) -> float | None:
        return self.frames[0][0] - self.offered_at if self.frames else None

    @property
    def codec(self) -> str:
        return answer_codec(self.answer)

    def request_keyframe(self) -> None:
        """Send a PLI as a receiver that lost pictures would (aiortc has no public call for it)."""
        receiver = self.pc.getTransceivers()[0].receiver
        ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams))  # the sender's SSRC, once media came
        asyncio.ensure_future(receiver._send_rtcp_pli(ssrc))

    async def stop(self, delete: bool = True) -> int | None:
        status = None
        if delete and self.location:
            async with httpx.AsyncClient(timeout=20) as client:
                status = (await client.delete(self.base_url + self.location, headers=self.headers)).status_code
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.gather(self._consumer, return_exceptions=True)
        if self.pc is not None:
            await self.pc.close()
        return status
