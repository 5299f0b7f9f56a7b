"""EXISTS, TYPE, TTL/PTTL/EXPIRETIME/PEXPIRETIME, OBJECT and SCAN ... TYPE look keys up
with Redis's LOOKUP_NOTOUCH: no LRU/LFU refresh, but a keyspace hit or miss all the same.
TOUCH, GET and the other reads are accesses. DEBUG OBJECT and MEMORY USAGE read the dict
directly: neither an access nor a hit or miss."""

from __future__ import annotations

import pytest

from tests.unit.sansio import Session, make_server

NOTOUCH_READS = [
    ("EXISTS", "k"),
    ("EXISTS", "k", "k"),
    ("TYPE", "k"),
    ("TTL", "k"),
    ("PTTL", "k"),
    ("EXPIRETIME", "k"),
    ("PEXPIRETIME", "k"),
    ("OBJECT", "ENCODING", "k"),
    ("OBJECT", "REFCOUNT", "k"),
    ("OBJECT", "FREQ", "k"),
    ("SCAN", "0", "TYPE", "string"),
]


def _lfu_session() -> Session:
    s = Session(make_server("--maxmemory-policy", "allkeys-lfu", "--enable-debug-command", "yes"))
    s.run("SET", "k", "v")
    return s


@pytest.mark.parametrize("argv", NOTOUCH_READS, ids=" ".join)
def test_notouch_read_keeps_the_lfu_counter(argv: tuple[str, ...]) -> None:
    s = _lfu_session()
    for _ in range(3):
        s.run(*argv)
    # A new key starts at LFU_INIT_VAL (5); its first access always raises it to 6.
    assert s.run("OBJECT", "FREQ", "k") == 5


@pytest.mark.parametrize("argv", [("TOUCH", "k"), ("GET", "k"), ("STRLEN", "k")], ids=" ".join)
def test_an_access_raises_the_lfu_counter(argv: tuple[str, ...]) -> None:
    s = _lfu_session()
    s.run(*argv)
    assert s.run("OBJECT", "FREQ", "k") == 6


LRU_NOTOUCH = [a for a in NOTOUCH_READS if a[:2] != ("OBJECT", "FREQ")] + [("DEBUG", "OBJECT", "k")]


@pytest.mark.parametrize("argv", LRU_NOTOUCH, ids=" ".join)
def test_notouch_read_keeps_the_lru_stamp(argv: tuple[str, ...]) -> None:
    s = Session(make_server("--enable-debug-command", "yes"))
    s.run("SET", "k", "v")
    db = s.client.db
    db.access[b"k"] = 12345
    s.run(*argv)
    assert db.access[b"k"] == 12345
    s.run("TOUCH", "k")
    assert db.access[b"k"] != 12345


@pytest.mark.parametrize("argv", NOTOUCH_READS, ids=" ".join)
def test_notouch_read_counts_hits_and_misses(argv: tuple[str, ...]) -> None:
    s = _lfu_session()
    stats = s.server.stats
    keys = sum(1 for a in argv if a == "k") or 1  # SCAN looks up each key it returns
    hits, misses = stats.keyspace_hits, stats.keyspace_misses
    s.run(*argv)
    assert (stats.keyspace_hits - hits, stats.keyspace_misses - misses) == (keys, 0)
    s.run("DEL", "k")
    s.run("SET", "other", "1")
    if argv[0] == "SCAN":
        return  # a missing key is not returned by SCAN, so not looked up
    missing = tuple("nokey" if a == "k" else a for a in argv)
    hits, misses = stats.keyspace_hits, stats.keyspace_misses
    s.run(*missing)
    assert (stats.keyspace_hits - hits, stats.keyspace_misses - misses) == (0, keys)


def test_debug_object_and_memory_usage_count_nothing() -> None:
    s = _lfu_session()
    stats = s.server.stats
    before = (stats.keyspace_hits, stats.keyspace_misses)
    s.run("DEBUG", "OBJECT", "k")
    s.run("MEMORY", "USAGE", "k")
    s.run("MEMORY", "USAGE", "nokey")
    assert (stats.keyspace_hits, stats.keyspace_misses) == before
    assert s.run("OBJECT", "FREQ", "k") == 5


def test_memory_usage_sees_a_logically_expired_key() -> None:
    """Redis finds the key in the dict without expiring it (until it is deleted)."""
    s = Session()
    s.run("SET", "k", "v")
    s.client.db.expires[b"k"] = 1
    assert isinstance(s.run("MEMORY", "USAGE", "k"), int)
    assert s.run("EXISTS", "k") == 0
    assert s.run("MEMORY", "USAGE", "k") is None
