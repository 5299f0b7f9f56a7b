"""Generic key commands, sans-IO: replies, keyspace effects and the exact propagated vectors."""

from __future__ import annotations

import time
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.zset import ZSet
from tests.unit import sansio
from tests.unit.sansio import Session, make_server

NOW = 1_700_000_000_000


@pytest.fixture
def s(monkeypatch: pytest.MonkeyPatch) -> Session:
    """A session whose clock is frozen at NOW, so absolute expiry times are exact."""
    monkeypatch.setattr(sansio, "mstime", lambda: NOW)
    return Session()


def err(reply: object) -> str:
    assert isinstance(reply, Exception), reply
    return str(reply)


# -- DEL / UNLINK / EXISTS / TOUCH / TYPE ---------------------------------------------


def test_del_counts_and_propagates_only_when_something_was_deleted(s: Session) -> None:
    s.run("MSET", "a", "1", "b", "2")
    s.propagated()
    assert s.run("DEL", "a", "missing", "a") == 1
    assert s.run("DEL", "missing") == 0
    assert s.run("unlink", "b", "x") == 1
    assert s.propagated() == [[b"DEL", b"a", b"missing", b"a"], [b"unlink", b"b", b"x"]]
    assert s.server.dirty == 4


def test_exists_touch_count_repeats(s: Session) -> None:
    s.run("SET", "a", "1")
    assert s.run("EXISTS", "a", "a", "b") == 2
    assert s.run("TOUCH", "a", "b") == 1
    assert s.propagated() == [[b"SET", b"a", b"1"]]


def test_type_names(s: Session) -> None:
    db = s.server.dbs[0]
    db.add(b"s", b"v")
    db.add(b"l", deque([b"x"]))
    db.add(b"h", {b"f": b"v"})
    db.add(b"st", {b"m"})
    z = ZSet()
    z.add(b"m", 1.0)
    db.add(b"z", z)
    replies = [s.run("TYPE", k) for k in ("s", "l", "h", "st", "z", "none")]
    assert replies == [b"string", b"list", b"hash", b"set", b"zset", b"none"]


# -- RENAME / COPY ------------------------------------------------------------------


def test_rename_moves_value_and_ttl(s: Session) -> None:
    db = s.server.dbs[0]
    s.run("SET", "a", "1", "PXAT", "1800000000000")
    s.run("SET", "b", "old")
    s.propagated()
    assert s.run("RENAME", "a", "b") == b"OK"
    assert db.data == {b"b": b"1"}
    assert db.expires == {b"b": 1_800_000_000_000}
    assert s.propagated() == [[b"RENAME", b"a", b"b"]]


def test_rename_errors_and_noops(s: Session) -> None:
    assert err(s.run("RENAME", "missing", "x")) == "ERR no such key"
    assert err(s.run("RENAMENX", "missing", "missing")) == "ERR no such key"
    s.run("SET", "a", "1")
    s.run("SET", "b", "2")
    s.propagated()
    assert s.run("RENAME", "a", "a") == b"OK"
    assert s.run("RENAMENX", "a", "a") == 0
    assert s.run("RENAMENX", "a", "b") == 0
    assert s.propagated() == []
    assert s.run("RENAMENX", "a", "c") == 1
    assert s.propagated() == [[b"RENAMENX", b"a", b"c"]]


def test_rename_of_a_list_wakes_a_client_blocked_on_the_new_name(s: Session) -> None:
    waiter = Session(s.server)
    assert waiter.raw("BLPOP", "dst", "0") == b""  # blocked: no reply yet
    s.run("RPUSH", "src", "x")
    s.run("RENAME", "src", "dst")
    assert b"".join(waiter.client.out) == b"*2\r\n$3\r\ndst\r\n$1\r\nx\r\n"


def test_copy_is_independent_and_keeps_ttl(s: Session) -> None:
    db = s.server.dbs[0]
    db.add(b"l", deque([b"a"]))
    db.set_expire(b"l", 1_800_000_000_000)
    assert s.run("COPY", "l", "l2") == 1
    db.data[b"l2"].append(b"b")
    assert db.data[b"l"] == deque([b"a"])
    assert db.expires[b"l2"] == 1_800_000_000_000
    assert s.run("COPY", "l", "l2") == 0
    assert s.run("COPY", "l", "l2", "REPLACE") == 1
    assert s.run("COPY", "l", "l", "DB", "1") == 1
    assert s.server.dbs[1].data[b"l"] == deque([b"a"])
    assert s.propagated() == [
        [b"COPY", b"l", b"l2"],
        [b"COPY", b"l", b"l2", b"REPLACE"],
        [b"COPY", b"l", b"l", b"DB", b"1"],
    ]


def test_copy_errors(s: Session) -> None:
    s.run("SET", "a", "1")
    assert err(s.run("COPY", "a", "a")) == "ERR source and destination objects are the same"
    assert err(s.run("COPY", "a", "b", "DB")) == "ERR syntax error"
    assert err(s.run("COPY", "a", "b", "DB", "16")) == "ERR DB index is out of range"
    assert err(s.run("COPY", "a", "b", "DB", "x")) == "ERR value is not an integer or out of range"
    assert (
        err(s.run("COPY", "a", "b", "DB", "2147483648"))
        == "ERR value is out of range, value must between -2147483648 and 2147483647"
    )
    assert s.run("COPY", "missing", "b") == 0


# -- KEYS / SCAN / RANDOMKEY --------------------------------------------------------------


def test_keys_skips_but_does_not_delete_expired(s: Session) -> None:
    db = s.server.dbs[0]
    s.run("MSET", "a1", "x", "a2", "x", "b1", "x")
    db.set_expire(b"a2", NOW - 1)
    s.propagated()
    assert sorted(s.run("KEYS", "*")) == [b"a1", b"b1"]
    assert s.run("KEYS", "a*") == [b"a1"]
    assert b"a2" in db.data
    assert s.propagated() == []


def test_scan_walks_everything_and_filters(s: Session) -> None:
    db = s.server.dbs[0]
    for i in range(100):
        db.add(b"k%d" % i, b"v")
    db.add(b"list", deque([b"x"]))
    seen: set[bytes] = set()
    cursor = b"0"
    while True:
        cursor, keys = s.run("SCAN", cursor, "COUNT", "7")
        seen.update(keys)
        if cursor == b"0":
            break
    assert seen == set(db.data)
    cursor, keys = s.run("SCAN", "0", "COUNT", "1000", "MATCH", "k1?")
    assert cursor == b"0" and sorted(keys) == sorted(b"k1%d" % i for i in range(10))
    assert s.run("SCAN", "0", "COUNT", "1000", "TYPE", "LIST") == [b"0", [b"list"]]
    assert s.run("SCAN", "0", "COUNT", "1000", "TYPE", "stream") == [b"0", []]


def test_scan_deletes_expired_keys_and_propagates_del(s: Session) -> None:
    db = s.server.dbs[0]
    s.run("SET", "live", "v")
    s.run("SET", "dead", "v")
    db.set_expire(b"dead", NOW - 1)
    s.propagated()
    assert s.run("SCAN", "0") == [b"0", [b"live"]]
    assert s.propagated() == [[b"DEL", b"dead"]]


def test_scan_errors(s: Session) -> None:
    for cursor in ["x", " 1", "1 ", "18446744073709551616", "-", "0x1"]:
        assert err(s.run("SCAN", cursor)) == "ERR invalid cursor", cursor
    assert err(s.run("SCAN", "0", "COUNT", "0")) == "ERR syntax error"
    assert err(s.run("SCAN", "0", "COUNT", "x")) == "ERR value is not an integer or out of range"
    assert err(s.run("SCAN", "0", "MATCH")) == "ERR syntax error"


def test_randomkey(s: Session) -> None:
    db = s.server.dbs[0]
    assert s.run("RANDOMKEY") is None
    s.run("SET", "dead", "v")
    db.set_expire(b"dead", NOW - 1)
    s.propagated()
    assert s.run("RANDOMKEY") is None
    assert s.propagated() == [[b"DEL", b"dead"]]
    s.run("MSET", "a", "1", "b", "2")
    assert {s.run("RANDOMKEY") for _ in range(50)} == {b"a", b"b"}


def test_randomkey_on_a_replica_with_only_expired_keys_terminates(s: Session) -> None:
    db = s.server.dbs[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW - 1)
    s.server.masterhost = "127.0.0.1"
    assert s.run("RANDOMKEY") == b"k"
    assert b"k" in db.data


# -- EXPIRE family -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "when"),
    [
        (("EXPIRE", "k", "100"), NOW + 100_000),
        (("pexpire", "k", "1500"), NOW + 1500),
        (("EXPIREAT", "k", "1800000000"), 1_800_000_000_000),
        (("PEXPIREAT", "k", "1800000000001"), 1_800_000_000_001),
    ],
)
def test_expire_family_propagates_pexpireat(s: Session, argv: tuple[str, ...], when: int) -> None:
    s.run("SET", "k", "v")
    s.propagated()
    assert s.run(*argv) == 1
    assert s.server.dbs[0].expires[b"k"] == when
    name = b"PEXPIREAT" if argv[0] != "PEXPIREAT" else argv[0].encode()
    assert s.propagated() == [[name, b"k", str(when).encode()]]


def test_expire_keeps_its_options_in_the_propagated_form(s: Session) -> None:
    s.run("SET", "k", "v")
    s.propagated()
    assert s.run("EXPIRE", "k", "100", "nx") == 1
    assert s.run("EXPIRE", "k", "200", "XX", "GT") == 1
    assert s.run("EXPIRE", "k", "50", "GT") == 0
    assert s.propagated() == [
        [b"PEXPIREAT", b"k", str(NOW + 100_000).encode(), b"nx"],
        [b"PEXPIREAT", b"k", str(NOW + 200_000).encode(), b"XX", b"GT"],
    ]


def test_expire_in_the_past_deletes_and_propagates_del(s: Session) -> None:
    for argv in [("EXPIRE", "k", "-1"), ("PEXPIRE", "k", "0"), ("EXPIREAT", "k", "1")]:
        s.run("SET", "k", "v")
        s.propagated()
        assert s.run(*argv) == 1
        assert s.run("EXISTS", "k") == 0
        assert s.propagated() == [[b"DEL", b"k"]]


def test_expire_in_the_past_uses_unlink_with_lazyfree_lazy_expire() -> None:
    s = Session(make_server("--lazyfree-lazy-expire", "yes"))
    s.run("SET", "k", "v")
    s.run("EXPIRE", "k", "-1")
    assert s.propagated()[-1] == [b"UNLINK", b"k"]


def test_replica_keeps_a_past_expire_instead_of_deleting(s: Session) -> None:
    s.run("SET", "k", "v")
    s.server.masterhost = "127.0.0.1"
    s.client.kind = "master"
    assert s.run("PEXPIREAT", "k", "1") == 1
    assert s.server.dbs[0].expires[b"k"] == 1


def test_nx_xx_gt_lt(s: Session) -> None:
    s.run("SET", "p", "v")
    s.run("SET", "v", "v", "PXAT", "1800000000000")
    assert s.run("PEXPIREAT", "p", "1800000000000", "XX") == 0
    assert s.run("PEXPIREAT", "p", "1800000000000", "GT") == 0  # no TTL counts as infinite
    assert s.run("PEXPIREAT", "v", "1800000000000", "NX") == 0
    assert s.run("PEXPIREAT", "v", "1800000000000", "GT") == 0
    assert s.run("PEXPIREAT", "v", "1700000000001", "LT") == 1
    assert s.run("PEXPIREAT", "p", "1800000000000", "LT") == 1
    assert s.run("PEXPIREAT", "missing", "1800000000000") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("100", "NX", "XX"),
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ),
        (("100", "GT", "LT"), "ERR GT and LT options at the same time are not compatible"),
        (("100", "FOO"), "ERR Unsupported option FOO"),
        (("x", "FOO"), "ERR Unsupported option FOO"),
        (("x",), "ERR value is not an integer or out of range"),
        (("9223372036854776",), "ERR invalid expire time in 'expire' command"),
        (("-9223372036854776",), "ERR invalid expire time in 'expire' command"),
        (("9223372036854775",), "ERR invalid expire time in 'expire' command"),
    ],
)
def test_expire_errors(s: Session, args: tuple[str, ...], message: str) -> None:
    s.run("SET", "k", "v")
    assert err(s.run("EXPIRE", "k", *args)) == message


def test_ttl_family_and_persist(s: Session) -> None:
    assert [s.run(c, "k") for c in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")] == [-2] * 4
    s.run("SET", "k", "v")
    assert [s.run(c, "k") for c in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")] == [-1] * 4
    s.run("PEXPIRE", "k", "1499")
    assert s.run("TTL", "k") == 1  # rounded to the nearest second, as Redis does
    assert s.run("PTTL", "k") == 1499
    assert s.run("EXPIRETIME", "k") == (NOW + 1499 + 500) // 1000
    assert s.run("PEXPIRETIME", "k") == NOW + 1499
    s.propagated()
    assert s.run("PERSIST", "k") == 1
    assert s.run("PERSIST", "k") == 0
    assert s.run("TTL", "k") == -1
    assert s.propagated() == [[b"PERSIST", b"k"]]


def test_expired_key_is_deleted_lazily_after_sleep() -> None:
    s = Session()
    s.run("SET", "k", "v", "PX", "50")
    s.propagated()
    time.sleep(0.1)
    assert s.run("TTL", "k") == -2
    assert s.run("EXISTS", "k") == 0
    assert s.propagated() == [[b"DEL", b"k"]]
    assert s.server.stats.expired_keys == 1


def test_watch_sees_expire_and_persist(s: Session) -> None:
    other = Session(s.server)
    s.run("SET", "k", "v")
    for change in (("EXPIRE", "k", "100"), ("PERSIST", "k")):
        s.run("WATCH", "k")
        other.run(*change)
        s.run("MULTI")
        s.run("GET", "k")
        assert s.run("EXEC") is None, change


# -- a model of DEL / EXISTS / RENAME / COPY -----------------------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
KEY_OPS = st.one_of(
    st.tuples(st.just("SET"), NAMES, st.sampled_from(["1", "2"])),
    st.tuples(st.just("DEL"), NAMES, NAMES),
    st.tuples(st.just("EXISTS"), NAMES, NAMES),
    st.tuples(st.just("RENAME"), NAMES, NAMES),
    st.tuples(st.just("RENAMENX"), NAMES, NAMES),
    st.tuples(st.just("COPY"), NAMES, NAMES),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(KEY_OPS, max_size=25))
def test_key_commands_match_a_model(ops: list[tuple[str, str, str]]) -> None:
    s = Session()
    model: dict[str, str] = {}
    for name, a, b in ops:
        reply = s.run(name, a, b)
        if name == "SET":
            model[a] = b
        elif name == "DEL":
            expected = sum(1 for k in {a, b} if k in model)
            for k in (a, b):
                model.pop(k, None)
            assert reply == expected
        elif name == "EXISTS":
            assert reply == (a in model) + (b in model)
        elif name in ("RENAME", "RENAMENX"):
            if a not in model:
                assert isinstance(reply, Exception)
            elif a == b:
                assert reply == (0 if name == "RENAMENX" else b"OK")
            elif name == "RENAMENX" and b in model:
                assert reply == 0
            else:
                model[b] = model.pop(a)
        elif name == "COPY":
            if a == b:
                assert isinstance(reply, Exception)
            elif a in model and b not in model:
                model[b] = model[a]
                assert reply == 1
            else:
                assert reply == 0
    assert {k.decode(): v.decode() for k, v in s.server.dbs[0].data.items()} == model
