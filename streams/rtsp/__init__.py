"""Our own RTSP client: RTP over the RTSP TCP connection, depacketized into access units.

FFmpeg's RTSP demuxer was 88 % of the stream worker's CPU (docs/decisions.md 61). This client
reads the interleaved TCP stream in large, paced reads and depacketizes H.264 and H.265 in a few
Python operations per RTP packet. One module per protocol piece: ``messages`` (RTSP requests and
responses), ``auth`` (Basic, Digest), ``sdp`` (the video track and its parameter sets),
``connection`` (the asyncio protocol that splits interleaved frames from responses), ``session``
(OPTIONS/DESCRIBE/SETUP/PLAY, keep-alive, TEARDOWN), ``rtp`` (RTP header, sequence and
timestamp bookkeeping, access-unit assembly), ``h264`` and ``h265`` (payload formats).
"""
