"""OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP, sans-IO."""

from __future__ import annotations

import time

import pytest

from node.commands.object_cmd import FREQ_ERROR, IDLETIME_ERROR, SHARED_REFCOUNT, as_long
from node.evict import sync_databases
from tests.unit.sansio import Session, make_server


def enc(s: Session, key: str) -> bytes:
    return s.run("OBJECT", "ENCODING", key)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"0", b"int"),
        (b"-5", b"int"),
        (b"9223372036854775807", b"int"),
        (b"-9223372036854775808", b"int"),
        (b"9223372036854775808", b"embstr"),
        (b"12345678901234567890", b"embstr"),
        (b"007", b"embstr"),
        (b"+1", b"embstr"),
        (b"-0", b"embstr"),
        (b" 1", b"embstr"),
        (b"1_000", b"embstr"),
        (b"", b"embstr"),
        (b"x" * 44, b"embstr"),
        (b"x" * 45, b"raw"),
        (b"1.5", b"embstr"),
    ],
)
def test_string_encodings(value: bytes, expected: bytes) -> None:
    s = Session()
    s.run("SET", "k", value)
    assert enc(s, "k") == expected


def test_as_long_is_redis_string2l() -> None:
    assert as_long(b"123") == 123
    assert as_long(b"-1") == -1
    for bad in (b"", b"01", b"+1", b"-0", b"1e3", b"9223372036854775808", b"\xff"):
        assert as_long(bad) is None


def test_list_is_always_quicklist_in_7_0() -> None:
    s = Session()
    s.run("RPUSH", "l", "a")
    assert enc(s, "l") == b"quicklist"
    s.run("RPUSH", "l", *["x" * 100] * 200)
    assert enc(s, "l") == b"quicklist"


def test_hash_listpack_until_entries_or_value_limit() -> None:
    s = Session()
    s.run("HSET", "h", "f", "v")
    assert enc(s, "h") == b"listpack"
    s.run("HSET", "h", "big", "x" * 65)
    assert enc(s, "h") == b"hashtable"
    s.run("HSET", "h2", *[str(i) for i in range(1024)])  # 512 fields, 7.0's default limit
    assert enc(s, "h2") == b"listpack"
    s.run("HSET", "h2", "one", "more")
    assert enc(s, "h2") == b"hashtable"
    s.run("HSET", "h3", "x" * 65, "v")
    assert enc(s, "h3") == b"hashtable"


def test_set_intset_or_hashtable() -> None:
    s = Session()
    s.run("SADD", "s", "1", "-9223372036854775808", "9223372036854775807")
    assert enc(s, "s") == b"intset"
    s.run("SADD", "s2", "01")
    assert enc(s, "s2") == b"hashtable"
    s.run("SADD", "s3", *[str(i) for i in range(512)])
    assert enc(s, "s3") == b"intset"
    s.run("SADD", "s3", "512")
    assert enc(s, "s3") == b"hashtable"
    s.run("SADD", "s4", "a")
    assert enc(s, "s4") == b"hashtable"


def test_zset_listpack_or_skiplist() -> None:
    s = Session()
    s.run("ZADD", "z", "1", "a")
    assert enc(s, "z") == b"listpack"
    s.run("ZADD", "z", "2", "x" * 65)
    assert enc(s, "z") == b"skiplist"
    args: list[str] = []
    for i in range(129):
        args += [str(i), f"m{i}"]
    s.run("ZADD", "z2", *args[:256])
    assert enc(s, "z2") == b"listpack"
    s.run("ZADD", "z2", *args[256:])
    assert enc(s, "z2") == b"skiplist"


def test_encoding_thresholds_follow_config() -> None:
    s = Session(
        make_server(
            "--hash-max-listpack-entries",
            "1",
            "--set-max-intset-entries",
            "1",
            "--zset-max-listpack-value",
            "2",
        )
    )
    s.run("HSET", "h", "a", "1", "b", "2")
    assert enc(s, "h") == b"hashtable"
    s.run("SADD", "s", "1", "2")
    assert enc(s, "s") == b"hashtable"
    s.run("ZADD", "z", "1", "abc")
    assert enc(s, "z") == b"skiplist"


def test_refcount_of_shared_integers() -> None:
    s = Session()
    s.run("SET", "small", "9999")
    s.run("SET", "big", "10000")
    s.run("SET", "neg", "-1")
    s.run("SET", "text", "abc")
    s.run("RPUSH", "l", "1")
    assert s.run("OBJECT", "REFCOUNT", "small") == SHARED_REFCOUNT == 2147483647
    assert s.run("OBJECT", "REFCOUNT", "big") == 1
    assert s.run("OBJECT", "REFCOUNT", "neg") == 1
    assert s.run("OBJECT", "REFCOUNT", "text") == 1
    assert s.run("OBJECT", "REFCOUNT", "l") == 1


@pytest.mark.parametrize(
    ("policy", "shared"),
    [("allkeys-lru", False), ("volatile-lfu", False), ("allkeys-random", True)],
)
def test_lru_and_lfu_policies_with_maxmemory_disable_shared_integers(
    policy: str, shared: bool
) -> None:
    s = Session(make_server("--maxmemory", "100mb", "--maxmemory-policy", policy))
    s.run("SET", "k", "5")
    assert (s.run("OBJECT", "REFCOUNT", "k") == SHARED_REFCOUNT) is shared


def test_idletime_counts_seconds_since_last_access() -> None:
    s = Session()
    server = s.server
    s.run("SET", "k", "v")
    assert s.run("OBJECT", "IDLETIME", "k") == 0
    db = server.dbs[0]
    db.access[b"k"] -= 5000  # last accessed five seconds ago
    assert s.run("OBJECT", "IDLETIME", "k") in (4, 5, 6)
    time.sleep(0.002)
    server.mstime = int(time.time() * 1000)
    sync_databases(server)  # the cron's clock tick
    s.run("GET", "k")
    assert s.run("OBJECT", "IDLETIME", "k") == 0


def test_freq_needs_an_lfu_policy_and_idletime_the_reverse() -> None:
    s = Session()
    s.run("SET", "k", "v")
    assert str(s.run("OBJECT", "FREQ", "k")) == FREQ_ERROR
    lfu = Session(make_server("--maxmemory-policy", "volatile-lfu"))
    lfu.run("SET", "k", "v")
    assert lfu.run("OBJECT", "FREQ", "k") == 5
    assert str(lfu.run("OBJECT", "IDLETIME", "k")) == IDLETIME_ERROR


def test_missing_key_is_null_before_any_policy_error() -> None:
    s = Session()
    for sub in ("ENCODING", "REFCOUNT", "IDLETIME", "FREQ"):
        assert s.raw("OBJECT", sub, "nokey") == b"$-1\r\n"
    r3 = Session(s.server, resp3=True)
    assert r3.raw("OBJECT", "ENCODING", "nokey") == b"_\r\n"


def test_object_counts_keyspace_hits_and_misses() -> None:
    s = Session()
    s.run("SET", "k", "v")
    stats = s.server.stats
    hits, misses = stats.keyspace_hits, stats.keyspace_misses
    s.run("OBJECT", "ENCODING", "k")
    s.run("OBJECT", "ENCODING", "nokey")
    assert (stats.keyspace_hits, stats.keyspace_misses) == (hits + 1, misses + 1)


def test_object_sees_expired_keys_as_missing() -> None:
    s = Session()
    s.run("SET", "k", "v")
    s.server.dbs[0].set_expire(b"k", 1)
    assert s.run("OBJECT", "ENCODING", "k") is None
    assert s.propagated()[-1] == [b"DEL", b"k"]


def test_object_errors() -> None:
    s = Session()
    assert str(s.run("OBJECT")) == "ERR wrong number of arguments for 'object' command"
    assert str(s.run("OBJECT", "ENCODING")) == (
        "ERR wrong number of arguments for 'object|encoding' command"
    )
    assert str(s.run("OBJECT", "FREQ", "a", "b")) == (
        "ERR wrong number of arguments for 'object|freq' command"
    )
    assert str(s.run("OBJECT", "nope", "k")) == "ERR unknown subcommand 'nope'. Try OBJECT HELP."


def test_object_help() -> None:
    s = Session()
    lines = s.run("OBJECT", "HELP")
    assert lines[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[1:3] == [
        b"ENCODING <key>",
        b"    Return the kind of internal representation used in order to store the value",
    ]
    assert lines[-2:] == [b"HELP", b"    Prints this help."]
    assert len(lines) == 15
