"""Debounce a per-frame condition into an on/off state with start and end delays."""

from __future__ import annotations


class Latch:
    """On once the condition held ``on_seconds`` and ``on_frames`` frames in a row;
    off once it has failed for ``off_seconds``."""

    def __init__(self, on_seconds: float = 0.0, off_seconds: float = 0.0, on_frames: int = 1) -> None:
        self.on_seconds = on_seconds
        self.off_seconds = off_seconds
        self.on_frames = on_frames
        self.reset()

    def reset(self) -> None:
        self.active = False
        self.since: float | None = None  # start of the current run of true frames
        self.onset: float | None = None  # when the active episode's condition first held
        self._frames = 0
        self._last_true: float | None = None

    def update(self, t: float, condition: bool) -> bool:
        if condition:
            if self.since is None:
                self.since = t
            self._frames += 1
            self._last_true = t
            if not self.active and self._frames >= self.on_frames and t - self.since >= self.on_seconds:
                self.active = True
                self.onset = self.since
        else:
            self.since = None
            self._frames = 0
            if self.active and (self._last_true is None or t - self._last_true >= self.off_seconds):
                self.active = False
                self.onset = None
        return self.active
