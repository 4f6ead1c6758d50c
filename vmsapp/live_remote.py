"""Live video of a camera recorded by another process: WHEP signaling and snapshots over bus RPC.

Worker side: ``serve_live`` answers ``live.offer``, ``live.close``, ``live.snapshot`` and
``live.describe`` on the worker's RPC service with its hub, which runs on a ``LiveLoop`` (a
worker has no web server whose loop it could borrow). API side: ``RemoteLive`` finds the
camera's worker from its lease, asks it, and turns its refusals back into the hub's own
``LiveError``s, so the API answers exactly as it would for a local camera.

A remote session is named ``<worker>.<session>`` in its WHEP resource URL, so ``DELETE`` reaches
the worker that holds it without any shared table (session ids never contain a dot). Only
signaling crosses the bus; media flows between the browser and the worker directly.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from typing import Any, Coroutine

from vms.live import errors
from vms.live.errors import CameraNotFound, CameraNotOwned, LiveError, SessionNotFound, WorkerFailed, WorkerUnavailable
from vms.live.gateway import LiveAnswer, LiveGateway
from streams.live.hub import LiveHub
from vms.live.gateway import Snapshot
from vms.bus import Bus
from vms.bus.rpc import RpcClient, RpcError, RpcServer, RpcTimeout, worker_service
from vms.recordings.locate import WORKER_ID

log = logging.getLogger(__name__)

OFFER_SECONDS = 10.0  # ICE gathering and DTLS set-up on the worker fit well within this
CLOSE_SECONDS = 5.0
SNAPSHOT_SECONDS = 10.0  # the hub may wait a few seconds for a first keyframe
DESCRIBE_SECONDS = 3.0

# Refusals a worker's hub may answer with: sent by class name, raised again here as themselves.
_REFUSALS: dict[str, type[LiveError]] = {
    cls.__name__: cls
    for cls in (errors.CameraNotFound, errors.StreamNotFound, errors.SessionNotFound, errors.BadOffer,
                errors.CodecNotSupported, errors.ViewerLimitReached, errors.TooManyConnecting, errors.NoPicture,
                errors.CameraInError)
}


def remote_refusal(exc: RpcError, worker: str) -> LiveError:
    """The ``LiveError`` a worker's RPC error stands for."""
    if isinstance(exc, RpcTimeout):
        return WorkerUnavailable(f"worker {worker} recording the camera did not answer in time; try again")
    refusal = _REFUSALS.get(exc.type)
    if refusal is not None:
        return refusal(exc.message)
    log.error("worker %s failed answering a live request: %s", worker, exc)
    return WorkerFailed(f"worker {worker} failed answering ({exc.type}); see its log")


# -- worker side ---------------------------------------------------------------------------------


class LiveLoop:
    """An asyncio loop in a thread of its own, for the hub of a process without a web server."""

    def __init__(self, name: str = "live-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self) -> "LiveLoop":
        self._thread.start()
        return self

    def run(self, coroutine: Coroutine, timeout: float = 30) -> Any:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.run(_cancel_others(), 5)
            except Exception:
                log.exception("cancelling the live loop's tasks failed")
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def serve_live(rpc: RpcServer, hub: LiveHub, loop: asyncio.AbstractEventLoop) -> None:
    """Answer the API's live requests for this worker's cameras with ``hub`` (running on ``loop``)."""

    async def offer(params: dict) -> dict:
        session = await hub.create_session(
            params["camera_id"], params["sdp"], params.get("stream", "main"), bool(params.get("transcode")),
            str(params.get("owner", "")),
        )
        return {"session_id": session.id, "answer": session.answer}

    async def close_owner(params: dict) -> dict:
        return {"closed": await hub.close_owner(str(params["owner"]))}

    async def close(params: dict) -> dict:
        await hub.close_session(params["session_id"], params["camera_id"])
        return {}

    async def snapshot(params: dict) -> dict:
        picture = await hub.snapshot(params["camera_id"], params.get("stream", "main"), params.get("width"))
        return {"jpeg": base64.b64encode(picture.jpeg).decode("ascii"), "width": picture.width,
                "height": picture.height, "captured_at": picture.captured_at}

    async def describe(params: dict) -> dict:
        return hub.describe()

    handlers = (("offer", offer), ("close", close), ("close_owner", close_owner), ("snapshot", snapshot),
                ("describe", describe))
    for method, handler in handlers:
        rpc.register(f"live.{method}", handler, loop=loop)


# -- API side ------------------------------------------------------------------------------------


class RemoteLive(LiveGateway):
    """Live video of any camera through the worker holding its lease.

    ``leases`` answers ``holder(camera_id)`` and ``members`` answers ``live()`` (the workers
    alive): ``vms.cluster.leases.LeaseStore`` and ``vms.cluster.members.Membership``.
    """

    def __init__(self, bus: Bus, leases, members) -> None:
        self.bus = bus
        self.leases = leases
        self.members = members
        self._rpc: RpcClient | None = None

    @classmethod
    def connect(cls, bus: Bus, redis_url: str, prefix: str) -> "RemoteLive":
        import redis

        from vms.cluster.leases import LeaseStore
        from vms.cluster.members import Membership

        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        return cls(bus, LeaseStore(client, prefix), Membership(client, prefix))

    @property
    def rpc(self) -> RpcClient:
        # Made on first use: a worker-only process builds a gateway it never uses.
        if self._rpc is None:
            self._rpc = RpcClient(self.bus)
        return self._rpc

    async def start(self) -> None:
        self.rpc  # noqa: B018  (subscribe to replies before the first request)

    async def aclose(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None

    async def offer(self, camera_id: str, sdp: str, stream: str = "main", transcode: bool = False,
                    owner: str = "") -> LiveAnswer:
        params = {"camera_id": camera_id, "sdp": sdp, "stream": stream, "transcode": transcode, "owner": owner}
        worker, result = await self._on_owner(camera_id, "live.offer", params, OFFER_SECONDS)
        return LiveAnswer(f"{worker}.{result['session_id']}", result["answer"])

    async def close(self, camera_id: str, session: str) -> None:
        worker, dot, session_id = session.rpartition(".")
        if not dot or not session_id or not WORKER_ID.match(worker):
            raise SessionNotFound(f"no live session '{session}' of camera {camera_id}")
        if worker not in await self._lookup(self.members.live):
            raise SessionNotFound(f"live session '{session}' ended with its worker {worker}, which is gone")
        await self._call(worker, "live.close", {"camera_id": camera_id, "session_id": session_id}, CLOSE_SECONDS)

    async def snapshot(self, camera_id: str, stream: str = "main", width: int | None = None) -> Snapshot:
        params = {"camera_id": camera_id, "stream": stream, "width": width}
        _, result = await self._on_owner(camera_id, "live.snapshot", params, SNAPSHOT_SECONDS)
        return Snapshot(base64.b64decode(result["jpeg"]), result["width"], result["height"], result["captured_at"])

    async def close_owner(self, owner: str) -> int:
        """End ``owner``'s sessions on every live worker (a worker that does not answer is skipped)."""
        workers = await self._lookup(self.members.live)
        answers = await asyncio.gather(
            *(self._call(w, "live.close_owner", {"owner": owner}, CLOSE_SECONDS) for w in workers), return_exceptions=True
        )
        return sum(a.get("closed", 0) for a in answers if isinstance(a, dict))

    async def describe(self) -> dict:
        """Every live worker's sessions and relays, each marked with its worker."""
        workers = await self._lookup(self.members.live)
        answers = await asyncio.gather(
            *(self._call(w, "live.describe", {}, DESCRIBE_SECONDS) for w in workers), return_exceptions=True
        )
        merged: dict[str, list] = {"sessions": [], "relays": [], "workers": []}
        for worker, answer in zip(workers, answers):
            if isinstance(answer, BaseException):
                merged["workers"].append({"worker_id": worker, "error": str(answer)})
                continue
            merged["workers"].append({"worker_id": worker, "error": None})
            for key in ("sessions", "relays"):
                merged[key] += [{**item, "worker_id": worker} for item in answer.get(key, [])]
        return merged

    # -- internals ------------------------------------------------------------------------------

    async def _on_owner(self, camera_id: str, method: str, params: dict, timeout: float) -> tuple[str, dict]:
        worker = await self._owner(camera_id)
        try:
            return worker, await self._call(worker, method, params, timeout)
        except CameraNotFound:
            # The camera moved between the look-up and the request: ask its new worker, once.
            moved = await self._owner(camera_id)
            if moved == worker:
                raise
            return moved, await self._call(moved, method, params, timeout)

    async def _owner(self, camera_id: str) -> str:
        worker = await self._lookup(self.leases.holder, camera_id)
        if worker is None:
            raise CameraNotOwned(
                f"camera {camera_id} is not owned by any worker right now (disabled, or moving to another "
                "worker); try again in a few seconds"
            )
        return worker

    async def _call(self, worker: str, method: str, params: dict, timeout: float) -> dict:
        try:
            return await self.rpc.acall(worker_service(worker), method, params, timeout=timeout)
        except RpcError as exc:
            raise remote_refusal(exc, worker) from None

    @staticmethod
    async def _lookup(function, *args):
        try:
            return await asyncio.to_thread(function, *args)
        except Exception as exc:  # Redis unreachable
            raise WorkerUnavailable(f"cannot find the camera's worker: {exc}") from None
