"""maxmemory against real Redis 7.0: with a limit nothing fits under, every policy ends in the
same replies byte for byte (-OOM for denyoom commands, reads and deletes still served,
EXECABORT for a transaction that queued a refused command) and the same surviving keys."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.harness import start_keelkv, start_redis

pytestmark = pytest.mark.interop

POLICIES = [
    "noeviction",
    "allkeys-lru",
    "volatile-lru",
    "allkeys-lfu",
    "volatile-lfu",
    "allkeys-random",
    "volatile-random",
    "volatile-ttl",
]


@pytest.fixture(scope="module")
def pair() -> Iterator[Differ]:
    keel = start_keelkv()
    real = start_redis()
    d = Differ(keel, real)
    yield d
    d.close()
    keel.stop()
    real.stop()


@pytest.fixture
def d(pair: Differ) -> Iterator[Differ]:
    pair.check("CONFIG", "SET", "maxmemory", "0")
    pair.check("FLUSHALL")
    yield pair
    pair.check("CONFIG", "SET", "maxmemory", "0")
    pair.check("CONFIG", "SET", "maxmemory-policy", "noeviction")


def wait_for_dbsize(d: Differ, size: int) -> None:
    """Both servers evict in the background after CONFIG SET maxmemory (evictionTimeProc)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ours, theirs = d.both("DBSIZE")
        if ours == theirs == b":%d\r\n" % size:
            return
        time.sleep(0.02)
    d.check("DBSIZE")


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_over_an_impossible_limit(d: Differ, policy: str) -> None:
    d.check("CONFIG", "SET", "maxmemory-policy", policy)
    d.check("MSET", "plain1", "a", "plain2", "b")
    d.check("SET", "vol1", "c", "EX", "1000")
    d.check("SET", "vol2", "d", "EX", "2000")
    d.check("CONFIG", "SET", "maxmemory", "1")
    d.check("SET", "new", "v")  # -OOM once nothing is left to evict
    if policy == "noeviction":
        survivors = 4
    elif policy.startswith("volatile"):
        survivors = 2
    else:
        survivors = 0
    wait_for_dbsize(d, survivors)
    d.check("EXISTS", "plain1", "plain2", "vol1", "vol2")
    d.check("GET", "plain1")
    d.check("LPUSH", "l", "x")
    d.check("SADD", "s", "x")
    d.check("INCR", "plain1")
    d.check("APPEND", "plain2", "x")


def test_non_denyoom_commands_are_served_over_the_limit(d: Differ) -> None:
    d.check("MSET", "a", "1", "b", "2")
    d.check("CONFIG", "SET", "maxmemory", "1")
    d.check("SET", "c", "3")
    d.check("GET", "a")
    d.check("STRLEN", "a")
    d.check("EXPIRE", "a", "100")
    d.check("DEL", "a")
    d.check("UNLINK", "b")
    d.check("DBSIZE")
    d.check("PING")


def test_transaction_with_a_refused_command_aborts(d: Differ) -> None:
    d.check("CONFIG", "SET", "maxmemory", "1")
    d.check("MULTI")
    d.check("GET", "a")
    d.check("SET", "a", "1")
    d.check("EXEC")
    d.check("GET", "a")


def test_raising_the_limit_lets_writes_in_again(d: Differ) -> None:
    d.check("CONFIG", "SET", "maxmemory", "1")
    d.check("SET", "a", "1")
    d.check("CONFIG", "SET", "maxmemory", "0")
    d.check("SET", "a", "1")
    d.check("GET", "a")
