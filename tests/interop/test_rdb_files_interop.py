"""Dump files both ways between keelkv and a real redis-server 7.0, whole servers.

A keelkv dump must pass redis-check-rdb and load into Redis with identical contents, and a
Redis dump must load into keelkv identically: every type in its compact and its plain
encoding, several databases, TTLs. DEBUG DIGEST (the same algorithm on both servers) covers
every key, type and value; TTLs and encodings are compared key by key.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import redis

from tests.harness import ServerProcess, start_keelkv, start_redis

pytestmark = pytest.mark.interop

DEBUG = ("--enable-debug-command", "yes")


def fill_every_encoding(r: redis.Redis) -> None:
    """Each type small (listpack / intset / quicklist) and big (plain), in dbs 0, 2 and 9."""
    for db in (0, 2, 9):
        r.execute_command("SELECT", db)
        p = r.pipeline(transaction=False)
        p.set("str:int", "12345")
        p.set("str:big-int", "9223372036854775807")
        p.set("str:short", "hello")
        p.set("str:lzf", "a" * 300)
        p.set("str:raw", bytes(range(256)) * 3)
        p.set("str:ttl", "x", px=3_600_000)
        p.rpush("list:small", "a", "1", "-5", "70000", "x" * 70)
        p.rpush("list:big", *[f"item{i}" for i in range(3000)])
        p.hset("hash:small", mapping={"f1": "v1", "f2": "2"})
        p.hset("hash:big", mapping={f"f{i}": f"v{i}" for i in range(600)})
        p.hset("hash:long-value", mapping={"f": "v" * 100})
        p.sadd("set:int", 1, 2, 3, -100, 100000, 2**40)
        p.sadd("set:big-int", *range(600))
        p.sadd("set:str", "a", "b", "c")
        p.zadd("zset:small", {"one": 1, "two": 2.5, "three": -3})
        p.zadd("zset:big", {f"m{i}": i / 2 for i in range(200)})
        p.zadd("zset:long-member", {"m" * 80: 1})
        p.zadd("zset:inf", {"lo": float("-inf"), "hi": float("inf"), "z": 0})
        p.pexpire("hash:big", 7_200_000)
        p.pexpire("zset:small", 7_200_000)
        p.execute()
    r.execute_command("SELECT", 0)


def snapshot(r: redis.Redis) -> dict:
    """Per db: key -> (type, encoding, ttl bucket)."""
    out = {}
    for db in range(16):
        r.execute_command("SELECT", db)
        for key in r.keys("*"):
            ttl = r.pttl(key)
            out[(db, key)] = (
                r.type(key),
                r.object("encoding", key),
                ttl if ttl < 0 else round(ttl / 60_000),
            )
    r.execute_command("SELECT", 0)
    return out


def digest(r: redis.Redis) -> bytes:
    return r.execute_command("DEBUG", "DIGEST")


def test_a_keelkv_dump_passes_redis_check_rdb_and_loads_into_redis(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    keel = start_keelkv(*DEBUG, workdir=tmp_path / "k")
    try:
        r = keel.client()
        fill_every_encoding(r)
        expected_digest, expected = digest(r), snapshot(r)
        assert r.save()
    finally:
        keel.stop()
    dump = tmp_path / "k" / "dump.rdb"
    check = subprocess.run(["redis-check-rdb", str(dump)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert "\\o/ RDB looks OK! \\o/" in check.stdout
    real_dir = tmp_path / "r"
    real_dir.mkdir()
    shutil.copy(dump, real_dir / "dump.rdb")
    real = start_redis(*DEBUG, "--sanitize-dump-payload", "yes", workdir=real_dir)
    try:
        rr = real.client()
        assert digest(rr) == expected_digest
        assert snapshot(rr) == expected
    finally:
        real.stop()


def test_a_redis_dump_loads_into_keelkv_identically(tmp_path: Path) -> None:
    real_dir = tmp_path / "r"
    real_dir.mkdir()
    real = start_redis(*DEBUG, workdir=real_dir)
    try:
        rr = real.client()
        fill_every_encoding(rr)
        expected_digest, expected = digest(rr), snapshot(rr)
        assert rr.save()
    finally:
        real.stop()
    keel_dir = tmp_path / "k"
    keel_dir.mkdir()
    shutil.copy(real_dir / "dump.rdb", keel_dir / "dump.rdb")
    keel = start_keelkv(*DEBUG, workdir=keel_dir)
    try:
        r = keel.client()
        assert digest(r) == expected_digest
        assert snapshot(r) == expected
        # And back: what keelkv writes from it is still what Redis started with.
        assert r.save()
    finally:
        keel.stop()
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(keel_dir / "dump.rdb", again / "dump.rdb")
    real = start_redis(*DEBUG, workdir=again)
    try:
        assert digest(real.client()) == expected_digest
    finally:
        real.stop()


def test_a_keelkv_bgsave_dump_loads_into_redis(tmp_path: Path) -> None:
    for mode in ("fork", "live"):
        workdir = tmp_path / mode
        workdir.mkdir()
        keel: ServerProcess = start_keelkv(*DEBUG, "--snapshot-mode", mode, workdir=workdir)
        try:
            r = keel.client()
            fill_every_encoding(r)
            r.execute_command("DEBUG", "POPULATE", "50000", "bulk", "30")
            expected_digest = digest(r)
            r.bgsave()
            while r.info("persistence")["rdb_bgsave_in_progress"]:
                pass
            assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        finally:
            keel.stop()
        real = start_redis(*DEBUG, workdir=workdir)
        try:
            assert digest(real.client()) == expected_digest, mode
        finally:
            real.stop()
