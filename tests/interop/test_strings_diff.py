"""String commands against real Redis 7.0: replies compared byte for byte, errors included.

Also replays a script on a real redis-server with `--appendonly yes` and checks that the
vectors keelkv propagates for it are the ones Redis wrote to its AOF.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Differ
from tests.harness import RawClient, start_keelkv, start_redis
from tests.unit.sansio import Session

pytestmark = pytest.mark.interop

FAR_S = int(time.time()) + 100_000  # an EXAT in the future
FAR_MS = FAR_S * 1000 + 123


def make_wrongtype(d: Differ, key: str = "list") -> None:
    d.check("RPUSH", key, "a")


def check_expiry(d: Differ, key: str) -> None:
    """Compare a key's expiry where it is deterministic: the absolute time when it is one of
    the absolute test times, else TTL (relative times here are 100 s or more away, so
    rounding to seconds gives the same answer on both servers)."""
    absolute = {b":%d\r\n" % (FAR_S * 1000), b":%d\r\n" % FAR_MS}
    if d.real.call("PEXPIRETIME", key) in absolute:
        d.check("PEXPIRETIME", key)
    else:
        d.check("TTL", key)


# -- GET / SET -------------------------------------------------------------


def test_get_set_basic_and_binary_values(differ: Differ) -> None:
    d = differ
    d.check("GET", "missing")
    d.check("SET", "k", "v")
    d.check("GET", "k")
    d.check("SET", "bin", b"\x00\r\n\xff")
    d.check("GET", "bin")
    d.check("SET", "empty", "")
    d.check("GET", "empty")
    d.check("STRLEN", "empty")
    d.check("SET", "k", "other")
    d.check("GET", "k")
    make_wrongtype(d)
    d.check("GET", "list")
    d.check("SET", "list", "now a string")
    d.check("GET", "list")


SET_OPTIONS: list[tuple[str, ...]] = [
    ("NX",),
    ("xx",),
    ("GET",),
    ("get",),
    ("KEEPTTL",),
    ("EX", "100"),
    ("px", "100000"),
    ("EXAT", str(FAR_S)),
    ("PXAT", str(FAR_MS)),
    ("EX", "0"),
    ("PX", "-5"),
    ("EX", "abc"),
    ("EX",),
    ("PX",),
    ("PERSIST",),
    ("BOGUS",),
]


@pytest.mark.parametrize("state", ["missing", "plain", "volatile", "wrongtype"])
def test_set_option_combinations(differ: Differ, state: str) -> None:
    """Every pair of options (and each alone) against each starting state of the key."""
    d = differ
    combos = [(a,) for a in SET_OPTIONS] + list(itertools.permutations(SET_OPTIONS, 2))
    combos += [
        (("NX",), ("GET",), ("EX", "100")),
        (("XX",), ("GET",), ("KEEPTTL",)),
        (("GET",), ("GET",), ("NX",)),
        (("EX", "10"), ("EX", "100")),
        (("PX", "10"), ("EX", "100")),
    ]
    for combo in combos:
        d.both("DEL", "k")
        if state == "plain":
            d.both("SET", "k", "old")
        elif state == "volatile":
            d.both("SET", "k", "old", "EX", "500")
        elif state == "wrongtype":
            d.both("RPUSH", "k", "x")
        args = [a for opt in combo for a in opt]
        d.check("SET", "k", "new", *args)
        d.check("TYPE", "k")
        if state != "wrongtype":
            d.check("GET", "k")
        check_expiry(d, "k")


def test_set_expire_bounds(differ: Differ) -> None:
    d = differ
    for opt, value in [
        ("EX", "9223372036854775"),  # ms + now overflows
        ("EX", "9223372036854776"),  # * 1000 overflows
        ("EX", "9223372036854774"),
        ("PX", "9223372036854775807"),
        ("PX", "9223372036854775808"),
        ("EXAT", "9223372036854775"),
        ("EXAT", "9223372036854776"),
        ("PXAT", "9223372036854775807"),
        ("PXAT", "-1"),
        ("EX", "-9223372036854775808"),
        ("EX", "1.5"),
        ("EX", " 1"),
        ("EX", "+1"),
        ("EX", "01"),
    ]:
        d.both("DEL", "k")
        d.check("SET", "k", "v", opt, value)
        d.check("EXISTS", "k")
        if opt.endswith("AT"):
            d.check("PEXPIRETIME", "k")
    d.check("SETEX", "k", "9223372036854775", "v")
    d.check("PSETEX", "k", "9223372036854775807", "v")


def test_set_exat_in_the_past_stores_then_expires(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v", "EXAT", "1")
    d.check("GET", "k")
    d.check("EXISTS", "k")
    d.check("SET", "k", "v", "PXAT", "1", "GET")


def test_setnx_setex_psetex(differ: Differ) -> None:
    d = differ
    d.check("SETNX", "k", "a")
    d.check("SETNX", "k", "b")
    d.check("GET", "k")
    for cmd in ("SETEX", "PSETEX"):
        d.check(cmd, "e", "100000", "v")
        d.check("GET", "e")
        d.check("TTL", "e")
        d.check(cmd, "e", "0", "v")
        d.check(cmd, "e", "-1", "v")
        d.check(cmd, "e", "x", "v")
        d.check(cmd, "e", "", "v")
    make_wrongtype(d)
    d.check("SETNX", "list", "v")
    d.check("SETEX", "list", "10", "v")
    d.check("TYPE", "list")


def test_getset_getdel(differ: Differ) -> None:
    d = differ
    d.check("GETSET", "k", "a")
    d.check("GETSET", "k", "b")
    d.check("SET", "t", "v", "EX", "100")
    d.check("GETSET", "t", "w")
    d.check("TTL", "t")
    d.check("GETDEL", "k")
    d.check("GETDEL", "k")
    d.check("EXISTS", "k")
    make_wrongtype(d)
    d.check("GETSET", "list", "v")
    d.check("GETDEL", "list")
    d.check("TYPE", "list")


def test_getex_options_and_errors(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for args in [
        (),
        ("EX", "100"),
        ("PX", "200000"),
        ("EXAT", str(FAR_S)),
        ("PXAT", str(FAR_MS)),
        ("PERSIST",),
        ("PERSIST",),
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "x"),
        ("EX",),
        ("NX",),
        ("GET",),
        ("KEEPTTL",),
        ("EX", "10", "PERSIST"),
        ("PERSIST", "EX", "10"),
        ("PERSIST", "PERSIST"),
        ("EX", "10", "PX", "10"),
        ("EX", "10", "EX", "100"),
        ("EX", "9223372036854775"),
        ("BOGUS",),
    ]:
        d.check("GETEX", "k", *args)
        check_expiry(d, "k")
    d.check("GETEX", "missing", "EX", "0")  # the missing key wins over the bad time
    d.check("GETEX", "missing", "BOGUS")  # but options are parsed first
    d.check("GETEX", "k", "EXAT", "1")
    d.check("EXISTS", "k")
    make_wrongtype(d)
    d.check("GETEX", "list", "EX", "0")
    d.check("GETEX", "list")


def test_mget_mset_msetnx(differ: Differ) -> None:
    d = differ
    make_wrongtype(d)
    d.check("MSET", "a", "1", "b", "2", "a", "3")
    d.check("MGET", "a", "b", "c", "list", "a")
    d.check("MSET", "a", "1", "b")
    d.check("MSET", "a")
    d.check("MSETNX", "x", "1", "y", "2")
    d.check("MSETNX", "y", "3", "z", "4")
    d.check("MGET", "x", "y", "z")
    d.check("MSETNX", "z", "1", "z", "2")
    d.check("GET", "z")
    d.check("MSETNX", "q", "1", "r")
    d.check("MSETNX", "list", "1")


# -- counters --------------------------------------------------------------


def test_incr_decr_and_their_errors(differ: Differ) -> None:
    d = differ
    d.check("INCR", "n")
    d.check("INCRBY", "n", "41")
    d.check("DECR", "n")
    d.check("DECRBY", "n", "-10")
    d.check("INCRBY", "n", "-1000")
    d.check("GET", "n")
    for bad in ["abc", " 1", "1 ", "+1", "01", "-0", "1.0", "", "9223372036854775808", "0x10"]:
        d.check("SET", "s", bad)
        d.check("INCR", "s")
        d.check("INCRBY", "n", bad)
        d.check("DECRBY", "n", bad)
    for edge in ["0", "-1", "9223372036854775807", "-9223372036854775808"]:
        d.check("SET", "e", edge)
        d.check("INCR", "e")
        d.check("DECR", "e")
        d.check("INCRBY", "e", "9223372036854775807")
        d.check("INCRBY", "e", "-9223372036854775808")
        d.check("DECRBY", "e", "9223372036854775807")
        d.check("DECRBY", "e", "-9223372036854775808")
        d.check("GET", "e")
    d.check("SET", "t", "5", "EX", "100")
    d.check("INCR", "t")
    d.check("TTL", "t")
    make_wrongtype(d)
    d.check("INCR", "list")
    d.check("INCRBY", "list", "x")


INCRBYFLOAT_CASES = [
    ("10.5", "0.1"),
    ("0", "1e200"),
    ("1e200", "-1e200"),
    ("5.0e3", "2.0e2"),
    ("3.0", "1"),
    ("-1.5", "1.5"),
    ("0", "0x10"),
    ("0", "0x1.8p1"),
    ("0", "inf"),
    ("0", "-inf"),
    ("0", "nan"),
    ("inf", "1"),
    ("1", "1e"),
    ("1", " 1"),
    ("1", "1 "),
    ("1", ""),
    ("1", "."),
    ("1", "1."),
    ("1", ".5"),
    ("1", "+1.5"),
    ("1", "-0"),
    ("0", "1e-4951"),
    ("0", "1e-4950"),
    ("0", "1e4933"),
    ("0", "1e4932"),
    ("1.1", "2.2"),
    ("0.1", "0.2"),
    ("0", "0.000003814697265625"),
    ("12345678901234567890", "1"),
    ("abc", "1"),
    ("1", "abc"),
    ("0", "1e-20"),
    ("0", "-1e-20"),
    ("0", "123456789.123456789"),
    ("17179869184", "0.1"),
]


def test_incrbyfloat_values_match_long_double(differ: Differ) -> None:
    d = differ
    for start, incr in INCRBYFLOAT_CASES:
        d.both("SET", "f", start)
        d.check("INCRBYFLOAT", "f", incr)
        d.check("GET", "f")
    d.check("INCRBYFLOAT", "new", "2.5")
    d.check("SET", "t", "1", "EX", "100")
    d.check("INCRBYFLOAT", "t", "0.5")
    d.check("TTL", "t")
    d.check("INCRBYFLOAT", "big", "1e4000")
    make_wrongtype(d)
    d.check("INCRBYFLOAT", "list", "1")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
            st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
            st.integers(min_value=-(2**70), max_value=2**70).map(str),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_incrbyfloat_sequences_match_redis(differ: Differ, increments: list[str]) -> None:
    differ.both("DEL", "f")
    for inc in increments:
        differ.check("INCRBYFLOAT", "f", inc)


# -- byte strings ------------------------------------------------------------


def test_append_strlen(differ: Differ) -> None:
    d = differ
    d.check("APPEND", "a", "")
    d.check("EXISTS", "a")
    d.check("APPEND", "a", "hello")
    d.check("APPEND", "a", " world")
    d.check("STRLEN", "a")
    d.check("STRLEN", "missing")
    d.check("SET", "n", "12")
    d.check("APPEND", "n", "3")
    d.check("INCR", "n")
    make_wrongtype(d)
    d.check("APPEND", "list", "x")
    d.check("STRLEN", "list")


def test_getrange_substr_all_index_pairs(differ: Differ) -> None:
    d = differ
    d.check("SET", "s", "Hello, World")
    d.check("SET", "e", "")
    indexes = ["0", "1", "5", "11", "12", "100", "-1", "-5", "-12", "-13", "-100"]
    for start in indexes:
        for end in indexes:
            d.check("GETRANGE", "s", start, end)
    for key in ("e", "missing"):
        d.check("GETRANGE", key, "0", "-1")
        d.check("SUBSTR", key, "0", "0")
    d.check("GETRANGE", "s", "9223372036854775807", "-9223372036854775808")
    d.check("GETRANGE", "s", "-9223372036854775808", "9223372036854775807")
    d.check("GETRANGE", "s", "x", "1")
    d.check("GETRANGE", "missing", "0", "x")
    d.check("SUBSTR", "s", "1", "3")
    make_wrongtype(d)
    d.check("GETRANGE", "list", "0", "1")
    d.check("GETRANGE", "list", "x", "1")


def test_setrange(differ: Differ) -> None:
    d = differ
    d.check("SETRANGE", "s", "0", "")
    d.check("EXISTS", "s")
    d.check("SETRANGE", "s", "5", "abc")
    d.check("GET", "s")
    d.check("SETRANGE", "s", "1", "XY")
    d.check("SETRANGE", "s", "7", "tail")
    d.check("SETRANGE", "s", "100", "")
    d.check("GET", "s")
    d.check("SETRANGE", "s", "-1", "x")
    d.check("SETRANGE", "s", "x", "x")
    d.check("SETRANGE", "s", "536870911", "")
    d.check("SETRANGE", "s", "536870912", "x")
    d.check("SETRANGE", "new", "536870911", "xy")
    d.check("SETRANGE", "new", "9223372036854775807", "x")
    d.check("EXISTS", "new")
    d.check("SET", "t", "v", "EX", "100")
    d.check("SETRANGE", "t", "0", "w")
    d.check("TTL", "t")
    make_wrongtype(d)
    d.check("SETRANGE", "list", "0", "")
    d.check("SETRANGE", "list", "-1", "x")


@pytest.fixture(scope="module")
def small_bulk_pair():  # type: ignore[no-untyped-def]
    """A keelkv and a Redis whose proto-max-bulk-len is the 1mb minimum."""
    args = ("--proto-max-bulk-len", "1mb")
    keel, real = start_keelkv(*args), start_redis(*args)
    yield keel, real
    keel.stop()
    real.stop()


def test_string_size_limit_follows_proto_max_bulk_len(small_bulk_pair) -> None:  # type: ignore[no-untyped-def]
    keel, real = small_bulk_pair
    d = Differ(keel, real)
    try:
        d.both("FLUSHALL")
        d.check("SETRANGE", "s", str(1024 * 1024 - 1), "x")
        d.check("SETRANGE", "s", str(1024 * 1024 - 1), "xy")
        d.check("APPEND", "s", "x")
        d.check("STRLEN", "s")
    finally:
        d.close()


# -- propagation, compared with the AOF real Redis writes ---------------------


def read_aof_commands(workdir: Path) -> list[list[bytes]]:
    reader = hiredis.Reader()
    for path in sorted((workdir / "appendonlydir").glob("*.incr.aof")):
        reader.feed(path.read_bytes())
    out = []
    while (cmd := reader.gets()) is not False:
        out.append(cmd)
    return out


def normalize_times(vectors: list[list[bytes]]) -> list[list[bytes]]:
    """Absolute times within a day of now are replaced by a marker (the two runs differ)."""
    now = time.time() * 1000
    out = []
    for argv in vectors:
        norm = []
        for a in argv:
            if a.isdigit() and abs(int(a) - now) < 86_400_000:
                norm.append(b"<now-ms>")
            else:
                norm.append(a)
        out.append(norm)
    return out


STRING_SCRIPT: list[tuple[str, ...]] = [
    ("SET", "k", "v"),
    ("SET", "k", "v", "EX", "100"),
    ("SET", "k", "v", "px", "100000", "GET"),
    ("SET", "k", "v2", "GET", "KEEPTTL", "get"),
    ("SET", "k", "v", "EXAT", str(FAR_S)),
    ("SET", "k", "v", "PXAT", str(FAR_MS)),
    ("SET", "k", "v", "NX"),
    ("SET", "k", "v", "XX", "GET"),
    ("SET", "k", "v", "EX", "0"),
    ("SETNX", "n", "1"),
    ("SETNX", "n", "2"),
    ("SETEX", "se", "500", "v"),
    ("PSETEX", "pse", "100000", "v"),
    ("GETSET", "k", "x"),
    ("GETEX", "k"),
    ("GETEX", "k", "EX", "100"),
    ("GETEX", "k", "PXAT", str(FAR_MS)),
    ("GETEX", "k", "PERSIST"),
    ("GETEX", "k", "PERSIST"),
    ("GETEX", "k", "EXAT", "1"),
    ("SET", "k", "v"),
    ("GETDEL", "k"),
    ("GETDEL", "k"),
    ("MSET", "a", "1", "b", "2"),
    ("MSETNX", "a", "1", "c", "2"),
    ("MSETNX", "c", "1", "d", "2"),
    ("INCR", "a"),
    ("DECR", "a"),
    ("INCRBY", "a", "10"),
    ("DECRBY", "a", "3"),
    ("INCRBYFLOAT", "a", "0.25"),
    ("INCRBYFLOAT", "f", "10.5"),
    ("INCRBYFLOAT", "f", "abc"),
    ("APPEND", "s", "x"),
    ("APPEND", "s", "yz"),
    ("SETRANGE", "s", "1", "Q"),
    ("SETRANGE", "s", "0", ""),
    ("SETRANGE", "s2", "0", ""),
    ("GET", "s"),
]


@pytest.fixture(scope="module")
def aof_redis():  # type: ignore[no-untyped-def]
    node = start_redis("--appendonly", "yes", "--appendfsync", "always")
    yield node
    node.stop()


def assert_propagation_matches_aof(aof_redis, script: list[tuple[str, ...]]) -> None:  # type: ignore[no-untyped-def]
    with RawClient(aof_redis.port) as c:
        c.call("FLUSHALL")
        for argv in script:
            c.call(*argv)
    written = read_aof_commands(aof_redis.workdir)
    last_flush = max(i for i, a in enumerate(written) if a[0].upper() == b"FLUSHALL")
    theirs = [a for a in written[last_flush + 1 :] if a[0].upper() != b"SELECT"]
    s = Session()
    for argv in script:
        s.run(*argv)
    ours = s.propagated()
    assert normalize_times(ours) == normalize_times(theirs)


def test_string_propagation_matches_redis_aof(aof_redis) -> None:  # type: ignore[no-untyped-def]
    assert_propagation_matches_aof(aof_redis, STRING_SCRIPT)
