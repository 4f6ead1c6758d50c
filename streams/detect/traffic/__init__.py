"""Tunnel and road analytics per zone: stopped vehicle, wrong way, pedestrian, congestion,
slowdown, debris.

All work on the foreground of a long-term reference background (``background.py``), so a
vehicle that stops stays visible. What a blob is comes from ``classify.py``: in metres with a
calibrated camera, in pixel areas without. ``analytics.py`` runs one frame through the
tracker and every zone's rules; each rule lives in a module of its own:

- ``stopped.py``: a vehicle-sized area of the zone that has stood unchanged longer than the
  zone's ``stopped_seconds``, brought there by a confirmed vehicle, not in a queue.
- ``debris.py``: a small, low area standing ``debris_seconds`` that nothing drove into.
- ``wrong_way.py``: a confirmed vehicle moving against the zone's direction.
- ``pedestrian.py``: tracks confirmed as persons in a vehicle-only zone, counted.
- ``speeds.py`` and ``slowdown.py``: vehicle speeds per zone, and a queue crawling below
  ``slowdown_kmh``.
- ``congestion.py``: zone occupancy above a threshold for a while.

``standing.py`` finds areas that stand still in the foreground and learns away the ones that
are not things (ghosts, the same surface under other light); ``zone.py`` holds what each
zone remembers between frames; ``geometry.py`` the box arithmetic they share.
"""

from __future__ import annotations

from streams.detect.traffic.analytics import TrafficAnalytics

__all__ = ["TrafficAnalytics"]
