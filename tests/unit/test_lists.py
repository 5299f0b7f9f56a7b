"""List commands without sockets: replies, errors, propagated vectors, blocked clients."""

from __future__ import annotations

from collections import deque
from typing import Any

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from node.propagate import EXEC, MULTI
from node.resp import NULL_ARRAY
from node.server import Server
from node.zset import ZSet
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


def sessions(n: int) -> tuple[Server, list[Session]]:
    server = make_server()
    return server, [Session(server) for _ in range(n)]


# -- pushes and pops --------------------------------------------------------------------


def test_lpush_pushes_each_element_to_the_head_in_turn() -> None:
    s = Session()
    assert s.run("LPUSH", "l", "a", "b", "c") == 3
    assert s.run("RPUSH", "l", "x") == 4
    assert s.run("LRANGE", "l", 0, -1) == [b"c", b"b", b"a", b"x"]
    assert s.propagated() == [[b"LPUSH", b"l", b"a", b"b", b"c"], [b"RPUSH", b"l", b"x"]]
    assert s.server.dirty == 4


def test_pushx_needs_an_existing_list_and_propagates_nothing_otherwise() -> None:
    s = Session()
    assert s.run("LPUSHX", "l", "a") == 0
    assert s.run("RPUSHX", "l", "a") == 0
    assert s.run("EXISTS", "l") == 0
    assert s.propagated() == []
    s.run("RPUSH", "l", "m")
    s.propagated()
    assert s.run("LPUSHX", "l", "a", "b") == 3
    assert s.run("RPUSHX", "l", "z") == 4
    assert s.run("LRANGE", "l", 0, -1) == [b"b", b"a", b"m", b"z"]
    assert s.propagated() == [[b"LPUSHX", b"l", b"a", b"b"], [b"RPUSHX", b"l", b"z"]]


def test_push_on_a_string_is_wrongtype() -> None:
    s = Session()
    s.run("SET", "s", "v")
    assert err(s.run("LPUSH", "s", "a")) == WRONGTYPE
    assert err(s.run("RPUSHX", "s", "a")) == WRONGTYPE
    assert err(s.run("LPOP", "s")) == WRONGTYPE
    assert err(s.run("LLEN", "s")) == WRONGTYPE


def test_pop_without_count_replies_a_bulk_and_deletes_the_emptied_list() -> None:
    s = Session()
    s.run("RPUSH", "l", "a", "b")
    s.propagated()
    assert s.run("LPOP", "l") == b"a"
    assert s.run("RPOP", "l") == b"b"
    assert s.run("EXISTS", "l") == 0
    assert s.run("LPOP", "l") is None
    assert s.propagated() == [[b"LPOP", b"l"], [b"RPOP", b"l"]]


def test_pop_with_count_replies_in_pop_order_and_propagates_as_given() -> None:
    s = Session()
    s.run("RPUSH", "l", "a", "b", "c", "d", "e")
    s.propagated()
    assert s.run("RPOP", "l", 2) == [b"e", b"d"]
    assert s.run("LPOP", "l", 10) == [b"a", b"b", b"c"]
    assert s.run("EXISTS", "l") == 0
    # Redis writes the count it was given; popping "up to 10" of three is deterministic.
    assert s.propagated() == [[b"RPOP", b"l", b"2"], [b"LPOP", b"l", b"10"]]


def test_pop_count_null_and_empty_forms_in_resp2_and_resp3() -> None:
    s = Session()
    assert s.raw("LPOP", "missing", 2) == b"*-1\r\n"
    assert s.raw("LPOP", "missing", 0) == b"*-1\r\n"
    assert s.raw("LPOP", "missing") == b"$-1\r\n"
    s.run("RPUSH", "l", "a")
    s.propagated()
    assert s.raw("LPOP", "l", 0) == b"*0\r\n"
    assert s.propagated() == []  # nothing popped, nothing propagated
    s3 = Session(s.server, resp3=True)
    assert s3.raw("LPOP", "missing", 2) == b"_\r\n"
    assert s3.raw("RPOP", "missing") == b"_\r\n"


def test_pop_count_errors() -> None:
    s = Session()
    msg = "ERR value is out of range, must be positive"
    assert err(s.run("LPOP", "l", -1)) == msg
    assert err(s.run("RPOP", "l", "x")) == msg
    assert err(s.run("LPOP", "l", 1, 2)) == "ERR wrong number of arguments for 'lpop' command"


# -- reads ------------------------------------------------------------------------------


def test_lrange_and_lindex_edge_indexes() -> None:
    s = Session()
    s.run("RPUSH", "l", *"abcdef")
    assert s.run("LRANGE", "l", -100, 100) == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert s.run("LRANGE", "l", 4, -1) == [b"e", b"f"]
    assert s.run("LRANGE", "l", -2, -3) == []
    assert s.run("LRANGE", "l", 6, 10) == []
    assert s.run("LRANGE", "l", 0, -7) == []
    assert s.run("LRANGE", "l", 5, 5) == [b"f"]
    assert s.run("LINDEX", "l", -1) == b"f"
    assert s.run("LINDEX", "l", -6) == b"a"
    assert s.run("LINDEX", "l", -7) is None
    assert s.run("LINDEX", "l", 6) is None
    assert err(s.run("LINDEX", "l", "1.0")) == "ERR value is not an integer or out of range"
    assert s.run("LINDEX", "missing", "x") is None  # the key is looked up first
    assert err(s.run("LRANGE", "missing", "x", 1)).startswith("ERR value is not an integer")


def test_lpos_rank_count_maxlen() -> None:
    s = Session()
    s.run("RPUSH", "l", *"abacada")
    assert s.run("LPOS", "l", "a") == 0
    assert s.run("LPOS", "l", "a", "RANK", 2) == 2
    assert s.run("LPOS", "l", "a", "RANK", -1) == 6
    assert s.run("LPOS", "l", "a", "RANK", -2, "COUNT", 2) == [4, 2]
    assert s.run("LPOS", "l", "a", "COUNT", 0) == [0, 2, 4, 6]
    assert s.run("LPOS", "l", "a", "COUNT", 0, "MAXLEN", 3) == [0, 2]
    assert s.run("LPOS", "l", "z") is None
    assert s.run("LPOS", "l", "z", "COUNT", 1) == []
    assert s.run("LPOS", "missing", "a", "COUNT", 1) == []
    assert s.run("LPOS", "missing", "a") is None
    # LONG_MIN cannot be negated: Redis then takes every match from the tail.
    assert s.run("LPOS", "l", "a", "RANK", -(2**63)) == 6
    assert s.run("LPOS", "l", "a", "RANK", -(2**63), "COUNT", 1) == [6, 4, 2, 0]
    assert err(s.run("LPOS", "l", "a", "RANK", 0)).startswith("ERR RANK can't be zero")
    assert err(s.run("LPOS", "l", "a", "COUNT", -1)) == "ERR COUNT can't be negative"
    assert err(s.run("LPOS", "l", "a", "MAXLEN", -1)) == "ERR MAXLEN can't be negative"
    assert err(s.run("LPOS", "l", "a", "RANK")) == "ERR syntax error"


# -- in-place writes --------------------------------------------------------------------


def test_lset_errors_and_propagation() -> None:
    s = Session()
    assert err(s.run("LSET", "l", 0, "x")) == "ERR no such key"
    s.run("RPUSH", "l", "a", "b")
    s.propagated()
    assert s.run("LSET", "l", -1, "B") == b"OK"
    assert err(s.run("LSET", "l", 2, "x")) == "ERR index out of range"
    assert s.run("LRANGE", "l", 0, -1) == [b"a", b"B"]
    assert s.propagated() == [[b"LSET", b"l", b"-1", b"B"]]


def test_linsert_before_after_and_misses() -> None:
    s = Session()
    assert s.run("LINSERT", "l", "BEFORE", "p", "x") == 0
    s.run("RPUSH", "l", "a", "p", "b", "p")
    s.propagated()
    assert s.run("LINSERT", "l", "before", "p", "x") == 5
    assert s.run("LINSERT", "l", "AFTER", "p", "y") == 6
    assert s.run("LINSERT", "l", "AFTER", "nope", "y") == -1
    assert err(s.run("LINSERT", "l", "MIDDLE", "p", "y")) == "ERR syntax error"
    assert s.run("LRANGE", "l", 0, -1) == [b"a", b"x", b"p", b"y", b"b", b"p"]
    assert s.propagated() == [
        [b"LINSERT", b"l", b"before", b"p", b"x"],
        [b"LINSERT", b"l", b"AFTER", b"p", b"y"],
    ]


def test_lrem_directions_and_no_op() -> None:
    s = Session()
    s.run("RPUSH", "l", *"axaxbxa")
    s.propagated()
    assert s.run("LREM", "l", 2, "a") == 2
    assert s.run("LRANGE", "l", 0, -1) == [b"x", b"x", b"b", b"x", b"a"]
    assert s.run("LREM", "l", -2, "x") == 2
    assert s.run("LRANGE", "l", 0, -1) == [b"x", b"b", b"a"]
    assert s.run("LREM", "l", 0, "zz") == 0
    assert s.propagated() == [[b"LREM", b"l", b"2", b"a"], [b"LREM", b"l", b"-2", b"x"]]
    assert s.run("LREM", "l", 0, "x") == 1
    assert s.run("LREM", "l", -(2**63), "b") == 1
    assert s.run("LREM", "l", 5, "a") == 1
    assert s.run("EXISTS", "l") == 0


def test_ltrim_deletes_when_emptied_and_propagates_only_real_changes() -> None:
    s = Session()
    s.run("RPUSH", "l", *"abcde")
    s.propagated()
    assert s.run("LTRIM", "l", 0, -1) == b"OK"
    assert s.propagated() == []
    assert s.run("LTRIM", "l", 1, -2) == b"OK"
    assert s.run("LRANGE", "l", 0, -1) == [b"b", b"c", b"d"]
    assert s.run("LTRIM", "l", 5, 10) == b"OK"
    assert s.run("EXISTS", "l") == 0
    assert s.propagated() == [[b"LTRIM", b"l", b"1", b"-2"], [b"LTRIM", b"l", b"5", b"10"]]


def test_ltrim_that_removes_nothing_still_touches_watchers() -> None:
    s = Session()
    s.run("RPUSH", "l", "a")
    s.server.watched_keys[(0, b"l")] = [s.client]
    s.client.dirty_cas = False
    dirty = s.server.dirty
    s.run("LTRIM", "l", 0, -1)
    assert s.client.dirty_cas  # Redis signals the key whatever was trimmed
    assert s.server.dirty == dirty


# -- moves ------------------------------------------------------------------------------


def test_lmove_and_rpoplpush() -> None:
    s = Session()
    assert s.run("LMOVE", "src", "dst", "LEFT", "RIGHT") is None
    s.run("RPUSH", "src", "a", "b", "c")
    s.propagated()
    assert s.run("LMOVE", "src", "dst", "left", "RIGHT") == b"a"
    assert s.run("RPOPLPUSH", "src", "dst") == b"c"
    assert s.run("LRANGE", "dst", 0, -1) == [b"c", b"a"]
    assert s.propagated() == [
        [b"LMOVE", b"src", b"dst", b"left", b"RIGHT"],
        [b"RPOPLPUSH", b"src", b"dst"],
    ]
    assert s.run("LMOVE", "src", "src", "LEFT", "RIGHT") == b"b"  # a single-element rotation
    assert s.run("LRANGE", "src", 0, -1) == [b"b"]
    assert err(s.run("LMOVE", "src", "dst", "UP", "RIGHT")) == "ERR syntax error"


def test_lmove_checks_the_destination_type_before_popping() -> None:
    s = Session()
    s.run("RPUSH", "src", "a")
    s.run("SET", "str", "v")
    s.propagated()
    assert err(s.run("LMOVE", "src", "str", "LEFT", "LEFT")) == WRONGTYPE
    assert s.run("LLEN", "src") == 1
    assert s.propagated() == []


# -- LMPOP and the non-blocking paths of the blocking commands ---------------------------


def test_lmpop_pops_from_the_first_non_empty_list_and_propagates_the_served_count() -> None:
    s = Session()
    s.run("RPUSH", "b", "1", "2", "3")
    s.propagated()
    assert s.run("LMPOP", 3, "a", "b", "c", "RIGHT", "COUNT", 5) == [b"b", [b"3", b"2", b"1"]]
    assert s.run("LMPOP", 1, "b", "LEFT") is None
    s.run("RPUSH", "c", "x", "y")
    s.propagated()
    assert s.run("LMPOP", 2, "a", "c", "left") == [b"c", [b"x"]]
    assert s.propagated() == [[b"LPOP", b"c", b"1"]]
    s.run("LMPOP", 1, "c", "right", "count", 9)
    assert s.propagated() == [[b"RPOP", b"c", b"1"]]


def test_lmpop_argument_errors() -> None:
    s = Session()
    numkeys = "ERR numkeys should be greater than 0"
    assert err(s.run("LMPOP", 0, "a", "LEFT")) == numkeys
    assert err(s.run("LMPOP", "x", "a", "LEFT")) == numkeys
    assert err(s.run("LMPOP", 2, "a", "LEFT")) == "ERR syntax error"
    assert err(s.run("LMPOP", 1, "a", "UP")) == "ERR syntax error"
    assert err(s.run("LMPOP", 1, "a", "LEFT", "COUNT", 0)) == "ERR count should be greater than 0"
    assert err(s.run("LMPOP", 1, "a", "LEFT", "COUNT", 1, "COUNT", 1)) == "ERR syntax error"
    assert err(s.run("LMPOP", 1, "a", "LEFT", "COUNT")) == "ERR syntax error"
    s.run("SET", "a", "v")
    assert err(s.run("LMPOP", 1, "a", "LEFT")) == WRONGTYPE


def test_blocking_commands_served_at_once_propagate_their_non_blocking_form() -> None:
    s = Session()
    s.run("RPUSH", "l", *"abcdef")
    s.propagated()
    assert s.run("BLPOP", "missing", "l", 0) == [b"l", b"a"]
    assert s.run("BRPOP", "l", 0) == [b"l", b"f"]
    assert s.run("BLMPOP", 0, 1, "l", "RIGHT", "COUNT", 2) == [b"l", [b"e", b"d"]]
    assert s.run("BLMOVE", "l", "d", "RIGHT", "left", 0) == b"c"
    assert s.run("BRPOPLPUSH", "l", "d", 0) == b"b"
    assert s.propagated() == [
        [b"LPOP", b"l"],
        [b"RPOP", b"l"],
        [b"RPOP", b"l", b"2"],
        [b"LMOVE", b"l", b"d", b"RIGHT", b"left"],
        [b"RPOPLPUSH", b"l", b"d"],
    ]


def test_blpop_checks_types_in_key_order() -> None:
    s = Session()
    s.run("SET", "s", "v")
    s.run("RPUSH", "l", "a")
    assert err(s.run("BLPOP", "missing", "s", "l", 0)) == WRONGTYPE
    assert s.run("BLPOP", "l", "s", 0) == [b"l", b"a"]


# -- blocked clients --------------------------------------------------------------------


def test_blocked_client_is_served_by_a_push_and_the_pop_propagates_after_it() -> None:
    server, (waiter, pusher) = sessions(2)
    assert waiter.raw("BLPOP", "q", 0) == b""
    assert waiter.client.blocked is not None
    assert server.blocking.blocked_clients == 1
    assert pusher.run("RPUSH", "q", "a", "b") == 2
    assert pending(waiter) == [b"q", b"a"]
    assert waiter.client.blocked is None
    assert server.blocking.blocked_clients == 0
    assert server.blocking.waiting == {}
    assert pusher.run("LRANGE", "q", 0, -1) == [b"b"]
    assert pusher.propagated() == [[b"RPUSH", b"q", b"a", b"b"], [b"LPOP", b"q"]]


def test_blocked_clients_are_served_in_arrival_order() -> None:
    server, (a, b, c, pusher) = sessions(4)
    for s in (a, b, c):
        s.raw("BRPOP", "q", 0)
    pusher.run("RPUSH", "q", "1", "2")
    assert pending(a) == [b"q", b"2"]
    assert pending(b) == [b"q", b"1"]
    assert pending(c) is None
    assert c.client.blocked is not None
    pusher.run("LPUSH", "q", "3")
    assert pending(c) == [b"q", b"3"]
    assert pusher.run("EXISTS", "q") == 0
    assert pusher.propagated() == [
        [b"RPUSH", b"q", b"1", b"2"],
        [b"RPOP", b"q"],
        [b"RPOP", b"q"],
        [b"LPUSH", b"q", b"3"],
        [b"RPOP", b"q"],
    ]


def test_pushes_inside_exec_wake_clients_after_the_transaction() -> None:
    server, (waiter, tx) = sessions(2)
    waiter.raw("BLPOP", "q", 0)
    tx.run("MULTI")
    tx.run("RPUSH", "q", "a", "b")
    tx.run("LPUSH", "q", "c")
    assert pending(waiter) is None
    assert tx.run("EXEC") == [2, 3]
    assert pending(waiter) == [b"q", b"c"]
    assert tx.propagated() == [
        MULTI,
        [b"RPUSH", b"q", b"a", b"b"],
        [b"LPUSH", b"q", b"c"],
        EXEC,
        [b"LPOP", b"q"],
    ]


def test_blocking_commands_inside_multi_answer_at_once() -> None:
    s = Session()
    s.run("MULTI")
    for argv in (
        ("BLPOP", "q", 0),
        ("BRPOP", "q", 0),
        ("BLMPOP", 0, 1, "q", "LEFT"),
        ("BLMOVE", "q", "d", "LEFT", "RIGHT", 0),
        ("BRPOPLPUSH", "q", "d", 0),
    ):
        s.run(*argv)
    # BLPOP/BLMPOP answer a null array, BLMOVE/BRPOPLPUSH a null bulk (Redis 7.0).
    assert s.raw("EXEC") == b"*5\r\n*-1\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n"
    assert s.client.blocked is None


def test_blmpop_is_served_from_the_key_that_became_ready() -> None:
    server, (waiter, tx) = sessions(2)
    waiter.raw("BLMPOP", 0, 2, "a", "b", "LEFT", "COUNT", 5)
    tx.run("MULTI")
    tx.run("RPUSH", "b", "1", "2")
    tx.run("RPUSH", "a", "3")
    tx.run("EXEC")
    assert pending(waiter) == [b"b", [b"1", b"2"]]
    assert tx.run("LRANGE", "a", 0, -1) == [b"3"]
    assert tx.propagated()[-1] == [b"LPOP", b"b", b"2"]


def test_served_blmove_propagates_lmove_with_lowercase_directions() -> None:
    server, (waiter, other, pusher) = sessions(3)
    waiter.raw("BLMOVE", "src", "dst", "RIGHT", "LEFT", 0)
    other.raw("BLPOP", "dst", 0)  # woken by the list BLMOVE creates
    pusher.run("RPUSH", "src", "a", "b")
    assert pending(waiter) == b"b"
    assert pending(other) == [b"dst", b"b"]
    assert pusher.propagated() == [
        [b"RPUSH", b"src", b"a", b"b"],
        [b"LMOVE", b"src", b"dst", b"right", b"left"],
        [b"LPOP", b"dst"],
    ]


def test_served_brpoplpush_propagates_rpoplpush() -> None:
    server, (waiter, pusher) = sessions(2)
    waiter.raw("BRPOPLPUSH", "src", "dst", 0)
    pusher.run("LPUSH", "src", "x")
    assert pending(waiter) == b"x"
    assert pusher.propagated() == [[b"LPUSH", b"src", b"x"], [b"RPOPLPUSH", b"src", b"dst"]]


def test_served_blmove_with_a_wrong_type_destination_gets_wrongtype() -> None:
    server, (waiter, next_waiter, pusher) = sessions(3)
    waiter.raw("BLMOVE", "src", "str", "LEFT", "LEFT", 0)
    next_waiter.raw("BLPOP", "src", 0)
    pusher.run("SET", "str", "v")
    pusher.run("RPUSH", "src", "a")
    assert err(pending(waiter)) == WRONGTYPE
    assert waiter.client.blocked is None
    assert pending(next_waiter) == [b"src", b"a"]


def test_a_key_of_another_type_keeps_list_clients_waiting_in_place() -> None:
    server, (waiter, later) = sessions(2)
    waiter.raw("BLPOP", "k", 0)
    later.raw("BLPOP", "k", 0)
    db = server.dbs[0]
    db.add(b"k", ZSet())
    server.blocking.serve_ready()
    assert waiter.client.blocked is not None and later.client.blocked is not None
    del db.data[b"k"]
    db.add(b"k", deque([b"x"]))
    server.blocking.serve_ready()
    assert pending(waiter) == [b"k", b"x"]
    assert later.client.blocked is not None


def test_a_client_blocked_on_several_keys_is_served_once() -> None:
    server, (waiter, tx) = sessions(2)
    waiter.raw("BLPOP", "a", "b", "a", 0)
    tx.run("MULTI")
    tx.run("RPUSH", "a", "1")
    tx.run("RPUSH", "b", "2")
    tx.run("EXEC")
    assert pending(waiter) == [b"a", b"1"]
    assert tx.run("LLEN", "b") == 1
    assert server.blocking.waiting == {}


def test_timeout_and_disconnect_leave_no_trace() -> None:
    server, (a, b, pusher) = sessions(3)
    a.raw("BLPOP", "q", "r", 0)
    b.raw("BLPOP", "q", 0)
    server.blocking.unblock(a.client, NULL_ARRAY)  # what the connection does at the deadline
    assert b"".join(a.client.out) == b"*-1\r\n"
    server.unlink_client(b.client)  # a disconnection
    assert server.blocking.waiting == {}
    assert server.blocking.blocked_clients == 0
    pusher.run("RPUSH", "q", "x")
    assert pusher.run("LLEN", "q") == 1


def test_timeout_reply_is_a_null_array() -> None:
    server, (a,) = sessions(1)
    a.raw("BLMOVE", "q", "d", "LEFT", "LEFT", 0.5)
    state = a.client.blocked
    assert state is not None and state.timeout_reply is NULL_ARRAY


# -- model-based ------------------------------------------------------------------------

values = st.sampled_from([b"a", b"b", b"c", b"1", b"-2"])
small = st.integers(min_value=-8, max_value=8)
operation = st.one_of(
    st.tuples(
        st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
        st.lists(values, min_size=1, max_size=3),
    ),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.one_of(st.none(), st.integers(0, 4))),
    st.tuples(st.just("LRANGE"), st.tuples(small, small)),
    st.tuples(st.just("LTRIM"), st.tuples(small, small)),
    st.tuples(st.just("LINDEX"), small),
    st.tuples(st.just("LSET"), st.tuples(small, values)),
    st.tuples(st.just("LREM"), st.tuples(st.integers(-3, 3), values)),
    st.tuples(st.just("LINSERT"), st.tuples(st.booleans(), values, values)),
    st.tuples(st.just("LPOS"), st.tuples(values, st.sampled_from([1, 2, -1, -2]))),
    st.tuples(st.just("LMOVE"), st.tuples(st.booleans(), st.booleans())),
)


def _norm(index: int, n: int) -> int:
    return index + n if index < 0 else index


def model_step(lists: dict[str, list[bytes]], op: str, arg: Any) -> Any:
    """Redis's reply for one operation on a Python-list model of keys "k" and "o"."""
    ls = lists.setdefault("k", [])
    if op in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        if op.endswith("X") and not ls:
            return 0
        for v in arg:
            ls.insert(0, v) if op.startswith("L") else ls.append(v)
        return len(ls)
    if op in ("LPOP", "RPOP"):
        if arg is None:
            return (ls.pop(0) if op == "LPOP" else ls.pop()) if ls else None
        if not ls:
            return None
        return [ls.pop(0) if op == "LPOP" else ls.pop() for _ in range(min(arg, len(ls)))]
    if op in ("LRANGE", "LTRIM"):
        n = len(ls)
        start, end = max(_norm(arg[0], n), 0), _norm(arg[1], n)
        part = ls[start : end + 1] if start <= end else []
        if op == "LRANGE":
            return part
        ls[:] = part
        return b"OK"
    if op == "LINDEX":
        i = _norm(arg, len(ls))
        return ls[i] if 0 <= i < len(ls) else None
    if op == "LSET":
        if not ls:
            return "ERR no such key"
        i = _norm(arg[0], len(ls))
        if not 0 <= i < len(ls):
            return "ERR index out of range"
        ls[i] = arg[1]
        return b"OK"
    if op == "LREM":
        count, v = arg
        idx = [i for i, x in enumerate(ls) if x == v]
        if count < 0:
            idx = idx[::-1][:-count]
        elif count > 0:
            idx = idx[:count]
        for i in sorted(idx, reverse=True):
            del ls[i]
        return len(idx)
    if op == "LINSERT":
        after, pivot, v = arg
        if not ls:
            return 0
        if pivot not in ls:
            return -1
        i = ls.index(pivot)
        ls.insert(i + 1 if after else i, v)
        return len(ls)
    if op == "LPOS":
        v, rank = arg
        idx = [i for i, x in enumerate(ls) if x == v]
        if rank < 0:
            idx = idx[::-1]
        rank = abs(rank)
        return idx[rank - 1] if len(idx) >= rank else None
    if op == "LMOVE":
        from_left, to_left = arg
        if not ls:
            return None
        v = ls.pop(0) if from_left else ls.pop()
        other = lists.setdefault("o", [])
        other.insert(0, v) if to_left else other.append(v)
        return v
    raise AssertionError(op)


def command_for(op: str, arg: Any) -> list[Any]:
    if op in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        return [op, "k", *arg]
    if op in ("LPOP", "RPOP"):
        return [op, "k"] if arg is None else [op, "k", arg]
    if op in ("LRANGE", "LTRIM"):
        return [op, "k", *arg]
    if op == "LINDEX":
        return [op, "k", arg]
    if op == "LSET":
        return [op, "k", *arg]
    if op == "LREM":
        return [op, "k", *arg]
    if op == "LINSERT":
        return [op, "k", "AFTER" if arg[0] else "BEFORE", arg[1], arg[2]]
    if op == "LPOS":
        return [op, "k", arg[0], "RANK", arg[1]]
    return [op, "k", "o", "LEFT" if arg[0] else "RIGHT", "LEFT" if arg[1] else "RIGHT"]


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=40))
def test_random_operations_match_a_python_list_model(ops: list[tuple[str, Any]]) -> None:
    s = Session()
    model: dict[str, list[bytes]] = {}
    for op, arg in ops:
        expected = model_step(model, op, arg)
        reply = s.run(*command_for(op, arg))
        if isinstance(reply, hiredis.ReplyError):
            reply = str(reply)
        assert reply == expected, (op, arg)
        for key in ("k", "o"):
            content = model.get(key, [])
            assert s.run("LRANGE", key, 0, -1) == content
            assert s.run("EXISTS", key) == (1 if content else 0)
