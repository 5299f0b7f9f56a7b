"""Writing the dataset in the background: one engine for BGSAVE and BGREWRITEAOF.

A job writes an RDB image of the dataset (a dump, or an AOF base with `aof-base 1`) to a
file, either from a forked child (`snapshot-mode fork`, persistence/child.py) or from inside
the node (`snapshot-mode live`, persistence/live_snapshot.py), and calls its owner back when
it ends. Only one job runs at a time (`server.child`), as Redis allows one fork child.

While a forked child runs, the parent samples its copy-on-write with psutil for INFO's
`current_cow_*`; the child reports progress and its own final figures over the msgpack pipe
and logs them (`Fork CoW for RDB: current N MB, peak N MB, average N MB`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from persistence.child import ChildProcess, ChildReporter, follow_child, fork_child
from persistence.dataset import count_keys, rdb_chunks
from persistence.forkmon import MB, CowSampler, fork_refusal, private_dirty
from persistence.live_snapshot import LiveSnapshot
from persistence.rdbfile import write_file_atomically

if TYPE_CHECKING:
    from node.server import Server

# How often the parent samples the child's copy-on-write, and the child its own.
COW_SAMPLE_INTERVAL = 0.25
CHILD_COW_INTERVAL = 1.0


class DumpJob:
    """What one background write is for, and how it went."""

    def __init__(
        self,
        kind: str,
        cow_label: str,
        paths: Callable[[int], tuple[str, str]],
        aof_base: bool,
        on_done: Callable[[DumpJob], None],
        fmt: str = "rdb",
    ) -> None:
        self.kind = kind  # "rdb" or "aof"
        self.cow_label = cow_label  # "RDB" or "AOF rewrite", as the CoW log line names it
        self.paths = paths  # pid -> (final path, temp path)
        self.aof_base = aof_base
        self.on_done = on_done
        self.fmt = fmt  # "rdb", or "resp" for an AOF base without the RDB preamble
        self.cow = CowSampler()
        self.keys_total = 0
        self.started = time.time()
        self.runner: Any = None  # the ChildProcess or LiveSnapshot doing the work
        self.final_path = ""  # where the file is once written (set when the job starts)
        self.temp_path = ""  # where it is written first
        self.abandoned = False  # stopped on purpose: its result must not be used
        self.fork_usec = 0

    @property
    def succeeded(self) -> bool:
        return bool(self.runner is not None and self.runner.succeeded)

    def cow_now(self) -> CowSampler:
        runner = self.runner
        if isinstance(runner, LiveSnapshot):
            self.cow.add(runner.copy_bytes + runner.early_bytes, time.monotonic())
        return self.cow

    def keys_done(self) -> int:
        runner = self.runner
        return int(runner.last_progress.get("keys", 0)) if runner is not None else 0

    def last_cow_size(self) -> int:
        final = self.runner.final if self.runner is not None else None
        return int((final or {}).get("cow", self.cow.current))


def start_job(server: Server, job: DumpJob) -> str | None:
    """Start `job` in the configured snapshot mode; returns why it could not start."""
    job.keys_total = count_keys(server)
    # The live snapshot writes RDB only: a RESP AOF base is always written by a child.
    live = server.config.snapshot_mode == "live" and job.fmt == "rdb"
    if live:
        final, temp = job.paths(os.getpid())
        job.final_path, job.temp_path = final, temp
        snap = LiveSnapshot(server, final, temp, aof_base=job.aof_base)
        job.runner = snap
        job.fork_usec = snap.copy_usec
        server.child = job
        server.cow_guard = snap.before_write
        server.start_background(_run_live, server, job)
        return None
    refusal = fork_refusal("BGSAVE" if job.kind == "rdb" else "BGREWRITEAOF")
    if refusal is not None:
        return refusal
    try:
        child = fork_child(
            job.kind,
            lambda reporter: _child_body(server, job, reporter),
            [s.fileno() for s in server.listen_sockets],
        )
    except OSError as exc:
        return f"fork: {exc.strerror}"
    job.runner = child
    job.final_path, job.temp_path = job.paths(child.pid)
    job.fork_usec = child.fork_usec
    server.child = job
    server.start_background(_watch_child, server, job)
    return None


async def _run_live(server: Server, job: DumpJob) -> None:
    snap: LiveSnapshot = job.runner
    try:
        await snap.run()
    finally:
        if server.cow_guard == snap.before_write:
            server.cow_guard = None
    job.cow_now()
    if snap.succeeded:
        server.log.notice(
            f"Live snapshot copy-on-write: {snap.early_keys} keys written early "
            f"({snap.early_bytes / MB:.2f} MB), key index copies {snap.copy_bytes / MB:.2f} MB"
        )
    _finish(server, job)


def _child_body(server: Server, job: DumpJob, reporter: ChildReporter) -> None:  # pragma: no cover
    """The forked child: write the file, report progress and copy-on-write, log them."""
    server.log.role = "C"
    config = server.config
    pid = os.getpid()
    final, temp = job.paths(pid)
    cow = CowSampler()
    last_sample = time.monotonic()

    def progress(keys: int) -> None:
        nonlocal last_sample
        now = time.monotonic()
        if now - last_sample >= CHILD_COW_INTERVAL:
            cow.add(private_dirty(pid), now)
            last_sample = now
        reporter.send({"type": "progress", "keys": keys, "cow": cow.current})

    incremental = (
        config.aof_rewrite_incremental_fsync if job.aof_base else config.rdb_save_incremental_fsync
    )
    if job.fmt == "resp":
        from persistence.aof.resp_base import resp_base_chunks

        chunks = resp_base_chunks(server, progress=progress)
    else:
        chunks = rdb_chunks(server, aof_base=job.aof_base, progress=progress)
    written = write_file_atomically(
        final,
        chunks,
        temp_path=temp,
        incremental_fsync=incremental,
    )
    if job.kind == "rdb":
        server.log.notice("DB saved on disk")
    cow.add(private_dirty(pid), time.monotonic())
    server.log.notice(
        f"Fork CoW for {job.cow_label}: current {cow.current // MB} MB, peak {cow.peak // MB} MB, "
        f"average {cow.average // MB} MB"
    )
    reporter.send({"type": "done", "keys": job.keys_total, "bytes": written, "cow": cow.current})


async def _watch_child(server: Server, job: DumpJob) -> None:
    child: ChildProcess = job.runner
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sample_cow, job, child.pid)
        await follow_child(child, lambda _c, _m: None)
        nursery.cancel_scope.cancel()
    _finish(server, job)


async def _sample_cow(job: DumpJob, pid: int) -> None:
    while True:
        value = await trio.to_thread.run_sync(private_dirty, pid)
        if value:
            job.cow.add(value, time.monotonic())
        await trio.sleep(COW_SAMPLE_INTERVAL)


def _finish(server: Server, job: DumpJob) -> None:
    if server.child is job:
        server.child = None
    job.on_done(job)
