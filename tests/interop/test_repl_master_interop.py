"""Real redis-server 7.0 replicas of a keelkv master: full sync (disk and diskless), the live
stream, partial resync after the link drops, and `redis-cli --rdb` backups."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis

from tests.harness import ServerProcess, digest, in_sync, start_keelkv, start_redis, wait_for

pytestmark = pytest.mark.interop

DEBUG = ("--enable-debug-command", "yes")


def fill(r: redis.Redis, prefix: str) -> None:
    for db in (0, 3):
        r.execute_command("SELECT", db)
        p = r.pipeline(transaction=False)
        for i in range(300):
            p.set(f"{prefix}:s:{i}", f"v{i}")
        p.rpush(f"{prefix}:l", *range(50))
        p.hset(f"{prefix}:h", mapping={"a": 1, "b": "x" * 100})
        p.sadd(f"{prefix}:set", 1, 2, 3)
        p.zadd(f"{prefix}:z", {"m": 1.5, "n": 2})
        p.set(f"{prefix}:ttl", "t", px=600_000)
        p.execute()
    r.execute_command("SELECT", 0)


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_real_replica_follows_a_keelkv_master(tmp_path: Path, diskless: str) -> None:
    master = start_keelkv(*DEBUG, "--repl-diskless-sync", diskless, workdir=tmp_path)
    replica: ServerProcess | None = None
    try:
        m = master.client()
        fill(m, "before")
        replica = start_redis(*DEBUG)
        r = replica.client()
        assert r.replicaof("127.0.0.1", master.port)
        wait_for(lambda: in_sync(m, r))
        assert digest(r) == digest(m)
        # The live stream: every type, expiry, MULTI, several dbs.
        fill(m, "after")
        with m.pipeline(transaction=True) as p:
            p.incr("counter")
            p.lpush("after:l", "x")
            p.execute()
        m.expire("before:s:1", 1000)
        m.delete("before:s:2")
        wait_for(lambda: in_sync(m, r))
        assert digest(r) == digest(m)
        info = m.info("replication")
        assert info["connected_slaves"] == 1
        assert info["slave0"]["state"] == "online"
        # Link drop: the replica comes back with a partial resync, not a second full sync.
        full_before = m.info("stats")["sync_full"]
        m.execute_command("CLIENT", "KILL", "TYPE", "replica")
        m.set("while-down", "1")
        wait_for(lambda: m.info("stats")["sync_partial_ok"] >= 1)
        wait_for(lambda: in_sync(m, r))
        assert m.info("stats")["sync_full"] == full_before
        assert r.get("while-down") == b"1"
        assert digest(r) == digest(m)
    finally:
        if replica is not None:
            replica.stop()
        master.stop()


def test_redis_cli_rdb_gets_a_valid_backup_from_keelkv(tmp_path: Path) -> None:
    master = start_keelkv(*DEBUG, workdir=tmp_path)
    try:
        m = master.client()
        fill(m, "backup")
        target = tmp_path / "backup.rdb"
        out = subprocess.run(
            ["redis-cli", "-p", str(master.port), "--rdb", str(target)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        check = subprocess.run(["redis-check-rdb", str(target)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        restored_dir = tmp_path / "restored"
        restored_dir.mkdir()
        target.rename(restored_dir / "dump.rdb")
        real = start_redis(*DEBUG, workdir=restored_dir)
        try:
            assert digest(real.client()) == digest(m)
        finally:
            real.stop()
    finally:
        master.stop()


def test_redis_cli_replica_shows_the_live_stream(tmp_path: Path) -> None:
    master = start_keelkv(*DEBUG, "--repl-diskless-sync-delay", "0", workdir=tmp_path)
    tap = None
    try:
        m = master.client()
        m.set("before", 1)
        tap = subprocess.Popen(
            ["redis-cli", "-p", str(master.port), "--replica"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(lambda: m.info("replication")["connected_slaves"] == 1)
        m.set("tapped", "yes")
        m.rpush("list", "a", "b")
        lines: list[str] = []
        assert tap.stdout is not None
        while not any('"rpush"' in line.lower() for line in lines):
            line = tap.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert "SYNC done" in text
        assert '"set","tapped","yes"' in text.lower()
        assert '"rpush","list","a","b"' in text.lower()
    finally:
        if tap is not None:
            tap.kill()
            tap.wait()
        master.stop()


def test_min_replicas_to_write_refuses_writes_until_a_replica_is_in_sync(tmp_path: Path) -> None:
    master = start_keelkv(*DEBUG, workdir=tmp_path)
    replica: ServerProcess | None = None
    try:
        m = master.client()
        assert m.config_set("min-replicas-to-write", "1")
        with pytest.raises(
            redis.ResponseError, match="^NOREPLICAS Not enough good replicas to write.$"
        ):
            m.set("k", "v")
        assert m.get("k") is None  # reads are served
        assert m.info("replication")["min_slaves_good_slaves"] == 0
        replica = start_redis(*DEBUG)
        r = replica.client()
        assert r.replicaof("127.0.0.1", master.port)
        wait_for(lambda: m.info("replication").get("min_slaves_good_slaves") == 1)
        assert m.set("k", "v")
        wait_for(lambda: r.get("k") == b"v")
        assert m.config_set("min-replicas-to-write", "0")
    finally:
        if replica is not None:
            replica.stop()
        master.stop()
