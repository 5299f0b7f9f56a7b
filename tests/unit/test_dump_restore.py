"""DUMP and RESTORE, sans-IO: payloads, every RESTORE option and error, the propagated
vectors, WATCH, blocked clients and the LRU/LFU hints."""

from __future__ import annotations

import struct
from typing import Any

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.commands.dump_cmd import restored_idle_seconds, wrap64
from node.info import LRU_CLOCK_MAX
from persistence.rdb import crc64
from tests.unit import sansio
from tests.unit.sansio import Session, make_server

NOW = 1_700_000_000_000
LLONG_MAX = 2**63 - 1
# What real Redis 7.0.15 answers to `SET s hello` + `DUMP s`.
HELLO = b"\x00\x05hello\n\x00cr\xdfve4 \n"

BAD_CHECKSUM = "ERR DUMP payload version or checksum are wrong"
BAD_FORMAT = "ERR Bad data format"
BUSYKEY = "BUSYKEY Target key name already exists."


@pytest.fixture
def s(monkeypatch: pytest.MonkeyPatch) -> Session:
    """A session whose clock is frozen at NOW, so absolute expiry times are exact."""
    monkeypatch.setattr(sansio, "mstime", lambda: NOW)
    return Session()


def err(reply: object) -> str:
    assert isinstance(reply, Exception), reply
    return str(reply)


def with_footer(body: bytes, version: int = 10) -> bytes:
    """A payload around `body` with a correct CRC-64, as Redis's createDumpPayload ends one."""
    head = body + struct.pack("<H", version)
    return head + struct.pack("<Q", crc64(head))


def pending(s: Session) -> Any:
    data = b"".join(s.client.out)
    s.client.out.clear()
    if not data:
        return None
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()


# -- DUMP -----------------------------------------------------------------------------


def test_dump_of_a_string_is_redis_s_payload(s: Session) -> None:
    s.run("SET", "s", "hello")
    assert s.run("DUMP", "s") == HELLO


def test_dump_missing_and_expired_keys_are_nil(s: Session) -> None:
    assert s.run("DUMP", "missing") is None
    db = s.server.dbs[0]
    db.add(b"old", b"v")
    db.set_expire(b"old", NOW - 1)
    assert s.run("DUMP", "old") is None
    assert b"old" not in db.data
    assert s.propagated() == [[b"DEL", b"old"]]


def test_dump_is_a_read_access(s: Session) -> None:
    s.run("SET", "k", "v")
    db = s.server.dbs[0]
    db.access[b"k"] = NOW - 50_000
    assert s.run("OBJECT", "IDLETIME", "k") == 50
    s.run("DUMP", "k")
    assert s.run("OBJECT", "IDLETIME", "k") == 0
    assert s.server.dirty == 1  # the SET only
    assert s.propagated() == [[b"SET", b"k", b"v"]]


def test_rdbcompression_no_dumps_strings_uncompressed() -> None:
    long = b"a" * 100
    on = Session()
    on.run("SET", "k", long)
    off = Session(make_server("--rdbcompression", "no"))
    off.run("SET", "k", long)
    compressed, plain = on.run("DUMP", "k"), off.run("DUMP", "k")
    assert compressed[0:2] == b"\x00\xc3" and len(compressed) < 40
    assert plain[:3] == b"\x00\x40\x64" and long in plain
    # Either form restores the same string.
    for payload in (compressed, plain):
        assert off.run("RESTORE", "r", 0, payload, "REPLACE") == b"OK"
        assert off.run("GET", "r") == long


# -- round trips ----------------------------------------------------------------------

BUILDS: list[tuple[str, list[tuple[Any, ...]], tuple[Any, ...]]] = [
    ("string", [("SET", "src", "hello")], ("GET",)),
    ("int string", [("SET", "src", "-12345")], ("GET",)),
    ("long int string", [("SET", "src", "9223372036854775807")], ("GET",)),
    ("empty string", [("SET", "src", "")], ("GET",)),
    ("binary string", [("SET", "src", b"\x00\xff\r\n" * 30)], ("GET",)),
    ("list", [("RPUSH", "src", "a", "1", "-70000", "x" * 100)], ("LRANGE", 0, -1)),
    ("long list", [("RPUSH", "src", *[f"item{i}" for i in range(2000)])], ("LRANGE", 0, -1)),
    ("hash", [("HSET", "src", "f", "v", "n", "12")], ("HGETALL",)),
    ("hashtable", [("HSET", "src", "f", "x" * 65)], ("HGETALL",)),
    ("intset", [("SADD", "src", "1", "-5", "70000", "5000000000")], ("SMEMBERS",)),
    ("set", [("SADD", "src", "a", "b", "1")], ("SMEMBERS",)),
    ("zset", [("ZADD", "src", "1", "a", "1.5", "b", "-inf", "c")], ("ZRANGE", 0, -1, "WITHSCORES")),
    (
        "skiplist",
        [("ZADD", "src", *[x for i in range(200) for x in (str(i / 7), f"m{i}")])],
        ("ZRANGE", 0, -1, "WITHSCORES"),
    ),
]


def read_back(s: Session, key: str, cmd: tuple[Any, ...]) -> Any:
    reply = s.run(cmd[0], key, *cmd[1:])
    if cmd[0] == "SMEMBERS":
        return sorted(reply)
    return reply


def same_order(s: Session, key: str) -> bool:
    """A hashtable set is written in hash order (Redis's too): another copy may differ."""
    return (s.run("TYPE", key), s.run("OBJECT", "ENCODING", key)) != (b"set", b"hashtable")


@pytest.mark.parametrize(("name", "build", "read"), BUILDS, ids=[b[0] for b in BUILDS])
def test_round_trip_keeps_value_type_and_encoding(
    s: Session, name: str, build: list[tuple[Any, ...]], read: tuple[Any, ...]
) -> None:
    for argv in build:
        s.run(*argv)
    payload = s.run("DUMP", "src")
    assert isinstance(payload, bytes)
    assert s.run("RESTORE", "dst", 0, payload) == b"OK"
    assert read_back(s, "dst", read) == read_back(s, "src", read)
    assert s.run("TYPE", "dst") == s.run("TYPE", "src")
    assert s.run("OBJECT", "ENCODING", "dst") == s.run("OBJECT", "ENCODING", "src")
    if same_order(s, "dst"):
        assert s.run("DUMP", "dst") == payload
    # The restored value is a copy: changing one leaves the other alone.
    s.run("DEL", "src")
    assert s.run("EXISTS", "dst") == 1


members = st.binary(max_size=80)
VALUES = st.one_of(
    st.tuples(st.just("string"), members),
    st.tuples(st.just("list"), st.lists(members, min_size=1, max_size=40)),
    st.tuples(st.just("hash"), st.dictionaries(members, members, min_size=1, max_size=40)),
    st.tuples(st.just("set"), st.sets(members, min_size=1, max_size=40)),
    st.tuples(
        st.just("set"),
        st.sets(st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i), min_size=1),
    ),
    st.tuples(
        st.just("zset"),
        st.dictionaries(
            members,
            st.floats(allow_nan=False, width=64).map(lambda f: 0.0 if f == 0 else f),
            min_size=1,
            max_size=40,
        ),
    ),
)


@settings(max_examples=150, deadline=None)
@given(VALUES)
def test_any_value_round_trips(item: tuple[str, Any]) -> None:
    kind, value = item
    s = Session()
    if kind == "string":
        s.run("SET", "src", value)
        read: tuple[Any, ...] = ("GET",)
    elif kind == "list":
        s.run("RPUSH", "src", *value)
        read = ("LRANGE", 0, -1)
    elif kind == "hash":
        s.run("HSET", "src", *[x for kv in value.items() for x in kv])
        read = ("HGETALL",)
    elif kind == "set":
        s.run("SADD", "src", *value)
        read = ("SMEMBERS",)
    else:
        s.run("ZADD", "src", *[x for m, sc in value.items() for x in (repr(sc), m)])
        read = ("ZRANGE", 0, -1, "WITHSCORES")
    payload = s.run("DUMP", "src")
    assert s.run("RESTORE", "dst", 0, payload) == b"OK"
    assert read_back(s, "dst", read) == read_back(s, "src", read)
    assert s.run("OBJECT", "ENCODING", "dst") == s.run("OBJECT", "ENCODING", "src")
    if same_order(s, "dst"):
        assert s.run("DUMP", "dst") == payload


def test_restore_converts_to_the_encoding_the_limits_allow(s: Session) -> None:
    """A listpack payload over this node's limits loads as a hashtable / skiplist."""
    big = Session(make_server("--hash-max-listpack-entries", "1000"))
    big.run("HSET", "h", *[x for i in range(600) for x in (f"f{i}", "v")])
    big.run("ZADD", "z", *[x for i in range(5) for x in (str(i), f"m{i}")])
    assert big.run("OBJECT", "ENCODING", "h") == b"listpack"
    small = Session(make_server("--zset-max-listpack-entries", "3"))
    assert small.run("RESTORE", "h", 0, big.run("DUMP", "h")) == b"OK"
    assert small.run("RESTORE", "z", 0, big.run("DUMP", "z")) == b"OK"
    assert small.run("OBJECT", "ENCODING", "h") == b"hashtable"
    assert small.run("OBJECT", "ENCODING", "z") == b"skiplist"
    assert small.run("HLEN", "h") == 600
    assert small.run("ZCARD", "z") == 5


# -- RESTORE: replies, dirty counter, propagation --------------------------------------


def test_restore_with_ttl_zero_propagates_unchanged(s: Session) -> None:
    assert s.run("restore", "k", 0, HELLO) == b"OK"
    assert s.run("GET", "k") == b"hello"
    assert s.run("PTTL", "k") == -1
    assert s.server.dirty == 1
    assert s.propagated() == [[b"restore", b"k", b"0", HELLO]]


def test_relative_ttl_propagates_as_absolute_with_absttl_last(s: Session) -> None:
    assert s.run("RESTORE", "k", 1500, HELLO, "replace", "IDLETIME", 5) == b"OK"
    assert s.server.dbs[0].expires[b"k"] == NOW + 1500
    assert s.propagated() == [
        [b"RESTORE", b"k", b"%d" % (NOW + 1500), HELLO, b"replace", b"IDLETIME", b"5", b"ABSTTL"]
    ]


def test_absttl_propagates_unchanged(s: Session) -> None:
    when = NOW + 10_000
    assert s.run("RESTORE", "k", when, HELLO, "absttl") == b"OK"
    assert s.run("PEXPIRETIME", "k") == when
    assert s.propagated() == [[b"RESTORE", b"k", b"%d" % when, HELLO, b"absttl"]]


def test_absttl_max_is_kept(s: Session) -> None:
    assert s.run("RESTORE", "k", LLONG_MAX, HELLO, "ABSTTL") == b"OK"
    assert s.run("PEXPIRETIME", "k") == LLONG_MAX


@pytest.mark.parametrize("argv", [(1, "ABSTTL"), (NOW, "ABSTTL"), (LLONG_MAX,)])
def test_ttl_already_past_creates_nothing_and_propagates_nothing(
    s: Session, argv: tuple[Any, ...]
) -> None:
    """ABSTTL in the past, or a relative TTL whose sum with now wraps negative as in C."""
    assert s.run("RESTORE", "k", argv[0], HELLO, *argv[1:]) == b"OK"
    assert s.run("EXISTS", "k") == 0
    assert s.server.dirty == 0
    assert s.propagated() == []


def test_replace_with_a_past_ttl_deletes_and_propagates_del(s: Session) -> None:
    s.run("RPUSH", "k", "a")
    s.propagated()
    assert s.run("RESTORE", "k", 1, HELLO, "ABSTTL", "REPLACE") == b"OK"
    assert s.run("EXISTS", "k") == 0
    assert s.server.dirty == 2
    assert s.propagated() == [[b"DEL", b"k"]]


def test_replace_overwrites_any_type_and_drops_the_old_ttl(s: Session) -> None:
    s.run("ZADD", "k", "1", "m")
    s.run("PEXPIRE", "k", 100_000)
    assert s.run("RESTORE", "k", 0, HELLO, "REPLACE") == b"OK"
    assert s.run("GET", "k") == b"hello"
    assert s.run("PTTL", "k") == -1


def test_a_replica_keeps_a_key_whose_ttl_is_past(s: Session) -> None:
    s.server.masterhost = "127.0.0.1"
    s.client.kind = "master"
    assert s.run("RESTORE", "k", 1, HELLO, "ABSTTL") == b"OK"
    assert s.server.dbs[0].data[b"k"] == b"hello"
    assert s.server.dbs[0].expires[b"k"] == 1


def test_an_expired_key_does_not_block_restore_and_its_del_comes_first(s: Session) -> None:
    db = s.server.dbs[0]
    db.add(b"k", b"old")
    db.set_expire(b"k", NOW - 1)
    assert s.run("RESTORE", "k", 0, HELLO) == b"OK"
    assert s.run("GET", "k") == b"hello"
    assert s.propagated() == [
        [b"MULTI"],
        [b"DEL", b"k"],
        [b"RESTORE", b"k", b"0", HELLO],
        [b"EXEC"],
    ]


def test_restore_asking_is_restore(s: Session) -> None:
    assert s.run("RESTORE-ASKING", "k", 0, HELLO) == b"OK"
    assert err(s.run("RESTORE-ASKING", "k", 0, HELLO)) == BUSYKEY
    assert s.run("GET", "k") == b"hello"


def test_restore_inside_multi(s: Session) -> None:
    s.run("MULTI")
    s.run("RESTORE", "k", 0, HELLO)
    s.run("RESTORE", "k", 0, HELLO)
    replies = s.run("EXEC")
    assert replies[0] == b"OK"
    assert str(replies[1]) == BUSYKEY


# -- RESTORE: errors, in Redis's order ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("k", 0, HELLO, "bogus"), "ERR syntax error"),
        (("k", 0, HELLO, "IDLETIME"), "ERR syntax error"),
        (("k", 0, HELLO, "FREQ"), "ERR syntax error"),
        (("k", 0, HELLO, "FREQ", 1, "IDLETIME", 2), "ERR syntax error"),
        (("k", 0, HELLO, "IDLETIME", 2, "FREQ", 2), "ERR syntax error"),
        (("k", 0, HELLO, "IDLETIME", -1), "ERR Invalid IDLETIME value, must be >= 0"),
        (("k", 0, HELLO, "IDLETIME", "x"), "ERR value is not an integer or out of range"),
        (("k", 0, HELLO, "IDLETIME", "01"), "ERR value is not an integer or out of range"),
        (("k", 0, HELLO, "FREQ", 256), "ERR Invalid FREQ value, must be >= 0 and <= 255"),
        (("k", 0, HELLO, "FREQ", -1), "ERR Invalid FREQ value, must be >= 0 and <= 255"),
        (("k", 0, HELLO, "FREQ", "1.0"), "ERR value is not an integer or out of range"),
        (("k", -1, HELLO), "ERR Invalid TTL value, must be >= 0"),
        (("k", "abc", HELLO), "ERR value is not an integer or out of range"),
        (("k", "9223372036854775808", HELLO), "ERR value is not an integer or out of range"),
        # The options are checked before the TTL, the TTL before the payload.
        (("k", -1, HELLO, "FREQ", 300), "ERR Invalid FREQ value, must be >= 0 and <= 255"),
        (("k", -1, b"junk", "REPLACE"), "ERR Invalid TTL value, must be >= 0"),
        (("k", 0, b"junk"), BAD_CHECKSUM),
    ],
)
def test_restore_errors(s: Session, args: tuple[Any, ...], message: str) -> None:
    assert err(s.run("RESTORE", *args)) == message
    assert s.run("EXISTS", "k") == 0
    assert s.server.dirty == 0
    assert s.propagated() == []


def test_busykey_comes_after_the_options_and_before_the_ttl(s: Session) -> None:
    s.run("SET", "k", "v")
    assert err(s.run("RESTORE", "k", 0, HELLO, "bogus")) == "ERR syntax error"
    assert err(s.run("RESTORE", "k", -1, b"junk")) == BUSYKEY
    assert err(s.run("RESTORE", "k", "abc", HELLO)) == BUSYKEY
    assert s.run("GET", "k") == b"v"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (HELLO[:-1] + bytes([HELLO[-1] ^ 1]), BAD_CHECKSUM),  # a flipped CRC byte
        (HELLO[:3] + b"H" + HELLO[4:], BAD_CHECKSUM),  # a flipped body byte
        (with_footer(HELLO[:-10], version=11), BAD_CHECKSUM),  # from a newer Redis
        (HELLO[:-1], BAD_CHECKSUM),  # truncated
        (HELLO[-10:-1], BAD_CHECKSUM),  # shorter than the footer
        (b"", BAD_CHECKSUM),
        (with_footer(b"\x00\x40hel"), BAD_FORMAT),  # a string longer than the payload
        (with_footer(b"\x00"), BAD_FORMAT),  # a type and no value
        (with_footer(b"\x30\x01x"), BAD_FORMAT),  # an unknown type
        (with_footer(b"\x10\x07\x07\x00\x00\x00\x00\x00\xff"), BAD_FORMAT),  # empty hash
        (with_footer(b"\x02\x00"), BAD_FORMAT),  # empty set
    ],
)
def test_corrupt_payloads(s: Session, payload: bytes, message: str) -> None:
    assert err(s.run("RESTORE", "k", 0, payload)) == message
    assert s.run("EXISTS", "k") == 0


def test_an_older_rdb_version_is_accepted(s: Session) -> None:
    assert s.run("RESTORE", "k", 0, with_footer(HELLO[:-10], version=9)) == b"OK"
    assert s.run("GET", "k") == b"hello"


# -- WATCH and blocked clients --------------------------------------------------------------


def two_sessions() -> tuple[Session, Session]:
    server = make_server()
    return Session(server), Session(server)


@pytest.mark.parametrize(
    "argv",
    [
        ("RESTORE", "k", 0, HELLO),
        ("RESTORE", "k", 0, HELLO, "REPLACE"),
        ("RESTORE", "k", 1, HELLO, "REPLACE", "ABSTTL"),  # deleted, nothing created
    ],
)
def test_restore_breaks_a_watch(argv: tuple[Any, ...]) -> None:
    watcher, writer = two_sessions()
    if "REPLACE" in argv:
        writer.run("SET", "k", "old")
    watcher.run("WATCH", "k")
    assert writer.run(*argv) == b"OK"
    watcher.run("MULTI")
    watcher.run("GET", "k")
    assert watcher.run("EXEC") is None


def test_restore_that_fails_or_creates_nothing_leaves_a_watch_alone() -> None:
    watcher, writer = two_sessions()
    writer.run("SET", "k", "old")
    watcher.run("WATCH", "k", "gone")
    writer.run("RESTORE", "k", 0, HELLO)  # BUSYKEY
    writer.run("RESTORE", "gone", 1, HELLO, "ABSTTL")  # already expired
    watcher.run("MULTI")
    watcher.run("GET", "k")
    assert watcher.run("EXEC") == [b"old"]


def test_restored_list_serves_a_blocked_client() -> None:
    waiter, writer = two_sessions()
    writer.run("RPUSH", "src", "a", "b")
    payload = writer.run("DUMP", "src")
    assert waiter.raw("BLPOP", "q", 0) == b""
    assert writer.run("RESTORE", "q", 0, payload) == b"OK"
    assert pending(waiter) == [b"q", b"a"]
    assert writer.run("LRANGE", "q", 0, -1) == [b"b"]


def test_restored_zset_serves_a_blocked_client() -> None:
    waiter, writer = two_sessions()
    writer.run("ZADD", "src", "2", "b", "1", "a")
    payload = writer.run("DUMP", "src")
    assert waiter.raw("BZPOPMIN", "z", 0) == b""
    assert writer.run("RESTORE", "z", 0, payload) == b"OK"
    assert pending(waiter) == [b"z", b"a", b"1"]


# -- IDLETIME and FREQ ----------------------------------------------------------------------


def test_idletime_sets_the_idle_time_under_an_lru_policy(s: Session) -> None:
    assert s.run("RESTORE", "k", 0, HELLO, "IDLETIME", 100) == b"OK"
    assert s.run("OBJECT", "IDLETIME", "k") == 100
    assert s.run("RESTORE", "j", 0, HELLO, "FREQ", 100) == b"OK"  # ignored without LFU
    assert s.run("OBJECT", "IDLETIME", "j") == 0


def test_freq_sets_the_counter_under_an_lfu_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sansio, "mstime", lambda: NOW)
    s = Session(make_server("--maxmemory-policy", "allkeys-lfu"))
    for freq in (0, 7, 255):
        assert s.run("RESTORE", f"k{freq}", 0, HELLO, "FREQ", freq) == b"OK"
        assert s.run("OBJECT", "FREQ", f"k{freq}") == freq
    assert s.run("RESTORE", "j", 0, HELLO, "IDLETIME", 100) == b"OK"  # ignored under LFU
    assert s.run("OBJECT", "FREQ", "j") == 5


def test_idletime_follows_redis_s_24_bit_clock_arithmetic() -> None:
    """Values observed on redis-server 7.0.15 (OBJECT IDLETIME right after RESTORE)."""
    clock = (NOW // 1000) & LRU_CLOCK_MAX
    expected = {
        0: 0,
        100: 100,
        clock: clock,
        clock + 1: clock + 1,
        clock + 100: clock + 100,
        LRU_CLOCK_MAX: 0,
        LRU_CLOCK_MAX + 1: 1,
        LRU_CLOCK_MAX + 6: 6,
        2**25: 1,
        LLONG_MAX: LRU_CLOCK_MAX - 1,  # idle * 1000 wraps to -1000
    }
    for idle, shown in expected.items():
        assert restored_idle_seconds(idle, NOW) == shown, idle


def test_huge_idletime_is_reported_as_redis_does(s: Session) -> None:
    assert s.run("RESTORE", "k", 0, HELLO, "IDLETIME", LLONG_MAX) == b"OK"
    assert s.run("OBJECT", "IDLETIME", "k") == LRU_CLOCK_MAX - 1


def test_wrap64() -> None:
    assert wrap64(LLONG_MAX + 1) == -(2**63)
    assert wrap64(LLONG_MAX * 1000) == -1000
    assert wrap64(-5) == -5
