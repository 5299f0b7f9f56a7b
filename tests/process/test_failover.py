"""FAILOVER between keelkv nodes: the coordinated hand-over of Redis 6.2+, its states,
timeouts, FORCE, ABORT and errors."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness import ServerProcess, start_keelkv, wait_for

FAST = ("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes")


def linked(r: redis.Redis, port: int) -> bool:
    info = r.info("replication")
    return info.get("master_port") == port and info.get("master_link_status") == "up"


@pytest.fixture
def group(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess, ServerProcess]]:
    procs: list[ServerProcess] = []
    for name in ("m", "a", "b"):
        (tmp_path / name).mkdir()
    try:
        master = start_keelkv(*FAST, workdir=tmp_path / "m")
        procs.append(master)
        for name in ("a", "b"):
            procs.append(
                start_keelkv(
                    *FAST, "--replicaof", "127.0.0.1", str(master.port), workdir=tmp_path / name
                )
            )
        for p in procs[1:]:
            wait_for(lambda p=p: linked(p.client(), master.port))
        yield procs[0], procs[1], procs[2]
    finally:
        for p in procs:
            try:
                os.kill(p.pid, signal.SIGCONT)
            except OSError:
                pass
            p.stop()


def test_failover_to_a_named_replica_keeps_every_write(group: Any) -> None:
    master, a, b = group
    m = master.client()
    for i in range(200):
        m.set(f"k{i}", i)
    assert m.execute_command("FAILOVER", "TO", "127.0.0.1", a.port) in (b"OK", "OK", True)
    ra = a.client()
    wait_for(lambda: ra.info("replication")["role"] == "master")
    wait_for(lambda: linked(m, a.port))
    assert m.info("replication")["master_failover_state"] == "no-failover"
    # The old master followed by partial resync: no full sync on the new master.
    stats = ra.info("stats")
    assert stats["sync_partial_ok"] >= 1 and stats["sync_full"] == 0
    assert ra.dbsize() == 200
    with pytest.raises(redis.ReadOnlyError):
        m.set("after", 1)
    ra.set("after", 1)
    wait_for(lambda: m.get("after") == b"1")
    assert f"Failover target 127.0.0.1:{a.port} is synced, failing over." in master.log()
    assert "MASTER MODE enabled (failover request from" in a.log()
    # The other replica still follows the old master: re-pointed, it continues partially.
    rb = b.client()
    rb.execute_command("REPLICAOF", "127.0.0.1", a.port)
    wait_for(lambda: linked(rb, a.port))
    wait_for(lambda: rb.get("after") == b"1")
    assert ra.info("stats")["sync_full"] == 0
    assert rb.execute_command("DEBUG", "DIGEST") == ra.execute_command("DEBUG", "DIGEST")


def test_failover_to_any_replica_picks_one_in_sync(group: Any) -> None:
    master, a, b = group
    m = master.client()
    m.set("x", 1)
    m.execute_command("FAILOVER")
    wait_for(lambda: m.info("replication")["role"] == "slave")
    new_port = m.info("replication")["master_port"]
    assert new_port in (a.port, b.port)
    assert "FAILOVER requested to any replica." in master.log()


def test_failover_times_out_without_force_and_gives_the_role_back(group: Any) -> None:
    master, a, b = group
    m = master.client()
    m.set("x", 1)
    os.kill(a.pid, signal.SIGSTOP)  # never acknowledges again
    m.set("y", 2)
    m.execute_command("FAILOVER", "TO", "127.0.0.1", a.port, "TIMEOUT", 1500)
    assert m.info("replication")["master_failover_state"] == "waiting-for-sync"
    # Writes are paused meanwhile; reads are served.
    assert m.get("x") == b"1"
    wait_for(lambda: m.info("replication")["master_failover_state"] == "no-failover")
    os.kill(a.pid, signal.SIGCONT)
    assert m.info("replication")["role"] == "master"
    m.set("z", 3)  # writes resumed
    assert "aborted: Replica never caught up before timeout" in master.log()


def test_failover_force_hands_over_after_the_timeout(group: Any) -> None:
    master, a, b = group
    m = master.client()
    m.set("x", 1)
    m.execute_command("FAILOVER", "TO", "127.0.0.1", b.port, "TIMEOUT", 500, "FORCE")
    wait_for(lambda: m.info("replication")["role"] == "slave")
    assert m.info("replication")["master_port"] == b.port
    wait_for(lambda: b.client().info("replication")["role"] == "master")


def test_failover_abort_resumes_writes(group: Any) -> None:
    master, a, b = group
    m = master.client()
    os.kill(a.pid, signal.SIGSTOP)
    m.set("x", 1)
    m.execute_command("FAILOVER", "TO", "127.0.0.1", a.port)
    assert m.info("replication")["master_failover_state"] == "waiting-for-sync"
    with pytest.raises(redis.ResponseError, match="FAILOVER already in progress."):
        m.execute_command("FAILOVER")
    with pytest.raises(redis.ResponseError, match="REPLICAOF not allowed while failing over."):
        m.execute_command("REPLICAOF", "127.0.0.1", a.port)
    m.execute_command("FAILOVER", "ABORT")
    os.kill(a.pid, signal.SIGCONT)
    assert m.info("replication")["master_failover_state"] == "no-failover"
    m.set("y", 2)
    assert "aborted: Failover manually aborted" in master.log()


def test_failover_errors(group: Any) -> None:
    master, a, b = group
    m = master.client()
    cases = [
        (["ABORT"], "No failover in progress."),
        (["TO", "127.0.0.1", "1"], "FAILOVER target HOST and PORT is not a replica."),
        (["FORCE"], "FAILOVER with force option requires both a timeout and target HOST and IP."),
        (["TIMEOUT", "0"], "FAILOVER timeout must be greater than 0"),
        (["TIMEOUT", "x"], "value is not an integer or out of range"),
        (["BOGUS"], "syntax error"),
        (["TO", "127.0.0.1"], "syntax error"),
    ]
    for args, message in cases:
        with pytest.raises(redis.ResponseError) as err:
            m.execute_command("FAILOVER", *args)
        assert str(err.value) == message, args
    with pytest.raises(
        redis.ResponseError, match="FAILOVER is not valid when server is a replica."
    ):
        a.client().execute_command("FAILOVER")


def test_failover_without_replicas_is_refused(tmp_path: Path) -> None:
    with (
        start_keelkv(*FAST, workdir=tmp_path) as node,
        pytest.raises(redis.ResponseError, match="FAILOVER requires connected replicas."),
    ):
        node.client().execute_command("FAILOVER")


def test_replicaof_unblocks_blocked_clients_with_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        start_keelkv(*FAST, workdir=tmp_path / "a") as a,
        start_keelkv(*FAST, workdir=tmp_path / "b") as b,
    ):
        blocked = b.client()

        result: list[Any] = []

        def pop() -> None:
            try:
                result.append(blocked.blpop(["q"], timeout=0))
            except redis.RedisError as exc:
                result.append(exc)

        t = threading.Thread(target=pop)
        t.start()
        admin = b.client()
        wait_for(lambda: admin.info("clients")["blocked_clients"] == 1)
        admin.execute_command("REPLICAOF", "127.0.0.1", a.port)
        t.join(10)
        assert isinstance(result[0], redis.ResponseError)
        assert str(result[0]) == (
            "UNBLOCKED force unblock from blocking operation, instance state changed "
            "(master -> replica?)"
        )
