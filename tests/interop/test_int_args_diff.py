"""Numeric arguments against real Redis 7.0, byte for byte: each is read by the Redis helper
its command uses (string2ll, getIntFromObjectOrReply, getPositiveLong..., getRangeLong...),
so a space, a '+', a leading zero or a '_' is refused with Redis's text; the lenient C
atoi() of COMMAND GETKEYS's numkeys fallback; and the random-member counts on a missing key
(a huge negative count on an existing zset crashes Redis 7.0.15: see the unit tests)."""

from __future__ import annotations

import pytest

from tests.conftest import Differ

pytestmark = pytest.mark.interop

SPELLINGS = [" 1", "1 ", "+1", "01", "1_0", "1.0", "-0", "", "x", "3000000000", "-3000000000"]


def test_select(differ: Differ) -> None:
    for raw in [*SPELLINGS, "0", "15", "16", "-1", "2147483647", "2147483648"]:
        differ.check("SELECT", raw)
    differ.check("SELECT", "0")


def test_move(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for raw in [*SPELLINGS, "16", "-1", "0", "2147483648"]:
        d.check("MOVE", "k", raw)
    d.check("MOVE", "missing", "+1")
    d.check("MOVE", "k", "1")
    d.check("EXISTS", "k")


def test_swapdb(differ: Differ) -> None:
    d = differ
    for raw in SPELLINGS:
        d.check("SWAPDB", raw, "0")
        d.check("SWAPDB", "0", raw)
    d.check("SWAPDB", "99", "x")  # both are parsed before either is range-checked
    d.check("SWAPDB", "x", "99")
    d.check("SWAPDB", "99", "0")
    d.check("SWAPDB", "0", "-1")
    d.check("SWAPDB", "0", "1")
    d.check("SWAPDB", "0", "1")


def test_copy_db(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for raw in [*SPELLINGS, "16"]:
        d.check("COPY", "k", "k2", "DB", raw)
    d.check("COPY", "k", "k2", "DB", "1")


def test_slowlog_get_count(differ: Differ) -> None:
    for raw in [*SPELLINGS, "-1", "-2", "0", "9223372036854775807", "9223372036854775808"]:
        ours, theirs = differ.both("SLOWLOG", "GET", raw)
        if theirs.startswith(b"-"):
            assert ours == theirs, raw
        else:  # the logs themselves differ (keelkv logs its own commands)
            assert ours[:1] == b"*", (raw, ours)


def test_memory_usage_samples(differ: Differ) -> None:
    d = differ
    d.check("SET", "k", "v")
    for raw in [r for r in SPELLINGS if r != "3000000000"] + ["-1"]:
        d.check("MEMORY", "USAGE", "k", "SAMPLES", raw)
        d.check("MEMORY", "USAGE", "missing", "SAMPLES", raw)
    d.check("MEMORY", "USAGE", "missing", "SAMPLES", "0")
    d.check("MEMORY", "USAGE", "missing", "SAMPLES", "1", "SAMPLES", "2")
    d.check("MEMORY", "USAGE", "k", "SAMPLES")
    d.check("MEMORY", "USAGE", "k", "SAMPLES", "1", "SAMPLES")
    d.check("MEMORY", "USAGE", "k", "SAMPLE", "1")
    # The estimate itself differs from Redis's; only its kind is compared.
    for argv in [("SAMPLES", "0"), ("SAMPLES", "5", "samples", "6"), ("SAMPLES", "3000000000")]:
        ours, theirs = d.both("MEMORY", "USAGE", "k", *argv)
        assert ours[:1] == theirs[:1] == b":", argv


def test_debug_populate(differ: Differ) -> None:
    d = differ
    # (not "3000000000": it is a valid count, and both servers would create the keys)
    for raw in [r for r in SPELLINGS if r != "3000000000"] + ["-1"]:
        d.check("DEBUG", "POPULATE", raw)
        d.check("DEBUG", "POPULATE", "1", "p", raw)
    d.check("DEBUG", "POPULATE", "2", "p", "0")
    d.check("DEBUG", "POPULATE", "2", "q", "3")
    d.check("MGET", "p:0", "p:1", "q:0", "q:1")
    d.check("DBSIZE")


def test_debug_sleep_and_set_active_expire_read_c_prefixes(differ: Differ) -> None:
    d = differ
    for raw in ["0_9", " 0", "0x0", "-1", "x", "nan", "inf"]:
        d.check("DEBUG", "SLEEP", raw)
    for raw in ["0_1", " 1", "+1", "1x", "4294967297"]:
        d.check("DEBUG", "SET-ACTIVE-EXPIRE", raw)


NUMKEYS = ["2", " 2", "+2", "02", "2abc", "1_0", "abc", "-1", "0", "5", "-0"]


@pytest.mark.parametrize("numkeys", NUMKEYS)
def test_command_getkeys_numkeys(differ: Differ, numkeys: str) -> None:
    for argv in [
        ("ZUNIONSTORE", "d", numkeys, "a", "b"),
        ("ZDIFFSTORE", "d", numkeys, "a", "b"),
        ("ZUNION", numkeys, "a", "b"),
        ("ZINTERCARD", numkeys, "a", "b"),
        ("SINTERCARD", numkeys, "a", "b"),
        ("LMPOP", numkeys, "a", "b", "LEFT"),
        ("ZMPOP", numkeys, "a", "b", "MIN"),
        ("BLMPOP", "0", numkeys, "a", "b", "LEFT"),
        ("BZMPOP", "0", numkeys, "a", "b", "MIN"),
        ("EVAL", "s", numkeys, "a", "b"),
        ("EVALSHA_RO", "s", numkeys, "a", "b"),
        ("FCALL", "f", numkeys, "a", "b"),
    ]:
        differ.check("COMMAND", "GETKEYS", *argv)
        differ.check("COMMAND", "GETKEYSANDFLAGS", *argv)


def test_random_member_counts_on_a_missing_key(differ: Differ) -> None:
    huge = "-9223372036854775807"
    for name, option in [
        ("ZRANDMEMBER", "WITHSCORES"),
        ("HRANDFIELD", "WITHVALUES"),
        ("SRANDMEMBER", None),
    ]:
        for count in [huge, "-9223372036854775808", "-4611686018427387904", "+1", " 1"]:
            differ.check(name, "missing", count)
            if option is not None:
                differ.check(name, "missing", count, option)
