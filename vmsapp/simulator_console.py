"""``vms simulate``'s console: ``stop <id>`` and ``start <id>`` lines on stdin cut and restore a camera.

Operators rehearse an outage this way (the camera's RTSP path disappears, then comes back)
without touching the recording side.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol


class Cameras(Protocol):
    def stop_camera(self, camera_id: str, timeout: float = 10) -> None: ...

    def start_camera(self, camera_id: str, timeout: float = 10) -> None: ...


def run_commands(simulator: Cameras, lines: Iterable[str], say: Callable[[str], None]) -> None:
    """Apply each ``stop <id>`` / ``start <id>`` line until ``lines`` ends (EOF leaves the cameras as they are).

    Unknown commands and camera ids are answered through ``say`` and skipped.
    """
    for line in lines:
        words = line.split()
        if not words:
            continue
        if len(words) != 2 or words[0] not in ("stop", "start"):
            say(f"unknown command {line.strip()!r}: use 'stop <camera id>' or 'start <camera id>'")
            continue
        verb, camera_id = words
        try:
            (simulator.stop_camera if verb == "stop" else simulator.start_camera)(camera_id)
        except (LookupError, RuntimeError, TimeoutError) as exc:  # unknown id; simulator not answering
            say(f"cannot {verb} {camera_id}: {exc}")
            continue
        say(f"{camera_id} {'stopped' if verb == 'stop' else 'started'}")
