"""Mark an MP4's HEVC track as ``hvc1`` (what Safari and QuickTime need) instead of FFmpeg's ``hev1``.

FFmpeg's MP4 muxer writes HEVC as ``hev1`` unless the stream's codec tag says ``hvc1``, and
PyAV (18) cannot set a codec tag on a stream muxed without a codec context. So the segment
writer patches the header once it is on disk: the sample entry's type becomes ``hvc1`` and
every parameter-set array of its ``hvcC`` is marked complete, which is exactly what FFmpeg
writes for ``-tag:v hvc1`` (ISO/IEC 14496-15, 8.4.1: for ``hvc1``, array_completeness is 1).
The camera's in-band parameter sets stay in the samples, as they do with FFmpeg's ``hvc1``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
# VisualSampleEntry: 8 box header + 78 bytes of fields before its child boxes (hvcC)
_VISUAL_ENTRY_FIELDS = 78
# HEVCDecoderConfigurationRecord: 22 bytes of fields, then numOfArrays
_HVCC_FIELDS = 22


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        if size < 8 or start + size > end:
            return
        yield kind, start, start + size
        start += size


def _find_hev1(data: bytearray, start: int, end: int) -> int | None:
    """Offset of the ``hev1`` sample entry's header below ``moov``, or None."""
    for kind, box_start, box_end in _boxes(data, start, end):
        if kind in _CONTAINERS:
            found = _find_hev1(data, box_start + 8, box_end)
            if found is not None:
                return found
        elif kind == b"stsd":
            for entry, entry_start, _ in _boxes(data, box_start + 16, box_end):
                if entry == b"hev1":
                    return entry_start
    return None


def retag_hvc1_in(data: bytearray) -> bool:
    """Patch the HEVC sample entry inside ``data`` (which holds a whole ``moov``); True when it did."""
    moov = next(((s, e) for kind, s, e in _boxes(data, 0, len(data)) if kind == b"moov"), None)
    if moov is None:
        return False
    entry = _find_hev1(data, moov[0] + 8, moov[1])
    if entry is None:
        return False
    entry_size = struct.unpack_from(">I", data, entry)[0]
    data[entry + 4 : entry + 8] = b"hvc1"
    children = entry + 8 + _VISUAL_ENTRY_FIELDS
    for kind, start, _end in _boxes(data, children, entry + entry_size):
        if kind == b"hvcC":
            offset = start + 8 + _HVCC_FIELDS
            arrays = data[offset]
            offset += 1
            for _ in range(arrays):
                data[offset] |= 0x80  # array_completeness
                count = struct.unpack_from(">H", data, offset + 1)[0]
                offset += 3
                for _ in range(count):
                    offset += 2 + struct.unpack_from(">H", data, offset)[0]
    return True


def retag_hvc1(path: Path) -> bool | None:
    """Patch ``path``'s HEVC sample entry to ``hvc1`` in place; True when it did, False when
    there was nothing to patch, None when no whole ``moov`` is on disk yet.

    Reads the top-level box headers up to ``moov`` and rewrites bytes inside it only: never
    moves or resizes a box, so a fragmented file still being appended to is safe.
    """
    with path.open("r+b") as handle:
        offset = 0
        while True:
            handle.seek(offset)
            head = handle.read(8)
            if len(head) < 8:
                return None
            size, kind = struct.unpack(">I4s", head)
            if size < 8:
                return False  # 64-bit or to-end sizes never occur before moov
            if kind == b"moov":
                handle.seek(offset)
                data = bytearray(handle.read(size))
                if len(data) < size:
                    return None
                if not retag_hvc1_in(data):
                    return False
                handle.seek(offset)
                handle.write(data)
                return True
            offset += size
