"""A keelkv replica of a real redis-server 7.0 master: full sync (disk and diskless), the live
stream, partial resyncs after either side drops the link, promotion with REPLICAOF NO ONE
followed by the old master resyncing partially from keelkv, WAIT, read-only replicas, and
ROLE / INFO replication side by side with a real Redis replica of the same master."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.harness import (
    RawClient,
    ServerProcess,
    decode,
    digest,
    in_sync,
    start_keelkv,
    start_redis,
    wait_for,
)

pytestmark = pytest.mark.interop

DEBUG = ("--enable-debug-command", "yes")
# No 5 s wait for more replicas before a diskless transfer.
MASTER_ARGS = (*DEBUG, "--repl-diskless-sync-delay", "0")
# No master PING between a sync and a promotion, so the old master's offset still matches.
NO_PINGS = ("--repl-ping-replica-period", "3600")


def repl_info(node: ServerProcess) -> list[tuple[str, str]]:
    """INFO replication as (field, raw value) pairs, in the server's order."""
    with RawClient(node.port) as c:
        text = decode(c.call("INFO", "replication")).decode()
    return [
        tuple(line.split(":", 1))  # type: ignore[misc]
        for line in text.splitlines()
        if line and not line.startswith("#")
    ]


def wait_in_sync(master: redis.Redis, replica: redis.Redis, timeout: float = 20.0) -> None:
    wait_for(lambda: in_sync(master, replica), timeout, "the replica to reach the master offset")


def stats(r: redis.Redis) -> dict[str, Any]:
    return r.info("stats")


def fill(r: redis.Redis, prefix: str, dbs: tuple[int, ...] = (0, 3)) -> None:
    """Every type, a TTL, a big string and a long list, in several dbs."""
    for db in dbs:
        r.execute_command("SELECT", db)
        p = r.pipeline(transaction=False)
        for i in range(200):
            p.set(f"{prefix}:s:{i}", f"v{i}")
        p.set(f"{prefix}:big", "x" * 200_000)
        p.rpush(f"{prefix}:l", *range(1000))
        p.hset(f"{prefix}:h", mapping={"a": 1, "b": "x" * 100})
        p.hset(f"{prefix}:bigh", mapping={f"f{i}": i for i in range(300)})
        p.sadd(f"{prefix}:set", 1, 2, 3)
        p.sadd(f"{prefix}:strset", *[f"m{i}" for i in range(200)])
        p.zadd(f"{prefix}:z", {"m": 1.5, "n": 2})
        p.zadd(f"{prefix}:bigz", {f"m{i}": i / 3 for i in range(300)})
        p.set(f"{prefix}:ttl", "t", px=600_000)
        p.execute()
    r.execute_command("SELECT", 0)


class Pair:
    """A real redis-server master and a keelkv replica of it; stops both."""

    def __init__(self, *master_args: str, replica_args: tuple[str, ...] = ()) -> None:
        self.procs: list[ServerProcess] = []
        self.master = self.add(start_redis(*MASTER_ARGS, *master_args))
        self.replica = self.add(start_keelkv(*DEBUG, *replica_args))
        self.m = self.master.client()
        self.r = self.replica.client()

    def add(self, proc: ServerProcess) -> ServerProcess:
        self.procs.append(proc)
        return proc

    def attach(self) -> None:
        assert self.r.replicaof("127.0.0.1", self.master.port)
        wait_in_sync(self.m, self.r)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


@pytest.fixture
def pair() -> Iterator[Pair]:
    p = Pair()
    yield p
    p.stop()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_then_the_live_stream(diskless: str) -> None:
    p = Pair("--repl-diskless-sync", diskless)
    try:
        fill(p.m, "before")
        p.attach()
        assert digest(p.r) == digest(p.m)
        assert p.r.dbsize() == p.m.dbsize()
        received = (
            "receiving streamed RDB from master with EOF to disk"
            if diskless == "yes"
            else "bytes from master to disk"
        )
        assert received in p.replica.log()

        # The live stream: every type, random effects, expiries, MULTI/EXEC, several dbs.
        fill(p.m, "after", dbs=(0, 5, 15))
        m = p.m
        m.append("before:s:1", "-more")
        m.incr("counter")
        m.incrbyfloat("float", 1.25)
        m.lpop("before:l")
        m.linsert("before:l", "BEFORE", "7", "seven")
        m.hdel("before:h", "a")
        m.hincrby("before:h", "n", 5)
        m.spop("before:strset", 5)
        m.srem("before:set", 2)
        m.zincrby("before:z", 3, "m")
        m.zpopmin("before:bigz", 4)
        m.expire("before:s:3", 1000)
        m.set("ex", "v", ex=500)
        m.persist("before:ttl")
        m.rename("before:s:4", "renamed")
        m.delete("before:s:5")
        with m.pipeline(transaction=True) as tx:
            tx.incr("counter")
            tx.lpush("after:l", "x")
            tx.execute_command("SELECT", 7)
            tx.set("in-multi-db7", "1")
            tx.execute()
        m.execute_command("SELECT", 0)
        wait_in_sync(p.m, p.r)
        assert digest(p.r) == digest(p.m)
        assert p.r.get("renamed") == b"v4"
        assert p.r.get("float") == b"1.25"
        assert p.r.ttl("ex") > 400
        r7 = p.replica.client(db=7)
        assert r7.get("in-multi-db7") == b"1"
        r7.close()

        # A key expiring on the master: the replica hides it once its time has passed but
        # keeps it until the master's DEL arrives.
        assert m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        m2 = p.master.client(db=2)
        r2 = p.replica.client(db=2)
        m2.set("short", "v", px=300)
        wait_in_sync(p.m, p.r)
        assert r2.dbsize() == 1
        time.sleep(0.4)
        assert r2.get("short") is None  # logically expired on the replica
        assert r2.dbsize() == 1  # but not deleted by it
        assert m2.get("short") is None  # the master expires it and propagates DEL
        wait_in_sync(p.m, p.r)
        assert r2.dbsize() == 0
        # The same through the master's active expiry.
        m2.set("short2", "v", px=100)
        assert m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        wait_for(lambda: m2.dbsize() == 0, 10, "the master's active expiry")
        wait_in_sync(p.m, p.r)
        assert r2.dbsize() == 0
        assert digest(p.r) == digest(p.m)
        m2.close()
        r2.close()
    finally:
        p.stop()


def test_link_drops_on_either_side_resync_partially(pair: Pair) -> None:
    m, r = pair.m, pair.r
    fill(m, "k")
    pair.attach()
    before = stats(m)
    assert before["sync_full"] == 1

    # The replica drops its master client.
    assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    m.set("while-down-1", "1")
    wait_for(
        lambda: stats(m)["sync_partial_ok"] == before["sync_partial_ok"] + 1,
        10,
        "a partial resync after CLIENT KILL TYPE master on the replica",
    )
    wait_in_sync(m, r)
    assert r.get("while-down-1") == b"1"

    # The master drops its replica.
    assert m.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    m.set("while-down-2", "2")
    wait_for(
        lambda: stats(m)["sync_partial_ok"] == before["sync_partial_ok"] + 2,
        10,
        "a partial resync after CLIENT KILL TYPE replica on the master",
    )
    wait_in_sync(m, r)
    after = stats(m)
    assert after["sync_full"] == before["sync_full"]
    assert after["sync_partial_err"] == before["sync_partial_err"]
    assert r.get("while-down-2") == b"2"
    assert digest(r) == digest(m)


def test_promoted_keelkv_replica_lets_the_old_master_resync_partially() -> None:
    p = Pair(*NO_PINGS)
    try:
        m, r = p.m, p.r
        fill(m, "k")
        p.attach()
        m.set("last-before-promotion", "1")
        wait_in_sync(m, r)
        old = m.info("replication")
        old_replid, old_offset = old["master_replid"], old["master_repl_offset"]

        assert r.replicaof("NO", "ONE")
        info = r.info("replication")
        assert info["role"] == "master"
        assert info["master_replid"] != old_replid
        assert info["master_replid2"] == old_replid
        assert info["second_repl_offset"] == old_offset + 1
        assert info["master_repl_offset"] == old_offset
        assert r.role()[0] == b"master"
        assert digest(r) == digest(m)
        new_replid = info["master_replid"]
        keel_before = stats(r)

        # The old master follows the promoted node and continues through replid2.
        assert m.replicaof("127.0.0.1", p.replica.port)
        wait_in_sync(r, m)
        keel_after = stats(r)
        assert keel_after["sync_partial_ok"] == keel_before["sync_partial_ok"] + 1
        assert keel_after["sync_full"] == keel_before["sync_full"]
        assert "Partial resynchronization request" in p.replica.log()
        assert "Master accepted a Partial Resynchronization" in p.master.log()
        demoted = m.info("replication")
        assert demoted["role"] == "slave"
        assert demoted["master_replid"] == new_replid
        assert demoted["master_replid2"] == old_replid

        # Writes on the new master reach the old one.
        fill(r, "new", dbs=(1,))
        r.delete("k:s:0")
        wait_in_sync(r, m)
        assert digest(m) == digest(r)
    finally:
        p.stop()


def test_wait_on_the_real_master_counts_the_keelkv_replica(pair: Pair) -> None:
    m, r = pair.m, pair.r
    pair.attach()
    m.set("w", "1")
    assert m.execute_command("WAIT", 1, 2000) == 1
    m.rpush("wl", *range(100))
    assert m.execute_command("WAIT", 1, 2000) == 1
    # Only one replica is attached: asking for two times out with the count.
    assert m.execute_command("WAIT", 2, 300) == 1
    assert r.llen("wl") == 100


def test_writes_on_the_keelkv_replica_are_refused(pair: Pair) -> None:
    m, r = pair.m, pair.r
    m.set("k", "master")
    pair.attach()
    with RawClient(pair.replica.port) as raw:
        for argv in (("SET", "k", "replica"), ("DEL", "k"), ("LPUSH", "l", "x")):
            assert raw.call(*argv) == b"-READONLY You can't write against a read only replica.\r\n"
    assert r.get("k") == b"master"
    assert r.info("replication")["slave_read_only"] == 1


# The fields a replica's INFO replication shows with its link up (spec/replication.md §9).
LINK_FIELDS = (
    "role",
    "master_host",
    "master_port",
    "master_link_status",
    "master_sync_in_progress",
    "slave_read_repl_offset",
    "slave_repl_offset",
)


def test_role_and_info_replication_match_a_real_replica() -> None:
    p = Pair()
    try:
        real = p.add(start_redis(*DEBUG))
        rr = real.client()
        fill(p.m, "k")
        assert rr.replicaof("127.0.0.1", p.master.port)
        p.attach()
        wait_in_sync(p.m, rr)
        assert digest(p.r) == digest(rr)

        def both() -> tuple[list[tuple[str, str]], list[tuple[str, str]]] | None:
            # A master PING between the two reads moves the offsets: read again.
            ours, theirs = repl_info(p.replica), repl_info(real)
            return (
                (ours, theirs)
                if dict(ours)["slave_repl_offset"] == dict(theirs)["slave_repl_offset"]
                else None
            )

        ours, theirs = wait_for(both, 10, "both replicas at the same offset")
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        mine, real_fields = dict(ours), dict(theirs)
        for field in LINK_FIELDS:
            assert mine[field] == real_fields[field], field
        assert mine["role"] == "slave"
        assert mine["master_link_status"] == "up"
        assert mine["master_sync_in_progress"] == "0"
        assert mine["master_port"] == str(p.master.port)
        master_offset = p.m.info("replication")["master_repl_offset"]
        assert int(mine["slave_repl_offset"]) == master_offset
        assert mine["master_replid"] == p.m.info("replication")["master_replid"]

        def roles() -> tuple[list[Any], list[Any]] | None:
            a, b = p.r.role(), rr.role()
            return (a, b) if a[4] == b[4] else None

        ours_role, real_role = wait_for(roles, 10, "ROLE at the same offset")
        assert ours_role == real_role
        assert ours_role[:4] == [b"slave", b"127.0.0.1", p.master.port, b"connected"]
    finally:
        p.stop()
