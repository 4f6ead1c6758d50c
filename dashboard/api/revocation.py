"""Ending what a user has open, at once: their live video sessions on every worker and their
event streams, when they are disabled, their role or grants change, or their password is reset.

Signing in is checked at every request; these two are long-lived (a WebRTC session, a
server-sent-events stream) and would otherwise outlive the decision that ended the user's rights.
"""

from __future__ import annotations

from typing import Iterable

import anyio.from_thread

from dashboard.api.live import viewer_of
from dashboard.services import Services

# Bus topic: {"user_id": N}; every API process ends that user's event streams.
REVOKED_TOPIC = "auth.revoked"


def end_user_activity(runtime: Services, user_ids: Iterable[int]) -> int:
    """From a route running in a worker thread: end the users' streams and live sessions; how many live sessions ended."""
    closed = 0
    for user_id in sorted(set(user_ids)):
        runtime.bus.publish(REVOKED_TOPIC, {"user_id": user_id})
        closed += anyio.from_thread.run(runtime.gateway.close_owner, viewer_of(user_id))
    return closed
