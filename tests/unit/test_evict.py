"""maxmemory: the used-memory estimate, LRU/LFU access tracking and each eviction policy."""

from __future__ import annotations

import random
import time
from collections import deque

import pytest

from node import evict
from node.evict import (
    EVPOOL_SIZE,
    LFU_INIT_VAL,
    KeySampler,
    lfu_decr_and_return,
    lfu_log_incr,
    lfu_time_elapsed,
    perform_evictions,
    state,
    sync_databases,
    used_memory,
)
from node.memory import MemoryTracker, key_size, value_size
from node.server import Server
from node.zset import ZSet
from tests.unit.sansio import Session, make_server

OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = b"x" * 200


def session(policy: str, maxmemory: int = 0, *extra: str) -> Session:
    return Session(
        make_server(
            "--maxmemory",
            str(maxmemory),
            "--maxmemory-policy",
            policy,
            "--maxmemory-samples",
            "10",
            *extra,
        )
    )


def limit_after(s: Session, keys: int, prefix: str = "k", ttl_ms: int | None = None) -> int:
    """Create `keys` keys and set maxmemory to exactly what they take."""
    server = s.server
    for i in range(keys):
        s.run("SET", f"{prefix}{i}", VALUE)
        if ttl_ms is not None:
            server.dbs[0].set_expire(f"{prefix}{i}".encode(), server.mstime + ttl_ms + i)
    server.config.maxmemory = 10**12
    server.update_gates()
    limit = used_memory(server)
    server.config.maxmemory = limit
    return limit


def tick(server: Server, ms: int = 5) -> None:
    """Let the LRU clock move on, as a cron tick does."""
    time.sleep(ms / 1000)
    server.mstime = int(time.time() * 1000)
    sync_databases(server)


def keys_of(s: Session, db: int = 0) -> set[bytes]:
    return set(s.server.dbs[db].data)


# -- LFU arithmetic (evict.c) -------------------------------------------------------------


def test_lfu_log_incr_always_increments_up_to_init_value() -> None:
    for counter in range(LFU_INIT_VAL + 1):
        assert lfu_log_incr(counter, 10) == counter + 1


def test_lfu_log_incr_saturates_at_255() -> None:
    assert lfu_log_incr(255, 10) == 255
    assert lfu_log_incr(255, 0) == 255


def test_lfu_log_incr_probability_falls_with_the_counter() -> None:
    random.seed(7)
    trials = 20_000
    # counter 6, factor 10: p = 1 / ((6 - 5) * 10 + 1) = 1/11
    hits = sum(lfu_log_incr(6, 10) == 7 for _ in range(trials))
    assert abs(hits / trials - 1 / 11) < 0.01
    # factor 0 always increments
    assert all(lfu_log_incr(100, 0) == 101 for _ in range(100))


def test_lfu_decay_subtracts_one_per_elapsed_period() -> None:
    packed = (1000 << 8) | 20
    assert lfu_decr_and_return(packed, 1000, 1) == 20
    assert lfu_decr_and_return(packed, 1003, 1) == 17
    assert lfu_decr_and_return(packed, 1006, 2) == 17
    assert lfu_decr_and_return(packed, 1100, 1) == 0
    assert lfu_decr_and_return(packed, 5000, 0) == 20  # lfu-decay-time 0: never decays


def test_lfu_time_elapsed_wraps_the_16_bit_minute_clock_once() -> None:
    assert lfu_time_elapsed(10, 15) == 5
    assert lfu_time_elapsed(65530, 4) == 65535 - 65530 + 4


def test_lfu_counter_of_an_unknown_or_lru_stamped_key_is_the_initial_value() -> None:
    assert lfu_decr_and_return(None, 5, 1) == LFU_INIT_VAL
    assert lfu_decr_and_return(int(time.time() * 1000), 5, 1) == LFU_INIT_VAL


# -- access tracking -------------------------------------------------------------------------


def test_reads_and_writes_stamp_the_lru_clock() -> None:
    s = Session()
    server = s.server
    db = server.dbs[0]
    s.run("SET", "a", "1")
    created = db.access[b"a"]
    tick(server, 20)
    assert db.access[b"a"] == created  # not accessed since
    s.run("GET", "a")
    assert db.access[b"a"] > created


def test_object_does_not_count_as_access() -> None:
    s = Session()
    server = s.server
    db = server.dbs[0]
    s.run("SET", "a", "1")
    stamp = db.access[b"a"]
    tick(server, 20)
    s.run("OBJECT", "ENCODING", "a")
    s.run("OBJECT", "FREQ", "a")
    s.run("OBJECT", "IDLETIME", "a")
    assert db.access[b"a"] == stamp


def test_deleted_and_flushed_keys_leave_no_access_entry() -> None:
    s = Session()
    db = s.server.dbs[0]
    s.run("SET", "a", "1")
    s.run("SET", "b", "1")
    s.run("DEL", "a")
    assert b"a" not in db.access
    s.run("FLUSHALL")
    assert db.access == {}


def test_lfu_policy_counts_accesses_logarithmically() -> None:
    s = session("allkeys-lfu")
    db = s.server.dbs[0]
    s.run("SET", "hot", "v")
    assert s.run("OBJECT", "FREQ", "hot") == LFU_INIT_VAL
    s.run("GET", "hot")
    assert s.run("OBJECT", "FREQ", "hot") == LFU_INIT_VAL + 1
    for _ in range(2000):
        s.run("GET", "hot")
    freq = s.run("OBJECT", "FREQ", "hot")
    # ~ log: 2000 hits with factor 10 land far below 255 but well above the start
    assert 15 <= freq <= 40
    assert db.access[b"hot"] >> 8 == (s.server.mstime // 60000) & 65535


def test_config_set_policy_switches_tracking_kind_at_once() -> None:
    s = Session()
    s.run("SET", "k", "v")
    assert s.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"OK"
    assert all(db.lfu for db in s.server.dbs)
    s.run("GET", "k")
    # the LRU stamp reads as a new key's counter, then the access increments it
    assert s.run("OBJECT", "FREQ", "k") == LFU_INIT_VAL + 1
    assert s.run("CONFIG", "SET", "maxmemory-policy", "volatile-lru") == b"OK"
    assert not any(db.lfu for db in s.server.dbs)


def test_swapdb_carries_access_data_along() -> None:
    s = Session()
    server = s.server
    s.run("SET", "a", "1")
    stamp = server.dbs[0].access[b"a"]
    s.run("SWAPDB", "0", "1")
    sync_databases(server)
    assert server.dbs[1].access[b"a"] == stamp
    assert b"a" not in server.dbs[0].access


# -- used memory -----------------------------------------------------------------------------


def test_value_size_is_exact_for_strings_and_small_collections() -> None:
    import sys

    assert value_size(b"abc") == sys.getsizeof(b"abc")
    small = deque([b"a", b"bb"])
    assert value_size(small) == sys.getsizeof(small) + sys.getsizeof(b"a") + sys.getsizeof(b"bb")
    h = {b"f": b"v"}
    assert value_size(h) == sys.getsizeof(h) + 2 * sys.getsizeof(b"f")


def test_value_size_of_big_uniform_collections_scales_with_length() -> None:
    big = deque(b"%08d" % i for i in range(10_000))
    bigger = deque(b"%08d" % i for i in range(20_000))
    assert 1.9 < value_size(bigger) / value_size(big) < 2.1
    z = ZSet()
    for i in range(1000):
        z.add(b"m%04d" % i, float(i))
    assert value_size(z) > 1000 * (len(b"m0000") + 33)
    assert value_size({b"%d" % i for i in range(1000)}) > 1000 * 34


@pytest.mark.parametrize("maxmemory", [0, 10**12])
def test_used_memory_follows_the_key_count(maxmemory: int) -> None:
    s = Session(make_server("--maxmemory", str(maxmemory)))
    server = s.server
    empty = used_memory(server)
    for i in range(1000):
        s.run("SET", f"key:{i}", VALUE)
    full = used_memory(server)
    per_key = (full - empty) / 1000
    assert len(VALUE) < per_key < len(VALUE) + 400
    for i in range(500):
        s.run("DEL", f"key:{i}")
    assert used_memory(server) - empty == pytest.approx((full - empty) / 2, rel=0.05)
    for i in range(500, 1000):
        s.run("DEL", f"key:{i}")
    assert used_memory(server) == empty


def test_tracked_used_memory_follows_one_value_growing() -> None:
    s = Session(make_server("--maxmemory", str(10**12)))
    server = s.server
    for i in range(1000):
        s.run("SET", f"key:{i}", VALUE)
    full = used_memory(server)
    s.run("APPEND", "key:0", b"y" * 100_000)
    assert used_memory(server) - full == 100_000


def test_sampled_used_memory_follows_values_growing_at_its_next_refresh() -> None:
    s = Session()
    server = s.server
    for i in range(1000):
        s.run("SET", f"key:{i}", VALUE)
    full = used_memory(server)
    for i in range(1000):
        s.run("APPEND", f"key:{i}", VALUE)
    state(server).sampled[0].stamp = -1.0  # as if a second had passed
    assert used_memory(server) - full == pytest.approx(1000 * len(VALUE), rel=0.02)


def test_used_memory_tracks_collections_that_grow_in_place() -> None:
    s = Session(make_server("--maxmemory", str(10**12)))
    server = s.server
    before = used_memory(server)
    for i in range(2000):
        s.run("RPUSH", "list", b"%050d" % i)
    grown = used_memory(server) - before
    assert 2000 * 83 <= grown <= 2000 * 110
    s.run("LTRIM", "list", "0", "999")
    assert used_memory(server) - before == pytest.approx(grown / 2, rel=0.1)


def test_used_memory_drops_after_flushall_and_counts_ttls() -> None:
    s = Session(make_server("--maxmemory", str(10**12)))
    server = s.server
    empty = used_memory(server)
    for i in range(100):
        s.run("SET", f"k{i}", VALUE, "EX", "100")
    with_ttl = used_memory(server)
    s.run("PERSIST", "k0")
    assert used_memory(server) < with_ttl
    s.run("FLUSHALL")
    assert used_memory(server) == empty


def test_tracked_total_matches_a_full_recount() -> None:
    s = Session(make_server("--maxmemory", str(10**12)))
    server = s.server
    random.seed(3)
    for i in range(3000):
        key = f"k{random.randrange(300)}"
        op = random.randrange(4)
        if op == 0:
            s.run("SET", key, b"v" * random.randrange(100))
        elif op == 1:
            s.run("APPEND", key, b"w" * random.randrange(50))
        elif op == 2:
            s.run("DEL", key)
        else:
            s.run("SELECT", str(i % 3))
    used = used_memory(server)
    st = state(server)
    assert st.trackers is not None
    for db, tracker in zip(server.dbs, st.trackers, strict=True):
        fresh = MemoryTracker(db)
        assert tracker.total == fresh.total
    assert used == st.used_sum


def test_cron_walk_repairs_a_change_nobody_signalled() -> None:
    s = Session(make_server("--maxmemory", str(10**12)))
    server = s.server
    s.run("RPUSH", "l", "a")
    before = used_memory(server)
    server.dbs[0].data[b"l"].extend([b"x" * 100] * 10)  # in place, no db.modified()
    assert used_memory(server) == before
    for _ in range(3):
        evict.evict_cron(server)
    assert used_memory(server) > before + 10 * 100


def test_tracking_stops_when_maxmemory_is_cleared() -> None:
    s = Session(make_server("--maxmemory", "100mb"))
    server = s.server
    s.run("SET", "a", "b")
    assert server.dbs[0].mem_dirty is not None
    server.config.maxmemory = 0
    used_memory(server)
    assert all(db.mem_dirty is None for db in server.dbs)
    assert state(server).trackers is None


# -- eviction policies -----------------------------------------------------------------------


def test_noeviction_refuses_denyoom_commands_with_redis_error() -> None:
    s = session("noeviction")
    limit_after(s, 50)
    server = s.server
    server.update_gates()
    s.run("SET", "k0", VALUE + b"more")  # grows past the limit; allowed, like Redis
    err = s.run("SET", "new", "v")
    assert str(err) == OOM
    assert s.run("GET", "k1") == VALUE  # reads are served
    assert s.run("DEL", "k1", "k2", "k3") == 3  # non-denyoom writes too
    assert s.run("SET", "new", "v") == b"OK"
    assert server.stats.evicted_keys == 0


def test_flushall_frees_room_at_once() -> None:
    s = session("noeviction")
    limit_after(s, 20)
    s.run("SET", "k0", VALUE + b"more")
    assert str(s.run("SET", "x", "y")) == OOM
    s.run("FLUSHALL")
    assert s.run("SET", "x", "y") == b"OK"


def test_allkeys_random_evicts_until_under_the_limit() -> None:
    s = session("allkeys-random")
    limit = limit_after(s, 100, "old")
    for i in range(100):
        assert s.run("SET", f"new{i}", VALUE) == b"OK"
    server = s.server
    assert used_memory(server) <= limit + key_size(b"new99", VALUE) + 200
    assert server.stats.evicted_keys >= 90
    assert len(server.dbs[0].data) <= 101


def test_allkeys_lru_keeps_recently_touched_keys() -> None:
    random.seed(11)
    s = session("allkeys-lru")
    server = s.server
    limit_after(s, 200)
    touched = [f"k{i}" for i in range(0, 200, 10)]
    tick(server)
    for key in touched:
        s.run("GET", key)
    tick(server)
    for i in range(100):
        s.run("SET", f"new{i}", VALUE)
    survivors = keys_of(s)
    assert {k.encode() for k in touched} <= survivors
    assert server.stats.evicted_keys >= 95


def test_volatile_lru_evicts_only_keys_with_a_ttl() -> None:
    s = session("volatile-lru")
    server = s.server
    for i in range(50):
        s.run("SET", f"p{i}", VALUE)
    limit_after(s, 50, "v", ttl_ms=100_000)
    for i in range(20):
        assert s.run("SET", f"new{i}", VALUE) == b"OK"
    survivors = keys_of(s)
    assert all(f"p{i}".encode() in survivors for i in range(50))
    # a volatile key frees its TTL entry too: a little more than a new plain key takes
    assert server.stats.evicted_keys >= 15


def test_volatile_policies_answer_oom_when_no_key_has_a_ttl() -> None:
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
        s = session(policy)
        limit_after(s, 30)
        s.run("SET", "k0", VALUE * 2)
        assert str(s.run("SET", "x", "y")) == OOM, policy
        assert len(s.server.dbs[0].data) == 30


def test_volatile_ttl_evicts_the_shortest_ttls_first() -> None:
    s = session("volatile-ttl")
    server = s.server
    db = server.dbs[0]
    order = list(range(100))
    random.seed(5)
    random.shuffle(order)
    for rank in order:  # created in random order; TTL grows with the rank
        s.run("SET", f"t{rank}", VALUE)
        db.set_expire(f"t{rank}".encode(), server.mstime + 100_000 + rank * 1000)
    server.config.maxmemory = 10**12
    server.update_gates()
    server.config.maxmemory = used_memory(server)
    for i in range(30):
        s.run("SET", f"p{i}", VALUE)
    evicted = sorted(rank for rank in range(100) if f"t{rank}".encode() not in db.data)
    assert len(evicted) >= 20
    # the pool picks the soonest expiry among samples: the evicted are the shortest TTLs
    assert evicted[-1] < 50
    assert sum(rank < 30 for rank in evicted) >= 20


def test_allkeys_lfu_keeps_frequently_used_keys() -> None:
    random.seed(13)
    s = session("allkeys-lfu")
    server = s.server
    limit_after(s, 100)
    hot = [f"k{i}" for i in range(0, 100, 5)]
    for _ in range(30):
        for key in hot:
            s.run("GET", key)
    for i in range(60):
        s.run("SET", f"new{i}", VALUE)
    survivors = keys_of(s)
    assert {k.encode() for k in hot} <= survivors
    assert server.stats.evicted_keys >= 55


def test_volatile_lfu_spares_keys_without_ttl_and_hot_ones() -> None:
    random.seed(17)
    s = session("volatile-lfu")
    for i in range(30):
        s.run("SET", f"p{i}", VALUE)
    limit_after(s, 60, "v", ttl_ms=100_000)
    hot = [f"v{i}" for i in range(0, 60, 6)]
    for _ in range(30):
        for key in hot:
            s.run("GET", key)
    for i in range(25):
        s.run("SET", f"new{i}", VALUE)
    survivors = keys_of(s)
    assert all(f"p{i}".encode() in survivors for i in range(30))
    assert {k.encode() for k in hot} <= survivors


def test_volatile_random_evicts_only_volatile_keys() -> None:
    s = session("volatile-random")
    for i in range(40):
        s.run("SET", f"p{i}", VALUE)
    limit_after(s, 40, "v", ttl_ms=100_000)
    for i in range(30):
        assert s.run("SET", f"new{i}", VALUE) == b"OK"
    survivors = keys_of(s)
    assert all(f"p{i}".encode() in survivors for i in range(40))
    assert s.server.stats.evicted_keys >= 20


def test_eviction_samples_every_database() -> None:
    s = session("allkeys-random")
    server = s.server
    s.run("SELECT", "3")
    for i in range(50):
        s.run("SET", f"db3-{i}", VALUE)
    s.run("SELECT", "0")
    limit_after(s, 50)
    for i in range(80):
        s.run("SET", f"new{i}", VALUE)
    assert len(server.dbs[3].data) < 50
    assert len(server.dbs[0].data) < 130


def test_evicted_keys_propagate_as_del_each_in_its_own_unit() -> None:
    s = session("allkeys-lru")
    limit_after(s, 10)
    s.server.config.maxmemory -= 1
    s.propagated()
    s.run("SET", "new", VALUE)
    ops = s.recorder.ops
    vectors = [argv for _, argv in ops]
    assert [b"MULTI"] not in vectors
    assert vectors[-1] == [b"SET", b"new", VALUE]
    dels = vectors[:-1]
    assert dels and all(argv[0] == b"DEL" and len(argv) == 2 for argv in dels)
    assert s.server.stats.evicted_keys == len(dels)
    for argv in dels:
        assert argv[1] not in s.server.dbs[0].data


def test_lazyfree_lazy_eviction_propagates_unlink() -> None:
    s = session("allkeys-random", 0, "--lazyfree-lazy-eviction", "yes")
    limit_after(s, 10)
    s.server.config.maxmemory -= 1
    s.propagated()
    s.run("SET", "new", VALUE)
    vectors = s.propagated()
    assert vectors[0][0] == b"UNLINK"


def test_replica_ignoring_maxmemory_does_not_evict() -> None:
    s = session("allkeys-random")
    limit_after(s, 10)
    server = s.server
    server.config.maxmemory = 100
    server.masterhost = "127.0.0.1"
    assert perform_evictions(server) is None
    assert len(server.dbs[0].data) == 10
    server.config.replica_ignore_maxmemory = False
    perform_evictions(server)
    assert len(server.dbs[0].data) == 0
    server.masterhost = None


def test_paused_or_loading_server_does_not_evict() -> None:
    s = session("allkeys-random")
    limit_after(s, 10)
    server = s.server
    server.config.maxmemory = 100
    server.loading = True
    assert perform_evictions(server) is None
    server.loading = False
    server.pause_end = time.monotonic() + 100
    assert perform_evictions(server) is None
    assert len(server.dbs[0].data) == 10
    server.pause_end = 0.0


def test_everything_evicted_and_still_over_gives_oom() -> None:
    s = session("allkeys-lru")
    limit_after(s, 5)
    s.server.config.maxmemory = 1
    assert str(s.run("SET", "x", "y")) == OOM
    assert s.server.dbs[0].data == {}
    assert s.server.stats.evicted_keys == 5


def test_time_budget_stops_early_and_cron_goes_on() -> None:
    s = session("allkeys-random", 0, "--maxmemory-eviction-tenacity", "0")
    server = s.server
    limit_after(s, 200)
    server.config.maxmemory //= 4
    assert perform_evictions(server) is None  # over the limit, but still evicting: admitted
    st = state(server)
    assert st.running
    assert len(server.dbs[0].data) == 200 - 16
    for _ in range(50):
        evict.evict_cron(server)
    assert used_memory(server) <= server.config.maxmemory
    assert not st.running


def test_eviction_pool_keeps_the_best_candidates_in_order() -> None:
    s = session("volatile-ttl")
    server = s.server
    db = server.dbs[0]
    for i in range(40):
        db.add(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, 1_000_000 + i)
    server.config.maxmemory_samples = 40
    st = state(server)
    evict._populate_pool(server, st, db, db.expires, "volatile-ttl", False)
    assert len(st.pool) == EVPOOL_SIZE
    assert [key for _, _, key in st.pool] == [b"k%d" % i for i in range(15, -1, -1)]


def test_key_sampler_returns_only_present_keys() -> None:
    random.seed(1)
    d = {b"k%d" % i: i for i in range(1000)}
    sampler = KeySampler()
    seen: set[bytes] = set()
    for _ in range(300):
        sample = sampler.sample(d, 5)
        assert sample and all(k in d for k in sample)
        seen.update(sample)
        victim = sample[0]
        del d[victim]
    assert len(seen) > 300
    small = {b"a": 1, b"b": 2}
    assert sorted(sampler.sample(small, 5)) == [b"a", b"b"]


def test_replies_of_refused_commands_inside_multi() -> None:
    s = session("noeviction")
    limit_after(s, 10)
    s.run("SET", "k0", VALUE * 2)
    assert s.run("MULTI") == b"OK"
    assert str(s.run("SET", "x", "y")) == OOM
    assert str(s.run("EXEC")).startswith("EXECABORT")
