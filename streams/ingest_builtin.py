"""Ingest sessions pulled by the built-in RTSP client (streams/rtsp), and when FFmpeg takes over.

A stream goes to the built-in client when its camera's ``rtsp_client`` (or, unset, the global
``ingest.rtsp_client``) says ``builtin`` and it is pulled over TCP. The first thing the client
cannot do (TLS, UDP only, another codec or auth scheme, a payload it cannot take apart) hands
the stream to FFmpeg for the rest of the ingest session's life: a camera fault is retried, a
missing feature is not.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, ContextManager

from streams.access_units import AccessUnit, LostPicture
from streams.rtsp.describe import PROBE_UNITS, Described, describe
from streams.rtsp.payload import DepacketizeError
from streams.rtsp.pull import RtspPull
from streams.rtsp.session import Unsupported
from vms.config.storage import IngestConfig

if TYPE_CHECKING:
    from streams.ingest import StreamSource

log = logging.getLogger(__name__)

Feed = Callable[[AccessUnit | LostPicture, float | None], None]  # (unit, arrival UTC epoch s)
# (codec, description) -> (session number, feed, finish): the ingest session publishes the
# stream's description and places and publishes every unit fed to it.
Begin = Callable[[str, Described], tuple[int, Feed, Callable[[], None]]]


def client_of(source: "StreamSource", config: IngestConfig) -> str:
    """``"ffmpeg"`` or ``"builtin"``: the camera's own choice, else the global one."""
    return source.rtsp_client or config.rtsp_client


class BuiltinIngest:
    """The built-in client's side of one ingest session (one stream of one camera).

    ``answer_timeout`` bounds each RTSP answer in seconds; ``stop`` is the ingest session's.
    """

    def __init__(self, source: "StreamSource", config: IngestConfig, stop: threading.Event,
                 answer_timeout: float) -> None:
        self.source = source
        self.config = config
        self._stop = stop
        self._answer_timeout = answer_timeout
        self.refused = False  # the client met something only FFmpeg does: FFmpeg from now on

    def wanted(self, transport: str) -> bool:
        """Whether the next session is the built-in client's, over ``transport`` (tcp/udp)."""
        return client_of(self.source, self.config) == "builtin" and not self.refused and transport == "tcp"

    def pull(self, open_gate: ContextManager[object], begin: Begin, end: Callable[[int], None]) -> bool:
        """Run one session until the server ends it or ``stop`` is set; True then.

        False, before anything was published, when the camera needs something only FFmpeg
        does (pull it with FFmpeg now). Raises DepacketizeError mid-session after refusing
        (the retry loop reconnects, with FFmpeg), and what RtspPull raises (camera faults).
        ``end(session)`` is called once for a session ``begin`` started.
        """
        try:
            self._pull(open_gate, begin, end)
            return True
        except (Unsupported, DepacketizeError) as exc:
            # Not a camera fault: this client lacks something FFmpeg has. FFmpeg from now on.
            self.refused = True
            log.warning("camera %s/%s: the built-in RTSP client cannot take this stream (%s); using FFmpeg",
                        self.source.camera_id, self.source.stream, self.source.mask(str(exc)))
            if isinstance(exc, DepacketizeError):
                raise
            return False

    def _pull(self, open_gate: ContextManager[object], begin: Begin, end: Callable[[int], None]) -> None:
        """One session. Its units are described, placed and published on the shared RTSP
        loop's thread while this thread waits for the end."""
        pull = RtspPull(self.source.url, self.source.username, self.source.password,
                        timeout=self._answer_timeout, read_interval=self.config.read_interval_seconds)
        probe: list[tuple[AccessUnit, float]] = []
        feed: Feed | None = None
        finish: Callable[[], None] | None = None
        session = 0

        def sink(data: bytes, pts: int, keyframe: bool, arrival: float) -> None:
            nonlocal feed, finish, session
            if self._stop.is_set():
                return  # stopping: nothing after the stop is ours to publish (the thread notices soon)
            if not data:  # a picture lost (a damaged unit): nothing that depends on it may go on
                if feed is not None:
                    feed(LostPicture(0), arrival)
                probe.clear()  # still probing: start again at the next keyframe
                return
            unit = AccessUnit(data, pts, pts, keyframe)
            if feed is not None:
                feed(unit, arrival)
                return
            if keyframe or probe:
                probe.append((unit, arrival))
            if len(probe) < PROBE_UNITS or pull.track is None:
                return
            described = describe(pull.track, [(u.data, u.pts) for u, _ in probe], self.source.where)
            session, feed, finish = begin(pull.track.codec, described)
            for held, held_arrival in probe:
                feed(held, held_arrival)
            probe.clear()

        try:
            with open_gate:
                pull.open(sink)
            pull.wait(self._stop, self.config.read_timeout_seconds)
        finally:
            pull.close()  # from here on the loop calls sink no more
            if finish is not None:
                finish()
            if session:
                end(session)
