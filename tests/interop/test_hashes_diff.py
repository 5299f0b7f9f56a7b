"""Hash commands against real Redis 7.0, reply bytes compared (sorted where Redis's order is
its hashtable's)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import decode

pytestmark = pytest.mark.interop

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


def check_sorted(differ, *argv):  # type: ignore[no-untyped-def]
    """For replies whose order is a hashtable's: same length and the same elements."""
    ours, theirs = differ.both(*argv)
    a, b = decode(ours), decode(theirs)
    assert ours[:1] == theirs[:1], (argv, ours, theirs)
    assert sorted(a) == sorted(b), (argv, a, b)


def test_hset_hget_and_small_hash_order(differ):
    differ.check_all(
        ("HSET", "h", "b", "1", "a", "2", "c", "3"),
        ("HSET", "h", "a", "20", "d", "4"),  # overwrite keeps a's place
        ("HGETALL", "h"),
        ("HKEYS", "h"),
        ("HVALS", "h"),
        ("HGET", "h", "a"),
        ("HGET", "h", "nope"),
        ("HGET", "nokey", "a"),
        ("HMGET", "h", "a", "nope", "d"),
        ("HMGET", "nokey", "a", "b"),
        ("HLEN", "h"),
        ("HLEN", "nokey"),
        ("HEXISTS", "h", "a"),
        ("HEXISTS", "h", "zz"),
        ("HEXISTS", "nokey", "a"),
        ("HSTRLEN", "h", "a"),
        ("HSTRLEN", "h", "zz"),
        ("HSTRLEN", "nokey", "a"),
        ("HMSET", "h", "e", "5", "a", "x"),
        ("HGETALL", "h"),
        ("HSET", "h", "a", "1", "a", "2"),
        ("HGET", "h", "a"),
        ("HGETALL", "nokey"),
        ("HKEYS", "nokey"),
        ("HVALS", "nokey"),
        ("HSET", "h", "", ""),
        ("HGET", "h", ""),
        ("HGETALL", "h"),
    )


def test_hsetnx_and_hdel(differ):
    differ.check_all(
        ("HSETNX", "h", "f", "1"),
        ("HSETNX", "h", "f", "2"),
        ("HGET", "h", "f"),
        ("HSET", "h", "g", "1", "k", "2"),
        ("HDEL", "h", "nope"),
        ("HDEL", "h", "f", "nope", "f"),
        ("HGETALL", "h"),
        ("HDEL", "h", "g", "k"),
        ("EXISTS", "h"),
        ("HDEL", "nokey", "f"),
    )


def test_arity_and_wrong_number_of_arguments(differ):
    differ.check_all(
        ("HSET", "h", "a"),
        ("HSET", "h", "a", "1", "b"),
        ("HMSET", "h", "a"),
        ("HMSET", "h", "a", "1", "b"),
        ("HSET", "h"),
        ("HGET", "h"),
        ("HSETNX", "h", "a"),
        ("HMGET", "h"),
        ("HDEL", "h"),
        ("HLEN",),
        ("HINCRBY", "h", "a"),
        ("HINCRBYFLOAT", "h", "a"),
        ("HSTRLEN", "h"),
        ("HRANDFIELD",),
        ("HSCAN", "h"),
        ("EXISTS", "h"),
    )


def test_wrongtype(differ):
    differ.check("SET", "s", "x")
    for argv in [
        ("HSET", "s", "a", "1"),
        ("HMSET", "s", "a", "1"),
        ("HSETNX", "s", "a", "1"),
        ("HGET", "s", "a"),
        ("HMGET", "s", "a"),
        ("HDEL", "s", "a"),
        ("HEXISTS", "s", "a"),
        ("HLEN", "s"),
        ("HKEYS", "s"),
        ("HVALS", "s"),
        ("HGETALL", "s"),
        ("HINCRBY", "s", "a", "1"),
        ("HINCRBYFLOAT", "s", "a", "1"),
        ("HSTRLEN", "s", "a"),
        ("HRANDFIELD", "s"),
        ("HRANDFIELD", "s", "1"),
        ("HRANDFIELD", "s", "-1", "WITHVALUES"),
        ("HSCAN", "s", "0"),
    ]:
        assert differ.check(*argv) == WRONGTYPE
    # argument errors come before the type check
    differ.check_all(
        ("HSET", "s", "a"),
        ("HINCRBY", "s", "a", "x"),
        ("HINCRBYFLOAT", "s", "a", "x"),
        ("HINCRBYFLOAT", "s", "a", "inf"),
        ("HRANDFIELD", "s", "x"),
        ("HRANDFIELD", "s", "1", "x"),
        ("HSCAN", "s", "x"),
    )


def test_hincrby(differ):
    differ.check_all(
        ("HINCRBY", "h", "a", "5"),
        ("HINCRBY", "h", "a", "-12"),
        ("HINCRBY", "h", "a", "x"),
        ("HINCRBY", "h", "a", "1.5"),
        ("HINCRBY", "h", "a", " 1"),
        ("HINCRBY", "h", "a", "+1"),
        ("HINCRBY", "h", "a", "01"),
        ("HINCRBY", "h", "a", "9223372036854775808"),
        ("HINCRBY", "h", "big", "9223372036854775807"),
        ("HINCRBY", "h", "big", "1"),
        ("HINCRBY", "h", "big", "-9223372036854775808"),
        ("HINCRBY", "h", "big", "-1"),
        ("HINCRBY", "h", "small", "-9223372036854775808"),
        ("HINCRBY", "h", "small", "-1"),
        ("HSET", "h", "s", "abc", "sp", " 1", "z", "007"),
        ("HINCRBY", "h", "s", "1"),
        ("HINCRBY", "h", "sp", "1"),
        ("HINCRBY", "h", "z", "1"),
        ("HINCRBY", "newkey", "f", "3"),
        ("HGETALL", "h"),
        ("HGETALL", "newkey"),
    )


def test_hincrbyfloat(differ):
    differ.check_all(
        ("HINCRBYFLOAT", "h", "f", "10.1"),
        ("HINCRBYFLOAT", "h", "f", "0.1"),
        ("HINCRBYFLOAT", "h", "f", "1e3"),
        ("HINCRBYFLOAT", "h", "f", "-1010.2"),
        ("HINCRBYFLOAT", "h", "g", "0x10"),
        ("HINCRBYFLOAT", "h", "g", "+1.5e2"),
        ("HINCRBYFLOAT", "h", "g", "-.5"),
        ("HINCRBYFLOAT", "h", "g", "5."),
        ("HINCRBYFLOAT", "h", "g", "1e-30"),
        ("HINCRBYFLOAT", "h", "t", "0.000003814697265625"),
        ("HINCRBYFLOAT", "h", "n", "-1.5"),
        ("HINCRBYFLOAT", "h", "n", "1.5"),
        ("HINCRBYFLOAT", "h", "n", "-0.000000000000000001"),
        ("HINCRBYFLOAT", "h", "i", "9223372036854775807"),
        ("HINCRBYFLOAT", "h", "i", "1"),
        ("HINCRBYFLOAT", "h", "x", "x"),
        ("HINCRBYFLOAT", "h", "x", ""),
        ("HINCRBYFLOAT", "h", "x", " 1"),
        ("HINCRBYFLOAT", "h", "x", "1 "),
        ("HINCRBYFLOAT", "h", "x", "1e"),
        ("HINCRBYFLOAT", "h", "x", "0x"),
        ("HINCRBYFLOAT", "h", "x", "nan"),
        ("HINCRBYFLOAT", "h", "x", "inf"),
        ("HINCRBYFLOAT", "h", "x", "-Infinity"),
        ("HINCRBYFLOAT", "h", "x", "1e5000"),
        ("HINCRBYFLOAT", "h", "x", "1e-5000"),
        ("HINCRBYFLOAT", "h", "x", "1e4932"),
        ("HINCRBYFLOAT", "h", "x", "1e4932"),
        ("HINCRBYFLOAT", "h", "y", "0x1p-16445"),
        ("HINCRBYFLOAT", "h", "y", "0x1p-16446"),
        ("HSET", "h", "s", "abc", "inf", "inf", "sp", " 1"),
        ("HINCRBYFLOAT", "h", "s", "1"),
        ("HINCRBYFLOAT", "h", "sp", "1"),
        ("HINCRBYFLOAT", "h", "inf", "1"),
        ("HGET", "h", "inf"),
        ("HINCRBYFLOAT", "h", "f", "1" + "0" * 5200),
        ("HINCRBYFLOAT", "h", "f", "0." + "0" * 5000 + "1"),
        ("HGET", "h", "f"),
        ("HGET", "h", "x"),
        ("HGET", "h", "n"),
    )


decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{frac}{exp}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10**20).map(str),
    st.one_of(st.just(""), st.integers(0, 10**25).map(lambda f: f".{f}")),
    st.one_of(st.just(""), st.integers(-320, 320).map(lambda e: f"e{e}")),
)
extreme = st.builds(
    lambda digits, exp: f"{digits}e{exp}",
    st.integers(1, 10**40).map(str),
    st.integers(-4995, 4940),
)
hexes = st.builds(
    lambda sign, mant, exp: f"{sign}0x{mant:x}p{exp}",
    st.sampled_from(["", "-"]),
    st.integers(0, 2**80),
    st.integers(-16500, 16400),
)
odd = st.text(alphabet="0123456789.eE+-x ", max_size=8)
operands = st.one_of(decimals, decimals, extreme, hexes, odd)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=operands, incr=operands)
def test_hincrbyfloat_digits_match_redis_long_double(differ, start, incr):
    """Parsing (strtold), the 64-bit-significand sum and `%.17Lf` digits, as Redis has them."""
    differ.check("HSET", "hf", "f", start)
    differ.check("HINCRBYFLOAT", "hf", "f", incr)
    differ.check("HINCRBYFLOAT", "hf", "g", start)
    differ.check("HGET", "hf", "f")
    differ.check("HDEL", "hf", "g")


def test_hrandfield(differ):
    differ.check_all(
        ("HRANDFIELD", "nokey"),
        ("HRANDFIELD", "nokey", "5"),
        ("HRANDFIELD", "nokey", "-5", "WITHVALUES"),
        ("HRANDFIELD", "nokey", "0"),
        ("HSET", "h", "b", "1", "a", "2", "c", "3"),
        ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "3"),  # the whole hash, in listpack order
        ("HRANDFIELD", "h", "10", "WITHVALUES"),
        ("HRANDFIELD", "h", "10", "withvalues"),
        ("HRANDFIELD", "h", "x"),
        ("HRANDFIELD", "h", "1.5"),
        ("HRANDFIELD", "h", "1", "WITHVALUE"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
        ("HRANDFIELD", "nokey", "1", "foo"),
        ("HRANDFIELD", "h", "-9223372036854775808"),
        ("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"),
        ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
        ("HRANDFIELD", "nokey", "4611686018427387904", "WITHVALUES"),
        ("HSET", "one", "f", "v"),
        ("HRANDFIELD", "one"),
        ("HRANDFIELD", "one", "1"),
        ("HRANDFIELD", "one", "-3"),
        ("HRANDFIELD", "one", "-3", "WITHVALUES"),
    )
    fields = {b"a": b"2", b"b": b"1", b"c": b"3"}
    for argv in [("HRANDFIELD", "h"), ("HRANDFIELD", "h", "2"), ("HRANDFIELD", "h", "-7")]:
        ours, theirs = differ.both(*argv)
        a, b = decode(ours), decode(theirs)
        if isinstance(a, list):
            assert len(a) == len(b)
            assert set(a) <= set(fields)
            if argv[2] == "2":
                assert len(set(a)) == 2
        else:
            assert a in fields and b in fields
    ours, _ = differ.both("HRANDFIELD", "h", "-5", "WITHVALUES")
    pairs = decode(ours)
    assert len(pairs) == 10
    assert all(fields[pairs[i]] == pairs[i + 1] for i in range(0, 10, 2))


def test_resp3_shapes(differ):
    differ.both("HELLO", "3")
    differ.check_all(
        ("HSET", "h", "b", "1", "a", "2"),
        ("HGETALL", "h"),
        ("HGETALL", "nokey"),
        ("HRANDFIELD", "h", "5", "WITHVALUES"),
        ("HRANDFIELD", "h", "5"),
        ("HRANDFIELD", "nokey"),
        ("HRANDFIELD", "nokey", "3"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"),
        ("HMGET", "h", "a", "zz"),
        ("HGET", "h", "zz"),
        ("HINCRBYFLOAT", "h", "f", "1.5"),
        ("HSCAN", "h", "0"),
        ("HSCAN", "nokey", "0"),
    )
    ours, _ = differ.both("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert ours.startswith(b"*3\r\n*2\r\n")


def test_hscan_small_hash_whole(differ):
    differ.check_all(
        ("HSET", "h", "b", "1", "a", "2", "ab", "3", "c", "4"),
        ("HSCAN", "h", "0"),
        ("HSCAN", "h", "0", "COUNT", "1"),
        ("HSCAN", "h", "12345"),
        ("HSCAN", "h", "-1"),
        ("HSCAN", "h", "+5"),
        ("HSCAN", "h", ""),
        ("HSCAN", "h", "0", "MATCH", "a*"),
        ("HSCAN", "h", "0", "match", "*", "count", "2"),
        ("HSCAN", "h", "0", "MATCH", "[ab]", "MATCH", "?"),
        ("HSCAN", "h", "0", "MATCH", "zz"),
        ("HSCAN", "h", "x"),
        ("HSCAN", "h", "1x"),
        ("HSCAN", "h", " 1"),
        ("HSCAN", "h", "18446744073709551615"),
        ("HSCAN", "h", "18446744073709551616"),
        ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0", "COUNT", "-1"),
        ("HSCAN", "h", "0", "COUNT", "x"),
        ("HSCAN", "h", "0", "COUNT"),
        ("HSCAN", "h", "0", "MATCH"),
        ("HSCAN", "h", "0", "TYPE", "hash"),
        ("HSCAN", "h", "0", "NOVALUES"),
        ("HSCAN", "nokey", "0"),
        ("HSCAN", "nokey", "0", "COUNT", "0"),
        ("HSCAN", "nokey", "x"),
    )


def test_hscan_large_hash_returns_every_field(differ):
    n = 600
    args = []
    for i in range(n):
        args += [f"f{i}", str(i)]
    differ.check("HSET", "big", *args)
    for pattern in (None, "f1*"):
        for server in ("keel", "real"):
            client = getattr(differ, server)
            seen: dict[bytes, bytes] = {}
            cursor = b"0"
            rounds = 0
            while True:
                extra = ("MATCH", pattern) if pattern else ()
                cursor, items = decode(client.call("HSCAN", "big", cursor, "COUNT", "20", *extra))
                seen.update(zip(items[::2], items[1::2], strict=True))
                rounds += 1
                if cursor == b"0":
                    break
            assert rounds > 1
            expected = {f"f{i}".encode(): str(i).encode() for i in range(n)}
            if pattern:
                expected = {k: v for k, v in expected.items() if k.startswith(b"f1")}
            assert seen == expected


def test_large_hash_orders(differ):
    args = []
    for i in range(600):
        args += [f"f{i}", str(i)]
    differ.check("HSET", "big", *args)
    differ.check("HSET", "wide", "a", "1", "b", "x" * 100)
    for argv in [
        ("HGETALL", "big"),
        ("HKEYS", "big"),
        ("HVALS", "big"),
        ("HRANDFIELD", "big", "700"),
        ("HGETALL", "wide"),
    ]:
        check_sorted(differ, *argv)
    differ.check_all(("HLEN", "big"), ("HSTRLEN", "wide", "b"), ("HGET", "big", "f550"))
