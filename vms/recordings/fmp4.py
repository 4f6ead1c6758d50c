"""Byte-level helpers for fragmented MP4: find where the last complete fragment ends.

A segment cut short by a killed process or a full disk ends in a partial ``moof``/``mdat``;
trimming it to the last complete fragment leaves a file every player reads without error.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator
from pathlib import Path

_HEADER = struct.Struct(">I4s")

# FFmpeg mp4 muxer options, the one place they are written down.
# Fragmented: header (``moov``) first, a fragment per keyframe, each flushed at once; what
# recordings are written as (a killed process leaves a playable file) and what playback streams
# to a browser (nothing to seek back to).
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
# Evidence files: a plain MP4 with its index in front, which every player opens.
PLAIN_MP4 = {"movflags": "+faststart"}


def _boxes(handle: BinaryIO, file_size: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, start, end) of top-level boxes; stop at the first incomplete one.

    Reads only box headers (seeking over payloads), so checking a large segment is cheap.
    """
    offset = 0
    while offset + 8 <= file_size:
        handle.seek(offset)
        head = handle.read(16)
        size, kind = _HEADER.unpack_from(head, 0)
        header = 8
        if size == 1:
            if len(head) < 16:
                return
            size = struct.unpack_from(">Q", head, 8)[0]
            header = 16
        elif size == 0:
            size = file_size - offset  # box runs to end of file
        if size < header or offset + size > file_size:
            return
        yield kind, offset, offset + size
        offset += size


def playable_length(path: Path) -> int:
    """Bytes from the start of ``path`` that form ftyp, moov and whole moof+mdat pairs.

    Returns 0 when not even the header (ftyp + moov) is complete.
    """
    has_moov = False
    good = 0
    pending_moof = False
    with open(path, "rb") as handle:
        for kind, _start, end in _boxes(handle, os.fstat(handle.fileno()).st_size):
            if kind == b"moov":
                has_moov = True
                good = end
            elif kind == b"moof":
                pending_moof = True
            elif kind == b"mdat" and pending_moof:
                pending_moof = False
                good = end
            elif kind in (b"ftyp", b"styp", b"sidx", b"free") and not pending_moof:
                if not has_moov:
                    good = end
            elif kind == b"mfra" and not pending_moof:
                good = end
    return good if has_moov else 0


def trim_to_playable(path: Path) -> int:
    """Cut a partial trailing fragment off ``path``; return the new size (0: nothing playable)."""
    length = playable_length(path)
    if length and length < path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(length)
            handle.flush()
            os.fsync(handle.fileno())
    return length
