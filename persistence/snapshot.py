"""RDB snapshots: SAVE, BGSAVE (forked child), save points, MISCONF, and their INFO fields.

The state and the log lines follow Redis 7.0's rdb.c and server.c, so INFO persistence and
the log read the same: `rdb_bgsave_in_progress`, `rdb_last_bgsave_status`, "Background
saving started by pid N", "Background saving terminated with success", and so on.

A background save forks (persistence/child.py). While the child writes, the parent samples
its copy-on-write with psutil (persistence/forkmon.py) for INFO's `current_cow_*`; the child
reports its progress and its own final figures over the msgpack pipe, and logs its
copy-on-write when it finishes ("Fork CoW for RDB: current N MB, peak N MB, average N MB").
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

import trio

from node.resp import ReplyError
from persistence.child import ChildProcess, ChildReporter, follow_child, fork_child
from persistence.dataset import count_keys, rdb_chunks
from persistence.forkmon import MB, CowSampler, fork_refusal, private_dirty
from persistence.live_snapshot import LiveSnapshot
from persistence.rdbfile import write_file_atomically

if TYPE_CHECKING:
    from node.server import Server

MISCONF_RDB = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
    "RDB error."
)
# After a failed BGSAVE, save points wait this long before trying again
# (CONFIG_BGSAVE_RETRY_DELAY).
BGSAVE_RETRY_DELAY = 5
# How often the parent samples the child's copy-on-write, and the child its own.
COW_SAMPLE_INTERVAL = 0.25
CHILD_COW_INTERVAL = 1.0


def temp_rdb_name(pid: int) -> str:
    return f"temp-{pid}.rdb"


class RdbSnapshots:
    """The RDB half of a node's persistence; `server.persistence.rdb`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.bgsave_scheduled = False
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0.0
        self.last_bgsave_time_sec = -1
        self.save_time_start = 0.0
        self.saves = 0
        self.last_cow_size = 0
        self.dirty_before_bgsave = 0
        self.keys_total = 0
        self.cow = CowSampler()
        self.total_forks = 0
        self.latest_fork_usec = 0

    # -- the one child slot ----------------------------------------------------------------

    @property
    def child(self) -> ChildProcess | None:
        return self.server.child

    def rdb_child(self) -> ChildProcess | None:
        child = self.server.child
        return child if child is not None and child.kind == "rdb" else None

    # -- SAVE ----------------------------------------------------------------------------

    def save(self) -> str | None:
        """rdbSave in the calling process; returns the error text, or None on success."""
        server = self.server
        config = server.config
        started = time.time()
        temp = temp_rdb_name(os.getpid())
        try:
            write_file_atomically(
                config.dbfilename,
                rdb_chunks(server),
                temp_path=temp,
                incremental_fsync=config.rdb_save_incremental_fsync,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            server.log.warning(
                f"Failed saving the RDB file {config.dbfilename} (in server root dir "
                f"{os.getcwd()}) through {temp}: {reason}"
            )
            self._set_status(False)
            return reason
        server.log.notice("DB saved on disk")
        server.dirty_at_last_save = server.dirty
        server.lastsave = int(started)
        self.saves += 1
        self._set_status(True)
        return None

    def _set_status(self, ok: bool) -> None:
        if ok != self.last_bgsave_ok:
            self.last_bgsave_ok = ok
            self.server.update_gates()

    # -- BGSAVE --------------------------------------------------------------------------

    def bgsave_command(self, schedule: bool) -> Any:
        server = self.server
        if self.rdb_child() is not None:
            return ReplyError("ERR Background save already in progress")
        if server.child is not None:
            if schedule:
                self.bgsave_scheduled = True
                return "Background saving scheduled"
            return ReplyError(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
            )
        err = self.start_bgsave()
        if err is not None:
            return ReplyError(f"ERR {err}")
        return "Background saving started"

    def start_bgsave(self) -> str | None:
        """rdbSaveBackground: fork a child that writes the dump; returns why it could not."""
        server = self.server
        self.last_bgsave_try = time.time()
        if server.config.snapshot_mode == "live":
            return self._start_live()
        refusal = fork_refusal("BGSAVE")
        if refusal is not None:
            server.log.warning(f"Can't save in background: {refusal}")
            self._set_status(False)
            return f"Background save refused: {refusal}"
        self.dirty_before_bgsave = server.dirty
        self.keys_total = count_keys(server)
        self.cow = CowSampler()
        self.save_time_start = time.time()
        try:
            child = fork_child("rdb", self._child_body, [s.fileno() for s in server.listen_sockets])
        except OSError as exc:
            server.log.warning(f"Can't save in background: fork: {exc.strerror}")
            self._set_status(False)
            return f"Can't save in background: fork: {exc.strerror}"
        server.child = child
        self.total_forks += 1
        self.latest_fork_usec = child.fork_usec
        server.log.notice(f"Background saving started by pid {child.pid}")
        server.start_background(self._watch_child, child)
        return None

    def _start_live(self) -> str | None:
        server = self.server
        self.dirty_before_bgsave = server.dirty
        self.cow = CowSampler()
        self.save_time_start = time.time()
        snap = LiveSnapshot(
            server, server.config.dbfilename, f"temp-live-{os.getpid()}-{int(time.time())}.rdb"
        )
        self.keys_total = snap.keys_total
        self.latest_fork_usec = snap.copy_usec
        server.child = snap
        server.cow_guard = snap.before_write
        server.log.notice(
            f"Background saving started (snapshot-mode live: {snap.keys_total} keys copied "
            f"by reference in {snap.copy_usec} usec, no fork)"
        )
        server.start_background(self._run_live, snap)
        return None

    async def _run_live(self, snap: LiveSnapshot) -> None:
        try:
            await snap.run()
        finally:
            if self.server.cow_guard == snap.before_write:
                self.server.cow_guard = None
        self.cow.add(snap.copy_bytes + snap.early_bytes, time.monotonic())
        if snap.succeeded:
            self.server.log.notice("DB saved on disk")
            self.server.log.notice(
                f"Live snapshot copy-on-write: {snap.early_keys} keys written early "
                f"({snap.early_bytes / MB:.2f} MB), key index copies {snap.copy_bytes / MB:.2f} MB"
            )
        self._bgsave_done(snap)

    def _child_body(self, reporter: ChildReporter) -> None:  # pragma: no cover - in the child
        """What the BGSAVE child does: write the dump, report, log its copy-on-write."""
        server = self.server
        server.log.role = "C"
        config = server.config
        pid = os.getpid()
        cow = CowSampler()
        last_sample = time.monotonic()

        def progress(keys: int) -> None:
            nonlocal last_sample
            now = time.monotonic()
            if now - last_sample >= CHILD_COW_INTERVAL:
                cow.add(private_dirty(pid), now)
                last_sample = now
            reporter.send({"type": "progress", "keys": keys, "cow": cow.current})

        written = write_file_atomically(
            config.dbfilename,
            rdb_chunks(server, progress=progress),
            temp_path=temp_rdb_name(pid),
            incremental_fsync=config.rdb_save_incremental_fsync,
        )
        server.log.notice("DB saved on disk")
        cow.add(private_dirty(pid), time.monotonic())
        server.log.notice(
            f"Fork CoW for RDB: current {cow.current // MB} MB, peak {cow.peak // MB} MB, "
            f"average {cow.average // MB} MB"
        )
        reporter.send(
            {
                "type": "done",
                "keys": self.keys_total,
                "bytes": written,
                "cow": cow.current,
                "cow_peak": cow.peak,
            }
        )

    async def _watch_child(self, child: ChildProcess) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sample_cow, child)
            await follow_child(child, lambda _c, _m: None)
            nursery.cancel_scope.cancel()
        self._bgsave_done(child)

    async def _sample_cow(self, child: ChildProcess) -> None:
        while True:
            value = await trio.to_thread.run_sync(private_dirty, child.pid)
            if value:
                self.cow.add(value, time.monotonic())
            await trio.sleep(COW_SAMPLE_INTERVAL)

    def _bgsave_done(self, child: Any) -> None:
        """backgroundSaveDoneHandlerDisk."""
        server = self.server
        if child.succeeded:
            server.log.notice("Background saving terminated with success")
            server.dirty_at_last_save = self.dirty_before_bgsave
            server.lastsave = int(time.time())
            self.saves += 1
            self._set_status(True)
        elif child.exit_signal is None:
            detail = f": {child.error}" if child.error else ""
            server.log.warning(f"Background saving error{detail}")
            self._set_status(False)
        else:
            server.log.warning(f"Background saving terminated by signal {child.exit_signal}")
            _remove_quietly(temp_rdb_name(child.pid))
            # SIGUSR1 is how keelkv itself stops a child: not a failure to persist.
            if child.exit_signal != signal.SIGUSR1:
                self._set_status(False)
        final = child.final or {}
        self.last_cow_size = int(final.get("cow", self.cow.current))
        self.last_bgsave_time_sec = int(time.time() - self.save_time_start)
        self.save_time_start = 0.0
        if server.child is child:
            server.child = None
        if self.bgsave_scheduled and server.child is None:
            self.bgsave_scheduled = False
            self.start_bgsave()

    def kill_child(self) -> None:
        """killRDBChild: stop a running BGSAVE and drop its temporary file."""
        child = self.rdb_child()
        if child is None:
            return
        child.kill()
        _remove_quietly(temp_rdb_name(child.pid))

    # -- save points ----------------------------------------------------------------------

    def cron(self) -> None:
        server = self.server
        if server.loading or server.child is not None:
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self.start_bgsave()
            return
        now = time.time()
        changes = server.dirty - server.dirty_at_last_save
        for seconds, needed in server.config.save:
            if (
                changes >= needed
                and now - server.lastsave > seconds
                and (self.last_bgsave_ok or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY)
            ):
                server.log.notice(f"{needed} changes in {seconds} seconds. Saving...")
                self.start_bgsave()
                return

    # -- gates and hooks -----------------------------------------------------------------

    def misconf(self, server: Server) -> ReplyError | None:
        config = server.config
        if not self.last_bgsave_ok and config.stop_writes_on_bgsave_error and config.save:
            return ReplyError(MISCONF_RDB)
        return None

    def prepare_shutdown(self, server: Server, nosave: bool, save: bool) -> str | None:
        if self.rdb_child() is not None:
            server.log.warning("There is a child saving an .rdb. Killing it!")
            self.kill_child()
        if (server.config.save and not nosave) or save:
            server.log.notice("Saving the final RDB snapshot before exiting.")
            if self.save() is not None:
                return "Error trying to save the DB, can't exit."
        return None

    def after_flushall(self, server: Server) -> None:
        """FLUSHALL also kills a running BGSAVE and, with save points, writes an empty dump.

        Redis keeps the dirty counter as it was (rdb_changes_since_last_save still counts the
        flush), so only the file and LASTSAVE change.
        """
        self.kill_child()
        if server.config.save:
            dirty_at_last_save = server.dirty_at_last_save
            self.save()
            server.dirty_at_last_save = dirty_at_last_save

    # -- INFO ---------------------------------------------------------------------------

    def info_persistence(self, server: Server) -> list[tuple[str, Any]]:
        child = self.server.child
        rdb_child = self.rdb_child()
        cow = self.cow
        if isinstance(child, LiveSnapshot):
            cow.add(child.copy_bytes + child.early_bytes, time.monotonic())
        in_progress = child is not None
        keys_done = int(child.last_progress.get("keys", 0)) if child is not None else 0
        total = self.keys_total if in_progress else 0
        return [
            ("current_cow_peak", cow.peak if in_progress else 0),
            ("current_cow_size", cow.current if in_progress else 0),
            (
                "current_cow_size_age",
                int(time.monotonic() - cow.sampled_at) if in_progress and cow.samples else 0,
            ),
            ("current_fork_perc", f"{keys_done * 100 / total if total else 0:.2f}"),
            ("current_save_keys_processed", keys_done),
            ("current_save_keys_total", total),
            ("rdb_bgsave_in_progress", int(rdb_child is not None)),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            (
                "rdb_current_bgsave_time_sec",
                int(time.time() - self.save_time_start) if rdb_child is not None else -1,
            ),
            ("rdb_saves", self.saves),
            ("rdb_last_cow_size", self.last_cow_size),
        ]

    def info_stats(self, server: Server) -> list[tuple[str, Any]]:
        return [("latest_fork_usec", self.latest_fork_usec), ("total_forks", self.total_forks)]


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
