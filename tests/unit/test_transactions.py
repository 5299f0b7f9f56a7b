"""MULTI/EXEC/WATCH without sockets: queuing, aborts, WATCH signals, propagation, gates."""

from __future__ import annotations

from typing import Any

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from node.commands.table import COMMANDS, command
from node.dispatch import DONE, PAUSED, execute
from node.propagate import EXEC, MULTI, RecordingConsumer
from node.resp import ReplyError
from node.server import Server
from tests.unit.sansio import Session, make_server

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def err(reply: Any) -> str:
    assert isinstance(reply, hiredis.ReplyError), reply
    return str(reply)


def pair() -> tuple[Server, Session, Session]:
    server = make_server()
    return server, Session(server), Session(server)


def expire_now(s: Session, key: str) -> None:
    """Make `key` logically expired without deleting it (as with active expiry off)."""
    db = s.client.db
    db.expires[key.encode()] = s.server.mstime - 1


# -- the commands ------------------------------------------------------------------


def test_queued_commands_run_at_exec() -> None:
    s = Session()
    assert s.run("MULTI") == b"OK"
    assert s.run("SET", "k", "v") == b"QUEUED"
    assert s.run("GET", "k") == b"QUEUED"
    assert s.run("GET", "nosuch") == b"QUEUED"
    assert s.run("EXEC") == [b"OK", b"v", None]
    assert s.client.multi is None


def test_empty_transaction() -> None:
    s = Session()
    s.run("MULTI")
    assert s.raw("EXEC") == b"*0\r\n"


def test_state_errors() -> None:
    s = Session()
    assert err(s.run("EXEC")) == "ERR EXEC without MULTI"
    assert err(s.run("DISCARD")) == "ERR DISCARD without MULTI"
    s.run("MULTI")
    assert err(s.run("MULTI")) == "ERR MULTI calls can not be nested"
    assert err(s.run("WATCH", "x")) == "ERR WATCH inside MULTI is not allowed"
    s.run("PING")
    # Neither error flags the transaction.
    assert s.run("EXEC") == [b"PONG"]


def test_runtime_errors_stay_inside_the_reply() -> None:
    s = Session()
    s.run("SET", "s", "text")
    s.run("MULTI")
    s.run("INCR", "s")
    s.run("SET", "t", "1")
    assert s.raw("EXEC") == b"*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
    assert s.run("GET", "t") == b"1"


def test_queueing_errors_abort_with_execabort() -> None:
    s = Session()
    s.run("MULTI")
    assert err(s.run("SET", "x")) == "ERR wrong number of arguments for 'set' command"
    assert s.run("SET", "x", "1") == b"QUEUED"
    assert err(s.run("EXEC")) == EXECABORT
    assert s.run("EXISTS", "x") == 0
    s.run("MULTI")
    assert err(s.run("NOSUCH", "a")).startswith("ERR unknown command 'NOSUCH'")
    assert err(s.run("EXEC")) == EXECABORT
    s.run("MULTI")
    assert err(s.run("CLIENT", "foo")) == "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    assert err(s.run("EXEC")) == EXECABORT


def test_refused_exec_aborts_even_outside_multi() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SET", "a", "1")
    assert err(s.run("EXEC", "x")) == (
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    )
    assert s.client.multi is None
    assert s.run("EXISTS", "a") == 0
    assert err(s.run("EXEC", "x")).startswith("EXECABORT Transaction discarded because of: ")


def test_no_multi_commands_are_refused_while_queueing() -> None:
    if b"test-no-multi" not in COMMANDS:
        command("test-no-multi", 1, "admin no_multi")(lambda c, argv: "unreachable")
    s = Session()
    s.run("MULTI")
    assert err(s.run("test-no-multi")) == "ERR Command not allowed inside a transaction"
    assert err(s.run("EXEC")) == EXECABORT


def test_discard_drops_queue_and_watches() -> None:
    _, a, b = pair()
    a.run("WATCH", "k")
    a.run("MULTI")
    a.run("SET", "k", "mine")
    assert a.run("DISCARD") == b"OK"
    b.run("SET", "k", "theirs")
    a.run("MULTI")
    a.run("GET", "k")
    assert a.run("EXEC") == [b"theirs"]


def test_commands_run_in_exec_see_the_transaction_state() -> None:
    s = Session()
    s.run("MULTI")
    s.run("CLIENT", "INFO")
    (info,) = s.run("EXEC")
    assert b" flags=x " in info and b" multi=1 " in info and b" cmd=exec " in info


def test_select_inside_transaction_persists() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SELECT", "3")
    s.run("SET", "k", "v")
    s.run("EXEC")
    assert s.client.db.id == 3
    assert s.server.dbs[3].data == {b"k": b"v"}


# -- WATCH -------------------------------------------------------------------------


def test_watch_broken_by_another_client() -> None:
    _, a, b = pair()
    a.run("SET", "w", "1")
    a.run("WATCH", "w")
    b.run("SET", "w", "2")
    a.run("MULTI")
    a.run("SET", "w", "3")
    assert a.raw("EXEC") == b"*-1\r\n"
    assert a.run("GET", "w") == b"2"
    assert a.client.multi is None and not a.client.watched


def test_watch_null_reply_in_resp3() -> None:
    server = make_server()
    a = Session(server, resp3=True)
    b = Session(server)
    a.run("WATCH", "w")
    b.run("SET", "w", "x")
    a.run("MULTI")
    assert a.raw("EXEC") == b"_\r\n"


def test_own_write_before_multi_breaks_watch() -> None:
    s = Session()
    s.run("WATCH", "y")
    s.run("SET", "y", "1")
    s.run("MULTI")
    s.run("PING")
    assert s.raw("EXEC") == b"*-1\r\n"


def test_writes_inside_the_transaction_do_not_abort_it() -> None:
    s = Session()
    s.run("WATCH", "y")
    s.run("MULTI")
    s.run("SET", "y", "2")
    assert s.run("EXEC") == [b"OK"]


def test_watch_in_another_db_is_not_touched() -> None:
    _, a, b = pair()
    a.run("SELECT", "2")
    a.run("WATCH", "z")
    a.run("SELECT", "0")
    b.run("SET", "z", "5")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]


def test_unwatch_forgets_keys() -> None:
    _, a, b = pair()
    a.run("WATCH", "k", "k", "j")
    assert len(a.client.watched) == 2
    assert a.run("UNWATCH") == b"OK"
    assert not a.server.watched_keys
    b.run("SET", "k", "1")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]


def test_exec_unwatches_after_abort() -> None:
    _, a, b = pair()
    a.run("WATCH", "q")
    b.run("SET", "q", "1")
    a.run("MULTI")
    assert a.raw("EXEC") == b"*-1\r\n"
    b.run("SET", "q", "2")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]


def test_watched_key_that_expires_aborts() -> None:
    s = Session()
    s.run("SET", "v", "1", "PX", "100000")
    s.run("WATCH", "v")
    expire_now(s, "v")
    s.run("MULTI")
    s.run("PING")
    assert s.raw("EXEC") == b"*-1\r\n"


def test_watched_key_removed_by_active_expiry_aborts() -> None:
    s = Session()
    s.run("SET", "v", "1", "PX", "100000")
    s.run("WATCH", "v")
    expire_now(s, "v")
    s.client.db.delete_expired(b"v")
    s.run("MULTI")
    s.run("PING")
    assert s.raw("EXEC") == b"*-1\r\n"


def test_watching_a_stale_key_then_its_deletion_is_no_change() -> None:
    _, a, b = pair()
    a.run("SET", "x", "foo", "PX", "100000")
    expire_now(a, "x")
    a.run("WATCH", "x")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]
    a.run("WATCH", "x")
    assert b.run("GET", "x") is None  # lazily deleted: logically no change
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]


def test_watching_a_stale_key_then_a_write_aborts() -> None:
    _, a, b = pair()
    a.run("SET", "x", "foo", "PX", "100000")
    expire_now(a, "x")
    a.run("WATCH", "x")
    b.run("SET", "x", "bar")
    a.run("MULTI")
    a.run("PING")
    assert a.raw("EXEC") == b"*-1\r\n"


def test_flushall_touches_only_existing_watched_keys() -> None:
    _, a, b = pair()
    a.run("WATCH", "absent")
    b.run("FLUSHALL")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]
    a.run("SET", "e", "1")
    a.run("WATCH", "e")
    b.run("FLUSHALL")
    a.run("MULTI")
    a.run("PING")
    assert a.raw("EXEC") == b"*-1\r\n"


def test_flushdb_of_another_db_leaves_watch_alone() -> None:
    _, a, b = pair()
    a.run("SET", "e", "1")
    a.run("WATCH", "e")
    b.run("SELECT", "1")
    b.run("FLUSHDB")
    a.run("MULTI")
    a.run("PING")
    assert a.run("EXEC") == [b"PONG"]
    a.run("WATCH", "e")
    b.run("SELECT", "0")
    b.run("FLUSHDB")
    a.run("MULTI")
    assert a.raw("EXEC") == b"*-1\r\n"


def test_swapdb_touches_keys_present_in_either_db() -> None:
    _, a, b = pair()
    b.run("SELECT", "1")
    b.run("SET", "x", "live")
    a.run("WATCH", "x")
    b.run("SWAPDB", "0", "1")
    a.run("MULTI")
    assert a.raw("EXEC") == b"*-1\r\n"


def test_flush_helper_keeps_stale_watch_flag_semantics() -> None:
    from node.commands.tx_state import touch_watched_keys_in_db

    _, a, b = pair()
    a.run("SET", "x", "foo", "PX", "100000")
    expire_now(a, "x")
    a.run("WATCH", "x")
    db0 = a.server.dbs[0]
    touch_watched_keys_in_db(db0, None)
    assert not a.client.dirty_cas
    db1 = a.server.dbs[1]
    db1.data[b"x"] = b"other"
    touch_watched_keys_in_db(db0, db1)
    assert a.client.dirty_cas


# -- propagation (checked against Redis 7.0's AOF in tests/interop) ----------------


def test_single_write_transaction_propagates_bare() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SET", "a", "1")
    s.run("GET", "a")
    s.run("EXEC")
    assert s.propagated() == [[b"SET", b"a", b"1"]]


def test_two_writes_propagate_wrapped() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SET", "a", "1")
    s.run("INCR", "n")
    s.run("EXEC")
    assert s.propagated() == [MULTI, [b"SET", b"a", b"1"], [b"INCR", b"n"], EXEC]


def test_read_only_and_aborted_transactions_propagate_nothing() -> None:
    _, s, other = pair()
    s.run("MULTI")
    s.run("GET", "a")
    s.run("EXEC")
    s.run("WATCH", "a")
    other.run("SET", "a", "1")
    assert s.propagated() == [[b"SET", b"a", b"1"]]
    s.run("MULTI")
    s.run("SET", "a", "2")
    s.run("INCR", "b")
    s.run("EXEC")
    assert s.propagated() == []


def test_transaction_across_dbs_records_each_db() -> None:
    s = Session()
    rec = RecordingConsumer()
    s.server.propagator.consumers.append(rec)
    s.run("MULTI")
    s.run("SET", "a", "1")
    s.run("SELECT", "3")
    s.run("SET", "b", "2")
    s.run("EXEC")
    assert rec.ops == [
        (0, MULTI),
        (0, [b"SET", b"a", b"1"]),
        (3, [b"SET", b"b", b"2"]),
        (3, EXEC),
    ]


def test_failed_command_in_transaction_is_not_propagated() -> None:
    s = Session()
    s.run("SET", "s", "text")
    s.propagated()
    s.run("MULTI")
    s.run("INCR", "s")
    s.run("SET", "t", "1")
    s.run("EXEC")
    assert s.propagated() == [[b"SET", b"t", b"1"]]


def test_blocked_client_is_served_after_exec() -> None:
    server, a, b = pair()
    assert execute(b.client, [b"BLPOP", b"q", b"0"]) != DONE
    a.run("MULTI")
    a.run("RPUSH", "q", "x")
    a.run("RPUSH", "q", "y")
    assert a.run("EXEC") == [1, 2]
    assert b"".join(b.client.out) == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert a.run("LRANGE", "q", "0", "-1") == [b"y"]


def test_blocking_command_inside_exec_does_not_block() -> None:
    s = Session()
    s.run("MULTI")
    s.run("BLPOP", "empty", "0")
    assert s.raw("EXEC") == b"*1\r\n*-1\r\n"
    assert s.client.blocked is None


# -- gates: EXEC carries its queued commands' flags --------------------------------


def test_pause_write_holds_exec_with_writes_only() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SET", "a", "1")
    s.server.pause(60, all_commands=False)
    try:
        assert execute(s.client, [b"EXEC"]) == PAUSED
        other = Session(s.server)
        other.run("MULTI")
        other.run("GET", "a")
        assert other.run("EXEC") == [None]
    finally:
        s.server.unpause()
    assert s.run("EXEC") == [b"OK"]


def test_pause_write_holds_writes_being_queued() -> None:
    s = Session()
    s.run("MULTI")
    s.server.pause(60, all_commands=False)
    try:
        assert execute(s.client, [b"SET", b"a", b"1"]) == PAUSED
    finally:
        s.server.unpause()


def test_exec_refused_by_a_write_barrier_reports_the_reason() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SET", "a", "1")
    barrier = lambda server, c, cmd: ReplyError("MISCONF writes are refused")  # noqa: E731
    s.server.write_barriers.append(barrier)
    s.server.update_gates()
    try:
        assert err(s.run("EXEC")) == (
            "EXECABORT Transaction discarded because of: MISCONF writes are refused"
        )
    finally:
        s.server.write_barriers.remove(barrier)
        s.server.update_gates()
    assert s.client.multi is None


# -- a transaction behaves as the same commands run one by one ----------------------

KEYS = ["a", "b"]
operation = st.one_of(
    st.tuples(st.just("SET"), st.sampled_from(KEYS), st.sampled_from(["1", "x", "10"])),
    st.tuples(st.just("INCR"), st.sampled_from(KEYS)),
    st.tuples(st.just("APPEND"), st.sampled_from(KEYS), st.sampled_from(["0", "z"])),
    st.tuples(st.just("GET"), st.sampled_from(KEYS)),
    st.tuples(st.just("DEL"), st.sampled_from(KEYS)),
    st.tuples(st.just("EXISTS"), st.sampled_from(KEYS)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(operation, max_size=12))
def test_exec_equals_sequential_execution(ops: list[tuple[str, ...]]) -> None:
    sequential = Session()
    expected = [sequential.raw(*argv) for argv in ops]
    s = Session()
    s.run("MULTI")
    for argv in ops:
        assert s.run(*argv) == b"QUEUED"
    assert s.raw("EXEC") == b"*%d\r\n" % len(ops) + b"".join(expected)
    for key in KEYS:
        assert s.raw("GET", key) == sequential.raw("GET", key)
