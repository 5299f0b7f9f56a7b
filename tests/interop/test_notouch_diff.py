"""Lookups that are not accesses, against real Redis 7.0: EXISTS, TYPE, the TTL family,
OBJECT and SCAN ... TYPE (LOOKUP_NOTOUCH) leave the LFU counter alone but count keyspace hits
and misses; TOUCH is an access; DEBUG OBJECT and MEMORY USAGE count nothing. Also DEBUG
OBJECT's encoding and refcount, which are OBJECT's, and WATCH broken by a one-member SADD."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import Differ
from tests.harness import RawClient, decode

pytestmark = pytest.mark.interop

NOTOUCH_READS = [
    ("EXISTS", "k", "nokey"),
    ("TYPE", "k"),
    ("TYPE", "nokey"),
    ("TTL", "k"),
    ("PTTL", "nokey"),
    ("EXPIRETIME", "k"),
    ("PEXPIRETIME", "k"),
    ("OBJECT", "ENCODING", "k"),
    ("OBJECT", "REFCOUNT", "nokey"),
    ("OBJECT", "FREQ", "k"),
    ("SCAN", "0", "TYPE", "string"),
]


def keyspace_stats(reply: bytes) -> tuple[int, int]:
    text = decode(reply).decode()
    hits = re.search(r"keyspace_hits:(\d+)", text)
    misses = re.search(r"keyspace_misses:(\d+)", text)
    assert hits and misses, text
    return int(hits.group(1)), int(misses.group(1))


def assert_same_stats(d: Differ) -> tuple[int, int]:
    ours, theirs = d.both("INFO", "stats")
    assert keyspace_stats(ours) == keyspace_stats(theirs)
    return keyspace_stats(ours)


@pytest.fixture
def lfu(differ: Differ) -> Iterator[Differ]:
    differ.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        yield differ
    finally:
        differ.both("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_notouch_reads_keep_the_lfu_counter_and_count_stats(lfu: Differ) -> None:
    d = lfu
    d.check("SET", "k", "v")
    d.check("CONFIG", "RESETSTAT")
    for argv in NOTOUCH_READS:
        d.check(*argv)
        d.check("OBJECT", "FREQ", "k")  # still LFU_INIT_VAL: none of these is an access
        assert_same_stats(d)
    assert assert_same_stats(d)[1] > 0


def test_touch_is_an_access(lfu: Differ) -> None:
    d = lfu
    d.check("SET", "k", "v")
    d.check("CONFIG", "RESETSTAT")
    d.check("TOUCH", "k", "nokey")
    assert d.check("OBJECT", "FREQ", "k") == b":6\r\n"  # the first access always counts
    assert assert_same_stats(d) == (2, 1)


def test_debug_object_and_memory_usage_count_nothing(lfu: Differ) -> None:
    d = lfu
    d.check("SET", "k", "v")
    d.check("CONFIG", "RESETSTAT")
    for argv in [("DEBUG", "OBJECT", "k"), ("MEMORY", "USAGE", "k")]:
        d.both(*argv)
    d.check("DEBUG", "OBJECT", "nokey")
    d.check("MEMORY", "USAGE", "nokey")
    d.check("OBJECT", "FREQ", "k")
    assert assert_same_stats(d) == (1, 0)  # OBJECT FREQ's own hit


DEBUG_FIELD = re.compile(rb"(encoding|refcount):(\S+)")


def debug_fields(reply: bytes) -> dict[bytes, bytes]:
    assert reply.startswith(b"+Value at:0x"), reply
    return dict(DEBUG_FIELD.findall(reply))


def test_debug_object_encoding_and_refcount(differ: Differ) -> None:
    d = differ
    d.check("RPUSH", "l", "a", "b", "c")
    d.check("RPUSH", "big", *[str(i) for i in range(300)])
    d.check("SET", "n", "123")
    d.check("SET", "s", "hello")
    d.check("SET", "r", "x" * 45)
    d.check("HSET", "h", "f", "v")
    d.check("HSET", "hh", "f", "v" * 65)
    d.check("SADD", "is", "1", "2")
    d.check("SADD", "hs", "a")
    d.check("ZADD", "z", "1", "a")
    d.check("ZADD", "shrunk", *[str(a) for i in range(130) for a in (i, f"m{i}")])
    d.check("ZREMRANGEBYRANK", "shrunk", "0", "-2")
    for key in ("l", "big", "n", "s", "r", "h", "hh", "is", "hs", "z", "shrunk"):
        d.check("OBJECT", "ENCODING", key)
        ours, theirs = d.both("DEBUG", "OBJECT", key)
        assert debug_fields(ours) == debug_fields(theirs), key


def test_one_member_sadd_breaks_watch(differ: Differ) -> None:
    d = differ
    d.check("SADD", "s", "a")
    d.check("WATCH", "s")
    others = [RawClient(client.sock.getpeername()[1]) for client in (d.keel, d.real)]
    try:
        for other in others:
            assert other.call("SADD", "s", "b") == b":1\r\n"
    finally:
        for other in others:
            other.close()
    d.check("MULTI")
    d.check("PING")
    assert d.check("EXEC") == b"*-1\r\n"
