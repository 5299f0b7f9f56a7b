"""String commands, sans-IO: replies, keyspace effects and the exact propagated vectors."""

from __future__ import annotations

import time
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.commands.args import parse_ll
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


# -- SET and its rewrites -------------------------------------------------------


def test_plain_set_propagates_as_sent(s: Session) -> None:
    assert s.run("set", "k", "v") == b"OK"
    assert s.run("GET", "k") == b"v"
    assert s.propagated() == [[b"set", b"k", b"v"]]
    assert s.server.dirty == 1


@pytest.mark.parametrize(
    ("options", "when"),
    [
        (("EX", "100"), NOW + 100_000),
        (("px", "1500"), NOW + 1500),
        (("EXAT", "1800000000"), 1_800_000_000_000),
        (("PXAT", "1800000000123"), 1_800_000_000_123),
    ],
)
def test_set_with_expiry_propagates_pxat(s: Session, options: tuple[str, str], when: int) -> None:
    assert s.run("SET", "k", "v", *options) == b"OK"
    assert s.server.dbs[0].expires[b"k"] == when
    assert s.propagated() == [[b"SET", b"k", b"v", b"PXAT", str(when).encode()]]


def test_set_get_drops_every_get_flag(s: Session) -> None:
    s.run("SET", "k", "old")
    s.propagated()
    assert s.run("SET", "k", "new", "GET", "KEEPTTL", "get") == b"old"
    assert s.propagated() == [[b"SET", b"k", b"new", b"KEEPTTL"]]
    assert s.run("SET", "k", "newer", "GET", "EX", "10") == b"new"
    assert s.propagated() == [[b"SET", b"k", b"newer", b"PXAT", str(NOW + 10_000).encode()]]


def test_set_nx_xx_abort_propagates_nothing(s: Session) -> None:
    assert s.run("SET", "k", "v", "XX") is None
    assert s.run("SET", "k", "v", "NX") == b"OK"
    assert s.run("SET", "k", "w", "NX") is None
    assert s.run("SET", "k", "w", "NX", "GET") == b"v"
    assert s.run("GET", "k") == b"v"
    assert s.propagated() == [[b"SET", b"k", b"v", b"NX"]]


def test_set_keepttl_keeps_and_plain_set_clears_ttl(s: Session) -> None:
    db = s.server.dbs[0]
    s.run("SET", "k", "v", "EX", "100")
    s.run("SET", "k", "w", "KEEPTTL")
    assert db.expires[b"k"] == NOW + 100_000
    s.run("SET", "k", "x")
    assert b"k" not in db.expires


@pytest.mark.parametrize(
    "options",
    [
        ("NX", "XX"),
        ("XX", "NX"),
        ("EX", "1", "PX", "1"),
        ("PX", "1", "EXAT", "1"),
        ("KEEPTTL", "EX", "1"),
        ("EX", "1", "KEEPTTL"),
        ("PERSIST",),
        ("EX",),
        ("FOO",),
    ],
)
def test_set_option_conflicts_are_syntax_errors(s: Session, options: tuple[str, ...]) -> None:
    assert err(s.run("SET", "k", "v", *options)) == "ERR syntax error"
    assert s.propagated() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("SET", "k", "v", "EX", "0"), "ERR invalid expire time in 'set' command"),
        (("SET", "k", "v", "PX", "-1"), "ERR invalid expire time in 'set' command"),
        (("SET", "k", "v", "EX", "9223372036854776"), "ERR invalid expire time in 'set' command"),
        (("SET", "k", "v", "EX", "9223372036854775"), "ERR invalid expire time in 'set' command"),
        (("SET", "k", "v", "EX", "x"), "ERR value is not an integer or out of range"),
        (("SETEX", "k", "0", "v"), "ERR invalid expire time in 'setex' command"),
        (("PSETEX", "k", "-5", "v"), "ERR invalid expire time in 'psetex' command"),
        (("GETEX", "k", "EX", "0"), "ERR invalid expire time in 'getex' command"),
    ],
)
def test_invalid_expire_times(s: Session, args: tuple[str, ...], message: str) -> None:
    s.run("SET", "k", "v")
    s.propagated()
    assert err(s.run(*args)) == message
    assert s.propagated() == []


def test_set_pxat_max_is_accepted(s: Session) -> None:
    assert s.run("SET", "k", "v", "PXAT", "9223372036854775807") == b"OK"
    assert s.run("PTTL", "k") == 9223372036854775807 - NOW


def test_setnx_setex_psetex_propagation(s: Session) -> None:
    assert s.run("SETNX", "n", "1") == 1
    assert s.run("SETNX", "n", "2") == 0
    assert s.run("SETEX", "a", "100", "v") == b"OK"
    assert s.run("PSETEX", "b", "2500", "v") == b"OK"
    assert s.propagated() == [
        [b"SETNX", b"n", b"1"],
        [b"SET", b"a", b"v", b"PXAT", str(NOW + 100_000).encode()],
        [b"SET", b"b", b"v", b"PXAT", str(NOW + 2500).encode()],
    ]


def test_getset_propagates_set_and_clears_ttl(s: Session) -> None:
    s.run("SET", "k", "a", "EX", "100")
    s.propagated()
    assert s.run("GETSET", "k", "b") == b"a"
    assert s.run("TTL", "k") == -1
    assert s.run("GETSET", "new", "c") is None
    assert s.propagated() == [[b"SET", b"k", b"b"], [b"SET", b"new", b"c"]]


def test_getdel_propagates_del_or_unlink() -> None:
    s = Session()
    s.run("SET", "k", "v")
    s.propagated()
    assert s.run("GETDEL", "k") == b"v"
    assert s.run("GETDEL", "k") is None
    assert s.propagated() == [[b"DEL", b"k"]]
    lazy = Session(make_server("--lazyfree-lazy-user-del", "yes"))
    lazy.run("SET", "k", "v")
    lazy.run("GETDEL", "k")
    assert lazy.propagated()[-1] == [b"UNLINK", b"k"]


def test_getex_rewrites(s: Session) -> None:
    db = s.server.dbs[0]
    s.run("SET", "k", "v")
    s.propagated()
    assert s.run("GETEX", "k") == b"v"
    assert s.propagated() == []
    assert s.run("GETEX", "k", "EX", "100") == b"v"
    assert s.run("GETEX", "k", "px", "5") == b"v"
    assert s.run("GETEX", "k", "EXAT", "1800000000") == b"v"
    assert s.run("GETEX", "k", "PXAT", "1800000000001") == b"v"
    assert db.expires[b"k"] == 1_800_000_000_001
    assert s.run("GETEX", "k", "PERSIST") == b"v"
    assert s.run("GETEX", "k", "PERSIST") == b"v"  # no TTL left: a no-op
    assert s.propagated() == [
        [b"PEXPIREAT", b"k", str(NOW + 100_000).encode()],
        [b"PEXPIREAT", b"k", str(NOW + 5).encode()],
        [b"PEXPIREAT", b"k", b"1800000000000"],
        [b"PEXPIREAT", b"k", b"1800000000001"],
        [b"PERSIST", b"k"],
    ]
    assert s.run("GETEX", "k", "PXAT", "1") == b"v"
    assert b"k" not in db.data
    assert s.propagated() == [[b"DEL", b"k"]]


def test_getex_past_time_uses_unlink_with_lazyfree_lazy_expire() -> None:
    s = Session(make_server("--lazyfree-lazy-expire", "yes"))
    s.run("SET", "k", "v")
    s.run("GETEX", "k", "EXAT", "1")
    assert s.propagated()[-1] == [b"UNLINK", b"k"]


def test_getex_option_errors(s: Session) -> None:
    s.run("SET", "k", "v")
    for options in [("NX",), ("KEEPTTL",), ("GET",), ("EX", "1", "PERSIST"), ("EX",)]:
        assert err(s.run("GETEX", "k", *options)) == "ERR syntax error"
    assert s.run("GETEX", "missing", "EX", "0") is None


def test_wrongtype_everywhere(s: Session) -> None:
    s.server.dbs[0].add(b"l", deque([b"a"]))
    wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value"
    for argv in [
        ("GET", "l"),
        ("GETSET", "l", "v"),
        ("GETDEL", "l"),
        ("GETEX", "l"),
        ("SET", "l", "v", "GET"),
        ("INCR", "l"),
        ("INCRBYFLOAT", "l", "1"),
        ("APPEND", "l", "x"),
        ("STRLEN", "l"),
        ("GETRANGE", "l", "0", "1"),
        ("SETRANGE", "l", "0", "x"),
        ("SETRANGE", "l", "0", ""),
    ]:
        assert err(s.run(*argv)) == wrongtype, argv
    assert s.run("MGET", "l", "missing") == [None, None]
    assert s.propagated() == []


def test_mset_msetnx(s: Session) -> None:
    assert s.run("MSET", "a", "1", "b", "2") == b"OK"
    assert err(s.run("MSET", "a", "1", "b")) == "ERR wrong number of arguments for 'mset' command"
    assert s.run("MSETNX", "b", "3", "c", "4") == 0
    assert s.run("MSETNX", "c", "3", "d", "4") == 1
    assert s.run("MGET", "a", "b", "c", "d", "e") == [b"1", b"2", b"3", b"4", None]
    assert s.server.dirty == 4
    assert s.propagated() == [
        [b"MSET", b"a", b"1", b"b", b"2"],
        [b"MSETNX", b"c", b"3", b"d", b"4"],
    ]


# -- counters -------------------------------------------------------------------


def test_incr_family(s: Session) -> None:
    assert s.run("INCR", "n") == 1
    assert s.run("INCRBY", "n", "10") == 11
    assert s.run("DECR", "n") == 10
    assert s.run("DECRBY", "n", "-5") == 15
    assert s.run("GET", "n") == b"15"
    assert s.propagated() == [
        [b"INCR", b"n"],
        [b"INCRBY", b"n", b"10"],
        [b"DECR", b"n"],
        [b"DECRBY", b"n", b"-5"],
    ]


def test_incr_errors(s: Session) -> None:
    not_int = "ERR value is not an integer or out of range"
    for bad in ["abc", " 1", "+1", "01", "-0", "1.0", "", "9223372036854775808"]:
        s.run("SET", "s", bad)
        assert err(s.run("INCR", "s")) == not_int, bad
        assert err(s.run("INCRBY", "n", bad)) == not_int, bad
    s.run("SET", "max", "9223372036854775807")
    assert err(s.run("INCR", "max")) == "ERR increment or decrement would overflow"
    s.run("SET", "min", "-9223372036854775808")
    assert err(s.run("DECR", "min")) == "ERR increment or decrement would overflow"
    assert err(s.run("DECRBY", "n", "-9223372036854775808")) == "ERR decrement would overflow"
    assert s.run("INCRBY", "min", "9223372036854775807") == -1


def test_incr_keeps_ttl(s: Session) -> None:
    s.run("SET", "n", "1", "EX", "100")
    s.run("INCR", "n")
    assert s.server.dbs[0].expires[b"n"] == NOW + 100_000


def test_incrbyfloat_uses_long_double_and_propagates_set_keepttl(s: Session) -> None:
    s.run("SET", "f", "10.5", "EX", "100")
    s.propagated()
    assert s.run("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert s.run("INCRBYFLOAT", "g", "5.0e3") == b"5000"
    assert s.server.dbs[0].expires[b"f"] == NOW + 100_000
    assert s.propagated() == [
        [b"SET", b"f", b"10.6", b"KEEPTTL"],
        [b"SET", b"g", b"5000", b"KEEPTTL"],
    ]


def test_incrbyfloat_errors(s: Session) -> None:
    s.run("SET", "f", "1")
    assert err(s.run("INCRBYFLOAT", "f", "abc")) == "ERR value is not a valid float"
    assert err(s.run("INCRBYFLOAT", "f", "nan")) == "ERR value is not a valid float"
    assert err(s.run("INCRBYFLOAT", "f", "1e5000")) == "ERR value is not a valid float"
    nan_inf = "ERR increment would produce NaN or Infinity"
    assert err(s.run("INCRBYFLOAT", "f", "inf")) == nan_inf
    s.run("SET", "big", "1e4932")
    assert err(s.run("INCRBYFLOAT", "big", "1e4932")) == nan_inf
    assert s.run("GET", "f") == b"1"


# -- byte strings ------------------------------------------------------------------


def test_append_strlen_getrange_setrange(s: Session) -> None:
    assert s.run("APPEND", "a", "hello") == 5
    assert s.run("APPEND", "a", " world") == 11
    assert s.run("STRLEN", "a") == 11
    assert s.run("GETRANGE", "a", "0", "4") == b"hello"
    assert s.run("GETRANGE", "a", "-5", "-1") == b"world"
    assert s.run("SUBSTR", "a", "-1", "-5") == b""
    assert s.run("SETRANGE", "a", "0", "J") == 11
    assert s.run("SETRANGE", "b", "3", "x") == 4
    assert s.run("GET", "b") == b"\x00\x00\x00x"
    assert s.run("SETRANGE", "c", "3", "") == 0
    assert s.run("EXISTS", "c") == 0
    assert err(s.run("SETRANGE", "a", "-1", "x")) == "ERR offset is out of range"
    assert s.propagated() == [
        [b"APPEND", b"a", b"hello"],
        [b"APPEND", b"a", b" world"],
        [b"SETRANGE", b"a", b"0", b"J"],
        [b"SETRANGE", b"b", b"3", b"x"],
    ]
    assert s.run("GET", "a") == b"Jello world"


def test_string_size_limit() -> None:
    s = Session(make_server("--proto-max-bulk-len", "1mb"))
    limit = 1024 * 1024
    too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    assert err(s.run("SETRANGE", "k", str(limit), "x")) == too_big
    assert s.run("SETRANGE", "k", str(limit - 1), "x") == limit
    assert err(s.run("APPEND", "k", "x")) == too_big
    assert err(s.run("SETRANGE", "k", "9223372036854775807", "x")) == too_big
    s.client.kind = "master"  # the master's stream is applied whatever the limit
    assert s.run("APPEND", "k", "x") == limit + 1


# -- expiry through lookups ---------------------------------------------------------


def test_key_with_px_is_gone_after_sleep_and_del_is_propagated() -> None:
    s = Session()
    s.run("SET", "k", "v", "PX", "50")
    s.propagated()
    time.sleep(0.1)
    assert s.run("GET", "k") is None
    assert b"k" not in s.server.dbs[0].data
    assert s.propagated() == [[b"DEL", b"k"]]


def test_set_over_an_expired_key_propagates_its_del_first() -> None:
    s = Session()
    s.run("SET", "k", "v", "PX", "20")
    s.propagated()
    time.sleep(0.05)
    s.run("SET", "k", "w")
    assert s.propagated() == [[b"MULTI"], [b"DEL", b"k"], [b"SET", b"k", b"w"], [b"EXEC"]]


# -- a model of the string commands --------------------------------------------------

KEYS = st.sampled_from([b"a", b"b", b"c"])
VALUES = st.binary(max_size=8)
OPS = st.one_of(
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("APPEND"), KEYS, VALUES),
    st.tuples(st.just("SETRANGE"), KEYS, st.integers(0, 12), VALUES),
    st.tuples(st.just("GETRANGE"), KEYS, st.integers(-12, 12), st.integers(-12, 12)),
    st.tuples(st.just("INCRBY"), KEYS, st.integers(-1000, 1000)),
    st.tuples(st.just("GETDEL"), KEYS),
    st.tuples(st.just("STRLEN"), KEYS),
)


def model_getrange(value: bytes, start: int, end: int) -> bytes:
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(start + n, 0) if start < 0 else start
    end = max(end + n, 0) if end < 0 else end
    end = min(end, n - 1)
    return b"" if start > end or n == 0 else value[start : end + 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(OPS, max_size=30))
def test_string_commands_match_a_model(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    s = Session()
    model: dict[bytes, bytes] = {}
    for op in ops:
        name, key = op[0], op[1]
        reply = s.run(name, *op[1:])
        if name == "SET":
            model[key] = op[2]
            assert reply == b"OK"
        elif name == "APPEND":
            model[key] = model.get(key, b"") + op[2]
            assert reply == len(model[key])
        elif name == "SETRANGE":
            offset, patch = op[2], op[3]
            old = model.get(key)
            if patch:
                base = (old or b"").ljust(offset, b"\x00")
                model[key] = base[:offset] + patch + base[offset + len(patch) :]
            assert reply == len(model.get(key, b""))
        elif name == "GETRANGE":
            assert reply == model_getrange(model.get(key, b""), op[2], op[3])
        elif name == "INCRBY":
            current = model.get(key, b"0")
            if parse_ll(current) is None:
                assert isinstance(reply, Exception)
            else:
                model[key] = b"%d" % (int(current) + op[2])
                assert reply == int(model[key])
        elif name == "GETDEL":
            assert reply == model.pop(key, None)
        elif name == "STRLEN":
            assert reply == len(model.get(key, b""))
    for key in (b"a", b"b", b"c"):
        assert s.server.dbs[0].data.get(key) == model.get(key)
