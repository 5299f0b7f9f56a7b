"""SIGKILL crash drills: what a client saw acknowledged is in the AOF after a restart.

Each writer pipelines batches of `RPUSH log:<w> <seq>`, `INCR ctr:<w>`, `SET k:<w>:<seq>` and
records, per sequence number, when all three replies arrived. The node is SIGKILLed at a
random moment (some while a BGREWRITEAOF runs) and restarted on the same directory; then

* `log:<w>` is exactly 0, 1, ..., m-1: nothing acknowledged is missing, nothing is applied
  twice, nothing is out of order (a duplicate would show a command replayed twice);
* m covers every acknowledged seq (`appendfsync always`), or all but those acknowledged in
  the last ~2 s before the kill (`everysec`);
* `ctr:<w>` and the `k:<w>:*` keys agree with it.

A SIGKILL leaves the page cache alone, so these drills check what reaches the kernel before
a reply; fsync itself is exercised by the disk-full tests.
The seed of each run is printed; `KEELKV_CRASH_SEED=<n>` replays one.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.harness import ServerProcess, reply_length, start_keelkv

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
DEBUG = ("--enable-debug-command", "yes")
READ_TIMEOUT = 5.0  # a reply held this long on a live node is a lost wake-up, not fsync
EVERYSEC_LOSS_WINDOW = 2.0


@dataclass
class Writer:
    """One pipelining client; `acked_at[seq]` is when seq's three replies arrived."""

    port: int
    name: str
    start_seq: int
    batch: int
    sent: int = 0  # sequence numbers sent so far: start_seq .. sent-1
    acked_at: dict[int, float] = field(default_factory=dict)
    error: str = ""
    held: bool = False  # a reply did not come within READ_TIMEOUT while the node lived
    rounds: int = 0
    # Unacknowledged seqs a stop cut after their RPUSH: their SET may never have run.
    cut: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def acked(self) -> int:
        """One past the highest acknowledged seq (acks arrive in order)."""
        return max(self.acked_at, default=self.start_seq - 1) + 1

    def start(self) -> None:
        self.sent = self.start_seq
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(READ_TIMEOUT + 5)

    def _run(self) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=READ_TIMEOUT)
        except OSError as exc:
            self.error = f"connect: {exc}"
            return
        buf = b""
        with sock:
            while not self._stop.is_set():
                first = self.sent
                out = []
                for seq in range(first, first + self.batch):
                    out.append(_resp(b"RPUSH", f"log:{self.name}".encode(), b"%d" % seq))
                    out.append(_resp(b"INCR", f"ctr:{self.name}".encode()))
                    out.append(_resp(b"SET", f"k:{self.name}:{seq}".encode(), b"%d" % seq))
                try:
                    sock.sendall(b"".join(out))
                except OSError:
                    return
                self.sent = first + self.batch
                for seq in range(first, first + self.batch):
                    replies = []
                    while len(replies) < 3:
                        n = reply_length(buf)
                        if n is not None:
                            replies.append(buf[:n])
                            buf = buf[n:]
                            continue
                        try:
                            chunk = sock.recv(65536)
                        except TimeoutError:
                            self.held = True
                            return
                        except OSError:
                            return
                        if not chunk:
                            return
                        buf += chunk
                    if replies[0][:1] != b":" or replies[1][:1] != b":" or replies[2] != b"+OK\r\n":
                        self.error = f"seq {seq}: unexpected replies {replies!r}"
                        return
                    self.acked_at[seq] = time.time()


def _resp(*argv: bytes) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


def fork_children(node: ServerProcess) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(node.pid).children()}
    except psutil.NoSuchProcess:
        return set()


def kill_orphans(node: ServerProcess, known: set[int]) -> None:
    """A rewrite child outlives its SIGKILLed parent: stop it by its own PID."""
    pids = set(known) | {int(p) for p in re.findall(r"rewriting started by pid (\d+)", node.log())}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if "node.cli" not in " ".join(proc.cmdline()) or proc.cwd() != str(node.workdir):
                continue  # not ours (a PID reused by another process)
            proc.kill()
            proc.wait(5)
        except (psutil.NoSuchProcess, psutil.TimeoutExpired):
            pass


def sigkill(node: ServerProcess) -> None:
    children = fork_children(node)
    node.stop(signal.SIGKILL)
    kill_orphans(node, children)


def manifest(workdir: Path) -> tuple[list[str], list[str]]:
    """(base file names, incr file names) in the manifest."""
    text = (workdir / AOF_DIR / MANIFEST).read_text()
    return (
        re.findall(r"^file (\S+) seq \d+ type b$", text, re.M),
        re.findall(r"^file (\S+) seq \d+ type i$", text, re.M),
    )


@dataclass
class Drill:
    policy: str
    mode: str
    rewrites: bool
    rounds: int
    stop: str = "kill"  # "kill": SIGKILL; "term": SIGTERM, a clean shutdown mid-stream


def check_survivors(
    node: ServerProcess, writers: list[Writer], policy: str, killed_at: float
) -> int:
    """Assert the restarted node holds what the writers saw acknowledged; returns seqs lost."""
    r = node.client()
    lost = 0
    for w in writers:
        log = [int(x) for x in r.lrange(f"log:{w.name}", 0, -1)]
        m = len(log)
        assert log == list(range(m)), (
            f"{w.name}: log is not 0..{m - 1} (duplicates, gaps or reordering): "
            f"first bad index {next(i for i, v in enumerate(log) if v != i)}"
        )
        assert m <= w.sent, f"{w.name}: {m} seqs survived but only {w.sent} were sent"
        # INCR follows its RPUSH: a kill between them leaves ctr one short, once per round.
        ctr = int(r.get(f"ctr:{w.name}") or 0)
        w.rounds += 1
        assert m - w.rounds <= ctr <= m, f"{w.name}: ctr {ctr} vs log length {m}"
        missing = [seq for seq in range(m, w.acked)]
        if policy == "always":
            assert not missing, (
                f"{w.name}: acknowledged seqs {missing[0]}..{missing[-1]} lost "
                f"({len(missing)} of {w.acked})"
            )
        else:
            early = [s for s in missing if w.acked_at[s] < killed_at - EVERYSEC_LOSS_WINDOW]
            assert not early, (
                f"{w.name}: lost seqs acknowledged more than {EVERYSEC_LOSS_WINDOW}s before "
                f"the kill: {early[:5]}..."
            )
        lost += len(missing)
        sample = random.sample(range(w.acked), min(w.acked, 200)) if w.acked else []
        if m > w.acked:
            # The last seq in the log was not acknowledged: the stop may have come between
            # its RPUSH and its SET (a batch read in two parts), and it is never resent.
            w.cut.add(m - 1)
        for seq in [*sample, w.acked - 1] if w.acked else sample:
            if seq >= m or seq in w.cut:
                continue
            assert r.get(f"k:{w.name}:{seq}") == b"%d" % seq, f"{w.name}: k:{seq} missing"
        w.start_seq = m  # the next round continues the sequence from what survived
    r.close()
    return lost


DRILLS = [
    Drill("always", "fork", rewrites=True, rounds=7),
    Drill("always", "live", rewrites=True, rounds=7),
    Drill("always", "live", rewrites=False, rounds=3),
    Drill("everysec", "live", rewrites=True, rounds=4),
    Drill("always", "live", rewrites=True, rounds=3, stop="term"),
    Drill("everysec", "fork", rewrites=True, rounds=2, stop="term"),
]


@pytest.mark.parametrize(
    "drill",
    DRILLS,
    ids=lambda d: f"{d.policy}-{d.mode}-{'rewrites' if d.rewrites else 'plain'}-{d.stop}",
)
def test_sigkill_never_loses_an_acknowledged_write(drill: Drill, tmp_path: Path) -> None:
    seed = int(os.environ.get("KEELKV_CRASH_SEED", time.time_ns() % 1_000_000))
    print(f"seed {seed}")
    rng = random.Random(seed)
    args = (
        *DEBUG,
        "--appendonly",
        "yes",
        "--appendfsync",
        drill.policy,
        "--snapshot-mode",
        drill.mode,
        "--auto-aof-rewrite-percentage",
        "0",
    )
    node = start_keelkv(*args, workdir=tmp_path)
    writers = [Writer(node.port, f"w{i}", 0, batch=rng.choice((8, 32, 64))) for i in range(2)]
    killed_mid_rewrite = 0
    try:
        # A base big enough that a rewrite takes a while (written by the fork or live mode).
        node.client().execute_command("DEBUG", "POPULATE", "100000", "bulk", "20")
        for round_no in range(drill.rounds):
            for w in writers:
                w.acked_at.clear()
                w.held = False
                w._stop.clear()
                w.port = node.port
                w.start()
            time.sleep(rng.uniform(0.05, 0.6))
            before = manifest(tmp_path)
            if drill.rewrites and round_no % 3 != 2:
                r = node.client()
                assert r.bgrewriteaof()
                r.close()
                # Round 0 stops the node while the rewrite surely runs; others at random.
                time.sleep(0.0 if round_no == 0 else rng.uniform(0.0, 0.3))
            for w in writers:
                assert not w.held, f"round {round_no}: {w.name} got no reply for {READ_TIMEOUT}s"
            killed_at = time.time()
            if drill.stop == "term":
                assert node.stop(signal.SIGTERM) == 0
            else:
                sigkill(node)
            after = manifest(tmp_path)
            if after[0] == before[0] and len(after[1]) > len(before[1]):
                killed_mid_rewrite += 1  # a new incr file, but still the old base
            for w in writers:
                w.stop()
                assert not w.error, w.error
                assert not w.held, f"round {round_no}: {w.name} got no reply for {READ_TIMEOUT}s"
            acked = [w.acked for w in writers]
            node = start_keelkv(*args, workdir=tmp_path, port=node.port)
            # A clean shutdown flushes and fsyncs: nothing acknowledged may be missing.
            policy = "always" if drill.stop == "term" else drill.policy
            lost = check_survivors(node, writers, policy, killed_at)
            print(f"round {round_no}: acked {acked}, lost {lost}")
        if drill.rewrites and drill.stop == "kill":
            # At least one stop landed between the new incr file and the new base.
            assert killed_mid_rewrite > 0, "no round was killed during a rewrite"
    finally:
        for w in writers:
            w._stop.set()
        sigkill(node)


def test_replies_are_released_when_the_writes_stop_during_rewrites(tmp_path: Path) -> None:
    """Group commit under rewrites: every held reply arrives without further traffic."""
    node = start_keelkv(*DEBUG, "--appendonly", "yes", "--appendfsync", "always", workdir=tmp_path)
    writers = [Writer(node.port, f"w{i}", 0, batch=50) for i in range(3)]
    try:
        for w in writers:
            w.start()
        r = node.client()
        for _ in range(30):
            time.sleep(0.05)
            r.bgrewriteaof()
            while r.info("persistence")["aof_rewrite_in_progress"]:
                time.sleep(0.01)
        for w in writers:
            w.stop()
        for w in writers:
            assert not w.error, w.error
            assert not w.held, f"{w.name}: a reply was held {READ_TIMEOUT}s after writes stopped"
            assert w.acked == w.sent
        node.stop()
        node = start_keelkv(*DEBUG, "--appendonly", "yes", workdir=tmp_path, port=node.port)
        check_survivors(node, writers, "always", time.time())
        for w in writers:
            assert int(node.client().get(f"ctr:{w.name}")) == w.sent
    finally:
        sigkill(node)


@pytest.mark.parametrize("mode", ["live", "fork"])
def test_appendonly_switched_on_under_pipelined_writes_keeps_them_all_in_order(
    tmp_path: Path, mode: str
) -> None:
    """CONFIG SET appendonly yes while `always` writers pipeline: the temporary incr file
    becomes the first incr and holds every write after the rewrite's point in time."""
    for attempt in range(3):
        workdir = tmp_path / str(attempt)
        workdir.mkdir()
        node = start_keelkv(
            *DEBUG, "--appendfsync", "always", "--snapshot-mode", mode, workdir=workdir
        )
        writers = [Writer(node.port, f"w{i}", 0, batch=(4, 16, 64)[i]) for i in range(3)]
        try:
            node.client().execute_command("DEBUG", "POPULATE", "20000")
            for w in writers:
                w.start()
            time.sleep(0.2)
            r = node.client()
            assert r.config_set("appendonly", "yes")
            deadline = time.monotonic() + 30
            while (i := r.info("persistence"))["aof_enabled"] == 0 or i["aof_rewrite_in_progress"]:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            time.sleep(0.2)
            for w in writers:
                w.stop()
                assert not w.error and not w.held
            node.stop()
            node = start_keelkv(*DEBUG, "--appendonly", "yes", workdir=workdir, port=node.port)
            check_survivors(node, writers, "always", time.time())
        finally:
            for w in writers:
                w._stop.set()
            sigkill(node)


def test_appendfsync_changed_under_pipelined_writes_strands_no_reply(tmp_path: Path) -> None:
    """always -> everysec -> always -> no while writers wait for fsyncs: every reply comes,
    and every acknowledged write is in the AOF, in order."""
    node = start_keelkv(*DEBUG, "--appendonly", "yes", "--appendfsync", "always", workdir=tmp_path)
    writers = [Writer(node.port, f"w{i}", 0, batch=(4, 32, 64)[i]) for i in range(3)]
    try:
        for w in writers:
            w.start()
        r = node.client()
        for policy in ("everysec", "always", "no", "always", "everysec"):
            time.sleep(0.3)
            assert r.config_set("appendfsync", policy)
        time.sleep(0.3)
        for w in writers:
            w.stop()
            assert not w.error
            assert not w.held, f"{w.name}: a reply was held {READ_TIMEOUT}s"
            assert w.acked == w.sent
        node.stop()
        node = start_keelkv(*DEBUG, "--appendonly", "yes", workdir=tmp_path, port=node.port)
        check_survivors(node, writers, "always", time.time())
    finally:
        for w in writers:
            w._stop.set()
        sigkill(node)
