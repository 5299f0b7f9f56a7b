"""maxmemory on a live keelkv node driven by redis-py: each policy, filled past the limit,
keeps the keys it should and stays near the limit; noeviction answers Redis's OOM error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.harness import ServerProcess, start_keelkv, start_redis

VALUE = b"v" * 200
OOM_TEXT = "command not allowed when used memory > 'maxmemory'."


@pytest.fixture
def nodes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for node in started:
        node.stop()


def start(nodes: list[ServerProcess], policy: str, *extra: str) -> Any:
    node = start_keelkv(
        "--maxmemory-policy", policy, "--maxmemory-samples", "10", "--hz", "50", *extra
    )
    nodes.append(node)
    return node.client()


def fill(r: Any, prefix: str, count: int, ex: int | None = None, start_at: int = 0) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(start_at, start_at + count):
        pipe.set(f"{prefix}{i}", VALUE, ex=ex)
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()


def cap_at_current_usage(r: Any) -> int:
    """Set maxmemory to what the node holds now, so every new key must evict one."""
    r.config_set("maxmemory", "1gb")  # exact accounting from here on (sampled before)
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used)
    return used


def clock_tick() -> None:
    """Let the node's LRU clock (refreshed each cron tick, hz 50) move on."""
    time.sleep(0.1)


@pytest.mark.parametrize(
    "policy",
    [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ],
)
def test_filling_past_maxmemory_evicts_and_stays_near_the_limit(
    nodes: list[ServerProcess], policy: str
) -> None:
    r = start(nodes, policy, "--maxmemory", "1mb")
    ex = 1000 if policy.startswith("volatile") else None
    fill(r, "key:", 5000, ex=ex)
    info = r.info()
    assert info["maxmemory_policy"] == policy
    assert info["used_memory"] <= 1024 * 1024 + 2048
    dbsize = info["db0"]["keys"]  # from the same INFO: the cron evicts in the background
    assert 1000 < dbsize < 5000
    assert info["evicted_keys"] == 5000 - dbsize
    assert r.get("key:4999") == VALUE  # the last write always lands


def test_allkeys_lru_keeps_recently_touched_keys(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "allkeys-lru")
    fill(r, "old:", 2000)
    cap_at_current_usage(r)
    clock_tick()
    touched = [f"old:{i}" for i in range(0, 2000, 10)]
    pipe = r.pipeline(transaction=False)
    for key in touched:
        pipe.get(key)
    pipe.execute()
    clock_tick()
    fill(r, "new:", 1000)
    assert r.info("stats")["evicted_keys"] >= 950
    assert sum(r.exists(key) for key in touched) >= len(touched) - 2
    assert r.exists(*[f"new:{i}" for i in range(1000)]) >= 990


def test_volatile_lru_never_evicts_keys_without_ttl(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "volatile-lru")
    fill(r, "plain:", 500)
    fill(r, "vol:", 1500, ex=1000)
    cap_at_current_usage(r)
    fill(r, "new:", 1000)
    assert r.exists(*[f"plain:{i}" for i in range(500)]) == 500
    assert r.exists(*[f"new:{i}" for i in range(1000)]) == 1000
    # a volatile key frees its TTL entry too, a little more than a new plain key takes
    assert r.info("stats")["evicted_keys"] >= 750


def test_volatile_ttl_evicts_shortest_ttl_first(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "volatile-ttl")
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"ttl:{i}", VALUE, ex=10_000 + i * 10)  # TTL grows with i
    pipe.execute()
    cap_at_current_usage(r)
    fill(r, "plain:", 300)
    evicted = [i for i in range(1000) if not r.exists(f"ttl:{i}")]
    assert len(evicted) >= 250
    assert sum(i < 400 for i in evicted) >= 0.9 * len(evicted)
    assert r.exists(*[f"ttl:{i}" for i in range(900, 1000)]) == 100


def test_allkeys_lfu_keeps_frequently_read_keys(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "allkeys-lfu")
    fill(r, "k:", 1000)
    cap_at_current_usage(r)
    hot = [f"k:{i}" for i in range(0, 1000, 20)]
    pipe = r.pipeline(transaction=False)
    for _ in range(20):
        for key in hot:
            pipe.get(key)
    pipe.execute()
    assert r.object("freq", hot[0]) >= 6  # 5 at creation, +1 sure, then 1/11 per hit
    fill(r, "new:", 500)
    assert r.info("stats")["evicted_keys"] >= 450
    assert r.exists(*hot) >= len(hot) - 1


def test_noeviction_refuses_writes_with_redis_error(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "noeviction", "--maxmemory", "200kb")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        fill(r, "k:", 5000)
    with pytest.raises(redis.exceptions.OutOfMemoryError) as ours:
        r.set("one-more", VALUE)
    assert str(ours.value) == OOM_TEXT
    size = r.dbsize()
    assert 0 < size < 5000
    assert r.get("k:0") == VALUE
    assert r.delete("k:0") == 1  # deletes are served and free room
    r.set("again", "1")
    assert r.info("stats")["evicted_keys"] == 0
    real = start_redis("--maxmemory", "1")
    nodes.append(real)
    with pytest.raises(redis.exceptions.OutOfMemoryError) as theirs:
        real.client().set("k", "v")
    assert str(theirs.value) == str(ours.value)


def test_config_set_lower_maxmemory_evicts_in_the_background(
    nodes: list[ServerProcess],
) -> None:
    r = start(nodes, "allkeys-random")
    fill(r, "k:", 3000)
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used // 3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and r.info("memory")["used_memory"] > used // 3:
        time.sleep(0.05)
    assert r.info("memory")["used_memory"] <= used // 3
    assert 500 < r.dbsize() < 1100


def test_used_memory_follows_the_dataset(nodes: list[ServerProcess]) -> None:
    r = start(nodes, "noeviction")
    empty = r.info("memory")["used_memory"]
    fill(r, "k:", 2000)
    full = r.info("memory")["used_memory"]
    assert 2000 * len(VALUE) < full - empty < 2000 * (len(VALUE) + 400)
    r.flushall()
    assert r.info("memory")["used_memory"] == empty
    assert r.info("memory")["used_memory_rss"] > full
