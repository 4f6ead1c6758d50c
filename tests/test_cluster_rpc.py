"""Request/reply over the bus (in-process and Redis): results, remote errors, timeouts, async handlers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.support.cluster import REDIS_URL, redis_available, unique
from vms.bus import bus_from_url
from vms.bus.rpc import RpcClient, RpcError, RpcServer, RpcTimeout


@pytest.fixture(params=["memory", "redis"])
def bus(request):
    if request.param == "redis" and redis_available() is not None:
        pytest.skip(str(redis_available()))
    bus = bus_from_url("memory://" if request.param == "memory" else REDIS_URL)
    yield bus
    bus.close()


def test_call_reply_error_and_timeout(bus):
    service = unique("worker.")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def offer(params: dict) -> dict:
        await asyncio.sleep(0.01)
        return {"answer": params["sdp"].upper(), "loop": asyncio.get_running_loop() is loop}

    def refuse(params: dict) -> dict:
        raise LookupError(f"no camera '{params['camera_id']}' is live on this server")

    server = RpcServer(bus, service)
    server.register("live.offer", offer, loop=loop)
    server.register("live.refuse", refuse)
    server.register("slow", lambda params: time.sleep(2) or {})
    server.start()
    client = RpcClient(bus)
    time.sleep(0.3)  # Redis pub/sub: let the subscriptions reach the server
    try:
        assert client.call(service, "live.offer", {"sdp": "v=0"}, timeout=5) == {"answer": "V=0", "loop": True}
        with pytest.raises(RpcError) as refused:
            client.call(service, "live.refuse", {"camera_id": "x"}, timeout=5)
        assert refused.value.type == "LookupError" and "no camera 'x'" in refused.value.message
        with pytest.raises(RpcError, match="has no method"):
            client.call(service, "nope", timeout=5)
        started = time.monotonic()
        with pytest.raises(RpcTimeout):
            client.call(service, "slow", timeout=0.5)
        assert time.monotonic() - started < 1.5
        with pytest.raises(RpcTimeout):
            client.call(unique("worker.nobody-"), "live.offer", timeout=0.3)

        async def from_asyncio():
            return await asyncio.gather(*(client.acall(service, "live.offer", {"sdp": f"o{i}"}, timeout=5) for i in range(5)))

        assert [r["answer"] for r in asyncio.run(from_asyncio())] == [f"O{i}" for i in range(5)]
    finally:
        client.close()
        server.close()
        loop.call_soon_threadsafe(loop.stop)
