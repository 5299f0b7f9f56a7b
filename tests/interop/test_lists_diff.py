"""List commands against real Redis 7.0: replies compared byte for byte, errors included.

Also replays scripts (blocked clients included) on a real redis-server with
`--appendonly yes` and checks that keelkv propagates the vectors Redis wrote to its AOF.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Differ
from tests.harness import RawClient, ServerProcess, start_redis, wait_blocked
from tests.unit.sansio import Session

pytestmark = pytest.mark.interop

LONG_MAX = str(2**63 - 1)
LONG_MIN = str(-(2**63))
INDEXES = ["0", "1", "2", "4", "5", "6", "-1", "-2", "-5", "-6", "-7", "100", "-100"]


def fill(d: Differ, key: str = "l", *values: str) -> None:
    d.check("DEL", key)
    d.check("RPUSH", key, *(values or ("a", "b", "c", "d", "e")))


# -- pushes and pops --------------------------------------------------------------------


def test_pushes(differ: Differ) -> None:
    d = differ
    d.check("LPUSH", "l", "a", "b", "c")
    d.check("RPUSH", "l", "x", "y")
    d.check("LPUSHX", "l", "p")
    d.check("RPUSHX", "l", "q", "r")
    d.check("LPUSHX", "none", "p")
    d.check("RPUSHX", "none", "p")
    d.check("EXISTS", "none")
    d.check("LRANGE", "l", "0", "-1")
    d.check("RPUSH", "bin", b"\x00\r\n\xff", "", "12", "-3")
    d.check("LRANGE", "bin", "0", "-1")
    d.check("SET", "s", "v")
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        d.check(cmd, "s", "a")
        d.check(cmd, "l")
    d.check("TYPE", "l")


def test_pops_with_and_without_count(differ: Differ) -> None:
    d = differ
    for cmd in ("LPOP", "RPOP"):
        fill(d)
        d.check(cmd, "l")
        d.check(cmd, "l", "2")
        d.check(cmd, "l", "0")
        d.check(cmd, "l", "1")
        d.check(cmd, "l", "10")
        d.check("EXISTS", "l")
        d.check(cmd, "l")
        d.check(cmd, "l", "0")
        d.check(cmd, "l", "3")
        fill(d)
        d.check(cmd, "l", LONG_MAX)
        for bad in ("-1", "x", "1.5", "", " 1", "01", LONG_MIN, "9223372036854775808"):
            d.check(cmd, "l", bad)
        d.check(cmd, "l", "1", "2")
        d.check(cmd)
    d.check("SET", "s", "v")
    d.check("LPOP", "s")
    d.check("RPOP", "s", "1")
    d.check("LPOP", "s", "x")


def test_resp3_null_forms(differ: Differ) -> None:
    d = differ
    d.both("HELLO", "3")
    d.check("LPOP", "missing")
    d.check("LPOP", "missing", "2")
    d.check("RPOP", "missing", "0")
    d.check("LINDEX", "missing", "0")
    d.check("LPOS", "missing", "a")
    d.check("LMOVE", "missing", "d", "LEFT", "LEFT")
    d.check("LMPOP", "1", "missing", "LEFT")
    d.check("BLPOP", "missing", "0.01")
    d.check("BLMOVE", "missing", "d", "LEFT", "LEFT", "0.01")
    d.check("BLMPOP", "0.01", "1", "missing", "LEFT")
    fill(d)
    d.check("LPOP", "l", "0")
    d.check("LPOP", "l", "2")
    d.check("LMPOP", "1", "l", "RIGHT", "COUNT", "2")
    d.check("LPOS", "l", "zz")
    d.check("LINDEX", "l", "99")
    d.check("MULTI")
    d.check("BLPOP", "missing", "0")
    d.check("BRPOPLPUSH", "missing", "d", "0")
    d.check("EXEC")
    d.both("HELLO", "2")


# -- reads ------------------------------------------------------------------------------


def test_llen_lindex_lrange_every_index(differ: Differ) -> None:
    d = differ
    fill(d, "l", "a", "b", "c", "d", "e", "f")
    d.check("LLEN", "l")
    d.check("LLEN", "missing")
    for i in INDEXES + [LONG_MAX, LONG_MIN]:
        d.check("LINDEX", "l", i)
        for j in INDEXES:
            d.check("LRANGE", "l", i, j)
    for bad in ("x", "1.0", "", "+1", "-0", "00", "9223372036854775808"):
        d.check("LINDEX", "l", bad)
        d.check("LRANGE", "l", bad, "1")
        d.check("LRANGE", "l", "0", bad)
        d.check("LRANGE", "missing", bad, "1")
    d.check("LINDEX", "missing", "x")
    d.check("LRANGE", "missing", "0", "-1")
    d.check("SET", "s", "v")
    d.check("LLEN", "s")
    d.check("LINDEX", "s", "0")
    d.check("LINDEX", "s", "x")
    d.check("LRANGE", "s", "0", "1")
    d.check("LRANGE", "s", "x", "1")


def test_lpos(differ: Differ) -> None:
    d = differ
    fill(d, "l", "a", "b", "a", "c", "a", "b", "a")
    d.check("LPOS", "l", "a")
    d.check("LPOS", "l", "b")
    d.check("LPOS", "l", "z")
    for rank in ("1", "2", "4", "5", "-1", "-3", "-5", LONG_MAX, LONG_MIN, "-" + LONG_MAX):
        d.check("LPOS", "l", "a", "RANK", rank)
        for count in ("0", "1", "2", "10"):
            d.check("LPOS", "l", "a", "RANK", rank, "COUNT", count)
            for maxlen in ("0", "1", "3", "7", "100"):
                d.check("LPOS", "l", "a", "rank", rank, "count", count, "maxlen", maxlen)
    d.check("LPOS", "l", "a", "MAXLEN", "2")
    d.check("LPOS", "l", "a", "MAXLEN", "2", "RANK", "-1")
    d.check("LPOS", "l", "a", "COUNT", "1", "COUNT", "2")
    d.check("LPOS", "l", "a", "RANK", "0")
    d.check("LPOS", "l", "a", "RANK", "x")
    d.check("LPOS", "l", "a", "COUNT", "-1")
    d.check("LPOS", "l", "a", "COUNT", "x")
    d.check("LPOS", "l", "a", "MAXLEN", "-1")
    d.check("LPOS", "l", "a", "MAXLEN", "x")
    d.check("LPOS", "l", "a", "RANK")
    d.check("LPOS", "l", "a", "FOO", "1")
    d.check("LPOS", "l")
    d.check("LPOS", "missing", "a")
    d.check("LPOS", "missing", "a", "COUNT", "0")
    d.check("LPOS", "missing", "a", "RANK", "0")
    d.check("SET", "s", "v")
    d.check("LPOS", "s", "a")
    d.check("LPOS", "s", "a", "RANK", "0")
    # Integer-looking elements compare as the exact strings they are.
    fill(d, "n", "1", "01", "-0", "+1", "1")
    d.check("LPOS", "n", "1", "COUNT", "0")
    d.check("LPOS", "n", "01")
    d.check("LPOS", "n", "-0")


# -- in-place writes --------------------------------------------------------------------


def test_lset(differ: Differ) -> None:
    d = differ
    d.check("LSET", "missing", "0", "x")
    d.check("LSET", "missing", "x", "x")
    for i in INDEXES:
        fill(d)
        d.check("LSET", "l", i, "NEW")
        d.check("LRANGE", "l", "0", "-1")
    d.check("LSET", "l", "x", "v")
    d.check("LSET", "l", LONG_MIN, "v")
    d.check("SET", "s", "v")
    d.check("LSET", "s", "0", "x")
    d.check("LSET", "l", "0")


def test_linsert(differ: Differ) -> None:
    d = differ
    d.check("LINSERT", "missing", "BEFORE", "a", "x")
    d.check("LINSERT", "missing", "MIDDLE", "a", "x")
    fill(d, "l", "a", "p", "b", "p")
    d.check("LINSERT", "l", "BEFORE", "p", "x")
    d.check("LINSERT", "l", "after", "p", "y")
    d.check("LINSERT", "l", "AfTeR", "b", "z")
    d.check("LINSERT", "l", "BEFORE", "nope", "y")
    d.check("LINSERT", "l", "MIDDLE", "p", "y")
    d.check("LRANGE", "l", "0", "-1")
    d.check("SET", "s", "v")
    d.check("LINSERT", "s", "BEFORE", "a", "x")
    d.check("LINSERT", "s", "BAD", "a", "x")
    d.check("LINSERT", "l", "BEFORE", "a")


def test_lrem(differ: Differ) -> None:
    d = differ
    for count in ("0", "1", "2", "3", "-1", "-2", "-3", "10", "-10", LONG_MIN, LONG_MAX):
        fill(d, "l", "a", "x", "a", "x", "b", "x", "a")
        d.check("LREM", "l", count, "a")
        d.check("LRANGE", "l", "0", "-1")
        d.check("LREM", "l", count, "x")
        d.check("LRANGE", "l", "0", "-1")
    fill(d, "l", "a", "a")
    d.check("LREM", "l", "0", "a")
    d.check("EXISTS", "l")
    d.check("LREM", "missing", "0", "a")
    d.check("LREM", "missing", "x", "a")
    d.check("LREM", "l", "x", "a")
    d.check("SET", "s", "v")
    d.check("LREM", "s", "0", "a")
    d.check("LREM", "s", "x", "a")


def test_ltrim_every_index_pair(differ: Differ) -> None:
    d = differ
    for i in INDEXES:
        for j in INDEXES:
            fill(d, "l", "a", "b", "c", "d", "e", "f")
            d.check("LTRIM", "l", i, j)
            d.check("LRANGE", "l", "0", "-1")
            d.check("EXISTS", "l")
    d.check("LTRIM", "missing", "0", "1")
    d.check("LTRIM", "missing", "x", "1")
    d.check("LTRIM", "l", "0", "x")
    d.check("SET", "s", "v")
    d.check("LTRIM", "s", "0", "1")


# -- moves ------------------------------------------------------------------------------


def test_lmove_and_rpoplpush(differ: Differ) -> None:
    d = differ
    for wherefrom in ("LEFT", "RIGHT"):
        for whereto in ("left", "right"):
            fill(d, "src", "a", "b", "c")
            d.check("DEL", "dst")
            d.check("LMOVE", "src", "dst", wherefrom, whereto)
            d.check("LMOVE", "src", "dst", wherefrom, whereto)
            d.check("LMOVE", "src", "src", wherefrom, whereto)
            d.check("LRANGE", "src", "0", "-1")
            d.check("LRANGE", "dst", "0", "-1")
    fill(d, "one", "x")
    d.check("LMOVE", "one", "one", "LEFT", "RIGHT")
    d.check("LRANGE", "one", "0", "-1")
    d.check("RPOPLPUSH", "one", "one")
    d.check("RPOPLPUSH", "one", "other")
    d.check("EXISTS", "one")
    d.check("RPOPLPUSH", "missing", "other")
    d.check("LMOVE", "missing", "other", "LEFT", "LEFT")
    d.check("LMOVE", "missing", "other", "UP", "LEFT")
    d.check("LMOVE", "missing", "other", "LEFT", "DOWN")
    d.check("SET", "s", "v")
    fill(d, "src", "a")
    d.check("LMOVE", "src", "s", "LEFT", "LEFT")
    d.check("RPOPLPUSH", "src", "s")
    d.check("LMOVE", "s", "src", "LEFT", "LEFT")
    d.check("RPOPLPUSH", "s", "src")
    d.check("LLEN", "src")
    d.check("LMOVE", "src", "dst", "LEFT")


def test_lmpop(differ: Differ) -> None:
    d = differ
    fill(d, "b", "1", "2", "3", "4")
    d.check("LMPOP", "2", "a", "b", "LEFT")
    d.check("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "2")
    d.check("LMPOP", "3", "a", "b", "c", "left", "count", "10")
    d.check("LMPOP", "2", "a", "b", "LEFT")
    d.check("EXISTS", "b")
    for argv in (
        ("0", "a", "LEFT"),
        ("-1", "a", "LEFT"),
        ("x", "a", "LEFT"),
        ("9223372036854775808", "a", "LEFT"),
        ("2", "a", "LEFT"),
        ("3", "a", "b", "LEFT"),
        ("1", "a", "UP"),
        ("1", "a", "LEFT", "COUNT"),
        ("1", "a", "LEFT", "COUNT", "0"),
        ("1", "a", "LEFT", "COUNT", "-1"),
        ("1", "a", "LEFT", "COUNT", "x"),
        ("1", "a", "LEFT", "COUNT", "1", "COUNT", "1"),
        ("1", "a", "LEFT", "FOO"),
        ("1", "a"),
        ("1",),
    ):
        d.check("LMPOP", *argv)
    d.check("SET", "s", "v")
    fill(d, "l", "x")
    d.check("LMPOP", "2", "s", "l", "LEFT")
    d.check("LMPOP", "2", "l", "s", "LEFT")


# -- blocking commands that do not block ------------------------------------------------


def test_blocking_commands_with_data_or_timeouts(differ: Differ) -> None:
    d = differ
    fill(d, "l", "a", "b", "c", "d", "e", "f")
    d.check("BLPOP", "missing", "l", "0")
    d.check("BRPOP", "l", "missing", "0")
    d.check("BLMPOP", "0", "2", "missing", "l", "LEFT", "COUNT", "2")
    d.check("BLMOVE", "l", "dst", "RIGHT", "LEFT", "0")
    d.check("BRPOPLPUSH", "l", "dst", "0")
    d.check("LRANGE", "dst", "0", "-1")
    d.check("BLPOP", "missing", "0.01")
    d.check("BRPOP", "missing", "other", "0.01")
    d.check("BLMPOP", "0.01", "1", "missing", "RIGHT")
    d.check("BLMOVE", "missing", "dst", "LEFT", "LEFT", "0.01")
    d.check("BRPOPLPUSH", "missing", "dst", "0.01")
    d.check("SET", "s", "v")
    d.check("BLPOP", "missing", "s", "l", "0")
    d.check("BLPOP", "l", "s", "0")
    d.check("BLMPOP", "0", "2", "s", "l", "LEFT")
    d.check("BLMOVE", "s", "dst", "LEFT", "LEFT", "0")
    fill(d, "l", "a")
    d.check("BLMOVE", "l", "s", "LEFT", "LEFT", "0")
    d.check("BRPOPLPUSH", "l", "s", "0")
    d.check("LLEN", "l")


@pytest.mark.parametrize(
    "timeout",
    [
        "abc",
        "",
        " 1",
        "1 ",
        "nan",
        "1e99999",
        "1_0",
        "0x",
        "-1",
        "-0.002",
        "-0.0010000000000000000001",
        "0.0009999999999999999999",
        "--1",
        "+-inf",
        "inf",
        "-inf",
        "+Infinity",
        "1e300",
        "9.3e15",
        "9.3e18",
        "0.001",
        "0x1p-12",
        "1e-320",
        ".001",
    ],
)
def test_timeout_parsing(differ: Differ, timeout: str) -> None:
    d = differ
    d.check("BLPOP", "missing", timeout)
    d.check("BRPOPLPUSH", "missing", "dst", timeout)
    d.check("BLMOVE", "missing", "dst", "LEFT", "LEFT", timeout)
    d.check("BLMPOP", timeout, "1", "missing", "LEFT")


def test_blocking_argument_errors(differ: Differ) -> None:
    d = differ
    d.check("BLMOVE", "a", "b", "UP", "LEFT", "x")
    d.check("BLMOVE", "a", "b", "LEFT", "UP", "-1")
    d.check("BLMOVE", "a", "b", "LEFT", "LEFT", "-1")
    d.check("BLMPOP", "x", "0", "a", "LEFT")  # numkeys is checked before the timeout
    d.check("BLMPOP", "-1", "1", "a", "UP")
    d.check("BLMPOP", "-1", "1", "a", "LEFT", "COUNT", "0")
    d.check("BLMPOP", "-1", "1", "a", "LEFT")
    d.check("BLMPOP", "0", "2", "a", "LEFT")
    d.check("BLMPOP", "0", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2")
    d.check("BLMPOP", "0", "1", "a")
    d.check("BLPOP", "a")
    d.check("BRPOP")
    d.check("BRPOPLPUSH", "a", "b")
    d.check("BLMOVE", "a", "b", "LEFT", "LEFT")


def test_blocking_commands_inside_multi_do_not_block(differ: Differ) -> None:
    d = differ
    d.check("MULTI")
    d.check("BLPOP", "missing", "0")
    d.check("BRPOP", "missing", "0")
    d.check("BLMPOP", "0", "1", "missing", "LEFT")
    d.check("BLMOVE", "missing", "d", "LEFT", "RIGHT", "0")
    d.check("BRPOPLPUSH", "missing", "d", "0")
    d.check("BLPOP", "missing", "-1")
    d.check("RPUSH", "l", "a", "b")
    d.check("BLPOP", "l", "0")
    d.check("BLMOVE", "l", "d", "LEFT", "RIGHT", "0")
    d.check("BLPOP", "l", "0")
    d.check("EXEC")
    d.check("LRANGE", "d", "0", "-1")


def test_wrong_arity(differ: Differ) -> None:
    d = differ
    for argv in (
        ("LPUSH", "l"),
        ("RPUSH",),
        ("LLEN",),
        ("LLEN", "a", "b"),
        ("LRANGE", "l", "0"),
        ("LINDEX", "l"),
        ("LSET", "l", "0"),
        ("LREM", "l", "0"),
        ("LTRIM", "l", "0"),
        ("LINSERT", "l", "BEFORE", "p"),
        ("LPOS", "l"),
        ("LMOVE", "a", "b", "LEFT"),
        ("RPOPLPUSH", "a"),
        ("LMPOP", "1", "a"),
        ("BLMPOP", "0", "1", "a"),
    ):
        d.check(*argv)


# -- random sequences -------------------------------------------------------------------

element = st.sampled_from(["a", "b", "1", "-1", "", "x" * 70])
index = st.sampled_from(["0", "1", "-1", "3", "-4", "20", "-20"])
operation = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), st.just("k"), element),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.just("k")),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.just("k"), st.sampled_from(["0", "1", "3"])),
    st.tuples(st.sampled_from(["LRANGE", "LTRIM"]), st.just("k"), index, index),
    st.tuples(st.just("LINDEX"), st.just("k"), index),
    st.tuples(st.just("LSET"), st.just("k"), index, element),
    st.tuples(st.just("LREM"), st.just("k"), st.sampled_from(["0", "1", "-1", "2"]), element),
    st.tuples(
        st.just("LINSERT"), st.just("k"), st.sampled_from(["BEFORE", "AFTER"]), element, element
    ),
    st.tuples(
        st.just("LPOS"), st.just("k"), element, st.just("RANK"), st.sampled_from(["1", "-1", "2"])
    ),
    st.tuples(
        st.just("LMOVE"),
        st.just("k"),
        st.sampled_from(["k", "o"]),
        st.sampled_from(["LEFT", "RIGHT"]),
        st.sampled_from(["LEFT", "RIGHT"]),
    ),
    st.tuples(
        st.just("LMPOP"),
        st.just("2"),
        st.just("o"),
        st.just("k"),
        st.sampled_from(["LEFT", "RIGHT"]),
        st.just("COUNT"),
        st.sampled_from(["1", "2"]),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(operation, max_size=30))
def test_random_sequences_match_redis(differ: Differ, ops: list[tuple[str, ...]]) -> None:
    differ.both("DEL", "k", "o")
    for argv in ops:
        differ.check(*argv)
    differ.check("LRANGE", "k", "0", "-1")
    differ.check("LRANGE", "o", "0", "-1")


# -- propagation, compared with the AOF real Redis writes -------------------------------


def read_aof_commands(workdir: Path) -> list[list[bytes]]:
    reader = hiredis.Reader()
    for path in sorted((workdir / "appendonlydir").glob("*.incr.aof")):
        reader.feed(path.read_bytes())
    out = []
    while (cmd := reader.gets()) is not False:
        out.append(cmd)
    return out


@pytest.fixture(scope="module")
def aof_redis() -> Iterator[ServerProcess]:
    node = start_redis("--appendonly", "yes", "--appendfsync", "always")
    yield node
    node.stop()


def aof_since_last_flushall(node: ServerProcess) -> list[list[bytes]]:
    written = read_aof_commands(node.workdir)
    last_flush = max(i for i, a in enumerate(written) if a[0].upper() == b"FLUSHALL")
    return [a for a in written[last_flush + 1 :] if a[0].upper() != b"SELECT"]


LIST_SCRIPT: list[tuple[str, ...]] = [
    ("RPUSH", "l", "a", "b", "c", "d", "e", "f", "g", "h"),
    ("lpush", "l", "z"),
    ("LPUSHX", "l", "y"),
    ("RPUSHX", "none", "y"),
    ("LPOP", "l"),
    ("RPOP", "l", "2"),
    ("LPOP", "l", "0"),
    ("LPOP", "none", "3"),
    ("LSET", "l", "0", "A"),
    ("LINSERT", "l", "BEFORE", "c", "C"),
    ("LINSERT", "l", "AFTER", "nope", "C"),
    ("LREM", "l", "0", "C"),
    ("LREM", "l", "0", "nope"),
    ("LTRIM", "l", "0", "-1"),
    ("LTRIM", "l", "0", "3"),
    ("LMOVE", "l", "m", "LEFT", "right"),
    ("RPOPLPUSH", "l", "m"),
    ("LMPOP", "2", "none", "l", "RIGHT", "COUNT", "10"),
    ("RPUSH", "l", "1", "2", "3", "4", "5"),
    ("LMPOP", "1", "l", "LEFT"),
    ("BLPOP", "none", "l", "0"),
    ("BRPOP", "l", "0"),
    ("BLMPOP", "0", "1", "l", "right", "COUNT", "5"),
    ("BLMOVE", "m", "l", "Left", "RIGHT", "0"),
    ("BRPOPLPUSH", "m", "l", "0"),
    ("LPOP", "m", "100"),
    ("LRANGE", "l", "0", "-1"),
]


def test_list_propagation_matches_redis_aof(aof_redis: ServerProcess) -> None:
    with RawClient(aof_redis.port) as c:
        c.call("FLUSHALL")
        for argv in LIST_SCRIPT:
            c.call(*argv)
    s = Session()
    for argv in LIST_SCRIPT:
        s.run(*argv)
    assert s.propagated() == aof_since_last_flushall(aof_redis)


# Each scenario: commands a blocked client sends, then what another client runs.
BLOCKED_SCENARIOS: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = [
    (("BLPOP", "q", "0"), [("RPUSH", "q", "a", "b")]),
    (("BRPOP", "x", "q", "0"), [("LPUSH", "q", "a", "b")]),
    (("BLMPOP", "0", "2", "x", "q", "RIGHT", "COUNT", "3"), [("RPUSH", "q", "1", "2")]),
    (("BLMPOP", "0", "1", "q", "LEFT"), [("RPUSH", "q", "1", "2")]),
    (("BLMOVE", "q", "d", "RIGHT", "LEFT", "0"), [("RPUSH", "q", "1", "2")]),
    (("BRPOPLPUSH", "q", "d", "0"), [("RPUSH", "q", "1", "2")]),
    (
        ("BLPOP", "q", "0"),
        [("MULTI",), ("RPUSH", "q", "a"), ("LPUSH", "q", "b"), ("EXEC",)],
    ),
    (
        ("BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "9"),
        [("MULTI",), ("RPUSH", "b", "1"), ("RPUSH", "a", "2"), ("EXEC",)],
    ),
]


@pytest.mark.parametrize(("blocked", "then"), BLOCKED_SCENARIOS)
def test_served_blocked_client_propagation_matches_redis_aof(
    aof_redis: ServerProcess, blocked: tuple[str, ...], then: list[tuple[str, ...]]
) -> None:
    with RawClient(aof_redis.port) as waiter, RawClient(aof_redis.port) as c:
        c.call("FLUSHALL")
        waiter.send_raw(hiredis.pack_command(blocked))
        wait_blocked(aof_redis, 1)
        for argv in then:
            c.call(*argv)
        their_reply = waiter.read_reply()
    theirs = aof_since_last_flushall(aof_redis)

    s = Session()
    w = Session(s.server)
    w.raw(*blocked)
    assert w.client.blocked is not None
    for argv in then:
        s.run(*argv)
    assert b"".join(w.client.out) == their_reply
    assert s.propagated() == theirs
