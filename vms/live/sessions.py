"""What live-view workers and the API share: the bus topic announcing sessions a worker ended itself.

A worker's hub ends a session on its own (the browser vanished, never connected, the server
stops) and says so on ``LIVE_SESSIONS_TOPIC`` as ``{"phase": "ended", "session", "camera_id",
"stream", "reason"}``; the API that started the session writes its ``live.stop`` audit entry.
A session ended by the viewer's DELETE (``VIEWER_ENDED``) is audited by that request instead.
"""

LIVE_SESSIONS_TOPIC = "live.sessions"
VIEWER_ENDED = "ended by the viewer"
