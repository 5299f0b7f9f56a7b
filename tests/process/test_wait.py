"""WAIT against real replicas: keelkv replicas and a real redis-server 7.0 one, replicas
stopped with SIGSTOP, timeouts, CLIENT UNBLOCK, and the write offset each client waits for."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from tests.harness import RawClient, ServerProcess, start_keelkv, start_redis, wait_for


def online_replicas(m: redis.Redis) -> int:
    info = m.info("replication")
    return sum(
        1
        for n in range(info["connected_slaves"])
        if info.get(f"slave{n}", {}).get("state") == "online"
    )


def attach(master: ServerProcess, replicas: list[ServerProcess]) -> None:
    m = master.client()
    wait_for(lambda: online_replicas(m) == len(replicas))
    for replica in replicas:
        r = replica.client()
        wait_for(lambda r=r: r.info("replication").get("master_link_status") == "up")


@contextmanager
def stopped(*nodes: ServerProcess) -> Iterator[None]:
    """SIGSTOP the nodes for the block; they always get SIGCONT."""
    for node in nodes:
        os.kill(node.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for node in nodes:
            os.kill(node.pid, signal.SIGCONT)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    value = fn()
    return value, time.monotonic() - start


def blocked_clients(m: redis.Redis) -> int:
    return m.info("clients")["blocked_clients"]


def acked_offsets(m: redis.Redis) -> list[int]:
    return [int(offset) for _ip, _port, offset in m.execute_command("ROLE")[2]]


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[ServerProcess, list[ServerProcess]]]:
    """A keelkv master with two keelkv replicas."""
    master = start_keelkv()
    replicas: list[ServerProcess] = []
    try:
        for _ in range(2):
            replicas.append(start_keelkv("--replicaof", "127.0.0.1", str(master.port)))
        attach(master, replicas)
        yield master, replicas
    finally:
        for node in replicas:
            os.kill(node.pid, signal.SIGCONT)
            node.stop()
        master.stop()


@pytest.fixture
def master(nodes: tuple[ServerProcess, list[ServerProcess]]) -> redis.Redis:
    m = nodes[0].client()
    # Every test starts with both replicas online and caught up.
    assert m.execute_command("WAIT", 2, 20000) == 2
    return m


def test_wait_returns_the_replicas_that_acknowledged(
    nodes: tuple[ServerProcess, list[ServerProcess]], master: redis.Redis
) -> None:
    _, replicas = nodes
    master.set("k", "v1")
    assert master.execute_command("WAIT", 2, 10000) == 2
    assert all(r.client().get("k") == b"v1" for r in replicas)
    # Each blocked WAIT asks for ACKs with REPLCONF GETACK, so a round takes far less than
    # the replicas' once-a-second ACK: five rounds would take more than four seconds.
    start = time.monotonic()
    for i in range(5):
        master.set("k", f"w{i}")
        assert master.execute_command("WAIT", 2, 10000) == 2
    assert time.monotonic() - start < 2.5


def test_wait_for_more_replicas_than_exist_times_out_with_the_count(
    master: redis.Redis,
) -> None:
    master.set("k", "v2")
    count, elapsed = timed(lambda: master.execute_command("WAIT", 3, 500))
    assert count == 2
    assert 0.5 <= elapsed < 3


def test_pipelined_write_and_wait(nodes: tuple[ServerProcess, list[ServerProcess]]) -> None:
    master_node, replicas = nodes
    with RawClient(master_node.port) as c:
        c.send_raw(
            b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n1\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n2\r\n$5\r\n10000\r\n"
        )
        assert c.read_reply() == b"+OK\r\n"
        assert c.read_reply() == b":2\r\n"
    assert all(r.client().get("p") == b"1" for r in replicas)


def test_wait_leaves_out_a_stopped_replica(
    nodes: tuple[ServerProcess, list[ServerProcess]], master: redis.Redis
) -> None:
    _, replicas = nodes
    with stopped(replicas[1]):
        master.set("k", "v3")
        count, elapsed = timed(lambda: master.execute_command("WAIT", 2, 600))
        assert count == 1
        assert 0.6 <= elapsed < 3
        assert master.execute_command("WAIT", 1, 10000) == 1
    # Back: it catches up and counts again.
    assert master.execute_command("WAIT", 2, 20000) == 2
    assert replicas[1].client().get("k") == b"v3"


def test_write_offset_is_set_by_every_command(
    nodes: tuple[ServerProcess, list[ServerProcess]], master: redis.Redis
) -> None:
    master_node, replicas = nodes
    with stopped(*replicas), RawClient(master_node.port) as fresh:
        master.set("k", "v4")
        # A client that ran nothing has write offset 0: every online replica has that.
        reply, elapsed = timed(lambda: fresh.call("WAIT", 1, 0))
        assert reply == b":2\r\n"
        assert elapsed < 1
        # As in Redis 7.0, any command (a PING) moves it to the master's offset, which
        # includes the write the stopped replicas have not seen.
        assert fresh.call("PING") == b"+PONG\r\n"
        reply, elapsed = timed(lambda: fresh.call("WAIT", 1, 300))
        assert reply == b":0\r\n"
        assert elapsed >= 0.3
        # Inside MULTI, WAIT does not block: it answers the count at once.
        assert fresh.call("MULTI") == b"+OK\r\n"
        assert fresh.call("WAIT", 1, 0) == b"+QUEUED\r\n"
        reply, elapsed = timed(lambda: fresh.call("EXEC"))
        assert reply == b"*1\r\n:0\r\n"
        assert elapsed < 1
    assert master.execute_command("WAIT", 2, 20000) == 2


def test_client_unblock_answers_the_count_at_that_moment(
    nodes: tuple[ServerProcess, list[ServerProcess]], master: redis.Redis
) -> None:
    master_node, replicas = nodes
    with RawClient(master_node.port) as waiter:
        with stopped(replicas[1]):
            waiter_id = int(waiter.call("CLIENT", "ID")[1:-2])
            assert waiter.call("SET", "k", "v5") == b"+OK\r\n"
            target = master.info("replication")["master_repl_offset"]
            waiter.send_command("WAIT", 2, 0)
            wait_for(lambda: blocked_clients(master) == 1)
            # The running replica answers the GETACK; the stopped one cannot.
            wait_for(lambda: max(acked_offsets(master)) >= target)
            assert master.execute_command("CLIENT", "UNBLOCK", waiter_id) == 1
            assert waiter.read_reply() == b":1\r\n"
            assert blocked_clients(master) == 0
            waiter.send_command("WAIT", 2, 0)
            wait_for(lambda: blocked_clients(master) == 1)
            assert master.execute_command("CLIENT", "UNBLOCK", waiter_id, "ERROR") == 1
            assert waiter.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
            assert blocked_clients(master) == 0
            assert master.execute_command("CLIENT", "UNBLOCK", waiter_id) == 0
            # A WAIT blocked for good is answered once the replica is back.
            waiter.send_command("WAIT", 2, 0)
            wait_for(lambda: blocked_clients(master) == 1)
        assert waiter.read_reply() == b":2\r\n"


def test_wait_on_a_replica_is_refused(nodes: tuple[ServerProcess, list[ServerProcess]]) -> None:
    _, replicas = nodes
    r = replicas[0].client()
    with pytest.raises(redis.ResponseError) as exc:
        r.execute_command("WAIT", 1, 0)
    assert str(exc.value) == (
        "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
        "if a replica is configured to be writable (which is not the default) writes to "
        "replicas are just local and are not propagated."
    )


def test_command_info_wait(master: redis.Redis) -> None:
    with RawClient(master.connection_pool.connection_kwargs["port"]) as c:
        assert c.call("COMMAND", "INFO", "wait") == (
            b"*1\r\n*10\r\n$4\r\nwait\r\n:3\r\n*1\r\n+noscript\r\n:0\r\n:0\r\n:0\r\n"
            b"*2\r\n+@slow\r\n+@connection\r\n*2\r\n$25\r\nrequest_policy:all_shards\r\n"
            b"$23\r\nresponse_policy:agg_min\r\n*0\r\n*0\r\n"
        )


@pytest.mark.interop
def test_wait_with_a_real_redis_replica() -> None:
    master = start_keelkv()
    replica: ServerProcess | None = None
    try:
        replica = start_redis("--replicaof", "127.0.0.1", str(master.port))
        attach(master, [replica])
        m = master.client()
        m.set("k", "v")
        assert m.execute_command("WAIT", 1, 10000) == 1
        assert replica.client().get("k") == b"v"
        # Redis replicas answer REPLCONF GETACK at once.
        start = time.monotonic()
        for i in range(5):
            m.set("k", f"w{i}")
            assert m.execute_command("WAIT", 1, 10000) == 1
        assert time.monotonic() - start < 2.5
        with stopped(replica):
            m.set("k", "stopped")
            count, elapsed = timed(lambda: m.execute_command("WAIT", 1, 400))
            assert count == 0
            assert 0.4 <= elapsed < 3
        assert m.execute_command("WAIT", 1, 20000) == 1
        assert replica.client().get("k") == b"stopped"
    finally:
        if replica is not None:
            os.kill(replica.pid, signal.SIGCONT)
            replica.stop()
        master.stop()
