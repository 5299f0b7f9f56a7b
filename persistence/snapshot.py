"""RDB snapshots: SAVE, BGSAVE (forked child), save points, MISCONF, and their INFO fields.

The state and the log lines follow Redis 7.0's rdb.c and server.c, so INFO persistence and
the log read the same: `rdb_bgsave_in_progress`, `rdb_last_bgsave_status`, "Background
saving started by pid N", "Background saving terminated with success", and so on.

A background save is a job of persistence/background.py: a forked child watched with
psutil, or a live snapshot inside the node (`snapshot-mode`).
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

from node.resp import ReplyError
from persistence.background import DumpJob, start_job
from persistence.dataset import rdb_chunks
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
        self.saves = 0
        self.last_cow_size = 0
        self.dirty_before_bgsave = 0
        self.total_forks = 0
        self.latest_fork_usec = 0

    # -- the one child slot ----------------------------------------------------------------

    def rdb_child(self) -> DumpJob | None:
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
        """rdbSaveBackground: write the dump in the background; returns why it could not."""
        server = self.server
        self.last_bgsave_try = time.time()
        self.dirty_before_bgsave = server.dirty
        job = DumpJob(
            "rdb",
            "RDB",
            lambda pid: (server.config.dbfilename, temp_rdb_name(pid)),
            aof_base=False,
            on_done=self._bgsave_done,
        )
        err = start_job(server, job)
        if err is not None:
            server.log.warning(f"Can't save in background: {err}")
            self._set_status(False)
            if err.startswith("not enough memory"):
                return f"Background save refused: {err}"
            return f"Can't save in background: {err}"
        self.total_forks += 1
        self.latest_fork_usec = job.fork_usec
        if isinstance(job.runner, LiveSnapshot):
            server.log.notice(
                f"Background saving started (snapshot-mode live: {job.keys_total} keys copied "
                f"by reference in {job.fork_usec} usec, no fork)"
            )
        else:
            server.log.notice(f"Background saving started by pid {job.runner.pid}")
        return None

    def _bgsave_done(self, job: DumpJob) -> None:
        """backgroundSaveDoneHandlerDisk."""
        server = self.server
        runner = job.runner
        if runner.succeeded:
            if isinstance(runner, LiveSnapshot):
                server.log.notice("DB saved on disk")
            server.log.notice("Background saving terminated with success")
            server.dirty_at_last_save = self.dirty_before_bgsave
            server.lastsave = int(time.time())
            self.saves += 1
            self._set_status(True)
        elif runner.exit_signal is None:
            detail = f": {runner.error}" if runner.error else ""
            server.log.warning(f"Background saving error{detail}")
            self._set_status(False)
        else:
            server.log.warning(f"Background saving terminated by signal {runner.exit_signal}")
            _remove_quietly(temp_rdb_name(runner.pid))
            # SIGUSR1 is how keelkv itself stops a child: not a failure to persist.
            if runner.exit_signal != signal.SIGUSR1:
                self._set_status(False)
        self.last_cow_size = job.last_cow_size()
        self.last_bgsave_time_sec = int(time.time() - job.started)
        if self.bgsave_scheduled and server.child is None:
            self.bgsave_scheduled = False
            self.start_bgsave()
        server.persistence.after_job(job)

    def kill_child(self) -> None:
        """killRDBChild: stop a running BGSAVE and drop its temporary file."""
        job = self.rdb_child()
        if job is None:
            return
        job.runner.kill()
        _remove_quietly(temp_rdb_name(job.runner.pid))

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
        job = server.child
        rdb_job = self.rdb_child()
        in_progress = job is not None
        cow = job.cow_now() if job is not None else None
        keys_done = job.keys_done() if job is not None else 0
        total = job.keys_total if job is not None else 0
        return [
            ("current_cow_peak", cow.peak if cow else 0),
            ("current_cow_size", cow.current if cow else 0),
            (
                "current_cow_size_age",
                int(time.monotonic() - cow.sampled_at) if cow and cow.samples else 0,
            ),
            ("current_fork_perc", f"{keys_done * 100 / total if total else 0:.2f}"),
            ("current_save_keys_processed", keys_done if in_progress else 0),
            ("current_save_keys_total", total),
            ("rdb_bgsave_in_progress", int(rdb_job is not None)),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            (
                "rdb_current_bgsave_time_sec",
                int(time.time() - rdb_job.started) if rdb_job is not None else -1,
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
