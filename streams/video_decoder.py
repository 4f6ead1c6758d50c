"""Open a PyAV video decoder by FFmpeg codec name, typed as the video decoder it is."""

from __future__ import annotations

import av
from av.video.codeccontext import VideoCodecContext


def open_video_decoder(codec: str) -> VideoCodecContext:
    """A fresh decoder for ``codec`` (FFmpeg's name: "h264", "hevc", ...).

    Raises ``av.codec.codec.UnknownCodecError`` when FFmpeg has no decoder of that name and
    ``ValueError`` when the codec named is not a video codec.
    """
    context = av.CodecContext.create(codec, "r")
    if not isinstance(context, VideoCodecContext):
        raise ValueError(f"codec {codec!r} is not a video codec")
    return context
