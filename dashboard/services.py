"""What the web application needs from the process it runs in, as an interface.

The composition root (``vmsapp.runtime.Services``) provides it; the routes never import the media
stages or the worker. Live video comes through ``gateway``, camera and recording health through
the status ``board``, probing a camera through ``probe``.
"""

from __future__ import annotations

from typing import Protocol

from vms.alarms import AlarmService
from vms.bus import Bus
from vms.cameras.probe import ProbeResult
from vms.cameras.status import StatusBoard
from vms.config import Settings
from vms.db import Database
from vms.live.gateway import LiveGateway
from vms.recordings.locate import SegmentFiles
from vms.recordings.motion_search import MotionSearches
from vms.recordings.pictures import Pictures


class Services(Protocol):
    """The process's parts the routes use (``vmsapp.runtime.Runtime`` provides them)."""
    settings: Settings
    db: Database
    bus: Bus
    gateway: LiveGateway  # live video of any camera, wherever its worker runs
    board: StatusBoard  # the last status of every camera stream, from every worker
    files: SegmentFiles | None  # where any worker's segment files are (set once built)
    alarms: AlarmService | None  # raises alarms from events, escalates them, publishes their changes
    searches: MotionSearches | None  # motion searches in recordings (set once built)
    pictures: Pictures | None  # a recorded picture at a moment, for thumbnails (set once built)

    def probe(self, url: str, username: str | None, password: str | None, seconds: float,
              transport: str = "auto") -> ProbeResult:
        """Connect to a camera for ``seconds`` over ``transport`` (auto, tcp, udp) and say what it
        sends, with a snapshot.

        Raises ``vms.cameras.rtsp_url.InvalidCameraUrl`` for a URL that is not RTSP.
        """
        ...

    def viewers(self) -> dict[str, int]:
        """Live viewers of this process's hub, by camera (empty without a hub)."""
        ...
