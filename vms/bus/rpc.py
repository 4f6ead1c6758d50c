"""Request/reply over the bus: reach the worker that owns a camera, wherever it runs.

A request is published on ``rpc.<service>`` as ``{id, reply_to, method, params, deadline}``;
the server runs the handler (in a thread pool, or on its asyncio loop for coroutines) and
publishes ``{id, result}`` or ``{id, error: {type, message}}`` on the caller's own reply topic.
Nothing is stored: a request nobody answers ends in ``RpcTimeout`` after ``timeout`` seconds,
and a request that arrives after its deadline is dropped unanswered. Each worker serves
``worker_service(worker_id)``; the lease of a camera names its worker (``LeaseStore.holder``).

Works on every bus backend (in-process and Redis pub/sub); messages must be JSON-able.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Awaitable, Callable, cast

from vms.bus.base import Bus

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class RpcError(Exception):
    """The remote handler raised; ``type`` is its exception's class name."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message


class RpcTimeout(RpcError):
    def __init__(self, service: str, method: str, timeout: float) -> None:
        super().__init__("RpcTimeout", f"no answer from {service} to {method} within {timeout:g} s")


def worker_service(worker_id: str) -> str:
    """The RPC service name of one worker (``worker.<id>``)."""
    return f"worker.{worker_id}"


class RpcServer:
    """Answers requests for ``service``; ``register`` a handler per method."""

    def __init__(self, bus: Bus, service: str, threads: int = 8) -> None:
        self.bus = bus
        self.service = service
        self.topic = f"rpc.{service}"
        self._handlers: dict[str, tuple[Handler, asyncio.AbstractEventLoop | None]] = {}
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"rpc-{service}")
        self._remove: Callable[[], None] | None = None

    def register(self, method: str, handler: Handler, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """``handler(params) -> dict``; a coroutine handler runs on ``loop`` (or a private one)."""
        self._handlers[method] = (handler, loop)

    def start(self) -> "RpcServer":
        self._remove = self.bus.add_listener(self.topic, self._on_request)
        return self

    def close(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_request(self, topic: str, request: dict[str, Any]) -> None:
        # The bus's listener thread must not wait for handlers.
        try:
            self._pool.submit(self._serve, request)
        except RuntimeError:
            pass  # closing

    def _serve(self, request: dict[str, Any]) -> None:
        deadline = request.get("deadline")
        if deadline is not None and time.time() > deadline:
            return  # the caller has given up already
        reply: dict[str, Any] = {"id": request.get("id")}
        entry = self._handlers.get(request.get("method", ""))
        try:
            if entry is None:
                raise LookupError(f"{self.service} has no method {request.get('method')!r}")
            handler, loop = entry
            result = handler(request.get("params") or {})
            if inspect.isawaitable(result):
                remaining = (deadline - time.time()) if deadline is not None else None
                if loop is not None:
                    result = asyncio.run_coroutine_threadsafe(_awaited(result), loop).result(remaining)
                else:
                    result = asyncio.run(_awaited(result))
            reply["result"] = result
        except Exception as exc:
            reply["error"] = {"type": type(exc).__name__, "message": str(exc)}
        self.bus.publish(request["reply_to"], reply)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class RpcClient:
    """Sends requests and waits for their replies on a reply topic of its own."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.reply_topic = f"rpc.reply.{uuid.uuid4().hex}"
        self._waiting: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._remove = bus.add_listener(self.reply_topic, self._on_reply)

    def close(self) -> None:
        self._remove()
        with self._lock:
            for future in self._waiting.values():
                future.cancel()
            self._waiting.clear()

    def send(self, service: str, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> Future[dict[str, Any]]:
        request_id = uuid.uuid4().hex
        future: Future[dict[str, Any]] = Future()
        future.request_id = request_id  # type: ignore[attr-defined]
        with self._lock:
            self._waiting[request_id] = future
        request = {
            "id": request_id,
            "reply_to": self.reply_topic,
            "method": method,
            "params": params or {},
            "deadline": time.time() + timeout,
        }
        self.bus.publish(f"rpc.{service}", request)
        return future

    def call(self, service: str, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """The handler's result; raises ``RpcError`` (its exception) or ``RpcTimeout``."""
        future = self.send(service, method, params, timeout)
        try:
            return _result(future.result(timeout))
        except FutureTimeout:
            raise RpcTimeout(service, method, timeout) from None
        finally:
            self._forget(future)

    async def acall(self, service: str, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
        future = self.send(service, method, params, timeout)
        try:
            return _result(await asyncio.wait_for(asyncio.wrap_future(future), timeout))
        except asyncio.TimeoutError:
            raise RpcTimeout(service, method, timeout) from None
        finally:
            self._forget(future)

    def _forget(self, future: Future[dict[str, Any]]) -> None:
        with self._lock:
            self._waiting.pop(future.request_id, None)  # type: ignore[attr-defined]

    def _on_reply(self, topic: str, reply: dict[str, Any]) -> None:
        with self._lock:
            future = self._waiting.pop(reply.get("id", ""), None)
        if future is not None and not future.done():
            future.set_result(reply)


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    if "error" in reply:
        error = reply["error"]
        raise RpcError(error.get("type", "Error"), error.get("message", ""))
    return cast(dict[str, Any], reply.get("result"))
