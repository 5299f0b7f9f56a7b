"""Transactions against real Redis 7.0: replies byte for byte, several connections at once,
and the propagated stream compared with the AOF Redis writes for the same transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import hiredis
import pytest

from node.propagate import StreamEncoder
from tests.conftest import Differ
from tests.harness import RawClient, ServerProcess, start_redis
from tests.unit.sansio import Session

pytestmark = pytest.mark.interop


class Scene:
    """N connections to each server; every step runs on both and must answer the same."""

    def __init__(self, keel: ServerProcess, real: ServerProcess, n: int) -> None:
        self.keel = [RawClient(keel.port) for _ in range(n)]
        self.real = [RawClient(real.port) for _ in range(n)]

    def check(self, who: int, *argv: str) -> bytes:
        ours, theirs = self.keel[who].call(*argv), self.real[who].call(*argv)
        assert ours == theirs, f"client {who} {argv!r}: keelkv {ours!r} != redis {theirs!r}"
        return ours

    def close(self) -> None:
        for c in self.keel + self.real:
            c.close()


@pytest.fixture
def scene(differ: Differ, keelkv_node: ServerProcess, redis_node: ServerProcess) -> Iterator[Scene]:
    s = Scene(keelkv_node, redis_node, 2)
    yield s
    for who in range(2):
        s.check(who, "RESET")
    s.close()


# -- one connection ------------------------------------------------------------------


def test_basic_transaction(differ: Differ) -> None:
    d = differ
    d.check("MULTI")
    d.check("SET", "k1", "v")
    d.check("INCR", "n")
    d.check("GET", "k1")
    d.check("EXEC")
    d.check("MULTI")
    d.check("EXEC")


def test_state_errors(differ: Differ) -> None:
    d = differ
    d.check_all(("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "x"), ("EXEC",))
    d.check_all(("MULTI",), ("DISCARD",), ("DISCARD",))


def test_arity_errors(differ: Differ) -> None:
    d = differ
    d.check_all(("WATCH",), ("UNWATCH", "x"), ("MULTI", "x"), ("DISCARD", "x"))
    d.check("EXEC", "x")  # refused EXEC: EXECABORT even outside MULTI
    d.check_all(("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXISTS", "a"))


def test_queueing_errors_abort(differ: Differ) -> None:
    d = differ
    d.check_all(("MULTI",), ("SET", "x"), ("SET", "x", "1"), ("EXEC",), ("EXISTS", "x"))
    d.check_all(("MULTI",), ("NOSUCH", "x"), ("EXEC",))
    d.check_all(("MULTI",), ("GET",), ("PING",), ("EXEC",))
    d.check_all(("MULTI",), ("CLIENT", "foo"), ("EXEC",))
    d.check_all(("MULTI",), ("PUBSUB", "NUMPAT", "x"), ("EXEC",))


def test_errors_at_exec_time_are_inside_the_array(differ: Differ) -> None:
    d = differ
    d.check("SET", "s", "text")
    d.check_all(("MULTI",), ("INCR", "s"), ("SET", "k2", "x"), ("LPUSH", "s", "a"), ("EXEC",))
    d.check_all(("MULTI",), ("INCR", "s"), ("EXEC",))
    d.check_all(("MULTI",), ("PING", "a", "b"), ("EXEC",))


def test_transaction_with_select(differ: Differ) -> None:
    d = differ
    d.check_all(("MULTI",), ("SET", "k1", "v"), ("SELECT", "3"), ("SET", "k3", "v"), ("EXEC",))
    d.check_all(("GET", "k3"), ("SELECT", "0"), ("GET", "k1"))
    d.check("SELECT", "3")
    d.check("FLUSHDB")
    d.check("SELECT", "0")


def test_reset_and_quit_run_immediately(differ: Differ) -> None:
    d = differ
    d.check_all(("MULTI",), ("RESET",), ("EXEC",))


def test_blocking_command_inside_transaction_answers_at_once(differ: Differ) -> None:
    d = differ
    d.check_all(("MULTI",), ("BLPOP", "empty", "0"), ("RPUSH", "l", "a"), ("BLPOP", "l", "0"))
    d.check("EXEC")


def test_client_info_inside_exec_shows_the_transaction(differ: Differ) -> None:
    d = differ
    d.check("MULTI")
    d.check("CLIENT", "INFO")
    ours, theirs = d.both("EXEC")
    for reply in (ours, theirs):
        assert b" flags=x " in reply and b" multi=1 " in reply and b" cmd=exec " in reply


def test_subscribe_inside_transaction(differ: Differ) -> None:
    d = differ
    d.check_all(("MULTI",), ("SUBSCRIBE", "c"), ("EXEC",), ("UNSUBSCRIBE",))
    d.check_all(("MULTI",), ("SSUBSCRIBE", "c"), ("MONITOR",), ("EXEC",))


def test_client_reply_skip_covers_multi(differ: Differ) -> None:
    d = differ
    d.keel.send_raw(b"CLIENT REPLY SKIP\r\nMULTI\r\nPING\r\nEXEC\r\n")
    d.real.send_raw(b"CLIENT REPLY SKIP\r\nMULTI\r\nPING\r\nEXEC\r\n")
    for _ in range(2):
        assert d.keel.read_reply() == d.real.read_reply()


# -- several connections ----------------------------------------------------------------


def test_watch_broken_by_another_client(scene: Scene) -> None:
    s = scene
    s.check(0, "SET", "w", "1")
    s.check(0, "WATCH", "w")
    s.check(1, "SET", "w", "2")
    s.check(0, "MULTI")
    s.check(0, "GET", "w")
    s.check(0, "EXEC")
    s.check(0, "GET", "w")


def test_watch_survives_unrelated_writes_and_noops(scene: Scene) -> None:
    s = scene
    s.check(0, "SET", "z", "1")
    s.check(0, "WATCH", "z")
    s.check(1, "DEL", "nonexist")
    s.check(1, "LPUSH", "zz", "1")
    s.check(1, "SELECT", "2")
    s.check(1, "SET", "z", "other-db")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")
    s.check(1, "FLUSHDB")


def test_same_value_write_still_breaks_watch(scene: Scene) -> None:
    s = scene
    s.check(0, "SET", "z", "1")
    s.check(0, "WATCH", "z")
    s.check(1, "SET", "z", "1")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")


def test_watch_broken_by_expiry(scene: Scene) -> None:
    s = scene
    s.check(0, "SET", "v", "1", "PX", "100")
    s.check(0, "WATCH", "v")
    time.sleep(0.25)
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")


def test_watch_and_flushes(scene: Scene) -> None:
    s = scene
    s.check(0, "WATCH", "absent")
    s.check(1, "FLUSHALL")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")
    for flush in (("FLUSHALL",), ("FLUSHDB",)):
        s.check(0, "SET", "e", "1")
        s.check(0, "WATCH", "e")
        s.check(1, *flush)
        s.check(0, "MULTI")
        s.check(0, "PING")
        s.check(0, "EXEC")
    s.check(0, "SET", "e", "1")
    s.check(0, "WATCH", "e")
    s.check(1, "SELECT", "1")
    s.check(1, "FLUSHDB")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")


def test_watch_and_swapdb(scene: Scene) -> None:
    s = scene
    s.check(1, "SELECT", "1")
    s.check(1, "SET", "x", "live")
    s.check(0, "WATCH", "x")
    s.check(1, "SWAPDB", "0", "1")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")
    s.check(1, "FLUSHALL")


def test_discard_and_unwatch_forget_watches(scene: Scene) -> None:
    s = scene
    s.check(0, "WATCH", "q")
    s.check(0, "MULTI")
    s.check(0, "DISCARD")
    s.check(1, "SET", "q", "3")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")
    s.check(0, "WATCH", "q")
    s.check(0, "UNWATCH")
    s.check(1, "SET", "q", "4")
    s.check(0, "MULTI")
    s.check(0, "PING")
    s.check(0, "EXEC")
    s.check(0, "WATCH", "q")
    s.check(1, "SET", "q", "5")
    s.check(0, "RESET")
    s.check(0, "MULTI")
    s.check(0, "EXEC")


def test_blocked_client_served_after_exec(scene: Scene) -> None:
    s = scene
    for side in (s.keel, s.real):
        side[1].send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    time.sleep(0.2)
    s.check(0, "MULTI")
    s.check(0, "RPUSH", "q", "a")
    s.check(0, "LPUSH", "q", "b")
    s.check(0, "EXEC")
    assert s.keel[1].read_reply() == s.real[1].read_reply()
    s.check(0, "LRANGE", "q", "0", "-1")


# -- propagation: keelkv's stream against the AOF Redis 7.0 writes ------------------------


def read_aof(workdir: Path) -> list[list[bytes]]:
    reader = hiredis.Reader()
    for path in sorted((workdir / "appendonlydir").glob("*.incr.aof")):
        reader.feed(path.read_bytes())
    out = []
    while (cmd := reader.gets()) is not False:
        out.append(cmd)
    return out


TX_SCRIPT: list[tuple[str, ...]] = [
    ("MULTI",),
    ("SET", "k1", "v"),
    ("EXEC",),
    ("MULTI",),
    ("SET", "k1", "v"),
    ("INCR", "n"),
    ("EXEC",),
    ("MULTI",),
    ("GET", "k1"),
    ("EXEC",),
    ("MULTI",),
    ("SET", "k1", "v"),
    ("SELECT", "3"),
    ("SET", "k3", "v"),
    ("EXEC",),
    ("SELECT", "0"),
    ("MULTI",),
    ("INCR", "k1"),
    ("SET", "k2", "x"),
    ("EXEC",),
    ("MULTI",),
    ("INCR", "k1"),
    ("EXEC",),
    ("MULTI",),
    ("SET", "k4", "x"),
    ("SET", "k4"),
    ("EXEC",),
    ("SELECT", "5"),
    ("MULTI",),
    ("SET", "a", "1"),
    ("DEL", "a"),
    ("EXEC",),
]


def test_transaction_propagation_matches_redis_aof() -> None:
    real = start_redis("--appendonly", "yes", "--appendfsync", "always")
    try:
        with RawClient(real.port) as c:
            for argv in TX_SCRIPT:
                c.call(*argv)
        written = read_aof(real.workdir)
    finally:
        real.stop()
    s = Session()
    for argv in TX_SCRIPT:
        s.run(*argv)
    encoder = StreamEncoder()
    reader = hiredis.Reader()
    for db, argv in s.recorder.ops:
        reader.feed(encoder.encode(db, argv))
    ours = []
    while (cmd := reader.gets()) is not False:
        ours.append(cmd)
    # Redis writes its commands as the client spelled them; compare names case-blind.
    normalize = lambda cmds: [[a[0].upper(), *a[1:]] for a in cmds]  # noqa: E731
    assert normalize(ours) == normalize(written)
