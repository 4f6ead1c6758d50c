"""In-frame timecode: the capture wall-clock time of a frame drawn as a strip of black and white blocks.

The simulator draws the strip into every frame (``gst_server.py`` imports ``strip_pixels``);
tests and benchmarks read it back from any recorded, played-back or exported frame with
``read_timecode``, so the time a picture *shows* can be compared with the time the index or an
export manifest *claims*, without OCR.

Layout (fractions of the frame, so it survives scaling): a strip across the full width at the
bottom, ``STRIP_HEIGHT`` of the frame high (at least ``MIN_STRIP_PIXELS``), cut into ``BLOCKS``
equal blocks: white, black (a reference for the threshold), then ``DATA_BITS`` bits of the
capture time in milliseconds since the Unix epoch (most significant first; 42 bits last until
the year 2109), then ``CHECK_BITS`` bits of a checksum. A white block is a 1.

Robustness: a block is at least 6 pixels wide at 320 pixels and H.264 at the simulator's
bitrates keeps black/white edges sharp; the reader averages the middle half of each block and
thresholds halfway between the white and the black reference, so blur at block edges and a
shift of the levels (limited range, compression) do not matter. A wrong read fails the checksum
and gives ``None`` rather than a wrong time.

This module imports only the standard library at the top (Debian's system python runs the
simulator without numpy); ``read_timecode`` imports numpy when called.
"""

from __future__ import annotations

from typing import Any

DATA_BITS = 42
CHECK_BITS = 6
BLOCKS = 2 + DATA_BITS + CHECK_BITS
STRIP_HEIGHT = 1 / 24
MIN_STRIP_PIXELS = 8


def strip_rows(height: int) -> int:
    """Height in pixels of the strip in a frame ``height`` pixels high (even, for 4:2:0)."""
    rows = max(MIN_STRIP_PIXELS, round(height * STRIP_HEIGHT))
    return rows + rows % 2


def _checksum(value: int) -> int:
    """The 42-bit value folded into 6 bits (XOR of its seven 6-bit groups), then inverted, so an
    all-black or all-white strip never passes."""
    folded = 0
    for shift in range(0, DATA_BITS, CHECK_BITS):
        folded ^= (value >> shift) & ((1 << CHECK_BITS) - 1)
    return folded ^ ((1 << CHECK_BITS) - 1)


def encode_bits(milliseconds: int) -> list[int]:
    """The ``BLOCKS`` block values (1 white, 0 black) showing ``milliseconds`` since the epoch."""
    if not 0 <= milliseconds < 1 << DATA_BITS:
        raise ValueError(f"timecode out of range: {milliseconds}")
    data = [(milliseconds >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)]
    check = _checksum(milliseconds)
    return [1, 0, *data, *[(check >> (CHECK_BITS - 1 - i)) & 1 for i in range(CHECK_BITS)]]


def strip_pixels(milliseconds: int, width: int) -> bytes:
    """One row of ``width`` BGRA pixels (opaque) drawing the strip; every row of it is the same."""
    bits = encode_bits(milliseconds)
    white, black = b"\xff\xff\xff\xff", b"\x00\x00\x00\xff"
    row = bytearray()
    for index, bit in enumerate(bits):
        left, right = index * width // BLOCKS, (index + 1) * width // BLOCKS
        row += (white if bit else black) * (right - left)
    return bytes(row)


def read_timecode(frame: Any) -> int | None:
    """Capture time in ms since the epoch shown by ``frame``, or None when it shows no valid strip.

    ``frame``: an ``av.VideoFrame`` or a numpy array (H x W luma, or H x W x 3 in any colour
    order). Raises nothing for a frame without a strip.
    """
    import numpy as np

    if hasattr(frame, "to_ndarray"):
        frame = frame.to_ndarray(format="gray")
    picture = np.asarray(frame, dtype=np.float32)
    if picture.ndim == 3:
        picture = picture.mean(axis=2)
    height, width = picture.shape
    rows = strip_rows(height)
    if width < BLOCKS * 2 or height < rows * 2:
        return None
    # The middle half of the strip's rows, and of each block's columns.
    band = picture[height - rows + rows // 4 : height - rows // 4].mean(axis=0)
    levels = []
    for index in range(BLOCKS):
        left, right = index * width / BLOCKS, (index + 1) * width / BLOCKS
        quarter = (right - left) / 4
        levels.append(float(band[int(left + quarter) : max(int(right - quarter), int(left + quarter) + 1)].mean()))
    white, black = levels[0], levels[1]
    if white - black < 64:
        return None
    threshold = (white + black) / 2
    bits = [1 if level > threshold else 0 for level in levels]
    value = 0
    for bit in bits[2 : 2 + DATA_BITS]:
        value = value << 1 | bit
    check = 0
    for bit in bits[2 + DATA_BITS :]:
        check = check << 1 | bit
    return value if check == _checksum(value) else None
