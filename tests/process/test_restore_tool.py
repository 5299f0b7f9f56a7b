"""keelkv-restore: point-in-time restore of a multi-part AOF into a new directory.

First on hand-made directories (literal bytes: cut rules, MULTI, refusals, the source left
untouched), then end to end: a real redis-server 7.0 writes for ~4 seconds with
aof-timestamp-enabled yes while the test records DEBUG DIGEST at every second; the AOF is
restored to a second in the middle, and a real redis-server and a keelkv node started on
the restored directory must serve exactly the dataset recorded at that second.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from persistence.aof.manifest import AofInfo, Manifest
from persistence.tools import restore
from tests.harness import ROOT, start_keelkv, start_redis

# A real 121-byte RDB base written by redis-server 7.0.15 (ctime 1795628278).
RDB_BASE = bytes.fromhex(
    "524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa05"
    "6374696d65c2f61c076bfa08757365642d6d656dc2f0b70e00fa08616f662d62617365c001fe00fb020000"
    "0161c00112016c010210100000000300817802817902817a02ffffaa8c1f7a06a99b4d"
)
RDB_CTIME = 1795628278


def rec(*argv: str) -> bytes:
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        b = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


def ts(t: int) -> bytes:
    return b"#TS:%d\r\n" % t


T0 = 1795700000
RESP_BASE = ts(T0) + rec("SELECT", "0") + rec("SET", "base", "1")
INCR1 = (
    ts(T0 + 1)
    + rec("SELECT", "0")
    + rec("SET", "a", "1")
    + ts(T0 + 2)
    + rec("MULTI")
    + rec("SET", "b", "2")
    + ts(T0 + 3)  # a transaction that straddles a second: restored whole or not at all
    + rec("INCR", "n")
    + rec("EXEC")
    + rec("SET", "c", "3")
)
INCR2 = ts(T0 + 5) + rec("SELECT", "0") + rec("SET", "d", "4") + ts(T0 + 6) + rec("DEL", "a")


def make(
    d: Path,
    base: bytes | None,
    incrs: list[bytes],
    base_name: str = "appendonly.aof.1.base.aof",
    prefix: str = "appendonly.aof",
) -> Path:
    d.mkdir(parents=True)
    m = Manifest()
    if base is not None:
        (d / base_name).write_bytes(base)
        m.base = AofInfo(base_name, 1, "b")
    m.history.append(AofInfo(f"{prefix}.1.incr.aof", 1, "h"))
    for n, data in enumerate(incrs, start=2):
        (d / f"{prefix}.{n}.incr.aof").write_bytes(data)
        m.incrs.append(AofInfo(f"{prefix}.{n}.incr.aof", n, "i"))
    (d / f"{prefix}.manifest").write_bytes(m.render())
    return d


def snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.iterdir())}


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = restore.main(["--no-progress", *args], stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def restore_to(src: Path, into: Path, t: int) -> tuple[int, str, str]:
    return run("--to", str(t), "--from", str(src), "--into", str(into))


def test_cut_in_last_file_keeps_entries_stamped_t(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    before = snapshot(src)
    rc, out, err = restore_to(src, tmp_path / "new", T0 + 5)
    assert (rc, err) == (0, "")
    new = tmp_path / "new" / "appendonlydir"
    assert sorted(p.name for p in new.iterdir()) == [
        "appendonly.aof.1.base.aof",
        "appendonly.aof.2.incr.aof",
        "appendonly.aof.3.incr.aof",
        "appendonly.aof.manifest",
    ]
    assert (new / "appendonly.aof.1.base.aof").read_bytes() == RESP_BASE
    assert (new / "appendonly.aof.2.incr.aof").read_bytes() == INCR1
    assert (new / "appendonly.aof.3.incr.aof").read_bytes() == INCR2[: INCR2.find(ts(T0 + 6))]
    assert (new / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof.1.base.aof seq 1 type b\n"
        b"file appendonly.aof.2.incr.aof seq 2 type i\n"
        b"file appendonly.aof.3.incr.aof seq 3 type i\n"
    )
    assert f"Last timestamp kept: {T0 + 5} " in out
    assert f"First timestamp dropped: {T0 + 6} " in out
    assert "Kept 3 file(s)" in out and "7 commands" in out
    assert snapshot(src) == before  # the source is never written


def test_cut_in_an_earlier_file_drops_the_later_ones(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    before = snapshot(src)
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 4)
    assert rc == 0
    new = tmp_path / "new" / "appendonlydir"
    assert (new / "appendonly.aof.2.incr.aof").read_bytes() == INCR1
    assert not (new / "appendonly.aof.3.incr.aof").exists()
    assert (new / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    assert "appendonly.aof.3.incr.aof: left out" in out
    assert snapshot(src) == before


def test_cut_inside_multi_moves_back_to_the_multi(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 2)
    assert rc == 0
    kept = (tmp_path / "new" / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    assert kept == INCR1[: INCR1.find(rec("MULTI"))]
    assert kept.endswith(ts(T0 + 2))
    assert "before a MULTI left open by the cut" in out
    assert "2 commands" in out  # SELECT and SET a; the MULTI block is not counted


def test_timestamp_inside_a_dropped_multi_is_not_reported_kept(tmp_path: Path) -> None:
    incr = (
        ts(T0 + 1)
        + rec("SET", "a", "1")
        + rec("MULTI")
        + ts(T0 + 2)
        + rec("SET", "b", "2")
        + ts(T0 + 3)
        + rec("EXEC")
    )
    src = make(tmp_path / "appendonlydir", RESP_BASE, [incr])
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 2)
    assert rc == 0
    kept = (tmp_path / "new" / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    assert kept == incr[: incr.find(rec("MULTI"))]
    assert f"Last timestamp kept: {T0 + 1} " in out
    # the same when the source simply ends inside that MULTI
    src2 = make(tmp_path / "b" / "appendonlydir", RESP_BASE, [incr[: incr.find(rec("EXEC"))]])
    rc, out, _ = restore_to(src2, tmp_path / "new2", T0 + 100)
    assert rc == 0 and f"Last timestamp kept: {T0 + 1} " in out
    kept = (tmp_path / "new2" / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    assert kept == incr[: incr.find(rec("MULTI"))]


def test_cut_at_start_of_a_file_leaves_it_out(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    rc, _, _ = restore_to(src, tmp_path / "new", T0 + 3)
    assert rc == 0
    new = tmp_path / "new" / "appendonlydir"
    assert (new / "appendonly.aof.2.incr.aof").read_bytes() == INCR1
    assert not (new / "appendonly.aof.3.incr.aof").exists()
    rc, out, _ = restore_to(src, tmp_path / "new2", T0)  # only the base survives
    assert rc == 0
    new2 = tmp_path / "new2" / "appendonlydir"
    assert (new2 / "appendonly.aof.manifest").read_bytes() == (
        b"file appendonly.aof.1.base.aof seq 1 type b\n"
    )
    assert sorted(p.name for p in new2.iterdir()) == [
        "appendonly.aof.1.base.aof",
        "appendonly.aof.manifest",
    ]


def test_after_the_last_write_everything_is_kept(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 100)
    assert rc == 0
    new = tmp_path / "new" / "appendonlydir"
    for name in (
        "appendonly.aof.1.base.aof",
        "appendonly.aof.2.incr.aof",
        "appendonly.aof.3.incr.aof",
    ):
        assert (new / name).read_bytes() == (src / name).read_bytes()
    assert "First timestamp dropped: none" in out


def test_refuses_a_time_before_the_resp_base(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1])
    rc, out, err = restore_to(src, tmp_path / "new", T0 - 1)
    assert rc == 1 and out == ""
    assert "it is before the base of this AOF" in err
    assert f"The earliest restorable point is {T0} " in err
    assert not (tmp_path / "new").exists()


def test_refuses_a_time_before_the_rdb_base_ctime(tmp_path: Path) -> None:
    incr = ts(RDB_CTIME + 2) + rec("SELECT", "0") + rec("SET", "x", "1")
    src = make(tmp_path / "appendonlydir", RDB_BASE, [incr], base_name="appendonly.aof.1.base.rdb")
    rc, _, err = restore_to(src, tmp_path / "new", RDB_CTIME - 1)
    assert rc == 1
    assert "RDB base carries no #TS: annotations" in err
    assert f"earliest restorable point is {RDB_CTIME} " in err
    # exactly the base's second is fine: the base, and nothing of the incr
    rc, out, _ = restore_to(src, tmp_path / "new", RDB_CTIME)
    assert rc == 0
    new = tmp_path / "new" / "appendonlydir"
    assert (new / "appendonly.aof.1.base.rdb").read_bytes() == RDB_BASE
    assert not (new / "appendonly.aof.2.incr.aof").exists()
    assert f"RDB of 2 keys written at {RDB_CTIME} " in out


def test_untimed_commands_after_an_rdb_base_belong_to_its_second(tmp_path: Path) -> None:
    # Redis writes #TS: only when the second changes: a rewrite and the writes that
    # follow it within the same second leave the new incr without a leading annotation.
    incr = (
        rec("SELECT", "0")
        + rec("SET", "same-second", "1")
        + ts(RDB_CTIME + 1)
        + rec("SET", "y", "2")
    )
    src = make(
        tmp_path / "d" / "appendonlydir", RDB_BASE, [incr], base_name="appendonly.aof.1.base.rdb"
    )
    rc, _, _ = restore_to(src, tmp_path / "new", RDB_CTIME)
    assert rc == 0
    kept = (tmp_path / "new" / "appendonlydir" / "appendonly.aof.2.incr.aof").read_bytes()
    assert kept == incr[: incr.find(b"#TS:")]


def test_refuses_without_timestamps(tmp_path: Path) -> None:
    base = rec("SELECT", "0") + rec("SET", "base", "1")
    src = make(tmp_path / "a" / "appendonlydir", base, [rec("SELECT", "0") + rec("SET", "a", "1")])
    rc, _, err = restore_to(src, tmp_path / "new", T0)
    assert rc == 1 and "aof-timestamp-enabled was off" in err
    incr = rec("SELECT", "0") + rec("SET", "a", "1")
    src = make(
        tmp_path / "b" / "appendonlydir", RDB_BASE, [incr], base_name="appendonly.aof.1.base.rdb"
    )
    rc, _, err = restore_to(src, tmp_path / "new", RDB_CTIME + 10)
    assert rc == 1 and "aof-timestamp-enabled was off" in err


def test_refuses_untimed_data_before_the_first_annotation(tmp_path: Path) -> None:
    base = rec("SELECT", "0") + rec("SET", "base", "1")  # a base written with timestamps off
    src = make(tmp_path / "appendonlydir", base, [ts(T0 + 1) + rec("SET", "a", "1")])
    rc, _, err = restore_to(src, tmp_path / "new", T0)
    assert rc == 1 and f"earliest restorable point is {T0 + 1} " in err
    assert restore_to(src, tmp_path / "new", T0 + 1)[0] == 0


def test_target_must_be_new_or_empty(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1])
    target = tmp_path / "new" / "appendonlydir"
    target.mkdir(parents=True)
    (target / "x").write_bytes(b"")
    rc, _, err = restore_to(src, tmp_path / "new", T0 + 1)
    assert rc == 1 and "already exists and is not empty" in err
    (target / "x").unlink()
    assert restore_to(src, tmp_path / "new", T0 + 1)[0] == 0
    rc, _, err = run("--to", "1", "--from", str(src), "--into", str(tmp_path))
    assert rc == 1 and "would write over the source" in err


def test_truncated_last_file_is_cut_to_its_last_record(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2[:-4]])
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 100)
    assert rc == 0
    kept = (tmp_path / "new" / "appendonlydir" / "appendonly.aof.3.incr.aof").read_bytes()
    assert kept == INCR2[: INCR2.find(rec("DEL", "a"))]
    assert "incomplete record" in out


def test_refuses_damage_before_the_cut_but_not_after(tmp_path: Path) -> None:
    src = make(tmp_path / "a" / "appendonlydir", RESP_BASE, [INCR1[:-3], INCR2])
    rc, _, err = restore_to(src, tmp_path / "new", T0 + 100)
    assert rc == 1 and "is not the last file" in err
    bad = INCR2 + b"garbage\r\n"
    src = make(tmp_path / "b" / "appendonlydir", RESP_BASE, [INCR1, bad])
    rc, _, err = restore_to(src, tmp_path / "new", T0 + 100)
    assert rc == 1 and f"corrupt at offset {len(INCR2)}" in err
    rc, _, _ = restore_to(src, tmp_path / "new", T0 + 4)  # the damage lies after the cut
    assert rc == 0


def test_names_and_prefix(tmp_path: Path) -> None:
    src = make(
        tmp_path / "aofs",
        RESP_BASE,
        [INCR1],
        base_name="my file.aof.1.base.aof",
        prefix="my file.aof",
    )
    rc, out, _ = restore_to(src, tmp_path / "new", T0 + 1)
    assert rc == 0
    new = tmp_path / "new" / "aofs"
    assert (new / "my file.aof.manifest").read_bytes() == (
        b'file "my file.aof.1.base.aof" seq 1 type b\nfile "my file.aof.2.incr.aof" seq 2 type i\n'
    )
    assert "--appenddirname aofs --appendfilename my file.aof" in out
    (src / "other.manifest").write_text("file x seq 1 type b\n")
    rc, _, err = restore_to(src, tmp_path / "new3", T0 + 1)
    assert rc == 1 and "--appendfilename" in err
    rc, _, _ = run(
        "--to",
        str(T0 + 1),
        "--from",
        str(src),
        "--into",
        str(tmp_path / "new4"),
        "--appendfilename",
        "my file.aof",
    )
    assert rc == 0


def test_cli_entry_and_progress(tmp_path: Path) -> None:
    src = make(tmp_path / "appendonlydir", RESP_BASE, [INCR1, INCR2])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "persistence.tools.restore",
            "--progress",
            "--to",
            str(T0 + 5),
            "--from",
            str(src),
            "--into",
            str(tmp_path / "new"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "100.0%" in p.stderr and "Restored " in p.stdout
    p = subprocess.run(
        [sys.executable, "-m", "persistence.tools.restore", "--from", str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 2 and "--to" in p.stderr


# --- end to end with a real redis-server ---------------------------------------------------


@dataclass
class History:
    aofdir: Path
    digests: dict[int, bytes]  # DEBUG DIGEST after the last write of each second
    keys: dict[int, int]
    base_time: int


def write_for_seconds(preamble: bool, workdir: Path, seconds: int = 4) -> History:
    workdir.mkdir(parents=True)
    node = start_redis(
        "--appendonly",
        "yes",
        "--aof-timestamp-enabled",
        "yes",
        "--aof-use-rdb-preamble",
        "yes" if preamble else "no",
        "--enable-debug-command",
        "yes",
        workdir=workdir,
    )
    digests: dict[int, bytes] = {}
    keys: dict[int, int] = {}
    try:
        c = node.client()
        c.set("before-rewrite", "1")
        c.rpush("list", *range(10))
        c.bgrewriteaof()
        while c.info("persistence")["aof_rewrite_in_progress"]:
            time.sleep(0.02)
        base_time = int(time.time())
        time.sleep(1.2 - time.time() % 1.0)
        end = time.time() + seconds
        n = 0
        while time.time() < end:
            frac = time.time() % 1.0
            if not 0.15 < frac < 0.85:  # stay clear of second boundaries
                time.sleep(0.02)
                continue
            sec = int(time.time())
            n += 1
            c.incr("counter")
            c.set(f"k:{sec}:{n}", n)
            if n % 5 == 0:
                with c.pipeline(transaction=True) as p:
                    p.lpush("list", n).hset("hash", f"f{n}", sec).sadd("set", n % 7)
                    p.execute()
            if n % 7 == 0:
                c.delete(f"k:{sec}:{n}")
            c.set(f"ttl:{n}", "x", ex=10_000)
            digests[sec] = c.execute_command("DEBUG", "DIGEST")
            keys[sec] = c.dbsize()
            assert int(time.time()) == sec, "a write crossed a second boundary"
            time.sleep(0.03)
        c.close()
    finally:
        node.stop()
    return History(workdir / "appendonlydir", digests, keys, base_time)


def serve_digest(directory: Path, keelkv: bool) -> tuple[bytes, int]:
    args = ("--dir", str(directory), "--appendonly", "yes", "--enable-debug-command", "yes")
    node = (
        start_keelkv(*args, workdir=directory) if keelkv else start_redis(*args, workdir=directory)
    )
    try:
        c = node.client()
        return c.execute_command("DEBUG", "DIGEST"), c.dbsize()
    finally:
        node.stop()


def tree_hash(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.mark.interop
@pytest.mark.parametrize("preamble", [True, False], ids=["rdb-base", "resp-base"])
def test_restore_a_real_redis_aof_to_a_past_second(tmp_path: Path, preamble: bool) -> None:
    hist = write_for_seconds(preamble, tmp_path / "src")
    seconds = sorted(hist.digests)
    assert len(seconds) >= 3, seconds
    source_hash = tree_hash(hist.aofdir)
    for target_sec in (seconds[1], seconds[-2]):
        into = tmp_path / f"restored-{target_sec}"
        rc, out, err = restore_to(hist.aofdir, into, target_sec)
        assert rc == 0, err
        assert f"Last timestamp kept: {target_sec} " in out
        assert f"First timestamp dropped: {target_sec + 1} " in out
        assert hist.digests[target_sec] != hist.digests[seconds[-1]]  # the cut matters
        copy = tmp_path / f"keelkv-{target_sec}"
        shutil.copytree(into, copy)  # before any server touches the restored files
        for keelkv in (False, True):
            digest, size = serve_digest(copy if keelkv else into, keelkv)
            who = "keelkv" if keelkv else "redis-server"
            assert digest == hist.digests[target_sec], f"{who} at {target_sec}"
            assert size == hist.keys[target_sec], who
    assert tree_hash(hist.aofdir) == source_hash
    rc, _, err = restore_to(hist.aofdir, tmp_path / "too-early", hist.base_time - 5)
    assert rc == 1 and "before the base of this AOF" in err


@pytest.mark.interop
def test_real_redis_without_timestamps_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    node = start_redis("--appendonly", "yes", workdir=tmp_path / "src")
    try:
        c = node.client()
        for i in range(20):
            c.set(f"k{i}", i)
        c.close()
    finally:
        node.stop()
    rc, _, err = restore_to(tmp_path / "src" / "appendonlydir", tmp_path / "new", int(time.time()))
    assert rc == 1 and "aof-timestamp-enabled was off" in err
