"""The one event loop every built-in RTSP session of the process runs on, in its own thread.

Measured (bench/rtsp_client.py, decision 76): an event loop per stream thread costs more CPU
than FFmpeg's demuxer (GIL hand-offs of hundreds of threads each waking 20 times a second),
while one loop for all streams costs half of it. Ingest threads only set sessions up, then wait.
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def shared_loop() -> asyncio.AbstractEventLoop:
    """The running shared loop, started (as a daemon thread ``rtsp-loop``) on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="rtsp-loop", daemon=True).start()
            started.wait()
            _loop = loop
        return _loop
