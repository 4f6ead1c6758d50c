"""Refuse a second live process under a worker id already in use.

Two workers under one id (two ``vms worker`` on one host without ``VMS_WORKER_ID``: both default
to the host name) would each take the other's open segments for its own unfinished ones at start
and close them while they are still being written, then share one set of leases. The check runs
before a worker repairs anything: the id is in use when its presence channel has a subscriber (a
live process holds it; ``vms.cluster.presence``). A worker whose advertisement has no presence
subscription (presence disabled) is in use while its advertisement keeps being renewed.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import redis

from vms.cluster.members import Membership
from vms.cluster.presence import connected

log = logging.getLogger(__name__)


class DuplicateWorker(RuntimeError):
    """Another live process runs under this worker id; ``holder`` is its advertisement (host, pid)."""

    def __init__(self, worker_id: str, holder: dict[str, Any] | None) -> None:
        where = f" (host {holder.get('host')}, pid {holder.get('pid')})" if holder else ""
        super().__init__(
            f"worker id {worker_id!r} is already used by a live worker{where}; every worker needs its own id: "
            f"set VMS_WORKER_ID (or worker_id in the config, or --worker-id) to a distinct, stable name "
            f"for each worker, e.g. VMS_WORKER_ID={socket.gethostname()}-2"
        )
        self.worker_id = worker_id
        self.holder = holder


def ensure_unique(client: redis.Redis, prefix: str, worker_id: str, ttl_seconds: float) -> None:
    """Raise ``DuplicateWorker`` when another live process advertises ``worker_id``.

    Waits at most ``ttl_seconds`` (only when the other advertisement has no presence subscription,
    to see whether it is renewed). Redis not answering is logged and allowed: recording must not
    wait for Redis, and the leases still keep the two processes from recording one camera twice.
    """
    members = Membership(client, prefix)
    try:
        if worker_id not in members.live():
            return
        holder = members.info(worker_id)
        if connected(client, prefix, [worker_id])[worker_id]:
            raise DuplicateWorker(worker_id, holder)
        if holder is None or holder.get("presence") or _is_me(holder):
            return  # its process is gone (presence dropped with its sockets): a restart after a crash
        # No presence to ask: the advertisement of a live worker is renewed before it expires.
        deadline = time.monotonic() + ttl_seconds + 0.5
        while time.monotonic() < deadline:
            time.sleep(0.25)
            if worker_id not in members.live():
                return
        raise DuplicateWorker(worker_id, members.info(worker_id) or holder)
    except redis.RedisError as exc:
        log.warning("could not check whether worker id %r is in use (%s); starting anyway", worker_id, exc)


def _is_me(holder: dict[str, Any]) -> bool:
    return holder.get("host") == socket.gethostname() and holder.get("pid") == os.getpid()
