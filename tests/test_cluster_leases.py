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
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=1)
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
        # The first worker hands its extras over (recording them a little longer).
        def settled():
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


def _die(worker: RedisOwnership) -> None:
    """As ``kill -9``: nothing released, the keeper stops and the process's connections close."""
    worker._stop.set()
    worker._wake.set()
    worker._keeper.join(5)
    worker._watcher.join(5)
    worker.presence.stop()
    worker.client.close()


def test_a_dead_workers_cameras_move_long_before_its_leases_expire(prefix):
    # A long lease: only presence can explain a move within a few seconds.
    config = ClusterConfig(lease_seconds=12, key_prefix=prefix, handover_seconds=1, presence_grace_seconds=1)
    cameras = [f"cam-{i}" for i in range(4)]
    first, second = RedisOwnership(REDIS_URL, "w1", config), RedisOwnership(REDIS_URL, "w2", config)
    try:
        for worker in (first, second):
            worker.set_cameras(cameras)
            worker.start()
        wait_for(lambda: len(first.owned()) == 2 and len(second.owned()) == 2 and not first.handing_over(), 30, "no 2/2 spread")
        lost = set(first.owned())
        _die(first)
        died = time.monotonic()
        wait_for(lambda: second.owned() == set(cameras), 10, "the dead worker's cameras did not move")
        moved_after = time.monotonic() - died
        print(f"cameras of a dead worker taken {moved_after:.2f} s after it died (lease 12 s)")
        assert moved_after < 6, f"moved only after {moved_after:.1f} s"
        assert second.gone_workers == 1 and second.live_workers == ["w2"] and lost <= second.owned()
    finally:
        second.stop()
        first.stop()


def test_a_worker_without_presence_is_not_declared_gone(prefix):
    # A worker of an older version (or with presence off) keeps no subscription: only its lease counts.
    config = ClusterConfig(lease_seconds=12, key_prefix=prefix, handover_seconds=1, presence_grace_seconds=0.5)
    old = RedisOwnership(REDIS_URL, "old", config.model_copy(update={"presence_grace_seconds": 0}))
    new = RedisOwnership(REDIS_URL, "new", config)
    try:
        for worker in (old, new):
            worker.set_cameras(["cam-a", "cam-b"])
            worker.start()
        wait_for(lambda: len(old.owned()) == 1 and len(new.owned()) == 1 and not old.handing_over(), 30, "no 1/1 spread")
        deadline = time.monotonic() + 3  # several watch rounds and grace periods
        while time.monotonic() < deadline:
            assert new.gone_workers == 0 and len(old.owned()) == 1
            time.sleep(0.1)
    finally:
        old.stop()
        new.stop()


def test_a_shed_camera_is_recorded_by_both_workers_for_a_moment_then_by_the_new_one(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=4)
    first = RedisOwnership(REDIS_URL, "w1", config)
    first.set_cameras(["cam-a", "cam-b"])
    second = None
    try:
        first.start()
        second = RedisOwnership(REDIS_URL, "w2", config)
        second.set_cameras(["cam-a", "cam-b"])
        second.start()
        (moved,) = wait_for(lambda: second.owned(), 10, "no camera moved to the new worker")
        # The new owner has it while the old one still records it: overlap, not a gap.
        assert moved in first.handing_over() and first.holds(moved)
        assert first.describe()["handing_over"] == [moved]
        wait_for(lambda: moved not in first.owned(), config.handover_seconds + 3, "the hand-over never ended")
        assert second.holds(moved) and len(first.owned()) == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_worker_cut_off_from_redis_keeps_recording_and_gives_up_what_another_took(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=2)
    proxy = TcpProxy("127.0.0.1", redis.Redis.from_url(REDIS_URL).connection_pool.connection_kwargs["port"]).start()
    host = REDIS_URL.split("//", 1)[1].split("/", 1)
    cut_off = RedisOwnership(f"redis://127.0.0.1:{proxy.port}/{host[1] if len(host) > 1 else 0}", "cut", config)
    cut_off.set_cameras(["cam-a", "cam-b"])
    other = None
    try:
        cut_off.start()
        assert cut_off.owned() == {"cam-a", "cam-b"}
        wait_for(lambda: cut_off.redis_ok, 5, "no renewal through the proxy")
        proxy.cut()
        wait_for(lambda: not cut_off.redis_ok, 5, "the cut was not noticed")
        # Past the lease period the cameras are still recorded, marked as possibly recorded twice.
        wait_for(lambda: cut_off.unconfirmed() == ["cam-a", "cam-b"], config.lease_seconds + 3, "leases not unconfirmed")
        assert cut_off.owned() == {"cam-a", "cam-b"} and cut_off.holds("cam-a")
        # Another worker, which reaches Redis, takes them once the leases expired there: duplicates.
        other = RedisOwnership(REDIS_URL, "other", config)
        other.set_cameras(["cam-a", "cam-b"])
        other.start()
        wait_for(lambda: other.owned() == {"cam-a", "cam-b"}, 10, "the cameras were not taken over")
        assert cut_off.owned() == {"cam-a", "cam-b"}
        # The partition heals: the cut-off worker finds the leases taken, records on while it
        # hands the cameras over, then gives them up.
        proxy.restore()
        wait_for(lambda: cut_off.handing_over() == ["cam-a", "cam-b"], 10, "no hand-over after the heal")
        assert cut_off.lost_to_others == 2
        # Then the two share the cameras (1/1): at every moment each camera is recorded by somebody.
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            assert cut_off.owned() | other.owned() == {"cam-a", "cam-b"}, "a camera was recorded by nobody"
            time.sleep(0.05)
        assert len(cut_off.owned()) == 1 and len(other.owned()) == 1 and not cut_off.handing_over()
    finally:
        cut_off.stop()
        if other is not None:
            other.stop()
        proxy.cut()


def test_after_an_outage_a_worker_takes_its_own_cameras_back_before_claiming_others(prefix, tmp_path):
    from tests.support.cluster import RedisServer, redis_server_missing

    if redis_server_missing():
        pytest.skip(redis_server_missing())
    server = RedisServer(tmp_path / "redis", durable=False).start()
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=1)
    first, second = RedisOwnership(server.url, "w1", config), RedisOwnership(server.url, "w2", config)
    try:
        for worker in (first, second):
            worker.set_cameras([f"cam-{i}" for i in range(4)])
            worker.start()
        wait_for(lambda: len(first.owned()) == 2 and len(second.owned()) == 2 and not first.handing_over(), 15, "no 2/2 spread")
        before = {"w1": first.owned(), "w2": second.owned()}
        server.stop()  # empty when it comes back: every heartbeat and lease is gone
        wait_for(lambda: not first.redis_ok and not second.redis_ok, 10, "the outage was not noticed")
        server.start()
        wait_for(lambda: first.redis_ok and second.redis_ok, 10, "Redis not reached again")
        time.sleep(config.lease_seconds * 1.5)  # long enough for a premature claim to show
        assert {"w1": first.owned(), "w2": second.owned()} == before, "a worker took another's cameras after the outage"
        assert first.lost_to_others == 0 and second.lost_to_others == 0
    finally:
        first.stop()
        second.stop()
        server.kill()


def test_leases_come_back_after_redis_lost_them(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix)
    worker = RedisOwnership(REDIS_URL, "w1", config)
    worker.set_cameras(["cam-a"])
    client = redis.Redis.from_url(REDIS_URL)
    store = LeaseStore(client, prefix)
    try:
        worker.start()
        before = worker.token("cam-a")
        client.delete(store.key("cam-a"))  # as a Redis restarted without its data
        wait_for(lambda: store.holder("cam-a") == "w1" and worker.token("cam-a") != before, 5, "lease not re-taken")
        assert worker.owned() == {"cam-a"}
    finally:
        worker.stop()
        client.close()


def _standbys(ownerships, cameras):
    return {c: sorted(o.worker_id for o in ownerships if c in o.standby() and c not in o.owned()) for c in cameras}


def test_warm_standby_is_the_preferred_other_worker_and_takes_the_camera_when_its_holder_dies(prefix):
    from vms.cluster.ownership import preference

    config = ClusterConfig(lease_seconds=6, key_prefix=prefix, handover_seconds=1, presence_grace_seconds=0.5,
                           standby_seconds=12)
    cameras = [f"cam-{i}" for i in range(3)]
    workers = []
    try:
        for name in ("w1", "w2", "w3"):
            worker = RedisOwnership(REDIS_URL, name, config)
            worker.set_cameras(cameras)
            workers.append(worker.start())

        def settled():
            owners = _owners(workers)
            if sorted(len(v) for v in owners.values()) != [1, 1, 1] or any(w.handing_over() for w in workers):
                return None
            holder = {c: w for w, cs in owners.items() for c in cs}
            expected = {c: [max((w for w in ("w1", "w2", "w3") if w != holder[c]), key=lambda w: preference(c, w))]
                        for c in cameras}
            return (holder, expected) if _standbys(workers, cameras) == expected else None

        # Every camera has one standby: the worker other than its holder that prefers it most.
        holder, expected = wait_for(settled, 30, "no 1/1/1 spread with one standby per camera")
        assert all(w.describe()["standby"] == sorted(c for c in cameras if expected[c] == [w.worker_id]) for w in workers)

        victim = next(w for w in workers if w.worker_id == holder["cam-0"])
        workers.remove(victim)
        _die(victim)
        standby = next(w for w in workers if w.worker_id == expected["cam-0"][0])
        other = next(w for w in workers if w is not standby)
        wait_for(lambda: "cam-0" in standby.owned() | other.owned(), 10, "the dead worker's camera did not move")
        # The worker holding the camera's pre-roll takes it, not the other survivor (which had room too).
        assert "cam-0" in standby.owned() and "cam-0" not in other.owned()
        # And the camera gets a new standby among the survivors.
        wait_for(lambda: _standbys(workers, ["cam-0"])["cam-0"] == [other.worker_id], 10, "no new standby")
    finally:
        for worker in workers:
            worker.stop()


def test_without_standby_seconds_nobody_stands_by(prefix):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=1)
    cameras = [f"cam-{i}" for i in range(4)]
    workers = []
    try:
        for name in ("w1", "w2"):
            worker = RedisOwnership(REDIS_URL, name, config)
            worker.set_cameras(cameras)
            workers.append(worker.start())
        wait_for(lambda: sorted(len(w.owned()) for w in workers) == [2, 2], 15, "no 2/2 spread")
        assert all(not w.standby() and w.describe()["standby"] == [] for w in workers)
    finally:
        for worker in workers:
            worker.stop()


def _drain_in_background(ownership: RedisOwnership, timeout: float) -> dict[str, int]:
    import threading

    result: dict[str, int] = {}
    threading.Thread(target=lambda: result.setdefault("left", ownership.drain(timeout)), daemon=True).start()
    return result


def test_a_draining_worker_is_listed_as_draining_with_its_cameras_then_gone(prefix):
    from vms.cluster.draining import DrainNotices
    from vms.cluster.members import Membership

    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=3)
    client = redis.Redis.from_url(REDIS_URL)
    notices, members = DrainNotices(client, prefix), Membership(client, prefix)
    leaving, staying = RedisOwnership(REDIS_URL, "leaving", config), RedisOwnership(REDIS_URL, "staying", config)
    stopped = False
    try:
        for ownership in (leaving, staying):
            ownership.set_cameras(["cam-a", "cam-b"])
            ownership.start()
        wait_for(lambda: len(leaving.owned()) == 1 and len(staying.owned()) == 1, 15, "cameras not spread 1/1")
        (mine,) = leaving.owned()
        assert notices.all() == {} and leaving.describe()["state"] == "live"
        result = _drain_in_background(leaving, 20)
        # Out of the worker set at once, but announced as draining, with the camera it still records.
        listed = wait_for(lambda: notices.all().get("leaving"), 5, "the draining worker was not announced")
        assert "leaving" not in members.live()
        assert listed["cameras"] == [mine] and listed["pid"] is not None and listed["until"] > listed["since"]
        assert leaving.describe()["state"] == "draining" and leaving.holds(mine)
        # Taken by the other worker: still listed (recording on for handover_seconds), "taken" says so.
        wait_for(lambda: notices.all().get("leaving", {}).get("taken") == [mine], 10, "the notice never said taken")
        assert leaving.holds(mine)
        wait_for(lambda: result.get("left") == 0, 15, "the drain did not end")
        assert "leaving" in notices.all(), "listed until it has stopped"
        leaving.stop()
        stopped = True
        assert notices.all() == {}, "a stopped worker is gone from the view"
    finally:
        if not stopped:
            leaving.stop()
        staying.stop()
        client.close()


def test_a_drain_notice_redis_refuses_changes_nothing_of_the_hand_over(prefix, monkeypatch):
    config = ClusterConfig(lease_seconds=3, key_prefix=prefix, handover_seconds=2)
    leaving, staying = RedisOwnership(REDIS_URL, "leaving", config), RedisOwnership(REDIS_URL, "staying", config)

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("refused for the test")

    try:
        for ownership in (leaving, staying):
            ownership.set_cameras(["cam-a", "cam-b"])
            ownership.start()
        wait_for(lambda: len(leaving.owned()) == 1 and len(staying.owned()) == 1, 15, "cameras not spread 1/1")
        (mine,) = leaving.owned()
        monkeypatch.setattr(leaving.notices, "heartbeat", refuse)
        result = _drain_in_background(leaving, 20)
        # Recorded here until the other worker has it and handover_seconds more, as without the notice.
        wait_for(lambda: staying.holds(mine), 10, "the camera was not taken over")
        assert leaving.holds(mine)
        wait_for(lambda: result.get("left") == 0, 15, "the drain did not end")
        assert not leaving.owned()
    finally:
        leaving.stop()
        staying.stop()
