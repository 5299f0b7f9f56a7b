"""Set commands, sans-IO: replies, keyspace effects and the exact propagated vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.commands import sets as set_commands
from node.commands.sets import intset_order
from tests.unit.sansio import Session


@pytest.fixture
def s() -> Session:
    return Session()


def err(reply: object) -> str:
    assert isinstance(reply, Exception), reply
    return str(reply).removeprefix("ERR ")


def members(s: Session, key: str) -> set[bytes]:
    return set(s.run("SMEMBERS", key))


# -- basics -----------------------------------------------------------------------


def test_sadd_srem_and_membership(s: Session) -> None:
    assert s.run("SADD", "s", "a", "b", "a") == 2
    assert s.run("SADD", "s", "a") == 0
    assert s.run("SCARD", "s") == 2
    assert s.run("SISMEMBER", "s", "a") == 1
    assert s.run("SMISMEMBER", "s", "a", "z", "b") == [1, 0, 1]
    assert s.run("SREM", "s", "a", "z", "a") == 1
    assert s.run("SREM", "s", "b") == 1
    assert b"s" not in s.server.dbs[0].data
    assert s.run("SMISMEMBER", "s", "a") == [0]
    assert s.server.dirty == 4


def test_smembers_of_an_intset_is_numerically_sorted(s: Session) -> None:
    s.run("SADD", "i", "10", "-3", "2", "0", "9223372036854775807", "-9223372036854775808")
    assert s.run("SMEMBERS", "i") == [
        b"-9223372036854775808",
        b"-3",
        b"0",
        b"2",
        b"10",
        b"9223372036854775807",
    ]
    assert s.run("SSCAN", "i", "0", "COUNT", "1") == [b"0", s.run("SMEMBERS", "i")]


def test_intset_predicate(s: Session) -> None:
    config = s.server.config
    assert intset_order({b"2", b"-1"}, config) == [b"-1", b"2"]
    for not_ints in ({b"01"}, {b"+1"}, {b"1", b"a"}, {b"9223372036854775808"}, {b"-0"}):
        assert intset_order(not_ints, config) is None
    big = {str(i).encode() for i in range(config.set_max_intset_entries + 1)}
    assert intset_order(big, config) is None


def test_resp3_set_shapes() -> None:
    s = Session(resp3=True)
    s.run("SADD", "s", "2", "1")
    assert s.raw("SMEMBERS", "s") == b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert s.raw("SMEMBERS", "nope") == b"~0\r\n"
    assert s.raw("SRANDMEMBER", "s", "5") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    assert s.raw("SPOP", "nope", "1") == b"~0\r\n"
    assert s.raw("SPOP", "nope") == b"_\r\n"
    assert s.raw("SINTER", "s", "nope") == b"~0\r\n"


def test_wrongtype(s: Session) -> None:
    s.run("SET", "str", "x")
    s.run("SADD", "s", "1")
    for argv in [
        ("SADD", "str", "a"),
        ("SMEMBERS", "str"),
        ("SPOP", "str", "2"),
        ("SRANDMEMBER", "str"),
        ("SMOVE", "s", "str", "1"),
        ("SINTER", "nope", "str"),
        ("SUNIONSTORE", "d", "s", "str"),
        ("SINTERCARD", "2", "s", "str"),
        ("SSCAN", "str", "0"),
    ]:
        assert err(s.run(*argv)).startswith("WRONGTYPE"), argv
    assert s.run("SMOVE", "nope", "str", "1") == 0


# -- SPOP / SRANDMEMBER -----------------------------------------------------------


def test_spop_one_propagates_srem(s: Session) -> None:
    s.run("SADD", "s", "a", "b")
    s.propagated()
    popped = s.run("SPOP", "s")
    assert popped in (b"a", b"b")
    assert s.propagated() == [[b"SREM", b"s", popped]]
    last = s.run("SPOP", "s")
    # emptying the set with a single SPOP is still an SREM, as Redis writes it
    assert s.propagated() == [[b"SREM", b"s", last]]
    assert b"s" not in s.server.dbs[0].data


def test_spop_count_propagates_one_srem_per_member_in_a_transaction(s: Session) -> None:
    s.run("SADD", "s", "a", "b", "c", "d")
    s.propagated()
    popped = s.run("SPOP", "s", "2")
    assert len(set(popped)) == 2
    assert s.propagated() == [
        [b"MULTI"],
        [b"SREM", b"s", popped[0]],
        [b"SREM", b"s", popped[1]],
        [b"EXEC"],
    ]
    assert members(s, "s") == {b"a", b"b", b"c", b"d"} - set(popped)
    one = s.run("SPOP", "s", "1")
    assert s.propagated() == [[b"SREM", b"s", one[0]]]


def test_spop_count_that_empties_the_set_propagates_del(s: Session) -> None:
    s.run("SADD", "s", "3", "1", "2")
    s.propagated()
    assert s.run("SPOP", "s", "5") == [b"1", b"2", b"3"]
    assert s.propagated() == [[b"DEL", b"s"]]
    assert b"s" not in s.server.dbs[0].data
    assert s.run("SPOP", "s", "5") == []
    assert s.run("SPOP", "s", "0") == []
    assert s.propagated() == []


def test_spop_argument_errors(s: Session) -> None:
    s.run("SADD", "s", "a")
    assert err(s.run("SPOP", "s", "-1")) == "value is out of range, must be positive"
    assert err(s.run("SPOP", "s", "x")) == "value is out of range, must be positive"
    assert err(s.run("SPOP", "s", "1", "2")) == "syntax error"


def test_spop_on_a_large_set(s: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(set_commands, "SPOP_UNIFORM_MAX", 8)
    s.run("SADD", "s", *[f"m{i}" for i in range(40)])
    s.propagated()
    got = s.run("SPOP", "s")
    got_many = s.run("SPOP", "s", "3")
    assert len({got, *got_many}) == 4
    assert s.run("SCARD", "s") == 36
    assert s.propagated()[0] == [b"SREM", b"s", got]


def test_srandmember(s: Session) -> None:
    s.run("SADD", "s", "a", "b", "c")
    s.propagated()
    assert s.run("SRANDMEMBER", "s") in (b"a", b"b", b"c")
    assert sorted(s.run("SRANDMEMBER", "s", "10")) == [b"a", b"b", b"c"]
    two = s.run("SRANDMEMBER", "s", "2")
    assert len(set(two)) == 2
    assert len(s.run("SRANDMEMBER", "s", "-7")) == 7
    assert s.run("SRANDMEMBER", "s", "0") == []
    assert s.run("SRANDMEMBER", "nope", "3") == []
    assert s.run("SRANDMEMBER", "nope") is None
    assert err(s.run("SRANDMEMBER", "s", str(-(2**63)))).startswith("value is out of range")
    assert err(s.run("SRANDMEMBER", "s", "1", "2")) == "syntax error"
    assert s.run("SCARD", "s") == 3
    assert s.propagated() == []
    assert {s.run("SRANDMEMBER", "s") for _ in range(100)} == {b"a", b"b", b"c"}


# -- SMOVE ----------------------------------------------------------------------


def test_smove(s: Session) -> None:
    s.run("SADD", "a", "x", "y")
    s.run("SADD", "b", "y")
    s.propagated()
    assert s.run("SMOVE", "a", "b", "x") == 1
    assert s.run("SMOVE", "a", "b", "y") == 1  # already in b
    assert b"a" not in s.server.dbs[0].data
    assert s.run("SMOVE", "b", "b", "x") == 1  # same key: membership only, no write
    assert s.run("SMOVE", "b", "b", "z") == 0
    assert s.run("SMOVE", "b", "c", "z") == 0
    assert s.run("SMOVE", "b", "c", "x") == 1
    assert members(s, "b") == {b"y"} and members(s, "c") == {b"x"}
    assert s.propagated() == [
        [b"SMOVE", b"a", b"b", b"x"],
        [b"SMOVE", b"a", b"b", b"y"],
        [b"SMOVE", b"b", b"c", b"x"],
    ]


# -- algebra --------------------------------------------------------------------


def test_inter_union_diff(s: Session) -> None:
    s.run("SADD", "a", "x", "y", "z")
    s.run("SADD", "b", "y", "z", "w")
    assert set(s.run("SINTER", "a", "b")) == {b"y", b"z"}
    assert set(s.run("SUNION", "a", "b", "nope")) == {b"x", b"y", b"z", b"w"}
    assert set(s.run("SDIFF", "a", "b")) == {b"x"}
    assert s.run("SDIFF", "nope", "a") == []
    assert s.run("SINTER", "a", "nope") == []
    assert s.run("SINTERCARD", "2", "a", "b") == 2
    assert s.run("SINTERCARD", "2", "a", "b", "LIMIT", "1") == 1
    assert s.run("SINTERCARD", "2", "a", "nope") == 0


def test_sintercard_argument_errors(s: Session) -> None:
    assert err(s.run("SINTERCARD", "0", "a")) == "numkeys should be greater than 0"
    assert err(s.run("SINTERCARD", "x", "a")) == "numkeys should be greater than 0"
    assert (
        err(s.run("SINTERCARD", "2", "a")) == "Number of keys can't be greater than number of args"
    )
    assert err(s.run("SINTERCARD", "1", "a", "LIMIT", "-1")) == "LIMIT can't be negative"
    assert err(s.run("SINTERCARD", "1", "a", "LIMIT")) == "syntax error"
    assert err(s.run("SINTERCARD", "1", "a", "b")) == "syntax error"


def test_store_commands_propagate_as_sent(s: Session) -> None:
    s.run("SADD", "a", "1", "2", "3")
    s.run("SADD", "b", "3", "4")
    s.propagated()
    assert s.run("SINTERSTORE", "d", "a", "b") == 1
    assert s.run("SUNIONSTORE", "d", "a", "b") == 4
    assert s.run("SDIFFSTORE", "d", "a", "b") == 2
    assert s.run("SMEMBERS", "d") == [b"1", b"2"]
    assert s.propagated() == [
        [b"SINTERSTORE", b"d", b"a", b"b"],
        [b"SUNIONSTORE", b"d", b"a", b"b"],
        [b"SDIFFSTORE", b"d", b"a", b"b"],
    ]


def test_empty_store_deletes_the_destination_and_propagates_only_if_it_existed(
    s: Session,
) -> None:
    s.run("SADD", "a", "1")
    s.run("SET", "d", "string")
    s.propagated()
    dirty = s.server.dirty
    assert s.run("SINTERSTORE", "d", "a", "nope") == 0
    assert b"d" not in s.server.dbs[0].data
    assert s.propagated() == [[b"SINTERSTORE", b"d", b"a", b"nope"]]
    assert s.run("SDIFFSTORE", "d", "a", "a") == 0  # nothing to delete: a no-op
    assert s.propagated() == []
    assert s.server.dirty == dirty + 1


def test_store_replaces_any_type_and_drops_the_ttl(s: Session) -> None:
    s.run("SADD", "a", "1")
    s.run("SET", "d", "string")
    s.server.dbs[0].set_expire(b"d", s.server.mstime + 100_000)
    assert s.run("SUNIONSTORE", "d", "a") == 1
    assert s.server.dbs[0].data[b"d"] == {b"1"}
    assert b"d" not in s.server.dbs[0].expires
    # the stored set is a new object, not the source
    s.run("SADD", "a", "2")
    assert s.run("SCARD", "d") == 1


# -- SSCAN ----------------------------------------------------------------------


def test_sscan_walks_a_large_set(s: Session) -> None:
    n = 300
    s.run("SADD", "s", *[f"m{i}" for i in range(n)])
    seen: set[bytes] = set()
    cursor, calls = b"0", 0
    while True:
        cursor, items = s.run("SSCAN", "s", cursor, "COUNT", "40", "MATCH", "m*")
        seen.update(items)
        calls += 1
        if cursor == b"0":
            break
    assert calls > 1
    assert seen == {f"m{i}".encode() for i in range(n)}
    assert err(s.run("SSCAN", "s", "0", "COUNT", "0")) == "syntax error"
    assert err(s.run("SSCAN", "s", "nope")) == "invalid cursor"


# -- against a model ----------------------------------------------------------------

_members = st.sampled_from([b"1", b"2", b"-7", b"a", b"b", b"", b"10"])
_keys = st.sampled_from([b"k", b"l", b"m"])
_set_ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["SADD", "SREM"]), _keys, st.lists(_members, min_size=1, max_size=3)
        ),
        st.tuples(st.just("SMOVE"), _keys, st.tuples(_keys, _members)),
        st.tuples(
            st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            _keys,
            st.lists(_keys, min_size=1, max_size=3),
        ),
    ),
    max_size=20,
)


@settings(max_examples=200)
@given(_set_ops)
def test_set_commands_agree_with_a_model(ops: list[tuple[str, bytes, object]]) -> None:
    s = Session()
    model: dict[bytes, set[bytes]] = {}
    for name, key, args in ops:
        current = model.get(key, set())
        if name == "SADD":
            assert isinstance(args, list)
            assert s.run(name, key, *args) == len(set(args) - current)
            model[key] = current | set(args)
        elif name == "SREM":
            assert isinstance(args, list)
            assert s.run(name, key, *args) == len(set(args) & current)
            model[key] = current - set(args)
        elif name == "SMOVE":
            dst, member = args  # type: ignore[misc]
            moved = member in current
            assert s.run(name, key, dst, member) == int(moved)
            if moved and dst != key:
                model[key] = current - {member}
                model[dst] = model.get(dst, set()) | {member}
        else:
            assert isinstance(args, list)
            sources = [model.get(k, set()) for k in args]
            if name == "SINTERSTORE":
                result = set.intersection(*sources)
            elif name == "SUNIONSTORE":
                result = set.union(*sources)
            else:
                result = sources[0].difference(*sources[1:])
            assert s.run(name, key, *args) == len(result)
            model[key] = set(result)
        model = {k: v for k, v in model.items() if v}
        for k in (b"k", b"l", b"m"):
            expected = model.get(k, set())
            assert set(s.run("SMEMBERS", k)) == expected
            assert s.run("SCARD", k) == len(expected)
            assert (k in s.server.dbs[0].data) == bool(expected)
        inter = set.intersection(*[model.get(k, set()) for k in (b"k", b"l")])
        assert s.run("SINTERCARD", "2", "k", "l") == len(inter)
        assert s.run("SINTERCARD", "2", "k", "l", "LIMIT", "1") == min(1, len(inter))
