"""The recorded picture of a camera at a moment, as a small JPEG: finds the segment, and has a
decoder given by the composition root (``streams.search.thumbnail.keyframe_jpeg``) read it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from vms.db import Database
from vms.recordings.index import SegmentIndex
from vms.recordings.locate import SegmentFiles

Decoder = Callable[[Path, datetime, datetime, int], "bytes | None"]


class Pictures:
    def __init__(self, db: Database, files: SegmentFiles, decoder: Decoder) -> None:
        self.db, self.files, self.decoder = db, files, decoder

    def at(self, camera_id: str, moment: datetime, width: int = 320) -> bytes | None:
        """JPEG of the keyframe at or before ``moment`` (within its segment), None in a gap."""
        segments = SegmentIndex(self.db).covering(camera_id, moment, moment + timedelta(milliseconds=1))
        if not segments:
            return None
        segment = segments[-1]
        path = self.files.path(segment)
        if not path.is_file():
            return None
        return self.decoder(path, segment.start, moment, width)
