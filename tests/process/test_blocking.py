"""Blocked clients on real processes: keelkv and redis-server driven the same way.

Each scenario runs against a keelkv process and a real redis-server; where the replies are
deterministic they are compared byte for byte, besides being checked for what they mean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from node.resp import encode_command
from tests.harness import (
    RawClient,
    ServerProcess,
    blocked_clients,
    start_keelkv,
    start_redis,
    wait_blocked,
)

Scenario = Callable[[ServerProcess], list[bytes]]


@pytest.fixture(scope="module")
def keelkv() -> Iterator[ServerProcess]:
    node = start_keelkv()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def redis() -> Iterator[ServerProcess]:
    node = start_redis()
    yield node
    node.stop()


@pytest.fixture(autouse=True)
def flushed(keelkv: ServerProcess, redis: ServerProcess) -> None:
    for node in (keelkv, redis):
        with RawClient(node.port) as c:
            c.call("FLUSHALL")


def on_both(keelkv: ServerProcess, redis: ServerProcess, scenario: Scenario) -> list[bytes]:
    ours = scenario(keelkv)
    theirs = scenario(redis)
    assert ours == theirs
    return ours


# -- scenarios --------------------------------------------------------------------------


def timeout_scenario(node: ServerProcess) -> list[bytes]:
    with RawClient(node.port) as c:
        start = time.monotonic()
        replies = [c.call("BLPOP", "q", "0.2"), c.call("BLMOVE", "q", "d", "LEFT", "LEFT", "0.1")]
        elapsed = time.monotonic() - start
        replies.append(c.call("BLMPOP", "0.05", "2", "a", "b", "LEFT"))
        c.call("HELLO", "3")
        replies.append(c.call("BRPOP", "q", "0.05"))
    assert 0.3 <= elapsed < 2.0
    assert blocked_clients(node) == 0
    return replies


def test_timeout_replies_a_null_array(keelkv: ServerProcess, redis: ServerProcess) -> None:
    assert on_both(keelkv, redis, timeout_scenario) == [
        b"*-1\r\n",
        b"*-1\r\n",
        b"*-1\r\n",
        b"_\r\n",
    ]


def test_timeout_with_redis_py(keelkv: ServerProcess) -> None:
    client = keelkv.client()
    start = time.monotonic()
    assert client.blpop(["q"], timeout=0.1) is None
    assert client.brpoplpush("q", "d", timeout=0.1) is None
    assert time.monotonic() - start >= 0.2
    client.close()


def fifo_scenario(node: ServerProcess) -> list[bytes]:
    waiters = [RawClient(node.port) for _ in range(3)]
    try:
        for i, w in enumerate(waiters):
            w.send_command("BLPOP", "q", "0")
            wait_blocked(node, i + 1)
        with RawClient(node.port) as c:
            pushed = c.call("RPUSH", "q", "a", "b")
            assert blocked_clients(node) == 1
            c.call("RPUSH", "q", "c", "d")
            left = c.call("LRANGE", "q", "0", "-1")
        return [pushed, *(w.read_reply() for w in waiters), left]
    finally:
        for w in waiters:
            w.close()


def test_three_blocked_clients_are_served_in_arrival_order(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, fifo_scenario)
    assert replies[1:4] == [
        b"*2\r\n$1\r\nq\r\n$1\r\na\r\n",
        b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n",
        b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n",
    ]
    assert replies[4] == b"*1\r\n$1\r\nd\r\n"


def multi_exec_scenario(node: ServerProcess) -> list[bytes]:
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        waiter.send_command("BLPOP", "q", "0")
        wait_blocked(node, 1)
        replies = [c.call("MULTI"), c.call("RPUSH", "q", "a"), c.call("LPUSH", "q", "b")]
        time.sleep(0.05)
        assert blocked_clients(node) == 1  # queued pushes wake nobody before EXEC
        replies.append(c.call("EXEC"))
        replies.append(waiter.read_reply())
        replies.append(c.call("LRANGE", "q", "0", "-1"))
        return replies


def test_push_inside_multi_exec_wakes_a_blocked_client_after_exec(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, multi_exec_scenario)
    assert replies[3] == b"*2\r\n:1\r\n:2\r\n"
    assert replies[4] == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert replies[5] == b"*1\r\n$1\r\na\r\n"


def test_multi_exec_wakes_a_redis_py_client(keelkv: ServerProcess) -> None:
    result: list[object] = []
    waiter = keelkv.client()
    thread = threading.Thread(target=lambda: result.append(waiter.blpop(["q"], timeout=5)))
    thread.start()
    wait_blocked(keelkv, 1)
    client = keelkv.client()
    pipe = client.pipeline(transaction=True)
    pipe.rpush("q", "x")
    pipe.rpush("q", "y")
    assert pipe.execute() == [1, 2]
    thread.join(5)
    assert result == [(b"q", b"x")]
    assert client.lrange("q", 0, -1) == [b"y"]
    waiter.close()
    client.close()


def blmove_scenario(node: ServerProcess) -> list[bytes]:
    with RawClient(node.port) as mover, RawClient(node.port) as popper:
        with RawClient(node.port) as c:
            mover.send_command("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
            wait_blocked(node, 1)
            popper.send_command("BLPOP", "dst", "0")  # woken in turn by the list BLMOVE creates
            wait_blocked(node, 2)
            replies = [c.call("RPUSH", "src", "a", "b")]
            replies += [mover.read_reply(), popper.read_reply()]
            replies.append(c.call("LRANGE", "src", "0", "-1"))
            replies.append(c.call("EXISTS", "dst"))
            mover.send_command("BRPOPLPUSH", "src2", "dst", "0")
            wait_blocked(node, 1)
            c.call("SET", "str", "v")
            popper.send_command("BLMOVE", "src2", "str", "LEFT", "LEFT", "0")
            wait_blocked(node, 2)
            replies.append(c.call("LPUSH", "src2", "x", "y"))
            replies += [mover.read_reply(), popper.read_reply()]
            replies.append(c.call("LRANGE", "dst", "0", "-1"))
        return replies


def test_blmove_and_brpoplpush_blocked(keelkv: ServerProcess, redis: ServerProcess) -> None:
    replies = on_both(keelkv, redis, blmove_scenario)
    assert replies[1:3] == [b"$1\r\nb\r\n", b"*2\r\n$3\r\ndst\r\n$1\r\nb\r\n"]
    assert replies[6] == b"$1\r\nx\r\n"
    assert replies[7].startswith(b"-WRONGTYPE")  # its destination was a string
    assert replies[8] == b"*1\r\n$1\r\nx\r\n"


def test_blmove_with_redis_py(keelkv: ServerProcess) -> None:
    result: list[object] = []
    waiter = keelkv.client()
    thread = threading.Thread(
        target=lambda: result.append(waiter.blmove("src", "dst", 5, "LEFT", "RIGHT"))
    )
    thread.start()
    wait_blocked(keelkv, 1)
    client = keelkv.client()
    client.rpush("src", "1", "2")
    thread.join(5)
    assert result == [b"1"]
    assert client.lrange("dst", 0, -1) == [b"1"]
    assert client.lrange("src", 0, -1) == [b"2"]
    waiter.close()
    client.close()


def disconnect_scenario(node: ServerProcess) -> list[bytes]:
    gone = RawClient(node.port)
    gone.send_command("BLPOP", "q", "0")
    wait_blocked(node, 1)
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        waiter.send_command("BRPOP", "q", "0")
        wait_blocked(node, 2)
        gone.close()
        wait_blocked(node, 1)
        replies = [c.call("RPUSH", "q", "a", "b"), waiter.read_reply()]
        replies.append(c.call("LRANGE", "q", "0", "-1"))
    assert blocked_clients(node) == 0
    return replies


def test_a_client_disconnecting_while_blocked_is_forgotten(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, disconnect_scenario)
    assert replies[1] == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert replies[2] == b"*1\r\n$1\r\na\r\n"


def pipelined_scenario(node: ServerProcess) -> list[bytes]:
    """Commands sent before and while a client is blocked run after it, in order."""
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        waiter.send_raw(
            encode_command([b"BLPOP", b"q", b"0"]) + encode_command([b"ECHO", b"first"])
        )
        wait_blocked(node, 1)
        waiter.send_command("ECHO", "second")
        waiter.send_command("LLEN", "q")
        time.sleep(0.05)
        c.call("RPUSH", "q", "a", "b")
        return [waiter.read_reply() for _ in range(4)]


def test_commands_pipelined_behind_a_blocked_one_keep_their_order(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    assert on_both(keelkv, redis, pipelined_scenario) == [
        b"*2\r\n$1\r\nq\r\n$1\r\na\r\n",
        b"$5\r\nfirst\r\n",
        b"$6\r\nsecond\r\n",
        b":1\r\n",
    ]


def ready_key_scenario(node: ServerProcess) -> list[bytes]:
    """Redis 7.0 serves a blocked BLMPOP/BLPOP from the key that became ready."""
    with RawClient(node.port) as w1, RawClient(node.port) as w2, RawClient(node.port) as c:
        w1.send_command("BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5")
        wait_blocked(node, 1)
        w2.send_command("BLPOP", "a", "b", "0")
        wait_blocked(node, 2)
        c.call("MULTI")
        c.call("RPUSH", "b", "1", "2")
        c.call("RPUSH", "a", "3")
        c.call("EXEC")
        return [w1.read_reply(), w2.read_reply(), c.call("EXISTS", "a", "b")]


def test_blocked_clients_are_served_from_the_ready_key(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    assert on_both(keelkv, redis, ready_key_scenario) == [
        b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
        b"*2\r\n$1\r\na\r\n$1\r\n3\r\n",
        b":0\r\n",
    ]


def rounded_to_zero_scenario(node: ServerProcess) -> list[bytes]:
    """-0.001 s is ceil'd to 0 ms by Redis: the client blocks until served."""
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        waiter.send_command("BLPOP", "q", "-0.001")
        wait_blocked(node, 1)
        time.sleep(0.1)
        assert blocked_clients(node) == 1
        c.call("RPUSH", "q", "x")
        return [waiter.read_reply()]


def test_a_timeout_that_rounds_to_zero_blocks_until_served(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    assert on_both(keelkv, redis, rounded_to_zero_scenario) == [b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"]


def test_blocked_client_in_another_db_is_not_woken(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    def scenario(node: ServerProcess) -> list[bytes]:
        with RawClient(node.port) as waiter, RawClient(node.port) as c:
            waiter.call("SELECT", "1")
            waiter.send_command("BLPOP", "q", "0")
            wait_blocked(node, 1)
            c.call("RPUSH", "q", "db0")
            assert blocked_clients(node) == 1
            c.call("SELECT", "1")
            c.call("RPUSH", "q", "db1")
            return [waiter.read_reply(), c.call("SELECT", "0"), c.call("LLEN", "q")]

    assert on_both(keelkv, redis, scenario)[0] == b"*2\r\n$1\r\nq\r\n$3\r\ndb1\r\n"
