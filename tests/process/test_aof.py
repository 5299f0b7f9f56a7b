"""The multi-part AOF on real keelkv processes: layout, restart, rewrite, loading, options.

Byte-level reference: shared/spec/aof.md. A rewrite that must stay "in progress" while the
test acts is held with SIGSTOP on its forked child (snapshot-mode fork) and released with
SIGCONT, so the BGSAVE/BGREWRITEAOF interplay is checked deterministically.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from tests.harness import ROOT, RawClient, ServerProcess, free_port, keelkv_argv, start_keelkv

DEBUG = ("--enable-debug-command", "yes")
AOF = ("--appendonly", "yes")
FORK = ("--snapshot-mode", "fork")
LIVE = ("--snapshot-mode", "live")
MODES = {"fork": FORK, "live": LIVE}
P = "appendonly.aof"

# -- helpers shared with the other AOF test files ----------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met")


def aof_dir(workdir: Path) -> Path:
    return workdir / "appendonlydir"


def manifest_text(workdir: Path) -> str:
    return (aof_dir(workdir) / f"{P}.manifest").read_text()


def manifest_files(workdir: Path) -> list[tuple[str, int, str]]:
    """(name, seq, type) per manifest line, in order."""
    out = []
    for line in manifest_text(workdir).splitlines():
        m = re.fullmatch(r"file (\S+) seq (\d+) type ([bhi])", line)
        assert m, f"unexpected manifest line {line!r}"
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


def aof_names(workdir: Path) -> list[str]:
    return sorted(os.listdir(aof_dir(workdir)))


def last_incr(workdir: Path) -> Path:
    incrs = [n for n, _, t in manifest_files(workdir) if t == "i"]
    return aof_dir(workdir) / incrs[-1]


def digest(r: redis.Redis) -> bytes:
    return r.execute_command("DEBUG", "DIGEST")


def info(r: redis.Redis) -> dict[str, Any]:
    return r.info("persistence")


def wait_rewrite_done(r: redis.Redis, timeout: float = 60.0) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (i := info(r))["aof_rewrite_in_progress"] == 0 and not i["aof_rewrite_scheduled"] and i
        ),
        timeout,
    )


def reply(node: ServerProcess, *argv: str) -> bytes:
    """The exact reply bytes (redis-py turns status replies into True)."""
    with RawClient(node.port) as c:
        return c.call(*argv)


def restart(node: ServerProcess, *extra: str) -> ServerProcess:
    node.stop()
    return start_keelkv(*extra, workdir=node.workdir, port=node.port)


def resp(*argv: bytes | str) -> bytes:
    raw = [a if isinstance(a, bytes) else a.encode() for a in argv]
    return b"*%d\r\n" % len(raw) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in raw)


def fill(r: redis.Redis, n: int, prefix: str = "k") -> None:
    """Every type, two databases, some TTLs."""
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"{prefix}:{i}", f"value-{i}")
        if i % 5 == 0:
            pipe.hset(f"h:{prefix}:{i}", mapping={"a": i, "b": "x" * (i % 40)})
        if i % 7 == 0:
            pipe.rpush(f"l:{prefix}:{i}", *range(i % 20 + 1))
        if i % 11 == 0:
            pipe.zadd(f"z:{prefix}:{i}", {"m1": 1.5, "m2": i})
        if i % 13 == 0:
            pipe.sadd(f"s:{prefix}:{i}", *range(i % 9 + 1))
        if i % 17 == 0:
            pipe.expire(f"{prefix}:{i}", 5000 + i)
    pipe.execute()
    r.execute_command("SELECT", 2)
    r.set(f"{prefix}:db2", "in-db-2", ex=9000)
    r.execute_command("SELECT", 0)


def fork_child_of(node: ServerProcess, timeout: float = 10.0) -> int:
    """The PID of the node's (single) fork child, once it exists."""

    def child() -> int | None:
        kids = psutil.Process(node.pid).children()
        return kids[0].pid if kids else None

    return int(wait_for(child, timeout, 0.002))


@contextmanager
def held_child(node: ServerProcess, start: Callable[[], Any]) -> Iterator[int]:
    """Run `start` (which forks a child) and keep that child stopped inside the block."""
    start()
    pid = fork_child_of(node)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def start_expecting_exit(workdir: Path, *extra: str, timeout: float = 30.0) -> tuple[int, str]:
    """Start a node that must refuse to come up; returns its exit code and log."""
    log_path = workdir / "failed-start.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            keelkv_argv(free_port(), *extra),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"node did not exit:\n{log_path.read_text()}") from None
    return code, log_path.read_text(errors="replace")


def records(data: bytes) -> list[tuple[int, list[bytes]]]:
    """(start offset, argv) of each RESP command (annotations skipped); strict CRLFs."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        nl = data.index(b"\r\n", pos)
        assert data[pos : pos + 1] == b"*", f"not a command at {pos}: {data[pos : pos + 20]!r}"
        argc = int(data[pos + 1 : nl])
        pos = nl + 2
        argv = []
        for _ in range(argc):
            nl = data.index(b"\r\n", pos)
            assert data[pos : pos + 1] == b"$"
            n = int(data[pos + 1 : nl])
            argv.append(data[nl + 2 : nl + 2 + n])
            assert data[nl + 2 + n : nl + 4 + n] == b"\r\n"
            pos = nl + 4 + n
        out.append((start, argv))
    return out


# -- layout, restart ----------------------------------------------------------------------


def test_fresh_start_creates_base_incr_and_manifest_with_redis_names(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        assert aof_names(tmp_path) == [f"{P}.1.base.rdb", f"{P}.1.incr.aof", f"{P}.manifest"]
        assert manifest_text(tmp_path) == (
            f"file {P}.1.base.rdb seq 1 type b\nfile {P}.1.incr.aof seq 1 type i\n"
        )
        assert (aof_dir(tmp_path) / f"{P}.1.base.rdb").read_bytes()[:9] == b"REDIS0010"
        assert (aof_dir(tmp_path) / f"{P}.1.incr.aof").read_bytes() == b""
        assert "Creating AOF base file appendonly.aof.1.base.rdb on server start" in node.log()
        r = node.client()
        r.set("a", "1")
        r.execute_command("SELECT", 3)
        r.set("b", "2", ex=100)
        incr = records((aof_dir(tmp_path) / f"{P}.1.incr.aof").read_bytes())
        argvs = [argv for _, argv in incr]
        assert argvs[0] == [b"SELECT", b"0"]
        assert [a.upper() for a in argvs[1]] == [b"SET", b"A", b"1"]
        assert argvs[2] == [b"SELECT", b"3"]
        assert argvs[3][:3] == [b"SET", b"b", b"2"] and argvs[3][3].upper() == b"PXAT"
        assert abs(int(argvs[3][4]) - (time.time() + 100) * 1000) < 5000
    finally:
        node.stop()


def test_writes_survive_restart_with_the_same_digest_and_ttls(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 1500)
        r.set("ttl-key", "v", px=700_000)
        r.incrbyfloat("float", "1.25")
        r.delete("k:3")
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert digest(r) == before
        assert 600_000 < r.pttl("ttl-key") <= 700_000
        assert r.get("float") == b"1.25" and r.get("k:3") is None
        assert "DB loaded from incr file appendonly.aof.1.incr.aof" in node.log()
        # It keeps appending to the same incr file after a restart.
        r.set("after-restart", "1")
        assert [n for n, _, _ in manifest_files(tmp_path)] == [f"{P}.1.base.rdb", f"{P}.1.incr.aof"]
        node = restart(node, *DEBUG, *AOF)
        assert node.client().get("after-restart") == b"1"
    finally:
        node.stop()


def test_restart_selects_the_db_again_and_reports_sizes(tmp_path: Path) -> None:
    """After a restart the next command gets its own SELECT (the incr file ended in db 5)."""
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        r.execute_command("SELECT", 5)
        r.set("in-db-5", "1")
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        i = info(r)
        sizes = sum((aof_dir(tmp_path) / n).stat().st_size for n, _, _ in manifest_files(tmp_path))
        assert i["aof_current_size"] == sizes and i["aof_base_size"] == sizes
        r.set("in-db-0", "1")
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("in-db-0") == b"1"
        r.execute_command("SELECT", 5)
        assert r.get("in-db-0") is None and r.get("in-db-5") == b"1"
    finally:
        node.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_values_bigger_than_the_read_chunk_survive(tmp_path: Path, preamble: str) -> None:
    """3 MB values cross the loader's 1 MB reads, in the incr file and in the base."""
    extra = ("--aof-use-rdb-preamble", preamble)
    node = start_keelkv(*DEBUG, *AOF, *extra, workdir=tmp_path)
    try:
        r = node.client()
        big = os.urandom(3 << 20)
        r.set("big", big)
        r.rpush("list", big[:1000], big[1000:2_000_000])
        node = restart(node, *DEBUG, *AOF, *extra)
        r = node.client()
        assert r.get("big") == big
        assert r.bgrewriteaof()
        wait_rewrite_done(r)
        r.append("big", b"!")
        node = restart(node, *DEBUG, *AOF, *extra)
        r = node.client()
        assert r.get("big") == big + b"!"
        assert r.lrange("list", 0, -1) == [big[:1000], big[1000:2_000_000]]
    finally:
        node.stop()


def test_appendfilename_with_a_space_is_quoted_in_the_manifest(tmp_path: Path) -> None:
    extra = ("--appendfilename", "my file.aof", "--appenddirname", "aofs")
    node = start_keelkv(*DEBUG, *AOF, *extra, workdir=tmp_path)
    try:
        assert (tmp_path / "aofs" / "my file.aof.manifest").read_text() == (
            'file "my file.aof.1.base.rdb" seq 1 type b\n'
            'file "my file.aof.1.incr.aof" seq 1 type i\n'
        )
        node.client().set("k", "v")
        node = restart(node, *DEBUG, *AOF, *extra)
        assert node.client().get("k") == b"v"
    finally:
        node.stop()


def test_appendonly_yes_ignores_a_dump_once_an_aof_exists(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        r.set("from-aof", "1")
        assert r.save()
        r.set("only-in-aof", "1")
        node = restart(node, *DEBUG, *AOF)
        assert node.client().get("only-in-aof") == b"1"
        node = restart(node, *DEBUG)  # appendonly no: the dump is what loads
        assert node.client().get("only-in-aof") is None
    finally:
        node.stop()


# -- rewrite --------------------------------------------------------------------------------

INFO_AOF_FIELDS = [
    "aof_enabled",
    "aof_rewrite_in_progress",
    "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec",
    "aof_current_rewrite_time_sec",
    "aof_last_bgrewrite_status",
    "aof_rewrites",
    "aof_rewrites_consecutive_failures",
    "aof_last_write_status",
    "aof_last_cow_size",
    "module_fork_in_progress",
    "module_fork_last_cow_size",
    "aof_current_size",
    "aof_base_size",
    "aof_pending_rewrite",
    "aof_buffer_length",
    "aof_pending_bio_fsync",
    "aof_delayed_fsync",
]


@pytest.mark.parametrize("mode", ["fork", "live"])
def test_bgrewriteaof_switches_to_a_new_base_and_incr_and_drops_history(
    tmp_path: Path, mode: str
) -> None:
    node = start_keelkv(*DEBUG, *AOF, *MODES[mode], workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 3000)
        for i in range(300):
            r.set(f"k:{i}", f"overwritten-{i}")  # history the rewrite compacts
        before_rewrite = info(r)
        assert before_rewrite["aof_rewrites"] == 0
        assert before_rewrite["aof_last_rewrite_time_sec"] == -1
        assert reply(node, "BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
        done = wait_rewrite_done(r)
        assert manifest_text(tmp_path) == (
            f"file {P}.2.base.rdb seq 2 type b\nfile {P}.2.incr.aof seq 2 type i\n"
        )
        assert aof_names(tmp_path) == [f"{P}.2.base.rdb", f"{P}.2.incr.aof", f"{P}.manifest"]
        assert not [n for n in os.listdir(tmp_path) if n.startswith("temp-")]
        assert done["aof_rewrites"] == 1
        assert done["aof_last_bgrewrite_status"] == "ok"
        assert done["aof_rewrites_consecutive_failures"] == 0
        assert done["aof_last_rewrite_time_sec"] >= 0
        assert done["aof_current_rewrite_time_sec"] == -1
        base = aof_dir(tmp_path) / f"{P}.2.base.rdb"
        incr = aof_dir(tmp_path) / f"{P}.2.incr.aof"
        assert done["aof_current_size"] == base.stat().st_size + incr.stat().st_size
        assert done["aof_base_size"] == done["aof_current_size"]
        assert done["aof_current_size"] < before_rewrite["aof_current_size"]
        log = node.log()
        assert "Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite" in log
        assert re.search(
            r"Successfully renamed the temporary AOF base file temp-rewriteaof-bg-\d+\.aof "
            r"into appendonly\.aof\.2\.base\.rdb",
            log,
        )
        assert "Removing the history file appendonly.aof.1.incr.aof in the background" in log
        assert "Removing the history file appendonly.aof.1.base.rdb in the background" in log
        assert "Background AOF rewrite finished successfully" in log
        if mode == "fork":
            assert re.search(r"Background append only file rewriting started by pid \d+", log)
        # More writes land in the new incr file and count in aof_current_size.
        r.set("after-rewrite", "x" * 1000)
        after = info(r)
        assert after["aof_current_size"] == base.stat().st_size + incr.stat().st_size
        assert after["aof_current_size"] > done["aof_current_size"] + 1000
        assert after["aof_base_size"] == done["aof_base_size"]
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        assert digest(node.client()) == before
    finally:
        node.stop()


def test_info_persistence_lists_the_aof_fields_in_redis_order() -> None:
    node = start_keelkv(*AOF)
    try:
        text = reply(node, "INFO", "persistence").decode()
        names = [
            line.split(":")[0] for line in text.split("\r\n") if line.startswith(("aof", "module"))
        ]
        assert names == INFO_AOF_FIELDS
    finally:
        node.stop()
    node = start_keelkv()
    try:
        text = reply(node, "INFO", "persistence").decode()
        assert "aof_enabled:0" in text and "aof_current_size" not in text
    finally:
        node.stop()


def test_bgsave_and_bgrewriteaof_exclusion_rules(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 500)
        with held_child(node, lambda: r.bgrewriteaof()):
            assert info(r)["aof_rewrite_in_progress"] == 1
            assert reply(node, "BGSAVE") == (
                b"-ERR Another child process is active (AOF?): can't BGSAVE right now. "
                b"Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n"
            )
            assert reply(node, "BGREWRITEAOF") == (
                b"-ERR Background append only file rewriting already in progress\r\n"
            )
            assert reply(node, "BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
            assert reply(node, "SAVE") == b"+OK\r\n"  # synchronous, allowed during a rewrite
            saves = info(r)["rdb_saves"]
            r.set("during-rewrite", "1")
        wait_for(lambda: info(r)["rdb_saves"] == saves + 1)  # the scheduled BGSAVE ran
        assert wait_rewrite_done(r)["aof_rewrites"] == 1
        with held_child(node, lambda: r.bgsave()):
            assert info(r)["rdb_bgsave_in_progress"] == 1
            assert reply(node, "BGSAVE") == b"-ERR Background save already in progress\r\n"
            assert reply(node, "BGSAVE", "SCHEDULE") == (
                b"-ERR Background save already in progress\r\n"
            )
            assert reply(node, "SAVE") == b"-ERR Background save already in progress\r\n"
            assert reply(node, "BGREWRITEAOF") == (
                b"+Background append only file rewriting scheduled\r\n"
            )
            i = info(r)
            assert i["aof_rewrite_scheduled"] == 1 and i["aof_pending_rewrite"] == 1
        assert wait_rewrite_done(r)["aof_rewrites"] == 2
        assert manifest_files(tmp_path)[0] == (f"{P}.3.base.rdb", 3, "b")
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        assert digest(node.client()) == before
    finally:
        node.stop()


def test_bgrewriteaof_inside_multi_is_scheduled(tmp_path: Path) -> None:
    node = start_keelkv(*AOF, workdir=tmp_path)
    try:
        with RawClient(node.port) as c:
            assert c.call("MULTI") == b"+OK\r\n"
            assert c.call("BGREWRITEAOF") == b"+QUEUED\r\n"
            assert c.call("EXEC") == b"*1\r\n+Background append only file rewriting scheduled\r\n"
        r = node.client()
        wait_for(lambda: info(r)["aof_rewrites"] == 1)
    finally:
        node.stop()


def test_killed_rewrite_child_keeps_every_write_and_reports_err(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 500)
        with held_child(node, lambda: r.bgrewriteaof()) as pid:
            r.set("during", "1")
            os.kill(pid, signal.SIGKILL)
        done = wait_rewrite_done(r)
        assert done["aof_last_bgrewrite_status"] == "err"
        assert done["aof_rewrites_consecutive_failures"] == 1
        assert "Background AOF rewrite terminated by signal 9" in node.log()
        # The new incr file stays listed after the old one; nothing is lost.
        assert [(n, t) for n, _, t in manifest_files(tmp_path)] == [
            (f"{P}.1.base.rdb", "b"),
            (f"{P}.1.incr.aof", "i"),
            (f"{P}.2.incr.aof", "i"),
        ]
        leftovers = [n for n in os.listdir(tmp_path) if n.startswith("temp-")]
        assert not leftovers, f"temporary rewrite files left behind: {leftovers}"
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        assert digest(node.client()) == before
    finally:
        node.stop()


def test_automatic_rewrite_on_growth(tmp_path: Path) -> None:
    node = start_keelkv(
        *DEBUG,
        *AOF,
        "--auto-aof-rewrite-min-size",
        "200kb",
        "--auto-aof-rewrite-percentage",
        "100",
        workdir=tmp_path,
    )
    try:
        r = node.client()
        value = "v" * 100
        for i in range(1000):  # ~130 kB: below the minimum size, no rewrite
            r.set(f"k:{i % 50}", value)
        time.sleep(0.5)
        assert info(r)["aof_rewrites"] == 0
        for i in range(1500):
            r.set(f"k:{i % 50}", value)
        wait_for(lambda: info(r)["aof_rewrites"] >= 1, 10)
        assert re.search(r"Starting automatic rewriting of AOF on \d+% growth", node.log())
        i = wait_rewrite_done(r)
        assert i["aof_current_size"] < 200 * 1024  # 50 keys compacted
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        assert digest(node.client()) == before
    finally:
        node.stop()


# -- switching the AOF on and off at runtime --------------------------------------------------


@pytest.mark.parametrize("mode", ["fork", "live"])
def test_config_set_appendonly_yes_on_a_running_node(tmp_path: Path, mode: str) -> None:
    node = start_keelkv(*DEBUG, *MODES[mode], workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 2000)
        assert not aof_dir(tmp_path).exists()
        assert r.config_set("appendonly", "yes")
        r.set("right-after", "1")
        wait_for(lambda: info(r)["aof_enabled"] == 1 and info(r)["aof_rewrites"] == 1)
        wait_rewrite_done(r)
        assert "AOF rewrite is done: the append only file is enabled" in node.log()
        names = [n for n, _, _ in manifest_files(tmp_path)]
        assert names == [f"{P}.1.base.rdb", f"{P}.1.incr.aof"]
        assert aof_names(tmp_path) == [*names, f"{P}.manifest"]
        r.set("later", "2")
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert digest(r) == before
        assert r.get("right-after") == b"1" and r.get("later") == b"2"
        # appendonly no: the files stay as they were and stop growing.
        assert r.config_set("appendonly", "no")
        assert info(r)["aof_enabled"] == 0
        size = last_incr(tmp_path).stat().st_size
        r.set("not-in-aof", "1")
        assert last_incr(tmp_path).stat().st_size == size
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("not-in-aof") is None
        assert digest(r) == before
    finally:
        node.stop()


def test_appendonly_yes_while_an_aof_off_rewrite_runs_loses_nothing(tmp_path: Path) -> None:
    """Redis kills a rewrite that started before the AOF was switched on and starts a new
    one (startAppendOnly): that old child's base lacks the writes made between its fork and
    the switch, so it must never become the base of the enabled AOF."""
    node = start_keelkv(*DEBUG, *FORK, workdir=tmp_path)
    try:
        r = node.client()
        r.execute_command("DEBUG", "POPULATE", "200000", "bulk", "20")
        with held_child(node, lambda: r.bgrewriteaof()) as first:  # appendonly no: a base only
            r.set("between-fork-and-switch", "1")
            assert r.config_set("appendonly", "yes")
            r.set("after-switch", "1")
        wait_for(lambda: info(r)["aof_enabled"] == 1)
        # Whatever rewrite runs now is only a later compaction: stop it, so the files are
        # what the switch itself produced.
        try:
            other = wait_for(
                lambda: [p.pid for p in psutil.Process(node.pid).children() if p.pid != first],
                1.0,
                0.002,
            )
            for pid in other:
                os.kill(pid, signal.SIGKILL)
        except TimeoutError:
            pass
        wait_rewrite_done(r)
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("after-switch") == b"1"
        assert r.get("between-fork-and-switch") == b"1", "a write made before the switch is lost"
    finally:
        node.stop()


def test_config_set_appendonly_no_stops_a_running_rewrite(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 500)
        with held_child(node, lambda: r.bgrewriteaof()) as pid:
            r.set("before-off", "1")
            assert r.config_set("appendonly", "no")
        wait_for(lambda: gone_or_zombie(pid))
        i = wait_rewrite_done(r)
        assert i["aof_enabled"] == 0 and i["aof_rewrite_in_progress"] == 0
        # Stopping a rewrite on purpose is not a failed rewrite (killAppendOnlyChild).
        assert i["aof_last_bgrewrite_status"] == "ok"
        assert [(n, t) for n, _, t in manifest_files(tmp_path)] == [
            (f"{P}.1.base.rdb", "b"),
            (f"{P}.1.incr.aof", "i"),
            (f"{P}.2.incr.aof", "i"),
        ]
        r.set("after-off", "1")
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("before-off") == b"1" and r.get("after-off") is None
    finally:
        node.stop()


def test_config_set_appendonly_no_cancels_a_scheduled_rewrite(tmp_path: Path) -> None:
    """stopAppendOnly clears aof_rewrite_scheduled: no rewrite runs once the AOF is off."""
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 300)
        with held_child(node, lambda: r.bgsave()):
            assert reply(node, "BGREWRITEAOF") == (
                b"+Background append only file rewriting scheduled\r\n"
            )
            assert r.config_set("appendonly", "no")
            assert info(r)["aof_rewrite_scheduled"] == 0
        wait_for(lambda: info(r)["rdb_bgsave_in_progress"] == 0)
        time.sleep(0.5)  # a few cron ticks
        i = info(r)
        assert i["aof_rewrites"] == 0 and i["aof_rewrite_in_progress"] == 0
        assert [n for n, _, _ in manifest_files(tmp_path)] == [f"{P}.1.base.rdb", f"{P}.1.incr.aof"]
    finally:
        node.stop()


# -- loading: truncation and corruption ------------------------------------------------------


def write_some(tmp_path: Path, *extra: str) -> tuple[bytes, list[tuple[int, list[bytes]]]]:
    """Write a few commands with the AOF on, stop; returns the incr bytes and records."""
    node = start_keelkv(*DEBUG, *AOF, *extra, workdir=tmp_path)
    r = node.client()
    for i in range(20):
        r.set(f"k:{i}", f"v{i}")
    r.rpush("list", "a", "b", "c")
    r.set("last", "x" * 50)
    node.stop()
    data = last_incr(tmp_path).read_bytes()
    return data, records(data)


def test_truncated_last_command_is_cut_with_aof_load_truncated_yes(tmp_path: Path) -> None:
    data, recs = write_some(tmp_path)
    last_start = recs[-1][0]
    incr = last_incr(tmp_path)
    incr.write_bytes(data[: len(data) - 17])  # inside the value of the last SET
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        log = node.log()
        assert f"!!! Warning: short read while loading the AOF file {incr.name}!!!" in log
        assert f"!!! Truncating the AOF {incr.name} at offset {last_start} !!!" in log
        assert f"AOF {incr.name} loaded anyway because aof-load-truncated is enabled" in log
        assert incr.stat().st_size == last_start
        r = node.client()
        assert r.get("last") is None
        assert r.lrange("list", 0, -1) == [b"a", b"b", b"c"]
        assert r.get("k:19") == b"v19"
        # Appends continue on a clean record boundary.
        r.set("appended", "1")
        before = digest(r)
        node = restart(node, *DEBUG, *AOF)
        assert digest(node.client()) == before
        assert "short read" not in node.log().split("keelkv is starting")[-1]
    finally:
        node.stop()


def test_truncated_last_command_stops_startup_with_aof_load_truncated_no(tmp_path: Path) -> None:
    data, _ = write_some(tmp_path)
    incr = last_incr(tmp_path)
    incr.write_bytes(data[:-5])
    code, log = start_expecting_exit(tmp_path, *AOF, "--aof-load-truncated", "no")
    assert code == 1
    assert f"Unexpected end of file reading the append only file {incr.name}" in log
    assert "aof-load-truncated" in log
    assert incr.read_bytes() == data[:-5]  # left as it was


def test_garbage_in_the_first_of_two_incr_files_stops_startup(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    r = node.client()
    for i in range(10):
        r.set(f"k:{i}", "v")
    with held_child(node, lambda: r.bgrewriteaof()) as pid:
        r.set("in-second-incr", "1")
        os.kill(pid, signal.SIGKILL)  # the rewrite fails: two incr files stay listed
    wait_rewrite_done(r)
    node.stop()
    incrs = [n for n, _, t in manifest_files(tmp_path) if t == "i"]
    assert incrs == [f"{P}.1.incr.aof", f"{P}.2.incr.aof"]
    first = aof_dir(tmp_path) / incrs[0]
    data = first.read_bytes()
    cut = records(data)[4][0]
    first.write_bytes(data[:cut] + b"garbage line\r\n" + data[cut:])
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert f"Bad file format reading the append only file {first.name}" in log
    assert f"offset {cut}" in log
    assert first.read_bytes()[cut : cut + 7] == b"garbage"  # never "repaired"


def test_truncated_incr_that_is_not_the_last_stops_startup(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, *FORK, workdir=tmp_path)
    r = node.client()
    for i in range(10):
        r.set(f"k:{i}", "v")
    with held_child(node, lambda: r.bgrewriteaof()) as pid:
        r.set("in-second-incr", "1")
        os.kill(pid, signal.SIGKILL)
    wait_rewrite_done(r)
    node.stop()
    first = aof_dir(tmp_path) / f"{P}.1.incr.aof"
    data = first.read_bytes()
    first.write_bytes(data[:-3])
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert "the truncated file is not the last file" in log
    assert first.read_bytes() == data[:-3]


def test_garbage_in_a_resp_base_stops_startup(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, "--aof-use-rdb-preamble", "no", workdir=tmp_path)
    r = node.client()
    fill(r, 50)
    assert r.bgrewriteaof()
    wait_rewrite_done(r)
    node.stop()
    base = aof_dir(tmp_path) / f"{P}.2.base.aof"
    data = base.read_bytes()
    cut = records(data)[10][0]
    base.write_bytes(data[:cut] + b"$3\r\nbad\r\n" + data[cut:])
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert f"Bad file format reading the append only file {base.name}" in log
    assert f"offset {cut}" in log


def test_corrupt_rdb_base_stops_startup(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    r = node.client()
    fill(r, 300)
    assert r.bgrewriteaof()
    wait_rewrite_done(r)
    node.stop()
    base = aof_dir(tmp_path) / f"{P}.2.base.rdb"
    data = base.read_bytes()
    base.write_bytes(data[: len(data) // 2])
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert base.name in log
    assert base.stat().st_size == len(data) // 2  # an RDB base is never truncated


def test_missing_file_listed_in_the_manifest_stops_startup(tmp_path: Path) -> None:
    write_some(tmp_path)
    (aof_dir(tmp_path) / f"{P}.1.incr.aof").unlink()
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert f"{P}.1.incr.aof" in log


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"file appendonly.aof.1.base.rdb seq 1 type b",
        b"file a seq 1 type b\nfile b seq 2 type b\n",
    ],
    ids=["empty", "no-final-newline", "two-bases"],
)
def test_bad_manifest_stops_startup(tmp_path: Path, content: bytes) -> None:
    write_some(tmp_path)
    (aof_dir(tmp_path) / f"{P}.manifest").write_bytes(content)
    code, log = start_expecting_exit(tmp_path, *AOF)
    assert code == 1
    assert "*** FATAL AOF MANIFEST FILE ERROR ***" in log


# -- the RDB-only start, MULTI/EXEC, options -------------------------------------------------


def test_appendonly_yes_with_only_a_dump_loads_it_as_the_first_base(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 1000)
        before = digest(r)
        assert r.save()
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert digest(r) == before
        assert "No AOF found: loading dump.rdb and writing it as the first AOF base" in node.log()
        assert [n for n, _, _ in manifest_files(tmp_path)] == [f"{P}.1.base.rdb", f"{P}.1.incr.aof"]
        (tmp_path / "dump.rdb").unlink()  # the base holds the data now
        r.set("more", "1")
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("more") == b"1"
        r.delete("more")
        assert digest(r) == before
    finally:
        node.stop()


def test_multi_exec_is_written_as_a_unit_and_an_open_multi_at_the_end_is_reverted(
    tmp_path: Path,
) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    r = node.client()
    pipe = r.pipeline(transaction=True)
    pipe.set("t1", "a")
    pipe.incr("t2")
    pipe.get("t1")  # a read inside is not written
    pipe.execute()
    node.stop()
    incr = last_incr(tmp_path)
    argvs = [[a.upper() for a in argv] for _, argv in records(incr.read_bytes())]
    i = argvs.index([b"MULTI"])
    assert argvs[i + 1][:2] == [b"SET", b"T1"]
    assert argvs[i + 2][:2] in ([b"INCR", b"T2"], [b"INCRBY", b"T2"])
    assert argvs[i + 3] == [b"EXEC"]
    assert len(argvs) == i + 4
    good = incr.stat().st_size
    with open(incr, "ab") as f:  # a transaction whose EXEC never reached the disk
        f.write(resp("MULTI") + resp("SET", "half", "1") + resp("INCR", "t2"))
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        assert r.get("half") is None and r.get("t2") == b"1" and r.get("t1") == b"a"
        log = node.log()
        assert "Revert incomplete MULTI/EXEC transaction" in log
        assert f"!!! Truncating the AOF {incr.name} at offset {good} !!!" in log
        assert incr.stat().st_size == good
    finally:
        node.stop()


def test_aof_timestamp_enabled_writes_ts_annotations(tmp_path: Path) -> None:
    node = start_keelkv(
        *DEBUG,
        *AOF,
        "--aof-timestamp-enabled",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        workdir=tmp_path,
    )
    try:
        r = node.client()
        r.set("a", "1")
        t0 = time.time()
        time.sleep(1.1)
        r.set("b", "2")
        r.set("c", "3")
        data = last_incr(tmp_path).read_bytes()
        stamps = [int(s) for s in re.findall(rb"#TS:(\d+)\r\n", data)]
        assert len(stamps) == 2 and stamps[1] > stamps[0]
        assert abs(stamps[0] - t0) <= 2
        assert data.startswith(b"#TS:")
        assert re.fullmatch(rb"(#TS:\d+\r\n|\*[^#]*)+", data)
        # A RESP base starts with an annotation.
        assert r.bgrewriteaof()
        wait_rewrite_done(r)
        base = (aof_dir(tmp_path) / f"{P}.2.base.aof").read_bytes()
        assert re.match(rb"#TS:\d+\r\n\*2\r\n\$6\r\nSELECT\r\n", base)
        time.sleep(1.1)
        r.set("d", "4")
        # (Redis writes the next #TS only when the second changes, even in a new incr file.)
        ts_then_d = (
            rb"#TS:\d+\r\n(\*2\r\n\$6\r\nSELECT\r\n\$1\r\n0\r\n)?"
            rb"\*3\r\n\$3\r\nSET\r\n\$1\r\nd\r\n"
        )
        assert re.search(ts_then_d, last_incr(tmp_path).read_bytes())
        before = digest(r)
        node = restart(node, *DEBUG, *AOF, "--aof-timestamp-enabled", "yes")
        assert digest(node.client()) == before
    finally:
        node.stop()


def test_config_set_aof_timestamp_enabled_takes_effect_at_once(tmp_path: Path) -> None:
    """Redis reads aof-timestamp-enabled on every append (feedAppendOnlyFile)."""
    node = start_keelkv(*AOF, workdir=tmp_path)
    try:
        r = node.client()
        r.set("a", "1")
        assert r.config_set("aof-timestamp-enabled", "yes")
        r.set("b", "2")
        data = last_incr(tmp_path).read_bytes()
        assert re.search(rb"#TS:\d+\r\n\*3\r\n\$3\r\nSET\r\n\$1\r\nb\r\n", data), data
    finally:
        node.stop()


def test_rdb_preamble_off_writes_a_resp_base(tmp_path: Path) -> None:
    extra = ("--aof-use-rdb-preamble", "no")
    node = start_keelkv(*DEBUG, *AOF, *extra, workdir=tmp_path)
    try:
        assert aof_names(tmp_path) == [f"{P}.1.base.aof", f"{P}.1.incr.aof", f"{P}.manifest"]
        r = node.client()
        fill(r, 400)
        r.zadd("zs", {"a": 1.5, "b": 2, "c": -0.1})
        assert r.bgrewriteaof()
        wait_rewrite_done(r)
        assert manifest_text(tmp_path) == (
            f"file {P}.2.base.aof seq 2 type b\nfile {P}.2.incr.aof seq 2 type i\n"
        )
        base = (aof_dir(tmp_path) / f"{P}.2.base.aof").read_bytes()
        assert not base.startswith(b"REDIS")
        argvs = [argv for _, argv in records(base)]
        assert argvs[0] == [b"SELECT", b"0"]
        cmds = {argv[0].upper() for argv in argvs}
        assert {b"SET", b"RPUSH", b"SADD", b"ZADD", b"HMSET", b"PEXPIREAT", b"SELECT"} <= cmds
        assert [b"ZADD", b"zs", b"-0.10000000000000001", b"c", b"1.5", b"a", b"2", b"b"] in argvs
        before = digest(r)
        node = restart(node, *DEBUG, *AOF, *extra)
        assert digest(node.client()) == before
    finally:
        node.stop()


def test_old_single_file_aof_is_upgraded_to_the_multi_part_layout(tmp_path: Path) -> None:
    (tmp_path / P).write_bytes(resp("SELECT", "0") + resp("SET", "old", "style"))
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        assert r.get("old") == b"style"
        assert not (tmp_path / P).exists()
        assert manifest_files(tmp_path)[0] == (P, 1, "b")
        r.set("new", "1")
        node = restart(node, *DEBUG, *AOF)
        r = node.client()
        assert r.get("old") == b"style" and r.get("new") == b"1"
    finally:
        node.stop()


def test_debug_loadaof_reloads_the_dataset_from_the_aof(tmp_path: Path) -> None:
    node = start_keelkv(*DEBUG, *AOF, workdir=tmp_path)
    try:
        r = node.client()
        fill(r, 300)
        before = digest(r)
        assert reply(node, "DEBUG", "LOADAOF") == b"+OK\r\n"
        assert digest(r) == before
        assert "Append Only File loaded by DEBUG LOADAOF" in node.log()
    finally:
        node.stop()


def gone_or_zombie(pid: int) -> bool:
    """The child ended (it may exit between two psutil calls)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
