"""OBJECT against real Redis 7.0, byte for byte: encodings at each conversion threshold,
shared-integer refcounts, LRU/LFU errors and values, HELP, and every error path."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import Differ

pytestmark = pytest.mark.interop

STRINGS = [
    "0",
    "1",
    "-5",
    "9999",
    "10000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "12345678901234567890",
    "007",
    "+1",
    "-0",
    " 1",
    "1.5",
    "",
    "x" * 44,
    "x" * 45,
    "y" * 1000,
]


@pytest.fixture
def d(differ: Differ) -> Iterator[Differ]:
    yield differ
    # Module-scoped servers: put back what a test changed.
    differ.check("CONFIG", "SET", "maxmemory-policy", "noeviction")
    differ.check("CONFIG", "SET", "maxmemory", "0")
    differ.check("CONFIG", "SET", "hash-max-listpack-entries", "512")
    differ.check("CONFIG", "SET", "hash-max-listpack-value", "64")
    differ.check("CONFIG", "SET", "set-max-intset-entries", "512")
    differ.check("CONFIG", "SET", "zset-max-listpack-entries", "128")
    differ.check("CONFIG", "SET", "zset-max-listpack-value", "64")


@pytest.mark.parametrize("value", STRINGS)
def test_string_encoding_and_refcount(d: Differ, value: str) -> None:
    d.check("SET", "k", value)
    d.check("OBJECT", "ENCODING", "k")
    d.check("OBJECT", "REFCOUNT", "k")


def test_integers_from_incr_are_shared_below_10000(d: Differ) -> None:
    d.check("INCR", "c")
    d.check("OBJECT", "ENCODING", "c")
    d.check("OBJECT", "REFCOUNT", "c")
    d.check("INCRBY", "c", "20000")
    d.check("OBJECT", "REFCOUNT", "c")
    d.check("INCRBYFLOAT", "f", "1.5")
    d.check("OBJECT", "ENCODING", "f")


def test_list_encoding(d: Differ) -> None:
    d.check("RPUSH", "l", "a")
    d.check("OBJECT", "ENCODING", "l")
    d.check("RPUSH", "l", *["x" * 100] * 300)
    d.check("OBJECT", "ENCODING", "l")
    d.check("OBJECT", "REFCOUNT", "l")


def test_hash_encoding_thresholds(d: Differ) -> None:
    d.check("HSET", "h", "f", "v")
    d.check("OBJECT", "ENCODING", "h")
    d.check("HSET", "h", "f2", "x" * 64)
    d.check("OBJECT", "ENCODING", "h")
    d.check("HSET", "h", "f3", "x" * 65)
    d.check("OBJECT", "ENCODING", "h")
    d.check("HSET", "hk", "x" * 65, "v")
    d.check("OBJECT", "ENCODING", "hk")
    d.check("HSET", "big", *[str(i) for i in range(1024)])
    d.check("OBJECT", "ENCODING", "big")
    d.check("HSET", "big", "one", "more")
    d.check("OBJECT", "ENCODING", "big")
    d.check("CONFIG", "SET", "hash-max-listpack-entries", "2")
    d.check("HSET", "small", "a", "1", "b", "2")
    d.check("OBJECT", "ENCODING", "small")
    d.check("HSET", "small2", "a", "1", "b", "2", "c", "3")
    d.check("OBJECT", "ENCODING", "small2")
    d.check("CONFIG", "SET", "hash-max-listpack-value", "3")
    d.check("HSET", "v", "a", "1234")
    d.check("OBJECT", "ENCODING", "v")


def test_set_encoding_thresholds(d: Differ) -> None:
    d.check("SADD", "s", "1", "2", "-9223372036854775808", "9223372036854775807")
    d.check("OBJECT", "ENCODING", "s")
    d.check("SADD", "s", "a")
    d.check("OBJECT", "ENCODING", "s")
    d.check("SADD", "s2", "01")
    d.check("OBJECT", "ENCODING", "s2")
    d.check("SADD", "s3", "9223372036854775808")
    d.check("OBJECT", "ENCODING", "s3")
    d.check("SADD", "s4", *[str(i) for i in range(512)])
    d.check("OBJECT", "ENCODING", "s4")
    d.check("SADD", "s4", "512")
    d.check("OBJECT", "ENCODING", "s4")
    d.check("CONFIG", "SET", "set-max-intset-entries", "2")
    d.check("SADD", "s5", "1", "2", "3")
    d.check("OBJECT", "ENCODING", "s5")


def test_zset_encoding_thresholds(d: Differ) -> None:
    d.check("ZADD", "z", "1", "a")
    d.check("OBJECT", "ENCODING", "z")
    d.check("ZADD", "z", "2", "x" * 64)
    d.check("OBJECT", "ENCODING", "z")
    d.check("ZADD", "z", "3", "x" * 65)
    d.check("OBJECT", "ENCODING", "z")
    args: list[str] = []
    for i in range(129):
        args += [str(i), f"m{i}"]
    d.check("ZADD", "z2", *args[:256])
    d.check("OBJECT", "ENCODING", "z2")
    d.check("ZADD", "z2", *args[256:])
    d.check("OBJECT", "ENCODING", "z2")
    d.check("CONFIG", "SET", "zset-max-listpack-entries", "1")
    d.check("ZADD", "z3", "1", "a", "2", "b")
    d.check("OBJECT", "ENCODING", "z3")


def test_missing_keys_and_expired_keys_are_null(d: Differ) -> None:
    for sub in ("ENCODING", "REFCOUNT", "IDLETIME", "FREQ"):
        d.check("OBJECT", sub, "nokey")
    d.check("SET", "gone", "v", "PX", "1")
    time.sleep(0.01)
    d.check("OBJECT", "ENCODING", "gone")


def test_idletime_of_a_fresh_key_and_the_lfu_errors(d: Differ) -> None:
    d.check("SET", "k", "abc")
    # Idle seconds: 0 on both unless a second boundary passes between SET and the check.
    ours, theirs = d.both("OBJECT", "IDLETIME", "k")
    assert ours in (b":0\r\n", b":1\r\n") and theirs in (b":0\r\n", b":1\r\n")
    d.check("OBJECT", "FREQ", "k")
    d.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    d.check("OBJECT", "IDLETIME", "k")
    d.check("OBJECT", "FREQ", "nokey")


def test_lfu_counter_of_new_and_accessed_keys(d: Differ) -> None:
    d.check("CONFIG", "SET", "maxmemory-policy", "volatile-lfu")
    d.check("SET", "k", "abc")
    d.check("OBJECT", "FREQ", "k")
    d.check("GET", "k")  # at LFU_INIT_VAL the counter always increments
    d.check("OBJECT", "FREQ", "k")
    d.check("RPUSH", "l", "a")
    d.check("OBJECT", "FREQ", "l")


def test_lru_lfu_policies_with_maxmemory_unshare_integers(d: Differ) -> None:
    d.check("CONFIG", "SET", "maxmemory", "1gb")
    for policy in ("allkeys-lru", "volatile-lfu", "allkeys-random", "volatile-ttl"):
        d.check("CONFIG", "SET", "maxmemory-policy", policy)
        d.check("SET", "n", "42")
        d.check("OBJECT", "REFCOUNT", "n")


def test_help_and_errors(d: Differ) -> None:
    d.check("OBJECT", "HELP")
    d.check("object", "help")
    d.check("OBJECT")
    d.check("OBJECT", "ENCODING")
    d.check("OBJECT", "ENCODING", "a", "b")
    d.check("OBJECT", "FREQ")
    d.check("OBJECT", "IDLETIME", "a", "b")
    d.check("OBJECT", "REFCOUNT")
    d.check("OBJECT", "HELP", "extra")
    d.check("OBJECT", "nosuch")
    d.check("OBJECT", "nosuch", "k")
    d.check("OBJECT", "ENCODINGX", "k")


def test_object_inside_multi(d: Differ) -> None:
    d.check("SET", "k", "1")
    d.check("MULTI")
    d.check("OBJECT", "ENCODING", "k")
    d.check("OBJECT", "REFCOUNT", "k")
    d.check("EXEC")
