"""Sorted sets without sockets: the ZSet value, argument parsing, replies in both protocols,
propagated vectors, WATCH and dirty bookkeeping, blocked clients, and a model-based test."""

from __future__ import annotations

import math
from typing import Any

import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.propagate import EXEC, MULTI
from node.resp import NULL_ARRAY
from node.server import Server
from node.zset import (
    LEX_MAX,
    LEX_MIN,
    LEX_VALUE,
    ZSet,
    listpack_score_text,
    parse_lex_range,
    parse_score,
    parse_score_range,
)
from tests.unit.sansio import Session, make_server

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def err(reply: Any) -> str:
    assert isinstance(reply, hiredis.ReplyError), reply
    return str(reply)


def pending(s: Session) -> Any:
    """The reply queued for a (formerly) blocked session, decoded; None if nothing yet."""
    data = b"".join(s.client.out)
    s.client.out.clear()
    if not data:
        return None
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()


def sessions(n: int, *overrides: str) -> tuple[Server, list[Session]]:
    server = make_server(*overrides)
    return server, [Session(server) for _ in range(n)]


# -- the ZSet value ---------------------------------------------------------------------


def test_zset_orders_by_score_then_member_bytes() -> None:
    z = ZSet()
    assert z.add(b"b", 1.0) and z.add(b"a", 1.0) and z.add(b"\xff", 0.5) and z.add(b"", 1.0)
    assert not z.add(b"a", 1.0)
    assert list(z) == [(0.5, b"\xff"), (1.0, b""), (1.0, b"a"), (1.0, b"b")]
    assert z.rank(b"a") == 2 and z.rank(b"nope") is None
    z.update(b"a", 1.0, -1.0)
    assert z.rank(b"a") == 0 and z.score(b"a") == -1.0
    assert z.pop(True) == (1.0, b"b") and z.pop(False) == (-1.0, b"a")
    assert len(z) == 2 and b"b" not in z


def test_listpack_zsets_store_negative_zero_as_zero() -> None:
    lp, sl = ZSet(listpack=True), ZSet()
    for z in (lp, sl):
        z.insert(b"a", -0.0)
        z.add(b"b", -0.0)
    assert [math.copysign(1, s) for s, _ in lp] == [1, 1]
    assert [math.copysign(1, s) for s, _ in sl] == [-1, -1]
    built = ZSet.from_scores({b"x": -0.0}, listpack=True)
    assert math.copysign(1, built.scores[b"x"]) == 1
    assert lp.encoding == b"listpack" and sl.encoding == b"skiplist"


def test_delete_range_and_copy_are_independent() -> None:
    z = ZSet()
    for i in range(10):
        z.insert(b"m%d" % i, float(i))
    dup = z.copy()
    assert z.delete_range(2, 5) == 3 and z.delete_range(4, 4) == 0
    assert [m for _, m in z] == [b"m0", b"m1", b"m5", b"m6", b"m7", b"m8", b"m9"]
    assert len(dup) == 10 and dup.scores[b"m3"] == 3.0


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (b"-inf", b"+inf", (0, 6)),
        (b"(-inf", b"(inf", (1, 5)),
        (b"1", b"2", (2, 5)),
        (b"(1", b"2", (4, 5)),
        (b"1", b"(2", (2, 4)),
        (b"(2", b"(2", (5, 4)),
        (b"inf", b"inf", (5, 6)),
        (b"(inf", b"inf", (6, 6)),
        (b"-inf", b"-inf", (0, 1)),
        (b"3", b"1", (5, 4)),
    ],
)
def test_score_bounds(lo: bytes, hi: bytes, expected: tuple[int, int]) -> None:
    z = ZSet()
    for score, member in ((-math.inf, b"n"), (0.0, b"z"), (1, b"a"), (1, b"b"), (2, b"c")):
        z.insert(member, float(score))
    z.insert(b"p", math.inf)
    spec = parse_score_range(lo, hi)
    assert spec is not None
    assert z.score_bounds(spec) == expected


def test_lex_search_is_linear_on_a_listpack_and_a_descent_on_a_skiplist() -> None:
    members = [(1.0, b"a"), (2.0, b"e"), (3.0, b"b"), (4.0, b"bb"), (5.0, b"c")]
    lp, sl = ZSet(listpack=True), ZSet()
    for z in (lp, sl):
        for score, m in members:
            z.insert(m, score)
    spec = parse_lex_range(b"[c", b"[e")
    assert spec is not None
    assert lp.lex_first(spec) == 1  # the first member >= c from the head: e
    assert sl.lex_first(spec) == 4  # a descent that assumes member order lands on c
    assert lp.lex_walk_end(spec, 1) == 5
    same = ZSet()
    for ch in b"abcdefg":
        same.insert(bytes([ch]), 0.0)
    for lo, hi, first, last in (
        (b"[c", b"(f", 2, 4),
        (b"-", b"+", 0, 6),
        (b"(g", b"+", None, None),
    ):
        spec = parse_lex_range(lo, hi)
        assert spec is not None
        assert (same.lex_first(spec), same.lex_last(spec)) == (first, last)
        same.listpack = True
        assert (same.lex_first(spec), same.lex_last(spec)) == (first, last)
        same.listpack = False


# -- argument grammar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"1", 1.0), (b"-2.5", -2.5), (b".5", 0.5), (b"5.", 5.0), (b"+.5e+1", 5.0),
        (b"0x10", 16.0), (b"-0x1.8p1", -3.0), (b"inf", math.inf), (b"-Infinity", -math.inf),
        (b"1e-310", 1e-310), (b"-0", -0.0), (b"00012", 12.0),
        (b"", None), (b" 1", None), (b"1 ", None), (b"1_0", None), (b"nan", None),
        (b"1e400", None), (b"1e-400", None), (b"0x1p-2000", None), (b"0x", None),
        (b"1\x00", None), (b".", None), (b"infinit", None), (b"1e", None),
    ],
)  # fmt: skip
def test_parse_score_is_redis_string2d(raw: bytes, value: float | None) -> None:
    assert parse_score(raw) == value


@pytest.mark.parametrize(
    ("lo", "hi", "parsed"),
    [
        (b"1", b"2", (1.0, False, 2.0, False)),
        (b"(1", b"(2", (1.0, True, 2.0, True)),
        (b"", b"(", (0.0, False, 0.0, True)),
        (b" 1", b"1e400", (1.0, False, math.inf, False)),
        (b"1\x00zz", b"-inf", (1.0, False, -math.inf, False)),
        (b"1 ", b"2", None),
        (b"nan", b"2", None),
        (b"[1", b"2", None),
        (b"1", b"abc", None),
    ],
)
def test_parse_score_range_is_plain_strtod(
    lo: bytes, hi: bytes, parsed: tuple[float, bool, float, bool] | None
) -> None:
    spec = parse_score_range(lo, hi)
    if parsed is None:
        assert spec is None
    else:
        assert spec is not None
        assert (spec.min, spec.minex, spec.max, spec.maxex) == parsed


def test_parse_lex_range_items() -> None:
    spec = parse_lex_range(b"-", b"+")
    assert spec is not None and (spec.min_kind, spec.max_kind) == (LEX_MIN, LEX_MAX)
    spec = parse_lex_range(b"[a", b"(")
    assert spec is not None
    assert (spec.min_kind, spec.min, spec.minex) == (LEX_VALUE, b"a", False)
    assert (spec.max_kind, spec.max, spec.maxex) == (LEX_VALUE, b"", True)
    for bad in (b"a", b"", b"+x", b"-x"):
        assert parse_lex_range(bad, b"+") is None
        assert parse_lex_range(b"-", bad) is None
    for lo, hi, empty in (
        (b"-", b"-", True), (b"+", b"+", True), (b"+", b"[a", True), (b"[a", b"-", True),
        (b"[a", b"[a", False), (b"(a", b"[a", True), (b"[b", b"[a", True), (b"-", b"+", False),
    ):  # fmt: skip
        spec = parse_lex_range(lo, hi)
        assert spec is not None and spec.is_empty() is empty


@pytest.mark.parametrize(
    ("score", "text"),
    [
        (3.0, b"3"), (-0.0, b"0"), (1.1, b"1.1000000000000001"), (math.inf, b"inf"),
        (-math.inf, b"-inf"), (123456789012345678.0, b"123456789012345680"),
        (4611686018427387904.0, b"4611686018427387904"),
        (4611686018427389952.0, b"4.61168601842739e+18"), (1e19, b"1e+19"),
    ],
)  # fmt: skip
def test_listpack_score_text_is_d2string(score: float, text: bytes) -> None:
    assert listpack_score_text(score) == text


# -- ZADD / ZINCRBY ---------------------------------------------------------------------


def test_zadd_counts_added_or_changed_and_propagates_only_changes() -> None:
    s = Session()
    assert s.run("ZADD", "z", 1, "a", 2, "b") == 2
    assert s.run("ZADD", "z", "CH", 1, "a", 3, "b", 4, "c") == 2
    assert s.run("ZADD", "z", "NX", 9, "a") == 0
    assert s.run("ZADD", "z", "XX", 9, "nope") == 0
    assert s.run("ZADD", "z", "GT", "CH", 0, "a", 10, "b") == 1
    assert s.run("ZADD", "z", "LT", "CH", 0, "a", 10, "b") == 1
    assert s.run("ZRANGE", "z", 0, -1, "WITHSCORES") == [b"a", b"0", b"c", b"4", b"b", b"10"]
    assert s.propagated() == [
        [b"ZADD", b"z", b"1", b"a", b"2", b"b"],
        [b"ZADD", b"z", b"CH", b"1", b"a", b"3", b"b", b"4", b"c"],
        [b"ZADD", b"z", b"GT", b"CH", b"0", b"a", b"10", b"b"],
        [b"ZADD", b"z", b"LT", b"CH", b"0", b"a", b"10", b"b"],
    ]
    assert s.server.dirty == 2 + 2 + 1 + 1


def test_zadd_incr_replies_the_new_score_or_null() -> None:
    s = Session()
    assert s.raw("ZADD", "z", "INCR", "1.1", "a") == b"$18\r\n1.1000000000000001\r\n"
    assert s.raw("ZADD", "z", "INCR", "0", "a") == b"$18\r\n1.1000000000000001\r\n"
    assert s.raw("ZADD", "z", "NX", "INCR", "1", "a") == b"$-1\r\n"
    assert s.raw("ZADD", "z", "GT", "INCR", "-1", "a") == b"$-1\r\n"
    assert s.raw("ZADD", "nokey", "XX", "INCR", "1", "a") == b"$-1\r\n"
    assert s.run("EXISTS", "nokey") == 0
    assert s.raw("ZINCRBY", "z", "inf", "a") == b"$3\r\ninf\r\n"
    assert err(s.run("ZINCRBY", "z", "-inf", "a")) == "ERR resulting score is not a number (NaN)"
    assert err(s.run("ZADD", "z", "INCR", "-inf", "a")) == (
        "ERR resulting score is not a number (NaN)"
    )
    assert s.propagated() == [
        [b"ZADD", b"z", b"INCR", b"1.1", b"a"],
        [b"ZINCRBY", b"z", b"inf", b"a"],
    ]
    s3 = Session(s.server, resp3=True)
    assert s3.raw("ZINCRBY", "z", "-1", "b") == b",-1\r\n"
    assert s3.raw("ZADD", "z", "NX", "INCR", "1", "b") == b"_\r\n"


def test_zadd_option_errors() -> None:
    s = Session()
    assert err(s.run("ZADD", "z", "NX", "XX", 1, "a")) == (
        "ERR XX and NX options at the same time are not compatible"
    )
    for opts in (("GT", "LT"), ("GT", "NX"), ("LT", "NX")):
        assert err(s.run("ZADD", "z", *opts, 1, "a")) == (
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        )
    assert err(s.run("ZADD", "z", "INCR", 1, "a", 2, "b")) == (
        "ERR INCR option supports a single increment-element pair"
    )
    assert err(s.run("ZADD", "z", 1, "a", 2)) == "ERR syntax error"
    assert err(s.run("ZADD", "z", "NX", "XX", 1)) == "ERR syntax error"
    assert err(s.run("ZADD", "z", 1, "a", "nan", "b")) == "ERR value is not a valid float"
    assert s.run("EXISTS", "z") == 0
    s.run("SET", "s", "v")
    assert err(s.run("ZADD", "s", 1, "a")) == WRONGTYPE
    # Scores are checked before the key's type, as in Redis.
    assert err(s.run("ZADD", "s", "x", "a")) == "ERR value is not a valid float"
    assert s.propagated() == [[b"SET", b"s", b"v"]]


def test_zadd_creates_listpack_or_skiplist_like_redis() -> None:
    server, (s,) = sessions(1, "--zset-max-listpack-entries", "2", "--zset-max-listpack-value", "3")
    s.run("ZADD", "a", 1, "x", 2, "x", 3, "x")
    s.run("ZADD", "b", 1, "x", 2, "y")
    s.run("ZADD", "c", 1, "long")
    assert server.dbs[0].data[b"a"].listpack and server.dbs[0].data[b"b"].listpack
    assert not server.dbs[0].data[b"c"].listpack
    s.run("ZADD", "b", 3, "z")
    assert not server.dbs[0].data[b"b"].listpack
    s.run("ZREM", "b", "z", "y")
    assert not server.dbs[0].data[b"b"].listpack  # never converted back
    s.run("ZADD", "d", 1, "x")
    s.run("ZADD", "d", 1, "four")
    assert not server.dbs[0].data[b"d"].listpack
    s.run("ZUNIONSTORE", "u", 1, "b")
    assert server.dbs[0].data[b"u"].listpack  # a STORE result that fits is a listpack


# -- replies ----------------------------------------------------------------------------


def test_double_replies_in_resp2_and_resp3() -> None:
    s = Session()
    s.run("ZADD", "z", "1.1", "a", "3", "b", "-0.0", "c", "1e300", "d", "inf", "e", "-inf", "f")
    assert s.raw("ZSCORE", "z", "a") == b"$18\r\n1.1000000000000001\r\n"
    assert s.raw("ZSCORE", "z", "c") == b"$1\r\n0\r\n"  # a listpack keeps no -0
    assert s.raw("ZSCORE", "z", "d") == b"$23\r\n1.0000000000000001e+300\r\n"
    assert s.raw("ZMSCORE", "z", "e", "f", "x") == b"*3\r\n$3\r\ninf\r\n$4\r\n-inf\r\n$-1\r\n"
    s3 = Session(s.server, resp3=True)
    assert s3.raw("ZSCORE", "z", "b") == b",3\r\n"
    assert s3.raw("ZMSCORE", "z", "e", "x") == b"*2\r\n,inf\r\n_\r\n"
    assert s3.raw("ZRANGE", "z", 0, 1, "WITHSCORES") == (
        b"*2\r\n*2\r\n$1\r\nf\r\n,-inf\r\n*2\r\n$1\r\nc\r\n,0\r\n"
    )
    assert s.raw("ZRANGE", "z", 0, 1, "WITHSCORES") == (
        b"*4\r\n$1\r\nf\r\n$4\r\n-inf\r\n$1\r\nc\r\n$1\r\n0\r\n"
    )


def test_skiplist_keeps_negative_zero() -> None:
    server, (s,) = sessions(1, "--zset-max-listpack-entries", "0")
    s.run("ZADD", "z", "-0.0", "a")
    assert s.raw("ZSCORE", "z", "a") == b"$2\r\n-0\r\n"
    assert s.raw("ZSCAN", "z", 0) == b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$2\r\n-0\r\n"


def test_pop_reply_shapes() -> None:
    s = Session()
    s3 = Session(s.server, resp3=True)
    s.run("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert s3.raw("ZPOPMIN", "z") == b"*2\r\n$1\r\na\r\n,1\r\n"
    assert s3.raw("ZPOPMIN", "z", 1) == b"*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    assert s.raw("ZPOPMAX", "z", 1) == b"*2\r\n$1\r\ne\r\n$1\r\n5\r\n"
    assert s3.raw("ZMPOP", 1, "z", "MIN") == b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    assert s.raw("BZPOPMAX", "z", 0) == b"*3\r\n$1\r\nz\r\n$1\r\nd\r\n$1\r\n4\r\n"
    assert s.raw("ZMPOP", 1, "z", "MIN") == b"*-1\r\n"
    assert s3.raw("ZMPOP", 1, "z", "MIN") == b"_\r\n"
    assert s3.raw("ZPOPMIN", "z", 3) == b"*0\r\n"
    assert err(s.run("ZPOPMIN", "z", -1)) == "ERR value is out of range, must be positive"
    assert err(s.run("ZPOPMIN", "z", 1, 2)) == "ERR syntax error"


def test_zrandmember_whole_set_comes_from_the_highest_rank() -> None:
    s = Session()
    s.run("ZADD", "z", 1, "a", 2, "b", 3, "c")
    assert s.run("ZRANDMEMBER", "z", 3) == [b"c", b"b", b"a"]
    assert s.run("ZRANDMEMBER", "z", 9, "WITHSCORES") == [b"c", b"3", b"b", b"2", b"a", b"1"]
    picks = s.run("ZRANDMEMBER", "z", 2)
    assert len(set(picks)) == 2 and set(picks) <= {b"a", b"b", b"c"}
    assert len(s.run("ZRANDMEMBER", "z", -7)) == 7
    assert s.run("ZRANDMEMBER", "z") in (b"a", b"b", b"c")
    s3 = Session(s.server, resp3=True)
    pairs = s3.run("ZRANDMEMBER", "z", -4, "WITHSCORES")
    assert len(pairs) == 4 and all(len(p) == 2 and isinstance(p[1], float) for p in pairs)


def test_zscan_small_is_whole_and_large_uses_a_cursor() -> None:
    s = Session()
    s.run("ZADD", "z", 1, "a", 2, "b")
    assert s.run("ZSCAN", "z", 99) == [b"0", [b"a", b"1", b"b", b"2"]]
    big = [x for i in range(200) for x in (i, f"m{i}")]
    s.run("ZADD", "big", *big)
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    calls = 0
    while True:
        cursor, items = s.run("ZSCAN", "big", cursor, "COUNT", 50)
        seen.update(zip(items[::2], items[1::2], strict=True))
        calls += 1
        if cursor == b"0":
            break
    assert calls > 1 and len(seen) == 200 and seen[b"m7"] == b"7"
    assert s.run("ZSCAN", "big", 0, "MATCH", "m19*", "COUNT", 1000) == [
        b"0",
        [b"m19", b"19", b"m190", b"190", b"m191", b"191", b"m192", b"192", b"m193", b"193"]
        + [b"m194", b"194", b"m195", b"195", b"m196", b"196", b"m197", b"197"]
        + [b"m198", b"198", b"m199", b"199"],
    ]


# -- propagation of rewritten commands -----------------------------------------------------


def test_pops_propagate_zpop_forms() -> None:
    s = Session()
    s.run("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    s.propagated()
    s.run("zpopmin", "z")
    s.run("ZPOPMAX", "z", 0)
    s.run("ZPOPMAX", "nokey")
    s.run("ZMPOP", 1, "z", "MIN")
    s.run("BZPOPMAX", "nokey", "z", 0)
    s.run("ZMPOP", 2, "nokey", "z", "MAX", "COUNT", 10)
    assert s.propagated() == [
        [b"zpopmin", b"z"],
        [b"ZPOPMIN", b"z", b"1"],
        [b"ZPOPMAX", b"z"],
        [b"ZPOPMAX", b"z", b"2"],
    ]
    assert s.run("EXISTS", "z") == 0


def test_store_commands_propagate_as_given_even_when_they_only_delete() -> None:
    s = Session()
    s.run("ZADD", "a", 1, "x")
    s.propagated()
    dirty = s.server.dirty
    s.run("ZUNIONSTORE", "dst", 1, "a")
    s.run("ZINTERSTORE", "dst", 2, "a", "nokey")
    s.run("ZINTERSTORE", "dst", 2, "a", "nokey")
    s.run("ZRANGESTORE", "dst2", "a", 5, 10)
    assert s.propagated() == [
        [b"ZUNIONSTORE", b"dst", b"1", b"a"],
        [b"ZINTERSTORE", b"dst", b"2", b"a", b"nokey"],
    ]
    assert s.server.dirty == dirty + 2


def test_noops_propagate_nothing_and_leave_watchers_alone() -> None:
    server, (s, watcher) = sessions(2)
    s.run("ZADD", "z", 1, "a", 2, "b")
    s.propagated()
    watcher.run("WATCH", "z")
    for argv in (
        ("ZADD", "z", "NX", 5, "a"),
        ("ZADD", "z", 1, "a"),
        ("ZADD", "z", "GT", 0, "a"),
        ("ZINCRBY", "z", "x", "a"),
        ("ZREM", "z", "nope"),
        ("ZREMRANGEBYSCORE", "z", 10, 20),
        ("ZREMRANGEBYRANK", "z", 5, 9),
        ("ZREMRANGEBYLEX", "z", "(zz", "+"),
        ("ZPOPMIN", "z", 0),
        ("ZRANGESTORE", "nokey2", "nokey", 0, -1),
    ):
        s.run(*argv)
    assert s.propagated() == []
    watcher.run("MULTI")
    watcher.run("PING")
    assert watcher.run("EXEC") == [b"PONG"]
    watcher.run("WATCH", "z")
    s.run("ZINCRBY", "z", 1, "a")
    watcher.run("MULTI")
    assert watcher.run("EXEC") is None


def test_dirty_counts_each_change() -> None:
    s = Session()
    base = s.server.dirty
    s.run("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d")
    s.run("ZREM", "z", "a", "b", "nope")
    s.run("ZPOPMIN", "z", 5)
    assert s.server.dirty == base + 4 + 2 + 2


# -- blocked clients -------------------------------------------------------------------


def test_blocked_bzpopmin_is_served_by_zadd_and_propagates_zpopmin() -> None:
    server, (waiter, writer) = sessions(2)
    assert waiter.raw("BZPOPMIN", "q", 0) == b""
    assert server.blocking.blocked_clients == 1
    assert writer.run("ZADD", "q", 2, "b", 1, "a") == 2
    assert pending(waiter) == [b"q", b"a", b"1"]
    assert server.blocking.blocked_clients == 0 and server.blocking.waiting == {}
    assert writer.propagated() == [[b"ZADD", b"q", b"2", b"b", b"1", b"a"], [b"ZPOPMIN", b"q"]]


def test_blocked_clients_are_served_in_arrival_order() -> None:
    server, (a, b, c, writer) = sessions(4)
    a.raw("BZPOPMAX", "q", 0)
    b.raw("BZPOPMIN", "q", 0)
    c.raw("BZMPOP", 0, 1, "q", "MIN", "COUNT", 5)
    writer.run("ZADD", "q", 1, "x", 2, "y")
    assert pending(a) == [b"q", b"y", b"2"]
    assert pending(b) == [b"q", b"x", b"1"]
    assert pending(c) is None
    writer.run("ZINCRBY", "q", 7, "z")
    assert pending(c) == [b"q", [[b"z", b"7"]]]
    assert writer.propagated() == [
        [b"ZADD", b"q", b"1", b"x", b"2", b"y"],
        [b"ZPOPMAX", b"q"],
        [b"ZPOPMIN", b"q"],
        [b"ZINCRBY", b"q", b"7", b"z"],
        [b"ZPOPMIN", b"q", b"1"],
    ]


def test_bzmpop_is_served_from_the_key_that_became_ready() -> None:
    server, (waiter, tx) = sessions(2)
    waiter.raw("BZMPOP", 0, 2, "a", "b", "MAX", "COUNT", 5)
    tx.run("MULTI")
    tx.run("ZADD", "b", 1, "x", 2, "y")
    tx.run("ZADD", "a", 3, "z")
    tx.run("EXEC")
    assert pending(waiter) == [b"b", [[b"y", b"2"], [b"x", b"1"]]]
    assert tx.propagated() == [
        MULTI,
        [b"ZADD", b"b", b"1", b"x", b"2", b"y"],
        [b"ZADD", b"a", b"3", b"z"],
        EXEC,
        [b"ZPOPMAX", b"b", b"2"],
    ]
    assert tx.run("ZCARD", "a") == 1


def test_store_commands_wake_blocked_clients() -> None:
    server, (waiter, writer) = sessions(2)
    writer.run("ZADD", "src", 5, "m")
    waiter.raw("BZPOPMIN", "q", 0)
    writer.run("ZRANGESTORE", "q", "src", 0, -1)
    assert pending(waiter) == [b"q", b"m", b"5"]
    waiter.raw("BZPOPMIN", "q", 0)
    writer.run("ZUNIONSTORE", "q", 1, "src", "WEIGHTS", 2)
    assert pending(waiter) == [b"q", b"m", b"10"]


def test_a_list_under_the_key_keeps_zset_clients_waiting() -> None:
    server, (waiter, writer) = sessions(2)
    waiter.raw("BZPOPMIN", "q", 0)
    writer.run("RPUSH", "q", "x")
    assert pending(waiter) is None and waiter.client.blocked is not None
    writer.run("DEL", "q")
    writer.run("ZADD", "q", 1, "a")
    assert pending(waiter) == [b"q", b"a", b"1"]


def test_blocking_pops_inside_multi_answer_a_null_array() -> None:
    s = Session()
    s.run("MULTI")
    s.run("BZPOPMIN", "q", 0)
    s.run("BZMPOP", 0, 1, "q", "MIN")
    assert s.raw("EXEC") == b"*2\r\n*-1\r\n*-1\r\n"
    assert s.client.blocked is None


def test_timeout_reply_and_disconnect_leave_no_trace() -> None:
    server, (a, b, writer) = sessions(3)
    a.raw("BZPOPMIN", "q", "r", "0.5")
    b.raw("BZMPOP", 0, 1, "q", "MAX")
    state = a.client.blocked
    assert state is not None and state.timeout_reply is NULL_ARRAY
    server.blocking.unblock(a.client, NULL_ARRAY)
    assert b"".join(a.client.out) == b"*-1\r\n"
    server.unlink_client(b.client)
    assert server.blocking.waiting == {} and server.blocking.blocked_clients == 0
    writer.run("ZADD", "q", 1, "x")
    assert writer.run("ZCARD", "q") == 1


# -- model-based ------------------------------------------------------------------------

members = st.sampled_from([b"a", b"b", b"c", b"d", b"", b"\xff"])
scores = st.sampled_from([0.0, 1.0, -1.0, 2.5, 1e300, -1e300, math.inf, -math.inf, 0.1, 3.0])
small = st.integers(min_value=-6, max_value=6)
operation = st.one_of(
    st.tuples(st.just("ZADD"), st.sampled_from(["", "NX", "XX", "GT", "LT"]), scores, members),
    st.tuples(st.just("ZINCRBY"), scores, members),
    st.tuples(st.just("ZREM"), members),
    st.tuples(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("ZREMRANGEBYRANK"), small, small),
    st.tuples(st.just("ZREMRANGEBYSCORE"), scores, scores),
)


def model_zadd(model: dict[bytes, float], flag: str, score: float, member: bytes) -> None:
    cur = model.get(member)
    if cur is None:
        if flag != "XX":
            model[member] = score
        return
    if flag == "NX" or (flag == "GT" and score <= cur) or (flag == "LT" and score >= cur):
        return
    model[member] = score


def ranked(model: dict[bytes, float]) -> list[tuple[float, bytes]]:
    return sorted((s, m) for m, s in model.items())


def norm(start: int, stop: int, n: int) -> range:
    start = max(start + n if start < 0 else start, 0)
    stop = stop + n if stop < 0 else stop
    return range(start, min(stop, n - 1) + 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=40), scores, scores)
def test_random_operations_match_a_dict_model(
    ops: list[tuple[Any, ...]], lo: float, hi: float
) -> None:
    s = Session(resp3=True)
    model: dict[bytes, float] = {}
    for op in ops:
        name = op[0]
        if name == "ZADD":
            _, flag, score, member = op
            s.run("ZADD", "k", *([flag] if flag else []), repr(score), member)
            model_zadd(model, flag, score, member)
        elif name == "ZINCRBY":
            _, score, member = op
            new = model.get(member, 0.0) + score
            reply = s.run("ZINCRBY", "k", repr(score), member)
            if math.isnan(new):
                assert "NaN" in err(reply)
            else:
                assert reply == new
                model[member] = new
        elif name == "ZREM":
            assert s.run("ZREM", "k", op[1]) == int(model.pop(op[1], None) is not None)
        elif name in ("ZPOPMIN", "ZPOPMAX"):
            order = ranked(model)
            if name == "ZPOPMAX":
                order.reverse()
            popped = order[: op[1]]
            reply = s.run(name, "k", op[1])
            assert reply == [[m, sc] for sc, m in popped]
            for _, m in popped:
                del model[m]
        elif name == "ZREMRANGEBYRANK":
            order = ranked(model)
            doomed = [order[i][1] for i in norm(op[1], op[2], len(order))]
            assert s.run(name, "k", op[1], op[2]) == len(doomed)
            for m in doomed:
                del model[m]
        else:
            doomed = [m for m, sc in model.items() if op[1] <= sc <= op[2]]
            assert s.run(name, "k", repr(op[1]), repr(op[2])) == len(doomed)
            for m in doomed:
                del model[m]
        expected = ranked(model)
        assert s.run("ZCARD", "k") == len(model)
        assert s.run("ZRANGE", "k", 0, -1, "WITHSCORES") == [[m, sc] for sc, m in expected]
    assert s.run("EXISTS", "k") == int(bool(model))
    for m, sc in model.items():
        assert s.run("ZSCORE", "k", m) == sc
        assert s.run("ZRANK", "k", m) == ranked(model).index((sc, m))
    inside = [(sc, m) for sc, m in ranked(model) if lo <= sc <= hi]
    assert s.run("ZCOUNT", "k", repr(lo), repr(hi)) == len(inside)
    assert s.run("ZRANGEBYSCORE", "k", repr(lo), repr(hi)) == [m for _, m in inside]
    assert (
        s.run("ZREVRANGEBYSCORE", "k", repr(hi), repr(lo), "LIMIT", 1, 2)
        == [m for _, m in reversed(inside)][1:3]
    )
