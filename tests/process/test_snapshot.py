"""SAVE / BGSAVE / save points / loading at start, on real keelkv processes."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.harness import RawClient, ServerProcess, free_port, keelkv_argv, start_keelkv


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met")


def persistence_info(r: redis.Redis) -> dict:
    return r.info("persistence")


def wait_bgsave_done(r: redis.Redis, timeout: float = 60.0) -> dict:
    return wait_for(
        lambda: (info := persistence_info(r))["rdb_bgsave_in_progress"] == 0 and info,
        timeout,
    )


def fill(r: redis.Redis, n: int, prefix: str = "k") -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"{prefix}:{i}", f"value-{i}")
        if i % 7 == 0:
            pipe.hset(f"h:{prefix}:{i}", mapping={"a": i, "b": "x" * (i % 50)})
        if i % 11 == 0:
            pipe.rpush(f"l:{prefix}:{i}", *range(i % 20 + 1))
        if i % 13 == 0:
            pipe.zadd(f"z:{prefix}:{i}", {"m1": 1.5, "m2": i})
        if i % 17 == 0:
            pipe.sadd(f"s:{prefix}:{i}", *range(i % 9 + 1))
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def shutdown(r: redis.Redis, **kw: bool) -> None:
    """SHUTDOWN: the node closes the connection instead of replying."""
    try:
        r.shutdown(**kw)
    except redis.ConnectionError:
        pass


def digest(r: redis.Redis) -> bytes:
    return r.execute_command("DEBUG", "DIGEST")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def restart(node: ServerProcess, *extra: str) -> ServerProcess:
    node.stop()
    return start_keelkv(*extra, workdir=node.workdir, port=node.port)


DEBUG = ("--enable-debug-command", "yes")
FORK = ("--snapshot-mode", "fork")


def bgsave(node: ServerProcess, *args: str) -> bytes:
    """BGSAVE's exact reply line (redis-py turns the status into True)."""
    with RawClient(node.port) as c:
        return c.call(b"BGSAVE", *(a.encode() for a in args))


def test_save_writes_a_dump_that_loads_at_start_with_the_same_dataset() -> None:
    node = start_keelkv(*DEBUG)
    try:
        r = node.client()
        fill(r, 2000)
        r.execute_command("SELECT", 3)
        r.set("db3-key", "v", px=600_000)
        before = digest(r)
        assert r.save() is True
        assert (node.workdir / "dump.rdb").exists()
        info = persistence_info(r)
        assert info["rdb_changes_since_last_save"] == 0
        assert r.lastsave().timestamp() >= time.time() - 10
        node = restart(node, *DEBUG)
        r = node.client()
        assert digest(r) == before
        assert "Done loading RDB, keys loaded:" in node.log()
        assert persistence_info(r)["rdb_last_load_keys_loaded"] > 2000
        assert r.execute_command("SELECT", 3) and 0 < r.pttl("db3-key") <= 600_000
    finally:
        node.stop()


def test_bgsave_reports_its_child_and_copy_on_write() -> None:
    node = start_keelkv(*DEBUG, *FORK)
    try:
        r = node.client()
        fill(r, 5000)
        assert bgsave(node) == b"+Background saving started\r\n"
        info = wait_bgsave_done(r)
        assert info["rdb_last_bgsave_status"] == "ok"
        assert info["rdb_saves"] == 1
        assert info["rdb_last_cow_size"] > 0  # the child's own Private_Dirty, from psutil
        stats = r.info("stats")
        assert stats["latest_fork_usec"] > 0 and stats["total_forks"] == 1
        log = wait_for(
            lambda: "Background saving terminated with success" in node.log() and node.log()
        )
        assert re.search(r"Background saving started by pid \d+", log)
        assert re.search(
            r"\d+:C .* Fork CoW for RDB: current \d+ MB, peak \d+ MB, average \d+ MB", log
        )
        assert re.search(r"\d+:C .* DB saved on disk", log)
    finally:
        node.stop()


def test_bgsave_refuses_a_second_one_and_schedules_with_schedule() -> None:
    node = start_keelkv(*DEBUG, *FORK)
    try:
        r = node.client()
        fill(r, 30000)
        assert bgsave(node) == b"+Background saving started\r\n"
        assert bgsave(node) == b"-ERR Background save already in progress\r\n"
        assert bgsave(node, "SCHEDULE") == b"-ERR Background save already in progress\r\n"
        assert bgsave(node, "NOW") == b"-ERR syntax error\r\n"
        wait_bgsave_done(r)
    finally:
        node.stop()


def mutate_everything(r: redis.Redis, i: int) -> None:
    """One round of writes over every type and every way a value changes in place."""
    n = i % 2000
    pipe = r.pipeline(transaction=False)
    pipe.set(f"k:{n}", f"changed-{i}")
    pipe.append(f"k:{n + 1}", "+")
    pipe.incr("counter")
    pipe.hset(f"h:k:{n - n % 7}", "a", i)
    pipe.rpush(f"l:k:{n - n % 11}", i)
    pipe.lpop(f"l:k:{(n + 11) - (n + 11) % 11}")
    pipe.zincrby(f"z:k:{n - n % 13}", 1, "m1")
    pipe.sadd(f"s:k:{n - n % 17}", f"new-{i}")
    pipe.srem(f"s:k:{(n + 17) - (n + 17) % 17}", "1")
    pipe.expire(f"k:{n + 2}", 1000)
    pipe.delete(f"k:{n + 3}")
    # A container renamed, then changed under its new name; one moved to another db.
    pipe.rename(f"h:k:{(n + 7) - (n + 7) % 7}", f"renamed:{i}")
    pipe.hset(f"renamed:{i}", "b", "after-rename")
    pipe.move(f"l:k:{(n + 22) - (n + 22) % 11}", 5)
    pipe.lmove(
        f"l:k:{(n + 33) - (n + 33) % 11}", f"l:k:{(n + 44) - (n + 44) % 11}", "LEFT", "RIGHT"
    )
    pipe.smove(f"s:k:{(n + 34) - (n + 34) % 17}", f"s:k:{(n + 51) - (n + 51) % 17}", "2")
    pipe.execute(raise_on_error=False)  # renames and moves of keys already gone fail


@pytest.mark.parametrize("mode", ["fork", "live"])
def test_bgsave_under_write_load_holds_the_point_in_time_state(mode: str) -> None:
    node = start_keelkv(*DEBUG, "--snapshot-mode", mode)
    try:
        r = node.client()
        # Plain strings first, so the values the writer changes are serialized last.
        r.execute_command("DEBUG", "POPULATE", "150000", "bulk", "20")
        fill(r, 20000)
        writer = node.client()
        # A client blocked on a list that the writes will feed: its pop changes a list the
        # snapshot may not have written yet.
        blocked = node.client()
        # BGSAVE and DEBUG DIGEST in one packet run back to back, with no other client's
        # command between them: the digest is the state the snapshot was taken at.
        with socket.create_connection(("127.0.0.1", node.port)) as s:
            s.sendall(b"BGSAVE\r\nDEBUG DIGEST\r\n")
            buf = b""
            while buf.count(b"\r\n") < 2:
                buf += s.recv(4096)
        assert buf.startswith(b"+Background saving started\r\n")
        at_snapshot = buf.split(b"\r\n")[1][1:]
        served = 0
        while persistence_info(r)["rdb_bgsave_in_progress"]:
            mutate_everything(writer, served)
            if served % 5 == 0:
                writer.rpush("l:k:0", "fed")
                blocked.blpop(["l:k:0"], timeout=1)
            served += 1
        assert served > 0  # clients were served while the snapshot was written
        assert persistence_info(r)["rdb_last_bgsave_status"] == "ok"
        assert digest(r) != at_snapshot
        if mode == "live":
            early = re.findall(r"Live snapshot copy-on-write: (\d+) keys written early", node.log())
            assert early and int(early[-1]) > 0  # the copy-on-write path was exercised
        node = restart(node, *DEBUG)
        assert digest(node.client()) == at_snapshot
    finally:
        node.stop()


def test_killed_child_sets_err_keeps_the_old_dump_and_stops_writes() -> None:
    node = start_keelkv(*DEBUG, *FORK, "--save", "3600", "1")
    try:
        r = node.client()
        r.set("first", "1")
        assert r.save()
        dump = node.workdir / "dump.rdb"
        old = sha(dump)
        fill(r, 60000)
        assert bgsave(node) == b"+Background saving started\r\n"
        pid = int(re.findall(r"Background saving started by pid (\d+)", node.log())[-1])
        os.kill(pid, signal.SIGKILL)
        info = wait_bgsave_done(r)
        assert info["rdb_last_bgsave_status"] == "err"
        assert "Background saving terminated by signal 9" in node.log()
        assert sha(dump) == old
        assert not list(node.workdir.glob("temp-*.rdb"))
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            r.set("x", "y")
        with pytest.raises(redis.ResponseError, match="^MISCONF"):
            r.ping()
        assert r.get("first") == b"1"  # reads still work
        assert bgsave(node) == b"+Background saving started\r\n"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "ok"
        assert r.set("x", "y")
    finally:
        node.stop()


@pytest.mark.parametrize("mode", ["fork", "live"])
def test_failing_background_save_is_reported_and_leaves_no_temp_file(mode: str) -> None:
    node = start_keelkv(*DEBUG, "--snapshot-mode", mode)
    try:
        r = node.client()
        r.set("a", "1")
        (node.workdir / "dump.rdb").mkdir()  # rename() over a directory fails
        assert bgsave(node) == b"+Background saving started\r\n"
        info = wait_bgsave_done(r)
        assert info["rdb_last_bgsave_status"] == "err"
        assert "Background saving error" in node.log()
        assert not list(node.workdir.glob("temp-*.rdb"))
        with RawClient(node.port) as c:
            assert c.call(b"SAVE") == b"-ERR\r\n"
        # No save points configured: a failed save does not stop writes.
        assert r.set("b", "2")
    finally:
        node.stop()


def test_save_point_triggers_a_background_save() -> None:
    node = start_keelkv(*DEBUG, "--save", "1", "2")
    try:
        r = node.client()
        r.set("a", "1")
        r.set("b", "2")
        wait_for(lambda: "2 changes in 1 seconds. Saving..." in node.log(), 10)
        wait_for(lambda: "Background saving terminated with success" in node.log(), 20)
        assert persistence_info(r)["rdb_changes_since_last_save"] == 0
    finally:
        node.stop()


def test_shutdown_saves_with_save_points_and_not_with_nosave(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, "--save", "3600", "1", workdir=tmp_path)
    r = node.client()
    r.set("kept", "yes")
    shutdown(r)
    node.proc.wait(10)
    assert "Saving the final RDB snapshot before exiting." in node.log()
    node.stop()
    node = start_keelkv(*DEBUG, "--save", "3600", "1", workdir=tmp_path)
    r = node.client()
    assert r.get("kept") == b"yes"
    r.set("lost", "yes")
    shutdown(r, nosave=True)
    node.proc.wait(10)
    node.stop()
    node = start_keelkv(*DEBUG, "--save", "3600", "1", workdir=tmp_path)
    try:
        assert node.client().get("lost") is None
    finally:
        node.stop()


def test_sigterm_saves_when_save_points_are_set(tmp_path: Path) -> None:
    node = start_keelkv("--save", "3600", "1", workdir=tmp_path)
    node.client().set("k", "v")
    assert node.stop(signal.SIGTERM) == 0
    assert "DB saved on disk" in node.log()
    node = start_keelkv(workdir=tmp_path)
    try:
        assert node.client().get("k") == b"v"
    finally:
        node.stop()


def test_shutdown_refused_when_the_final_save_fails(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, "--save", "3600", "1", workdir=tmp_path)
    try:
        r = node.client()
        r.set("k", "v")
        (tmp_path / "dump.rdb").mkdir()
        with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN"):
            r.shutdown()
        assert r.get("k") == b"v"
    finally:
        (tmp_path / "dump.rdb").rmdir()
        node.stop()


def test_flushall_writes_an_empty_dump_with_save_points(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, "--save", "3600", "1000", workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 100)
        assert r.save()
        r.flushall()
        node = restart(node, *DEBUG)
        assert node.client().dbsize() == 0
    finally:
        node.stop()


def test_debug_reload_keeps_the_dataset_and_drops_expired_keys() -> None:
    node = start_keelkv(*DEBUG)
    try:
        r = node.client()
        fill(r, 500)
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r.set("soon", "x", px=50)
        time.sleep(0.1)
        before = r.dbsize()
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert r.dbsize() == before - 1
        assert "DB reloaded by DEBUG RELOAD" in node.log()
        with pytest.raises(redis.ResponseError, match="only supports the MERGE, NOFLUSH"):
            r.execute_command("DEBUG", "RELOAD", "FAST")
    finally:
        node.stop()


def _start_unready(workdir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    log = open(workdir / "node.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        keelkv_argv(port, *extra), cwd=workdir, stdout=log, stderr=subprocess.STDOUT, env=env
    )
    return proc, port


def test_clients_get_loading_while_a_big_dump_loads(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, workdir=tmp_path)
    r = node.client()
    r.execute_command("DEBUG", "POPULATE", "1000000", "key", "40")
    assert r.save()
    node.stop()
    proc, port = _start_unready(tmp_path)
    seen_loading = False
    perc_seen: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with RawClient(port, timeout=5) as c:
                    reply = c.call(b"PING")
                    if reply == b"+PONG\r\n":
                        break
                    assert reply == b"-LOADING Redis is loading the dataset in memory\r\n"
                    seen_loading = True
                    info = c.call(b"INFO", b"persistence").decode()
                    if "loading:1\r\n" in info:  # (the load may have ended meanwhile)
                        perc_seen.append(float(info.split("loading_loaded_perc:")[1].split()[0]))
            except ConnectionRefusedError:
                time.sleep(0.01)
        assert seen_loading
        assert perc_seen and all(0 <= p <= 100 for p in perc_seen)
        assert redis.Redis(port=port).dbsize() == 1000000
        assert "Loading RDB" in (tmp_path / "node.log").read_text()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    "damage",
    ["flip-value-byte", "truncate", "bad-crc", "unknown-opcode"],
)
def test_corrupt_dump_stops_startup_with_offset_and_reason(tmp_path: Path, damage: str) -> None:
    node = start_keelkv(*DEBUG, workdir=tmp_path)
    r = node.client()
    fill(r, 300)
    assert r.save()
    node.stop()
    dump = tmp_path / "dump.rdb"
    data = bytearray(dump.read_bytes())
    if damage == "flip-value-byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "bad-crc":
        data[-1] ^= 0x01
    else:
        # Replace the first SELECTDB opcode with an opcode no RDB version defines.
        pos = data.index(b"\xfe\x00")
        data[pos] = 0xF0
    dump.write_bytes(bytes(data))
    before = sha(dump)
    proc, _port = _start_unready(tmp_path)
    assert proc.wait(30) == 1
    log = (tmp_path / "node.log").read_text()
    assert re.search(r"Fatal error loading the DB \(dump\.rdb\): .*offset \d+", log), log
    assert sha(dump) == before


def test_expired_keys_in_the_dump_are_dropped_on_a_master(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, workdir=tmp_path)
    r = node.client()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    r.set("live", "1")
    r.set("dead", "1", px=100)
    time.sleep(0.2)
    assert r.save()
    node.stop()
    node = start_keelkv(workdir=tmp_path)
    try:
        r = node.client()
        assert r.dbsize() == 1
        info = persistence_info(r)
        assert info["rdb_last_load_keys_expired"] == 1
        assert "keys loaded: 1, keys expired: 1" in node.log()
    finally:
        node.stop()


def _memory_cgroup_root() -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    raise RuntimeError("no cgroup v1 memory controller on this machine")


def test_fork_that_cannot_fit_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """A node in a memory cgroup with less headroom than its dataset: BGSAVE is refused
    instead of forking a child the OOM killer would end."""
    cgroup = _memory_cgroup_root() / f"keelkv-test-{os.getpid()}"
    cgroup.mkdir()
    try:
        (cgroup / "memory.limit_in_bytes").write_text(str(700 * 1024 * 1024))
        procs = str(cgroup / "cgroup.procs")

        def enter_cgroup() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        port = free_port()
        log = open(tmp_path / "node.log", "ab")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.Popen(
            keelkv_argv(port, *DEBUG, *FORK),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=enter_cgroup,
        )
        node = ServerProcess(proc.args, port, tmp_path, tmp_path / "node.log")
        node.proc, node._log = proc, log
        try:
            node.wait_ready()
            r = node.client()
            assert r.save()  # SAVE does not fork: allowed
            r.execute_command("DEBUG", "POPULATE", "2000000", "key", "100")
            with RawClient(port) as c:
                reply = c.call(b"BGSAVE").decode()
            assert reply.startswith(
                "-ERR Background save refused: not enough memory to fork safely"
            )
            assert "memory cgroup" in reply
            assert persistence_info(r)["rdb_bgsave_in_progress"] == 0
            assert "Can't save in background: not enough memory to fork safely" in node.log()
            assert r.dbsize() == 2000000  # the node is alive and whole
        finally:
            node.stop()
    finally:
        for _ in range(50):
            try:
                cgroup.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def test_maxmemory_without_copy_on_write_headroom_is_warned_about() -> None:
    import psutil

    too_much = str(int(psutil.virtual_memory().total * 0.9))
    node = start_keelkv("--maxmemory", too_much, "--save", "3600", "1")
    try:
        warning = re.search(
            r"WARNING maxmemory is \d+ MB, more than (\d+)% .* Recommended: maxmemory (\d+)mb",
            node.log(),
        )
        assert warning, node.log()
        share, recommended = int(warning.group(1)), int(warning.group(2))
        assert 33 <= share <= 66 and recommended * 1024 * 1024 < int(too_much)
        r = node.client()
        r.config_set("maxmemory", str(recommended * 1024 * 1024))
        count = node.log().count("WARNING maxmemory is")
        r.config_set("maxmemory", too_much)
        assert node.log().count("WARNING maxmemory is") == count + 1
    finally:
        node.stop()
    # Without snapshots or AOF there is no fork to leave room for.
    node = start_keelkv("--maxmemory", too_much)
    try:
        assert "WARNING maxmemory is" not in node.log()
    finally:
        node.stop()
