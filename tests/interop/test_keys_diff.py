"""Generic key commands against real Redis 7.0, byte for byte (sorted where Redis's order is
its hash table's), plus the propagated vectors compared with the AOF Redis writes."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Differ
from tests.harness import decode
from tests.interop.test_strings_diff import FAR_MS, FAR_S, aof_redis, assert_propagation_matches_aof

__all__ = ["aof_redis"]  # the fixture, shared with the strings tests

pytestmark = pytest.mark.interop


def fill(d: Differ) -> None:
    d.check("SET", "s", "v")
    d.check("RPUSH", "l", "a", "b")
    d.check("SADD", "st", "m")
    d.check("HSET", "h", "f", "v")
    d.check("ZADD", "z", "1", "m")


def sorted_reply(d: Differ, *argv: str) -> None:
    ours, theirs = d.both(*argv)
    assert sorted(decode(ours)) == sorted(decode(theirs)), argv


# -- existence, types, deletion ------------------------------------------------


def test_del_unlink_exists_touch(differ: Differ) -> None:
    d = differ
    fill(d)
    d.check("EXISTS", "s", "s", "l", "missing")
    d.check("TOUCH", "s", "h", "missing", "h")
    d.check("DEL", "s", "missing", "s")
    d.check("DEL", "missing")
    d.check("UNLINK", "l", "st", "st", "none")
    d.check("EXISTS", "s", "l", "st")
    d.check("DEL", "h", "z")
    d.check("DBSIZE")


def test_type_of_every_kind(differ: Differ) -> None:
    d = differ
    fill(d)
    for key in ("s", "l", "st", "h", "z", "missing"):
        d.check("TYPE", key)


def test_expired_key_is_gone_for_every_lookup(differ: Differ) -> None:
    d = differ
    for cmd in [("GET", "k"), ("EXISTS", "k"), ("TYPE", "k"), ("TTL", "k"), ("DEL", "k")]:
        d.check("SET", "k", "v", "PX", "30")
        time.sleep(0.06)
        d.check(*cmd)
        d.check("DBSIZE")


# -- rename and copy -------------------------------------------------------------


def test_rename_and_renamenx(differ: Differ) -> None:
    d = differ
    d.check("RENAME", "missing", "x")
    d.check("RENAMENX", "missing", "x")
    d.check("RENAME", "missing", "missing")
    d.check("SET", "a", "1")
    d.check("RENAME", "a", "a")
    d.check("RENAMENX", "a", "a")
    d.check("RENAME", "a", "b")
    d.check("MGET", "a", "b")
    d.check("SET", "c", "2", "PXAT", str(FAR_MS))
    d.check("RENAME", "c", "b")
    d.check("GET", "b")
    d.check("PEXPIRETIME", "b")
    d.check("SET", "d", "3")
    d.check("RENAMENX", "d", "b")
    d.check("RENAMENX", "d", "e")
    d.check("MGET", "b", "d", "e")
    d.check("RPUSH", "l", "x")
    d.check("RENAME", "l", "e")
    d.check("TYPE", "e")
    d.check("LRANGE", "e", "0", "-1")


def test_copy_options_and_errors(differ: Differ) -> None:
    d = differ
    d.check("SET", "a", "1", "PXAT", str(FAR_MS))
    for args in [
        ("a", "a"),
        ("a", "b", "DB"),
        ("a", "b", "DB", "x"),
        ("a", "b", "DB", "16"),
        ("a", "b", "DB", "-1"),
        ("a", "b", "DB", "4294967296"),
        ("a", "b", "DB", "99999999999999999999"),
        ("a", "b", "FOO"),
        ("a", "a", "DB", "0"),
        ("missing", "b"),
        ("missing", "missing"),
    ]:
        d.check("COPY", *args)
    d.check("COPY", "a", "b")
    d.check("PEXPIRETIME", "b")
    d.check("COPY", "a", "b")
    d.check("SET", "a", "2")
    d.check("COPY", "a", "b", "REPLACE", "replace")
    d.check("GET", "b")
    d.check("PEXPIRETIME", "b")
    d.check("COPY", "a", "a", "DB", "3")
    d.check("COPY", "a", "x", "db", "3", "DB", "4")
    d.check("SELECT", "4")
    d.check("GET", "x")
    d.check("SELECT", "3")
    d.check("GET", "a")
    d.check("FLUSHDB")
    d.check("SELECT", "0")


def test_copy_duplicates_collections(differ: Differ) -> None:
    d = differ
    fill(d)
    for key in ("l", "st", "h", "z"):
        d.check("COPY", key, key + "2")
        d.check("TYPE", key + "2")
    d.check("RPUSH", "l2", "c")
    d.check("LRANGE", "l", "0", "-1")
    d.check("LRANGE", "l2", "0", "-1")
    d.check("SADD", "st2", "n")
    d.check("SCARD", "st")
    d.check("HSET", "h2", "g", "w")
    d.check("HLEN", "h")
    d.check("ZADD", "z2", "2", "n")
    d.check("ZCARD", "z")


# -- KEYS, SCAN, RANDOMKEY ---------------------------------------------------------

KEY_NAMES = [
    "hello",
    "hallo",
    "hxllo",
    "hllo",
    "heeeello",
    "h*llo",
    "h?llo",
    "h[a]llo",
    "a\\b",
    "user:1",
    "user:2",
    "user:10",
    "",
    "UPPER",
    "x-y",
    "^caret",
    "]bracket",
]

PATTERNS = [
    "*",
    "h?llo",
    "h*llo",
    "h[ae]llo",
    "h[^e]llo",
    "h[a-b]llo",
    "h[b-a]llo",
    "h\\*llo",
    "h\\?llo",
    "user:?",
    "user:*",
    "*[0-9]",
    "[",
    "h[",
    "h[a",
    "\\",
    "a\\\\b",
    "",
    "upper",
    "[U]*",
    "*-*",
    "[\\^]*",
    "[]]*",
    "**o",
    "h[\\]]llo",
]


def test_keys_patterns(differ: Differ) -> None:
    d = differ
    for name in KEY_NAMES:
        d.check("SET", name, "v")
    for pattern in PATTERNS:
        sorted_reply(d, "KEYS", pattern)
    d.check("KEYS", "nomatch*")


def test_keys_skips_expired_keys(differ: Differ) -> None:
    d = differ
    d.check("SET", "live", "v")
    d.check("SET", "dead", "v", "PX", "20")
    time.sleep(0.05)
    d.check("KEYS", "*")


def full_scan(client, *options: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    cursor = b"0"
    seen: set[bytes] = set()
    for _ in range(10_000):
        cursor, keys = decode(client.call("SCAN", cursor, *options))
        seen.update(keys)
        if cursor == b"0":
            return sorted(seen)
    raise AssertionError("SCAN did not finish")


@pytest.mark.parametrize(
    "options",
    [
        (),
        ("COUNT", "1"),
        ("COUNT", "1000"),
        ("MATCH", "k1*"),
        ("MATCH", "*"),
        ("TYPE", "list"),
        ("TYPE", "STRING"),
        ("TYPE", "nosuchtype"),
        ("MATCH", "k2*", "TYPE", "hash", "COUNT", "3"),
        ("count", "5", "match", "*9"),
    ],
)
def test_scan_full_iteration_matches(differ: Differ, options: tuple[str, ...]) -> None:
    d = differ
    for i in range(300):
        d.both("SET", f"k{i}", "v")
    for i in range(30):
        d.both("RPUSH", f"k{i}list", "a")
        d.both("HSET", f"k{i}hash", "f", "v")
    assert full_scan(d.keel, *options) == full_scan(d.real, *options)


def test_scan_errors(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for cursor in ["abc", " 1", "1 ", "0x1", "18446744073709551616", "-", "+", "1.0"]:
        d.check("SCAN", cursor)
    for options in [
        ("COUNT", "0"),
        ("COUNT", "-1"),
        ("COUNT", "x"),
        ("COUNT",),
        ("MATCH",),
        ("TYPE",),
        ("BOGUS", "1"),
        ("COUNT", "9223372036854775808"),
    ]:
        d.check("SCAN", "0", *options)


def test_scan_cursor_edge_forms_are_accepted(differ: Differ) -> None:
    """strtoul accepts "", "+0", "-0" and wraps "-1"; Redis answers a normal page for each."""
    d = differ
    for cursor in ["", "+0", "-0", "-1", "18446744073709551615", "00"]:
        ours, theirs = d.both("SCAN", cursor)
        assert ours[:1] == theirs[:1] == b"*", (cursor, ours, theirs)


def test_scan_deletes_expired_keys(differ: Differ) -> None:
    d = differ
    d.check("SET", "dead", "v", "PX", "20")
    d.check("SET", "live", "v")
    time.sleep(0.05)
    assert full_scan(d.keel) == full_scan(d.real) == [b"live"]
    d.check("DBSIZE")


def test_randomkey(differ: Differ) -> None:
    d = differ
    d.check("RANDOMKEY")
    d.check("SET", "only", "v")
    d.check("RANDOMKEY")
    d.check("SET", "dead", "v", "PX", "20")
    time.sleep(0.05)
    for _ in range(10):
        d.check("RANDOMKEY")


# -- expiry -------------------------------------------------------------------------


def test_expire_option_errors(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        for args in [
            ("100", "NX", "XX"),
            ("100", "nx", "gt"),
            ("100", "LT", "NX"),
            ("100", "GT", "LT"),
            ("100", "XX", "GT", "LT"),
            ("100", "FOO"),
            ("abc", "FOO"),
            ("abc", "NX", "XX"),
            ("abc",),
            ("1.5",),
            ("",),
            ("9223372036854775808",),
            ("9223372036854775807",),
            ("-9223372036854775808",),
            ("9223372036854775",),
            ("9223372036854776",),
            ("-9223372036854775",),
            ("-9223372036854776",),
        ]:
            d.check(cmd, "k", *args)
            d.check(cmd, "missing", *args)
        d.both("SET", "k", "v")


def test_expire_nx_xx_gt_lt_semantics(differ: Differ) -> None:
    d = differ
    base = str(FAR_S)
    for opts in [("NX",), ("XX",), ("GT",), ("LT",), ("XX", "GT"), ("XX", "LT"), ("GT", "XX")]:
        d.both("DEL", "p", "v")
        d.both("SET", "p", "1")
        d.both("SET", "v", "1", "EXAT", base)
        for key in ("p", "v", "missing"):
            for when in (str(FAR_S - 10), base, str(FAR_S + 10)):
                d.check("EXPIREAT", key, when, *opts)
                d.check("EXPIRETIME", key)


def test_expire_in_the_past_deletes(differ: Differ) -> None:
    d = differ
    for cmd, value in [
        ("EXPIRE", "-1"),
        ("EXPIRE", "0"),
        ("PEXPIRE", "-100"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "0"),
        ("PEXPIREAT", "-9223372036854775808"),
    ]:
        d.check("SET", "k", "v")
        d.check(cmd, "k", value)
        d.check("EXISTS", "k")
    d.check("SET", "k", "v", "EXAT", str(FAR_S))
    d.check("EXPIRE", "k", "-1", "GT")
    d.check("EXPIRE", "k", "-1", "LT")
    d.check("EXISTS", "k")


def test_ttl_family_and_persist(differ: Differ) -> None:
    d = differ
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        d.check(cmd, "missing")
    d.check("SET", "k", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        d.check(cmd, "k")
    d.check("PEXPIREAT", "k", str(FAR_MS))
    d.check("EXPIRETIME", "k")
    d.check("PEXPIRETIME", "k")
    d.check("EXPIREAT", "k", str(FAR_S))
    d.check("EXPIRETIME", "k")
    d.check("PEXPIRETIME", "k")
    d.check("EXPIRE", "k", "1000")
    d.check("TTL", "k")
    d.check("PEXPIRE", "k", "100000")
    d.check("TTL", "k")
    d.check("PERSIST", "k")
    d.check("PERSIST", "k")
    d.check("TTL", "k")
    d.check("PEXPIREAT", "k", "9223372036854775807")
    d.check("PEXPIRETIME", "k")
    d.check("EXPIRETIME", "k")
    d.check("SET", "k", "v", "KEEPTTL")
    d.check("PEXPIRETIME", "k")
    d.check("SET", "k", "v")
    d.check("TTL", "k")


# -- propagation ------------------------------------------------------------------------

KEYS_SCRIPT: list[tuple[str, ...]] = [
    ("SET", "a", "1"),
    ("SET", "b", "2"),
    ("DEL", "a", "missing"),
    ("DEL", "missing"),
    ("UNLINK", "b"),
    ("SET", "a", "1"),
    ("EXPIRE", "a", "1000"),
    ("PEXPIRE", "a", "100000", "xx"),
    ("EXPIREAT", "a", str(FAR_S), "GT"),
    ("PEXPIREAT", "a", str(FAR_MS), "lt"),
    ("EXPIRE", "a", "100", "NX"),
    ("EXPIRE", "missing", "100"),
    ("PERSIST", "a"),
    ("PERSIST", "a"),
    ("RENAME", "a", "b"),
    ("RENAMENX", "b", "c"),
    ("RENAME", "c", "c"),
    ("COPY", "c", "d"),
    ("COPY", "c", "d"),
    ("COPY", "c", "d", "REPLACE"),
    ("COPY", "c", "d", "DB", "2"),
    ("EXPIRE", "d", "-1"),
    ("PEXPIREAT", "c", "1"),
    ("SET", "t", "v"),
    ("TOUCH", "t"),
    ("EXISTS", "t"),
    ("TTL", "t"),
    ("KEYS", "*"),
]


def test_keys_propagation_matches_redis_aof(aof_redis) -> None:  # type: ignore[no-untyped-def]
    assert_propagation_matches_aof(aof_redis, KEYS_SCRIPT)
