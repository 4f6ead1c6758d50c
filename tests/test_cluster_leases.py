"""Camera leases and ownership against a real Redis (no media): tokens, fair shares, failover, cut-off."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.cluster import REDIS_URL, TcpProxy, redis_available, unique, wait_for
from vms.cluster.config import ClusterConfig
from vms.cluster.leases import LeaseStore, Renewal
from vms.cluster.ownership import RedisOwnership, fair_share

pytestmark = pytest.mark.skipif(redis_available() is not None, reason=str(redis_available()))


@pytest.fixture
def prefix():
    prefix = f"vms:{unique('test-')}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_lease_acquire_renew_release_and_tokens(prefix):
    client = redis.Redis.from_url(REDIS_URL)
    store = LeaseStore(client, prefix)
    first = store.acquire("cam", "w1", 2000)
    assert first is not None and store.acquire("cam", "w2", 2000) is None
    assert store.holder("cam") == "w1"
    assert first.token >= int(time.time() * 1000) - 5000, "tokens start at the Redis clock in ms"
    assert store.renew(first, 2000) is Renewal.RENEWED
    # Compare-and-delete: another worker's lease is never removed by a stale holder.
    assert store.release(first)
    second = store.acquire("cam", "w2", 2000)
    assert second is not None and second.token > first.token
    assert not store.release(first)
    assert store.renew(first, 2000) is Renewal.TAKEN
    client.delete(store.key("cam"))
    assert store.renew(second, 2000) is Renewal.GONE
    assert store.renew_many([second], 2000) == [Renewal.GONE]
    client.close()


def test_fair_share():
    assert fair_share(6, 3) == 2
    assert fair_share(7, 3) == 3
    assert fair_share(5, 0) == 5
    assert fair_share(10, 1, capacity=4) == 4
    assert fair_share(0, 3) == 0


def _owners(ownerships):
    return {o.worker_id: sorted(o.owned()) for o in ownerships}


def test_cameras_spread_evenly_shed_on_join_and_move_when_a_worker_dies(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix)
    cameras = [f"cam-{i}" for i in range(6)]
    workers = []
    try:
        first = RedisOwnership(REDIS_URL, "w1", config)
        first.set_cameras(cameras)
        workers.append(first.start())
        assert len(first.owned()) == 6, "a lone worker takes every camera"
        for name in ("w2", "w3"):
            worker = RedisOwnership(REDIS_URL, name, config)
            worker.set_cameras(cameras)
            workers.append(worker.start())
        # The first worker sheds its extras (they are released once its pipelines stopped).
        def settled():
            for worker in workers:
                worker.settle(worker.owned())  # as a stream worker does once the pipelines stopped
            owners = _owners(workers)
            return owners if sorted(len(v) for v in owners.values()) == [2, 2, 2] else None

        owners = wait_for(settled, 15, "cameras did not spread 2/2/2")
        assert sorted(sum(owners.values(), [])) == cameras, "each camera has exactly one owner"

        # A crash: the keeper stops without releasing anything (as with kill -9).
        dead = workers.pop(0)
        lost = set(dead.owned())
        dead._stop.set()
        dead._keeper.join(5)
        killed = time.monotonic()
        wait_for(lambda: lost <= set().union(*(w.owned() for w in workers)), 10, "cameras of the dead worker did not move")
        moved_after = time.monotonic() - killed
        assert moved_after <= config.lease_seconds + config.lease_seconds / 3 + 1
        assert sorted(len(w.owned()) for w in workers) == [3, 3]
    finally:
        for worker in workers:
            worker.stop()


def test_worker_cut_off_from_redis_drops_its_cameras_before_the_lease_expires(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix)
    proxy = TcpProxy("127.0.0.1", redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]).start()
    host = REDIS_URL.split("//", 1)[1].split("/", 1)
    cut_off = RedisOwnership(f"redis://127.0.0.1:{proxy.port}/{host[1] if len(host) > 1 else 0}", "cut", config)
    lost_at: list[float] = []
    cut_off.on_change = lambda: lost_at.append(time.monotonic()) if not cut_off.owned() else None
    cut_off.set_cameras(["cam-a", "cam-b"])
    other = None
    try:
        cut_off.start()
        assert cut_off.owned() == {"cam-a", "cam-b"}
        time.sleep(1.2)  # at least one renewal through the proxy
        proxy.cut()
        cut = time.monotonic()
        wait_for(lambda: lost_at, config.lease_seconds + 1, "the cut-off worker kept its cameras")
        assert lost_at[0] - cut < config.lease_seconds, "dropped only after the lease could have expired"
        assert not cut_off.holds("cam-a")
        # Another worker gets them only once the leases expired in Redis.
        other = RedisOwnership(REDIS_URL, "other", config)
        other.set_cameras(["cam-a", "cam-b"])
        other.start()
        wait_for(lambda: other.owned() == {"cam-a", "cam-b"}, 10, "the cameras were not taken over")
        assert time.monotonic() - cut >= lost_at[0] - cut
    finally:
        cut_off.stop()
        if other is not None:
            other.stop()
        proxy.cut()
