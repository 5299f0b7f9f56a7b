"""Hash commands, sans-IO: replies, keyspace effects, propagated vectors, and the long double
arithmetic behind HINCRBYFLOAT."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.commands.args import parse_ll
from node.commands.hashes import hash_is_listpack
from tests.unit.sansio import Session


@pytest.fixture
def s() -> Session:
    return Session()


def err(reply: object) -> str:
    assert isinstance(reply, Exception), reply
    return str(reply).removeprefix("ERR ")


# -- replies and keyspace effects -----------------------------------------------


def test_hset_counts_new_fields_and_keeps_field_order(s: Session) -> None:
    assert s.run("HSET", "h", "b", "1", "a", "2") == 2
    assert s.run("HSET", "h", "b", "10", "c", "3") == 1
    assert s.run("HGETALL", "h") == [b"b", b"10", b"a", b"2", b"c", b"3"]
    assert s.run("HKEYS", "h") == [b"b", b"a", b"c"]
    assert s.run("HVALS", "h") == [b"10", b"2", b"3"]
    assert s.server.dirty == 4  # one per pair written, like Redis


def test_hset_with_duplicate_fields_in_one_call(s: Session) -> None:
    assert s.run("HSET", "h", "a", "1", "b", "2", "a", "3") == 2
    assert s.run("HGETALL", "h") == [b"a", b"3", b"b", b"2"]


def test_odd_pairs_are_an_arity_error_before_the_type_check(s: Session) -> None:
    s.run("SET", "str", "x")
    assert err(s.run("HSET", "str", "a", "1", "b")) == (
        "wrong number of arguments for 'hset' command"
    )
    assert err(s.run("HMSET", "h", "a", "1", "b")) == (
        "wrong number of arguments for 'hmset' command"
    )
    assert s.run("HMSET", "h", "a", "1") == b"OK"


def test_missing_key_replies(s: Session) -> None:
    assert s.run("HGET", "no", "f") is None
    assert s.run("HMGET", "no", "a", "b") == [None, None]
    assert s.run("HLEN", "no") == 0
    assert s.run("HSTRLEN", "no", "f") == 0
    assert s.run("HEXISTS", "no", "f") == 0
    assert s.run("HKEYS", "no") == []
    assert s.run("HGETALL", "no") == []
    assert s.run("HDEL", "no", "f") == 0
    assert s.run("HRANDFIELD", "no") is None
    assert s.run("HRANDFIELD", "no", "3") == []
    assert s.run("HSCAN", "no", "0") == [b"0", []]
    assert s.propagated() == []


def test_wrongtype_everywhere(s: Session) -> None:
    s.run("SADD", "set", "m")
    for argv in [
        ("HSET", "set", "a", "1"),
        ("HSETNX", "set", "a", "1"),
        ("HGET", "set", "a"),
        ("HMGET", "set", "a"),
        ("HDEL", "set", "a"),
        ("HLEN", "set"),
        ("HGETALL", "set"),
        ("HINCRBY", "set", "a", "1"),
        ("HINCRBYFLOAT", "set", "a", "1"),
        ("HRANDFIELD", "set", "2"),
        ("HSCAN", "set", "0"),
    ]:
        assert err(s.run(*argv)).startswith("WRONGTYPE"), argv


def test_hdel_deletes_the_emptied_key(s: Session) -> None:
    s.run("HSET", "h", "a", "1", "b", "2")
    s.propagated()
    assert s.run("HDEL", "h", "a", "zz", "b", "a") == 2
    assert b"h" not in s.server.dbs[0].data
    assert s.propagated() == [[b"HDEL", b"h", b"a", b"zz", b"b", b"a"]]


def test_hstrlen_and_hexists(s: Session) -> None:
    s.run("HSET", "h", "f", "hello")
    assert s.run("HSTRLEN", "h", "f") == 5
    assert s.run("HSTRLEN", "h", "g") == 0
    assert s.run("HEXISTS", "h", "f") == 1


def test_write_on_an_expired_key_starts_a_new_hash(s: Session) -> None:
    s.run("HSET", "h", "old", "1")
    s.server.dbs[0].set_expire(b"h", 1)
    assert s.run("HSET", "h", "new", "2") == 1
    assert s.run("HGETALL", "h") == [b"new", b"2"]
    assert b"h" not in s.server.dbs[0].expires


# -- counters -------------------------------------------------------------------


def test_hincrby(s: Session) -> None:
    assert s.run("HINCRBY", "h", "n", "5") == 5
    assert s.run("HINCRBY", "h", "n", "-7") == -2
    assert err(s.run("HINCRBY", "h", "n", "x")) == "value is not an integer or out of range"
    s.run("HSET", "h", "s", "abc", "m", str(2**63 - 1))
    assert err(s.run("HINCRBY", "h", "s", "1")) == "hash value is not an integer"
    assert err(s.run("HINCRBY", "h", "m", "1")) == "increment or decrement would overflow"
    assert s.run("HGET", "h", "n") == b"-2"


def test_hincrbyfloat(s: Session) -> None:
    assert s.run("HINCRBYFLOAT", "h", "f", "10.1") == b"10.1"
    assert s.run("HINCRBYFLOAT", "h", "f", "0.1") == b"10.2"
    assert s.run("HINCRBYFLOAT", "h", "f", "-10.2") == b"0"
    assert err(s.run("HINCRBYFLOAT", "h", "f", "abc")) == "value is not a valid float"
    assert err(s.run("HINCRBYFLOAT", "h", "f", "inf")) == "value is NaN or Infinity"
    assert err(s.run("HINCRBYFLOAT", "h", "f", "nan")) == "value is not a valid float"
    s.run("HSET", "h", "s", "abc", "i", "inf", "max", "1e4932")
    assert err(s.run("HINCRBYFLOAT", "h", "s", "1")) == "hash value is not a float"
    assert err(s.run("HINCRBYFLOAT", "h", "i", "1")) == "increment would produce NaN or Infinity"
    assert err(s.run("HINCRBYFLOAT", "h", "max", "1e4932")) == (
        "increment would produce NaN or Infinity"
    )


def test_hsetnx(s: Session) -> None:
    assert s.run("HSETNX", "h", "f", "1") == 1
    assert s.run("HSETNX", "h", "f", "2") == 0
    assert s.run("HGET", "h", "f") == b"1"
    assert s.propagated() == [[b"HSETNX", b"h", b"f", b"1"]]


# -- propagation ----------------------------------------------------------------


def test_propagated_vectors(s: Session) -> None:
    s.run("HSET", "h", "a", "1")
    s.run("HSET", "h", "a", "1")  # same value: Redis still propagates it (dirty grows)
    s.run("HMSET", "h", "b", "2")
    s.run("HDEL", "h", "zz")  # no-op
    s.run("HINCRBY", "h", "c", "3")
    s.run("HINCRBY", "h", "c", "x")  # failed
    assert s.propagated() == [
        [b"HSET", b"h", b"a", b"1"],
        [b"HSET", b"h", b"a", b"1"],
        [b"HMSET", b"h", b"b", b"2"],
        [b"HINCRBY", b"h", b"c", b"3"],
    ]


def test_hincrbyfloat_propagates_hset_with_the_final_value(s: Session) -> None:
    s.run("HSET", "h", "f", "1.5")
    s.propagated()
    assert s.run("HINCRBYFLOAT", "h", "f", "0.1") == b"1.6"
    assert s.run("HINCRBYFLOAT", "h", "f", "1e3") == b"1001.59999999999999998"
    assert s.run("HINCRBYFLOAT", "h", "g", "3.0e0") == b"3"
    assert s.propagated() == [
        [b"HSET", b"h", b"f", b"1.6"],
        [b"HSET", b"h", b"f", b"1001.59999999999999998"],
        [b"HSET", b"h", b"g", b"3"],
    ]


def test_reads_propagate_nothing(s: Session) -> None:
    s.run("HSET", "h", "a", "1")
    s.propagated()
    for argv in [
        ("HGET", "h", "a"),
        ("HMGET", "h", "a"),
        ("HGETALL", "h"),
        ("HRANDFIELD", "h", "-3"),
        ("HSCAN", "h", "0"),
        ("HSETNX", "h", "a", "2"),
    ]:
        s.run(*argv)
    assert s.propagated() == []


# -- HRANDFIELD -----------------------------------------------------------------


def test_hrandfield_shapes(s: Session) -> None:
    s.run("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert s.run("HRANDFIELD", "h") in (b"a", b"b", b"c")
    assert s.run("HRANDFIELD", "h", "5") == [b"a", b"b", b"c"]
    assert s.run("HRANDFIELD", "h", "5", "WITHVALUES") == [b"a", b"1", b"b", b"2", b"c", b"3"]
    two = s.run("HRANDFIELD", "h", "2")
    assert len(set(two)) == 2 and set(two) <= {b"a", b"b", b"c"}
    many = s.run("HRANDFIELD", "h", "-10", "WITHVALUES")
    assert len(many) == 20
    assert all(
        dict(a=b"1", b=b"2", c=b"3")[k.decode()] == v
        for k, v in zip(many[::2], many[1::2], strict=True)
    )
    assert s.run("HRANDFIELD", "h", "0") == []
    assert err(s.run("HRANDFIELD", "h", "1", "WITHSCORES")) == "syntax error"
    assert err(s.run("HRANDFIELD", "h", str(-(2**63)))).startswith("value is out of range")
    assert err(s.run("HRANDFIELD", "h", str(2**62), "WITHVALUES")) == "value is out of range"
    assert err(s.run("HRANDFIELD", "h", "-1000000000")) == "value is out of range"


def test_hrandfield_resp3_pairs() -> None:
    s = Session(resp3=True)
    s.run("HSET", "h", "a", "1")
    assert s.raw("HRANDFIELD", "h", "-2", "WITHVALUES") == (
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    )
    assert s.raw("HGETALL", "h") == b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert s.raw("HGETALL", "nope") == b"%0\r\n"


def test_hrandfield_is_uniform_enough(s: Session) -> None:
    s.run("HSET", "h", *[x for i in range(4) for x in (f"f{i}", "v")])
    seen = {s.run("HRANDFIELD", "h") for _ in range(200)}
    assert len(seen) == 4


# -- HSCAN ----------------------------------------------------------------------


def test_hscan_small_hash_is_returned_whole(s: Session) -> None:
    s.run("HSET", "h", "b", "1", "a", "2", "ab", "3")
    assert s.run("HSCAN", "h", "77", "COUNT", "1") == [b"0", [b"b", b"1", b"a", b"2", b"ab", b"3"]]
    assert s.run("HSCAN", "h", "0", "MATCH", "a*") == [b"0", [b"a", b"2", b"ab", b"3"]]


def test_hscan_large_hash_walks_with_a_cursor(s: Session) -> None:
    n = s.server.config.hash_max_listpack_entries + 10
    s.run("HSET", "h", *[x for i in range(n) for x in (f"f{i}", str(i))])
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    calls = 0
    while True:
        cursor, items = s.run("HSCAN", "h", cursor, "COUNT", "50")
        seen.update(zip(items[::2], items[1::2], strict=True))
        calls += 1
        if cursor == b"0":
            break
    assert calls > 1
    assert seen == {f"f{i}".encode(): str(i).encode() for i in range(n)}


def test_hscan_option_errors(s: Session) -> None:
    s.run("HSET", "h", "a", "1")
    assert err(s.run("HSCAN", "h", "x")) == "invalid cursor"
    assert err(s.run("HSCAN", "h", "0", "COUNT", "0")) == "syntax error"
    assert err(s.run("HSCAN", "h", "0", "COUNT", "y")) == "value is not an integer or out of range"
    assert err(s.run("HSCAN", "h", "0", "TYPE", "hash")) == "syntax error"
    assert s.run("HSCAN", "missing", "0", "COUNT", "0") == [b"0", []]


def test_listpack_predicate(s: Session) -> None:
    config = s.server.config
    assert hash_is_listpack({b"a": b"1"}, config)
    assert not hash_is_listpack({b"a": b"x" * (config.hash_max_listpack_value + 1)}, config)
    big = {str(i).encode(): b"" for i in range(config.hash_max_listpack_entries + 1)}
    assert not hash_is_listpack(big, config)


# -- against a model ----------------------------------------------------------------

_fields = st.sampled_from([b"a", b"b", b"c", b"d", b"10"])
_values = st.sampled_from([b"1", b"-3", b"x", b"", b"9223372036854775807"])
_hash_ops = st.lists(
    st.one_of(
        st.tuples(st.just("HSET"), st.lists(st.tuples(_fields, _values), min_size=1, max_size=3)),
        st.tuples(st.just("HSETNX"), st.tuples(_fields, _values)),
        st.tuples(st.just("HDEL"), st.lists(_fields, min_size=1, max_size=3)),
        st.tuples(st.just("HINCRBY"), st.tuples(_fields, st.integers(-5, 5))),
    ),
    max_size=25,
)


@settings(max_examples=200)
@given(_hash_ops)
def test_hash_commands_agree_with_a_dict_model(ops: list[tuple[str, object]]) -> None:
    s = Session()
    model: dict[bytes, bytes] = {}
    for name, args in ops:
        if name == "HSET":
            pairs = args
            assert isinstance(pairs, list)
            new = sum(1 for f in dict(pairs) if f not in model)
            flat = [x for pair in pairs for x in pair]
            assert s.run("HSET", "h", *flat) == new
            model.update(pairs)
        elif name == "HSETNX":
            f, v = args  # type: ignore[misc]
            assert s.run("HSETNX", "h", f, v) == int(f not in model)
            model.setdefault(f, v)
        elif name == "HDEL":
            fields = args
            assert isinstance(fields, list)
            gone = {f for f in fields if f in model}
            assert s.run("HDEL", "h", *fields) == len(gone)
            for f in gone:
                del model[f]
        else:
            f, n = args  # type: ignore[misc]
            old = model.get(f, b"0")
            reply = s.run("HINCRBY", "h", f, n)
            if parse_ll(old) is None:
                assert err(reply) == "hash value is not an integer"
            elif not -(2**63) <= int(old) + n < 2**63:
                assert err(reply) == "increment or decrement would overflow"
            else:
                assert reply == int(old) + n
                model[f] = str(int(old) + n).encode()
        flat_model = [x for item in model.items() for x in item]
        assert s.run("HGETALL", "h") == flat_model
        assert s.run("HLEN", "h") == len(model)
        assert (b"h" in s.server.dbs[0].data) == bool(model)
