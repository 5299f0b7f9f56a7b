"""Clients blocked on sorted sets (BZPOPMIN, BZPOPMAX, BZMPOP), on real processes.

Each scenario runs against a keelkv process and a real redis-server, and the replies are
compared byte for byte besides being checked for what they mean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

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


def timeout_scenario(node: ServerProcess) -> list[bytes]:
    with RawClient(node.port) as c:
        start = time.monotonic()
        replies = [c.call("BZPOPMIN", "q", "0.2"), c.call("BZPOPMAX", "a", "b", "0.1")]
        elapsed = time.monotonic() - start
        replies.append(c.call("BZMPOP", "0.05", "2", "a", "b", "MIN"))
        c.call("HELLO", "3")
        replies.append(c.call("BZPOPMIN", "q", "0.05"))
        replies.append(c.call("BZMPOP", "0.05", "1", "q", "MAX", "COUNT", "2"))
    assert 0.3 <= elapsed < 2.0
    assert blocked_clients(node) == 0
    return replies


def test_timeouts_reply_a_null_array(keelkv: ServerProcess, redis: ServerProcess) -> None:
    assert on_both(keelkv, redis, timeout_scenario) == [
        b"*-1\r\n",
        b"*-1\r\n",
        b"*-1\r\n",
        b"_\r\n",
        b"_\r\n",
    ]


def fifo_scenario(node: ServerProcess) -> list[bytes]:
    waiters = [RawClient(node.port) for _ in range(3)]
    try:
        for i, (w, cmd) in enumerate(
            zip(waiters, ("BZPOPMIN", "BZPOPMAX", "BZPOPMIN"), strict=True)
        ):
            w.send_command(cmd, "q", "0")
            wait_blocked(node, i + 1)
        with RawClient(node.port) as c:
            added = c.call("ZADD", "q", "1", "a", "2", "b")
            assert blocked_clients(node) == 1
            c.call("ZADD", "q", "3", "c", "4", "d")
            left = c.call("ZRANGE", "q", "0", "-1", "WITHSCORES")
        return [added, *(w.read_reply() for w in waiters), left]
    finally:
        for w in waiters:
            w.close()


def test_blocked_clients_are_served_in_arrival_order(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, fifo_scenario)
    assert replies[1:4] == [
        b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n",
        b"*3\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\n2\r\n",
        b"*3\r\n$1\r\nq\r\n$1\r\nc\r\n$1\r\n3\r\n",
    ]
    assert replies[4] == b"*2\r\n$1\r\nd\r\n$1\r\n4\r\n"


def ready_key_scenario(node: ServerProcess) -> list[bytes]:
    """Served from the key that became ready, after EXEC, in signal order."""
    with RawClient(node.port) as w1, RawClient(node.port) as w2, RawClient(node.port) as c:
        w1.send_command("BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "5")
        wait_blocked(node, 1)
        w2.send_command("BZPOPMIN", "a", "b", "0")
        wait_blocked(node, 2)
        replies = [c.call("MULTI"), c.call("ZADD", "b", "1", "x", "2", "y")]
        replies.append(c.call("ZADD", "a", "3", "z"))
        time.sleep(0.05)
        assert blocked_clients(node) == 2  # queued writes wake nobody before EXEC
        replies.append(c.call("EXEC"))
        replies += [w1.read_reply(), w2.read_reply(), c.call("EXISTS", "a", "b")]
        return replies


def test_zadd_inside_multi_serves_from_the_ready_key_after_exec(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, ready_key_scenario)
    assert replies[4] == (
        b"*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n"
    )
    assert replies[5] == b"*3\r\n$1\r\na\r\n$1\r\nz\r\n$1\r\n3\r\n"
    assert replies[6] == b":0\r\n"


def store_and_type_scenario(node: ServerProcess) -> list[bytes]:
    """Keys made by *STORE wake clients; a list under the key does not."""
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        c.call("ZADD", "src", "1.5", "m", "2.5", "n")
        waiter.send_command("BZPOPMAX", "q", "0")
        wait_blocked(node, 1)
        replies = [c.call("RPUSH", "q", "x")]
        time.sleep(0.05)
        assert blocked_clients(node) == 1
        replies += [c.call("DEL", "q"), c.call("ZUNIONSTORE", "q", "1", "src", "WEIGHTS", "2")]
        replies.append(waiter.read_reply())
        waiter.send_command("BZPOPMIN", "r", "0")
        wait_blocked(node, 1)
        replies += [c.call("ZRANGESTORE", "r", "src", "0", "0"), waiter.read_reply()]
        return replies


def test_store_commands_wake_and_other_types_do_not(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, store_and_type_scenario)
    assert replies[3] == b"*3\r\n$1\r\nq\r\n$1\r\nn\r\n$1\r\n5\r\n"
    assert replies[5] == b"*3\r\n$1\r\nr\r\n$1\r\nm\r\n$3\r\n1.5\r\n"


def disconnect_scenario(node: ServerProcess) -> list[bytes]:
    gone = RawClient(node.port)
    gone.send_command("BZPOPMIN", "q", "0")
    wait_blocked(node, 1)
    with RawClient(node.port) as waiter, RawClient(node.port) as c:
        waiter.send_command("BZMPOP", "0", "1", "q", "MIN", "COUNT", "10")
        wait_blocked(node, 2)
        gone.close()
        wait_blocked(node, 1)
        replies = [c.call("ZADD", "q", "1", "a", "2", "b"), waiter.read_reply()]
        replies.append(c.call("EXISTS", "q"))
    assert blocked_clients(node) == 0
    return replies


def test_a_client_disconnecting_while_blocked_is_forgotten(
    keelkv: ServerProcess, redis: ServerProcess
) -> None:
    replies = on_both(keelkv, redis, disconnect_scenario)
    assert (
        replies[1]
        == b"*2\r\n$1\r\nq\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    )


def test_bzpopmin_with_redis_py(keelkv: ServerProcess) -> None:
    result: list[object] = []
    waiter = keelkv.client()
    thread = threading.Thread(target=lambda: result.append(waiter.bzpopmin(["q", "r"], timeout=5)))
    thread.start()
    wait_blocked(keelkv, 1)
    client = keelkv.client()
    client.zadd("r", {"x": 1.5, "y": 3})
    thread.join(5)
    assert result == [(b"r", b"x", 1.5)]
    assert client.zrange("r", 0, -1, withscores=True) == [(b"y", 3.0)]
    start = time.monotonic()
    assert waiter.bzpopmax(["none"], timeout=0.1) is None
    assert time.monotonic() - start >= 0.1
    waiter.close()
    client.close()
