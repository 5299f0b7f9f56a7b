"""AOF directories both ways between keelkv and a real redis-server 7.0.15.

keelkv's appendonlydir, after a rewrite and more writes, must pass `redis-check-aof` on its
manifest and load into real Redis with the same DEBUG DIGEST (the same algorithm on both
servers) and the same types, encodings and TTLs; a real Redis appendonlydir must load into
keelkv identically and win over a stale dump.rdb beside it. Variants: RDB-preamble and
RESP bases, #TS annotations, two incr files left by a killed rewrite.

The workload uses commands whose AOF form is not the command sent (SPOP, SETEX, EXPIRE,
INCRBYFLOAT, GETEX, BLPOP served by a push, MULTI/EXEC, SWAPDB, MOVE...): if a
server wrote a random or relative command as-is, the other would replay a different state.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest
import redis

from tests.harness import ServerProcess, start_keelkv, start_redis
from tests.interop.test_rdb_files_interop import fill_every_encoding

pytestmark = pytest.mark.interop

DEBUG = ("--enable-debug-command", "yes")
MANIFEST = "appendonly.aof.manifest"


def snapshot(r: redis.Redis) -> dict:
    """Per key: type, encoding and absolute expiry (PEXPIRETIME, exact). A string's
    embstr/raw is not compared: a reload turns Redis's own raw strings (after APPEND) into
    embstr."""
    out = {}
    for db in range(16):
        r.execute_command("SELECT", db)
        for key in r.keys("*"):
            enc = r.object("encoding", key)
            out[(db, key)] = (
                r.type(key),
                b"embstr/raw" if enc in (b"embstr", b"raw") else enc,
                r.execute_command("PEXPIRETIME", key),
            )
    r.execute_command("SELECT", 0)
    return out


def digest(r: redis.Redis) -> bytes:
    return r.execute_command("DEBUG", "DIGEST")


def workload(node: ServerProcess, tag: str) -> None:
    """Writes whose AOF form must be deterministic and absolute, in several databases."""
    r = node.client()
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set(f"{tag}:s:{i}", f"v{i}")
        p.append(f"{tag}:s:{i}", "+")
    p.execute_command("SETEX", f"{tag}:setex", 5000, "x")
    p.execute_command("PSETEX", f"{tag}:psetex", 6_000_000, "y")
    p.set(f"{tag}:ex", "z", ex=7000)
    p.set(f"{tag}:keepttl", "a", ex=8000)
    p.set(f"{tag}:keepttl", "b", keepttl=True)
    p.set(f"{tag}:get", "old")
    p.set(f"{tag}:get", "new", get=True)
    p.expire(f"{tag}:s:1", 9000)
    p.pexpire(f"{tag}:s:2", 9_500_000)
    p.expireat(f"{tag}:s:3", 4_000_000_000)
    p.expire(f"{tag}:s:4", -1)  # already past: the key is deleted
    p.persist(f"{tag}:s:1")
    p.expire(f"{tag}:s:1", 100_000, gt=True)
    p.incrbyfloat(f"{tag}:float", 1.25)
    p.incrbyfloat(f"{tag}:float", "0.1")
    p.incr(f"{tag}:ctr")
    p.incrby(f"{tag}:ctr", 41)
    p.getex(f"{tag}:s:5", ex=3000)
    p.getex(f"{tag}:s:6", persist=True)
    p.getdel(f"{tag}:s:7")
    p.setrange(f"{tag}:s:8", 10, "pad")
    p.mset({f"{tag}:m1": "1", f"{tag}:m2": "2"})
    p.msetnx({f"{tag}:m3": "3", f"{tag}:m4": "4"})
    p.sadd(f"{tag}:set", *range(50))
    p.spop(f"{tag}:set")
    p.spop(f"{tag}:set", 5)
    p.sadd(f"{tag}:tiny", "only")
    p.spop(f"{tag}:tiny")  # the pop empties it
    p.sadd(f"{tag}:strs", "a", "b", "c", "d")
    p.smove(f"{tag}:strs", f"{tag}:strs2", "a")
    p.sinterstore(f"{tag}:inter", [f"{tag}:strs", f"{tag}:strs"])
    p.rpush(f"{tag}:list", *range(300))
    p.lpush(f"{tag}:list", "head")
    p.lmove(f"{tag}:list", f"{tag}:list2", "LEFT", "RIGHT")
    p.rpoplpush(f"{tag}:list", f"{tag}:list2")
    p.linsert(f"{tag}:list", "BEFORE", "5", "ins")
    p.lset(f"{tag}:list", 0, "first")
    p.ltrim(f"{tag}:list", 0, 250)
    p.lpop(f"{tag}:list", 3)
    p.hset(f"{tag}:hash", mapping={f"f{i}": i for i in range(40)})
    p.hincrby(f"{tag}:hash", "f1", 10)
    p.hincrbyfloat(f"{tag}:hash", "f2", 2.5)
    p.hdel(f"{tag}:hash", "f3")
    p.hsetnx(f"{tag}:hash", "new", "1")
    p.zadd(f"{tag}:z", {f"m{i}": i * 1.5 for i in range(150)})
    p.zadd(f"{tag}:z", {"ninf": float("-inf"), "pinf": float("inf"), "tiny": 1e-300})
    p.zincrby(f"{tag}:z", 0.1, "m1")
    p.zpopmin(f"{tag}:z", 2)
    p.zrem(f"{tag}:z", "m10")
    p.zunionstore(f"{tag}:zu", [f"{tag}:z", f"{tag}:z"])
    p.zrangestore(f"{tag}:zr", f"{tag}:z", 0, 9)
    p.rename(f"{tag}:s:9", f"{tag}:renamed")
    p.copy(f"{tag}:hash", f"{tag}:hash-copy")
    p.move(f"{tag}:s:10", 3)
    p.unlink(f"{tag}:s:11")
    p.delete(f"{tag}:s:12")
    p.execute()
    tx = r.pipeline(transaction=True)
    tx.set(f"{tag}:tx1", "a")
    tx.spop(f"{tag}:set")
    tx.incrbyfloat(f"{tag}:float", 3)
    tx.execute()
    # A BLPOP served by a push from another client.
    waiter = node.client()
    got: list = []
    t = threading.Thread(target=lambda: got.append(waiter.blpop([f"{tag}:bl"], timeout=10)))
    t.start()
    while r.info("clients")["blocked_clients"] == 0:
        pass
    r.rpush(f"{tag}:bl", "x", "y")
    t.join()
    assert got and got[0] == (f"{tag}:bl".encode(), b"x")
    waiter.close()
    for db in (2, 5, 6, 7):
        r.execute_command("SELECT", db)
        r.set(f"{tag}:db{db}", db)
        r.hset(f"{tag}:h{db}", "f", db)
    r.execute_command("SELECT", 7)
    r.flushdb()
    r.execute_command("SELECT", 0)
    r.swapdb(5, 6)
    r.close()


def check_aof(manifest: Path) -> str:
    out = subprocess.run(["redis-check-aof", str(manifest)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All AOF files and manifest are valid" in out.stdout
    return out.stdout


def kill_a_rewrite(node: ServerProcess) -> None:
    """BGREWRITEAOF whose child is killed: its new incr file stays in the manifest.

    DEBUG POPULATE (never written to the AOF, by either server) makes the rewrite last long
    enough to catch its child; the filler database is flushed afterwards.
    """
    r = node.client()
    r.execute_command("SELECT", 15)
    r.execute_command("DEBUG", "POPULATE", "200000", "filler", "10")
    r.bgrewriteaof()
    child = None
    for _ in range(5000):
        kids = psutil.Process(node.pid).children()
        if kids:
            child = kids[0].pid
            break
    assert child is not None, "no rewrite child seen"
    os.kill(child, signal.SIGKILL)
    while r.info("persistence")["aof_rewrite_in_progress"]:
        pass
    assert r.info("persistence")["aof_last_bgrewrite_status"] == "err"
    r.flushdb()
    r.close()


def build(node: ServerProcess, killed_rewrite: bool) -> tuple[bytes, dict]:
    """Writes, a rewrite, more writes (and maybe a killed rewrite, then more)."""
    r = node.client()
    fill_every_encoding(r)
    workload(node, "a")
    r.bgrewriteaof()
    while (i := r.info("persistence"))["aof_rewrite_in_progress"] or i["aof_rewrite_scheduled"]:
        pass
    assert i["aof_last_bgrewrite_status"] == "ok"
    workload(node, "b")
    if killed_rewrite:
        kill_a_rewrite(node)
        workload(node, "c")
    expected = digest(r), snapshot(r)
    r.close()
    return expected


VARIANTS = {
    "rdb-base": (),
    "resp-base": ("--aof-use-rdb-preamble", "no"),
    "rdb-base-ts-two-incr": ("--aof-timestamp-enabled", "yes"),
    "resp-base-ts-two-incr": ("--aof-use-rdb-preamble", "no", "--aof-timestamp-enabled", "yes"),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_keelkv_aof_passes_redis_check_aof_and_loads_into_redis(
    tmp_path: Path, variant: str
) -> None:
    extra = VARIANTS[variant]
    keel_dir = tmp_path / "k"
    keel_dir.mkdir()
    keel = start_keelkv(
        *DEBUG, "--appendonly", "yes", "--snapshot-mode", "fork", *extra, workdir=keel_dir
    )
    try:
        expected_digest, expected = build(keel, killed_rewrite="two-incr" in variant)
    finally:
        keel.stop()
    manifest = keel_dir / "appendonlydir" / MANIFEST
    incrs = [ln for ln in manifest.read_text().splitlines() if ln.endswith("type i")]
    assert len(incrs) == (2 if "two-incr" in variant else 1)
    base_ext = ".base.aof" if "resp" in variant else ".base.rdb"
    assert base_ext in manifest.read_text()
    check_aof(manifest)
    real_dir = tmp_path / "r"
    real_dir.mkdir()
    shutil.copytree(keel_dir / "appendonlydir", real_dir / "appendonlydir")
    real = start_redis(*DEBUG, "--appendonly", "yes", *extra, workdir=real_dir)
    try:
        rr = real.client()
        assert digest(rr) == expected_digest
        assert snapshot(rr) == expected
        log = real.log()
        assert "DB loaded from append only file" in log
        assert "Truncating" not in log and "short read" not in log
    finally:
        real.stop()


@pytest.mark.parametrize("variant", VARIANTS)
def test_redis_aof_loads_into_keelkv_and_wins_over_a_stale_dump(
    tmp_path: Path, variant: str
) -> None:
    extra = VARIANTS[variant]
    real_dir = tmp_path / "r"
    real_dir.mkdir()
    real = start_redis(*DEBUG, "--appendonly", "yes", *extra, workdir=real_dir)
    try:
        rr = real.client()
        rr.set("stale-only", "from-the-dump")
        assert rr.save()  # a dump.rdb older than the AOF, beside it
        rr.delete("stale-only")
        expected_digest, expected = build(real, killed_rewrite="two-incr" in variant)
    finally:
        real.stop()
    assert (real_dir / "dump.rdb").exists()
    check_aof(real_dir / "appendonlydir" / MANIFEST)
    keel_dir = tmp_path / "k"
    keel_dir.mkdir()
    shutil.copytree(real_dir / "appendonlydir", keel_dir / "appendonlydir")
    shutil.copy(real_dir / "dump.rdb", keel_dir / "dump.rdb")
    keel = start_keelkv(*DEBUG, "--appendonly", "yes", *extra, workdir=keel_dir)
    try:
        r = keel.client()
        assert r.get("stale-only") is None
        assert digest(r) == expected_digest
        assert snapshot(r) == expected
        # keelkv goes on appending to Redis's last incr file; Redis can still read it all.
        r.set("appended-by-keelkv", "1")
        expected_digest = digest(r)
    finally:
        keel.stop()
    check_aof(keel_dir / "appendonlydir" / MANIFEST)
    back = tmp_path / "back"
    back.mkdir()
    shutil.copytree(keel_dir / "appendonlydir", back / "appendonlydir")
    real = start_redis(*DEBUG, "--appendonly", "yes", *extra, workdir=back)
    try:
        assert digest(real.client()) == expected_digest
    finally:
        real.stop()
