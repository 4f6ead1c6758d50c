"""Live viewing: camera H.264 relayed to browsers over WebRTC without re-encoding.

``LiveHub`` (one per worker) owns a ``LiveRelay`` per camera stream (one fan-out subscription,
a GOP cache) and the viewers' WebRTC sessions; ``PassthroughTrack`` hands the camera's access
units to aiortc, which only packetizes them. The API reaches live video through one
``vms.live.gateway.LiveGateway``: the hub of its own process (``local.LocalLive``), or the
camera's worker over the bus (``vmsapp.live_remote``). Refusals are ``vms.live`` errors.
"""

from streams.live.hub import LiveHub, LiveSession
from streams.live.relay import LiveRelay
from streams.live.track import PassthroughTrack

__all__ = ["LiveHub", "LiveRelay", "LiveSession", "PassthroughTrack"]
