"""The multi-part AOF of one node: its directory and manifest, the writer, rewrites, INFO.

Layout and lifecycle are Redis 7.0's (spec/aof.md): `<dir>/<appenddirname>/` holds a base
(`P.<n>.base.rdb`, or `.aof` with aof-use-rdb-preamble no), incr files `P.<n>.incr.aof` and
`P.manifest`, which is only ever replaced atomically. A rewrite first opens a new incr file
(so no write during the rewrite can be lost), then writes the new base in the background
(persistence/background.py: fork or live snapshot); on success the manifest switches to the
new base plus the new incr and the old files become history and are deleted.

States: `off`; `on`; `wait_rewrite` (CONFIG SET appendonly yes on a running node: writes
already go to a temporary incr file, and the AOF is switched on when the first rewrite
succeeds).
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

from node.resp import ReplyError, Status
from persistence.aof.manifest import AofInfo, Manifest, manifest_name, temp_manifest_name
from persistence.aof.writer import AofWriter
from persistence.background import DumpJob, start_job
from persistence.dataset import rdb_chunks
from persistence.rdbfile import fsync_directory, write_file_atomically

if TYPE_CHECKING:
    from node.server import Server

# After this many failed automatic rewrites in a row, wait before the next (Redis 7.0).
REWRITE_FAILURE_LIMIT = 3
REWRITE_MAX_DELAY_MINUTES = 60


class AppendOnly:
    """`server.persistence.aof`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.state = "off"
        self.manifest: Manifest | None = None
        self.writer: AofWriter | None = None
        self.rewrite_scheduled = False
        self.last_rewrite_ok = True
        self.last_rewrite_time_sec = -1
        self.rewrites = 0
        self.consecutive_failures = 0
        self.next_auto_rewrite = 0.0
        self.last_cow_size = 0
        self.base_size = 0  # aof_current_size right after the last rewrite (or load)
        self.other_files_size = 0  # base + incr files other than the one being written
        self.temp_incr_fd = -1

    # -- names ----------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        return str(self.server.config.appendfilename)

    @property
    def directory(self) -> str:
        return os.path.join(os.getcwd(), str(self.server.config.appenddirname))

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def manifest_path(self) -> str:
        return self.path(manifest_name(self.prefix))

    def has_manifest(self) -> bool:
        return os.path.exists(self.manifest_path())

    def read_manifest(self) -> Manifest:
        with open(self.manifest_path(), "rb") as f:
            return Manifest.parse(f.read())

    def persist_manifest(self, manifest: Manifest) -> None:
        """Write it to a temp file, fsync, rename over the manifest, fsync the directory."""
        write_file_atomically(
            self.manifest_path(),
            [manifest.render()],
            temp_path=self.path(temp_manifest_name(self.prefix)),
        )
        self.manifest = manifest

    # -- switching on ---------------------------------------------------------------------

    def create_fresh(self) -> None:
        """No AOF yet: a base of the current dataset, an empty incr, and the manifest."""
        os.makedirs(self.directory, exist_ok=True)
        manifest = Manifest(None, [], [])
        base = manifest.next_base(self.prefix, bool(self.server.config.aof_use_rdb_preamble))
        self._write_base_sync(base)
        manifest.base = base
        incr = manifest.next_incr(self.prefix)
        _create_empty(self.path(incr.name))
        manifest.incrs.append(incr)
        self.persist_manifest(manifest)
        self.server.log.notice(f"Creating AOF base file {base.name} on server start")
        self.server.log.notice(f"Creating AOF incr file {incr.name} on server start")

    def _write_base_sync(self, base: AofInfo) -> None:
        if base.name.endswith(".rdb"):
            chunks = rdb_chunks(self.server, aof_base=True)
        else:
            from persistence.aof.resp_base import resp_base_chunks

            chunks = resp_base_chunks(self.server)
        write_file_atomically(
            self.path(base.name), chunks, temp_path=self.path(f"temp-{base.name}")
        )

    def open_for_append(self) -> None:
        """Append to the manifest's last incr file (creating one if there is none)."""
        manifest = self.manifest
        assert manifest is not None
        if not manifest.incrs:
            incr = manifest.next_incr(self.prefix)
            _create_empty(self.path(incr.name))
            new = manifest.copy()
            new.incrs.append(incr)
            self.persist_manifest(new)
            manifest = new
        current = manifest.incrs[-1]
        fd = os.open(
            self.path(current.name), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        size = os.fstat(fd).st_size
        self.other_files_size = self._sizes_except(current.name)
        self.base_size = self.other_files_size + size
        self._attach(AofWriter(self.server, fd, size))
        self.state = "on"

    def _sizes_except(self, current: str) -> int:
        manifest = self.manifest
        assert manifest is not None
        names = ([manifest.base.name] if manifest.base else []) + [i.name for i in manifest.incrs]
        return sum(
            os.path.getsize(self.path(n))
            for n in names
            if n != current and os.path.exists(self.path(n))
        )

    def _attach(self, writer: AofWriter) -> None:
        server = self.server
        self.writer = writer
        server.propagator.consumers.append(writer)
        server.aof_barrier = writer
        server.disk_error_checks.append(writer.misconf)
        server.start_background(writer.run)

    def _detach(self) -> None:
        writer = self.writer
        if writer is None:
            return
        server = self.server
        try:
            writer.flush_and_sync()
        except OSError as exc:
            server.log.warning(f"Error flushing the AOF while closing it: {exc.strerror}")
        writer.close()
        if writer in server.propagator.consumers:
            server.propagator.consumers.remove(writer)
        if writer.misconf in server.disk_error_checks:
            server.disk_error_checks.remove(writer.misconf)
        if server.aof_barrier is writer:
            server.aof_barrier = None
        os.close(writer.fd)
        self.writer = None
        server.update_gates()

    # -- CONFIG SET appendonly -------------------------------------------------------------

    def writer_settings_changed(self, server: Server) -> str | None:
        """appendfsync and aof-timestamp-enabled take effect on the next write."""
        writer = self.writer
        if writer is not None:
            if writer.policy == "always" and server.config.appendfsync != "always":
                try:
                    writer.flush_and_sync()  # and send the replies it held
                except OSError as exc:
                    return f"the AOF could not be flushed ({exc.strerror})"
            writer.policy = server.config.appendfsync
            writer.timestamps = bool(server.config.aof_timestamp_enabled)
        return None

    def config_changed(self, server: Server) -> str | None:
        want = bool(server.config.appendonly)
        if want and self.state == "off":
            return self.start_at_runtime()
        if not want and self.state != "off":
            self.stop()
        return None

    def start_at_runtime(self) -> str | None:
        """appendonly yes on a running node: rewrite, and switch on when it succeeds."""
        os.makedirs(self.directory, exist_ok=True)
        temp = self.path(f"temp-{self.prefix}.incr")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        self.manifest = self.read_manifest() if self.has_manifest() else Manifest(None, [], [])
        self._attach(AofWriter(self.server, fd, 0))
        self.state = "wait_rewrite"
        if self.rewrite_job() is not None:
            # Its base misses the writes made between its start and now (startAppendOnly).
            self.server.log.warning(
                "AOF was enabled but there is already an AOF rewriting in background. "
                "Stopping background AOF and starting a rewrite now."
            )
            self.kill_rewrite()
            self.rewrite_scheduled = True
            return None
        if self.server.child is not None:
            self.rewrite_scheduled = True
            return None
        err = self.start_rewrite(switch_incr=False)
        if err is not None:
            self.rewrite_scheduled = True
        return None

    def stop(self) -> None:
        """appendonly no: flush, fsync and close; stop a running or scheduled rewrite."""
        self.rewrite_scheduled = False
        self.kill_rewrite()
        self._detach()
        if self.state == "wait_rewrite":
            _unlink(self.path(f"temp-{self.prefix}.incr"))
        self.state = "off"

    # -- rewrite ---------------------------------------------------------------------------

    def rewrite_job(self) -> DumpJob | None:
        job = self.server.child
        return job if job is not None and job.kind == "aof" else None

    def bgrewriteaof_command(self, in_exec: bool) -> Any:
        server = self.server
        if self.rewrite_job() is not None:
            return ReplyError("ERR Background append only file rewriting already in progress")
        if server.child is not None or in_exec:
            self.rewrite_scheduled = True
            self.consecutive_failures = 0
            return Status("Background append only file rewriting scheduled")
        self.consecutive_failures = 0
        err = self.start_rewrite()
        if err is not None:
            return ReplyError(
                "ERR Can't execute an AOF background rewriting. Please check the server logs "
                "for more information."
            )
        return Status("Background append only file rewriting started")

    def start_rewrite(self, switch_incr: bool = True) -> str | None:
        """rewriteAppendOnlyFileBackground; returns why it could not start."""
        server = self.server
        self.rewrite_scheduled = False
        if self.state == "on" and switch_incr:
            self._open_new_incr()
        elif self.manifest is None:
            os.makedirs(self.directory, exist_ok=True)
            self.manifest = self.read_manifest() if self.has_manifest() else Manifest(None, [], [])
        cwd = os.getcwd()
        job = DumpJob(
            "aof",
            "AOF rewrite",
            lambda pid: (
                os.path.join(cwd, f"temp-rewriteaof-bg-{pid}.aof"),
                os.path.join(cwd, f"temp-rewriteaof-{pid}.aof"),
            ),
            aof_base=True,
            on_done=self._rewrite_done,
            fmt="rdb" if server.config.aof_use_rdb_preamble else "resp",
        )
        err = start_job(server, job)
        if err is not None:
            server.log.warning(f"Can't rewrite append only file in background: {err}")
            self.last_rewrite_ok = False
            return err
        persistence = server.persistence
        persistence.rdb.total_forks += 1
        persistence.rdb.latest_fork_usec = job.fork_usec
        pid = getattr(job.runner, "pid", 0)
        where = f"by pid {pid}" if pid else "(snapshot-mode live, no fork)"
        server.log.notice(f"Background append only file rewriting started {where}")
        return None

    def _open_new_incr(self) -> None:
        """The incr file that takes every write from now on (before the base is written)."""
        writer = self.writer
        manifest = self.manifest
        assert writer is not None and manifest is not None
        incr = manifest.next_incr(self.prefix)
        fd = os.open(
            self.path(incr.name), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        new = manifest.copy()
        new.incrs.append(incr)
        self.persist_manifest(new)
        self.server.log.notice(f"Creating AOF incr file {incr.name} on background rewrite")
        self.other_files_size += writer.file_size
        writer.switch_to(fd)
        # The new incr file starts with a SELECT, like Redis's (whose next #TS: waits for the
        # next second: the last annotated second is not reset).
        writer.encoder.selected_db = -1

    def _rewrite_done(self, job: DumpJob) -> None:
        """backgroundRewriteDoneHandler."""
        server = self.server
        runner = job.runner
        self.last_cow_size = job.last_cow_size()
        self.last_rewrite_time_sec = int(time.time() - job.started)
        if not runner.succeeded or job.abandoned:
            # A rewrite stopped on purpose (SIGUSR1, killAppendOnlyChild) is not a failure.
            if runner.exit_signal != signal.SIGUSR1 and not job.abandoned:
                self.last_rewrite_ok = False
                self.consecutive_failures += 1
            _unlink(job.final_path)
            _unlink(job.temp_path)
            if runner.exit_signal is not None:
                server.log.warning(
                    f"Background AOF rewrite terminated by signal {runner.exit_signal}"
                )
            else:
                detail = f": {runner.error}" if runner.error else ""
                server.log.warning(f"Background AOF rewrite terminated with error{detail}")
            if self.state == "wait_rewrite":
                self.rewrite_scheduled = True
            self._after_failure_delay()
            server.persistence.after_job(job)
            return
        server.log.notice("Background AOF rewrite terminated with success")
        try:
            self._install_new_base(job.final_path)
        except OSError as exc:
            self.last_rewrite_ok = False
            self.consecutive_failures += 1
            server.log.warning(f"Error trying to install the rewritten AOF: {exc.strerror}")
            _unlink(job.final_path)
            server.persistence.after_job(job)
            return
        self.last_rewrite_ok = True
        self.consecutive_failures = 0
        self.rewrites += 1
        server.log.notice("Background AOF rewrite finished successfully")
        server.persistence.after_job(job)

    def _install_new_base(self, temp_base: str) -> None:
        server = self.server
        manifest = self.manifest
        assert manifest is not None
        new = manifest.copy()
        old_base = new.base
        base = new.next_base(self.prefix, bool(server.config.aof_use_rdb_preamble))
        os.rename(temp_base, self.path(base.name))
        server.log.notice(
            f"Successfully renamed the temporary AOF base file {os.path.basename(temp_base)} "
            f"into {base.name}"
        )
        new.base = base
        if self.state == "wait_rewrite":
            writer = self.writer
            assert writer is not None
            incr = new.next_incr(self.prefix)
            writer.write_pending()
            os.rename(self.path(f"temp-{self.prefix}.incr"), self.path(incr.name))
            old_incrs = new.incrs
            new.incrs = [incr]
        elif self.state == "on":
            old_incrs = new.incrs[:-1]
            new.incrs = new.incrs[-1:]
        else:  # BGREWRITEAOF with the AOF off: a base and a manifest naming it
            old_incrs = new.incrs
            new.incrs = []
        # Redis lists the replaced incr files first, then the replaced base.
        new.history += [AofInfo(i.name, i.seq, "h") for i in old_incrs]
        if old_base is not None:
            new.history.append(AofInfo(old_base.name, old_base.seq, "h"))
        self.persist_manifest(new)
        fsync_directory(self.directory)
        if self.state == "wait_rewrite":
            self.state = "on"
            server.log.notice("AOF rewrite is done: the append only file is enabled")
        self._collect_history()
        writer = self.writer
        current = writer.file_size if writer is not None else 0
        self.other_files_size = os.path.getsize(self.path(base.name))
        self.base_size = self.other_files_size + current

    def _collect_history(self) -> None:
        manifest = self.manifest
        assert manifest is not None
        if self.server.config.aof_disable_auto_gc or not manifest.history:
            return
        for info in manifest.history:
            self.server.log.notice(f"Removing the history file {info.name} in the background")
            _unlink(self.path(info.name))
        new = manifest.copy()
        new.history = []
        self.persist_manifest(new)

    def _after_failure_delay(self) -> None:
        if self.consecutive_failures >= REWRITE_FAILURE_LIMIT:
            minutes = min(
                2 ** (self.consecutive_failures - REWRITE_FAILURE_LIMIT), REWRITE_MAX_DELAY_MINUTES
            )
            self.next_auto_rewrite = time.time() + minutes * 60
            self.server.log.warning(
                f"Background AOF rewrite has repeatedly failed and triggered the limit, will "
                f"retry in {minutes} minutes"
            )

    def kill_rewrite(self) -> None:
        job = self.rewrite_job()
        if job is not None:
            job.abandoned = True  # even if it already finished, its base is not installed
            job.runner.kill()

    # -- DEBUG LOADAOF ----------------------------------------------------------------------

    def debug_loadaof(self) -> str | None:
        """Flush the AOF, empty the dataset, and load it back from the AOF files."""

        from persistence.aof.loader import AofLoadError, load_files_sync
        from persistence.loader import (
            LoadingProgress,
            dataset_loading,
            empty_dataset,
            install_dataset,
        )

        server = self.server
        if self.writer is not None:
            self.writer.flush_and_sync()
        if not self.has_manifest():
            return "ERR no AOF to load (appendonly is off and no manifest exists)"
        manifest = self.read_manifest()
        empty_dataset(server)
        try:
            with dataset_loading(server):
                load_files_sync(
                    server, self.directory, load_order(manifest), LoadingProgress(server, 0, "AOF")
                )
        except (AofLoadError, OSError) as exc:
            server.log.warning(f"DEBUG LOADAOF failed: {exc}")
            return "ERR Error trying to load the AOF files, check server logs."
        finally:
            install_dataset(server)
        server.dirty_at_last_save = server.dirty
        server.log.warning("Append Only File loaded by DEBUG LOADAOF")
        return None

    # -- cron -------------------------------------------------------------------------------

    def cron(self) -> None:
        server = self.server
        if server.loading or server.child is not None:
            return
        if self.rewrite_scheduled:
            self.start_rewrite()
            return
        config = server.config
        percentage = config.auto_aof_rewrite_percentage
        if self.state != "on" or not percentage or time.time() < self.next_auto_rewrite:
            return
        size = self.current_size()
        if size <= config.auto_aof_rewrite_min_size:
            return
        growth = size * 100 // max(self.base_size, 1) - 100
        if growth >= percentage:
            server.log.notice(f"Starting automatic rewriting of AOF on {growth}% growth")
            self.start_rewrite()

    def current_size(self) -> int:
        writer = self.writer
        return self.other_files_size + (writer.file_size if writer is not None else 0)

    # -- shutdown --------------------------------------------------------------------------

    def prepare_shutdown(self, server: Server, nosave: bool, save: bool) -> str | None:
        if self.rewrite_job() is not None:
            server.log.warning("There is a child rewriting the AOF. Killing it!")
            self.kill_rewrite()
        if self.writer is not None:
            server.log.notice("Calling fsync() on the AOF file.")
            try:
                self.writer.flush_and_sync()
            except OSError as exc:
                return f"Error flushing the AOF at shutdown: {exc.strerror}"
        return None

    # -- INFO -------------------------------------------------------------------------------

    def info_persistence(self, server: Server) -> list[tuple[str, Any]]:
        job = self.rewrite_job()
        fields: list[tuple[str, Any]] = [
            ("aof_enabled", int(self.state != "off")),
            ("aof_rewrite_in_progress", int(job is not None)),
            ("aof_rewrite_scheduled", int(self.rewrite_scheduled)),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time_sec),
            ("aof_current_rewrite_time_sec", int(time.time() - job.started) if job else -1),
            ("aof_last_bgrewrite_status", "ok" if self.last_rewrite_ok else "err"),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            (
                "aof_last_write_status",
                "ok" if self.writer is None or self.writer.last_write_ok else "err",
            ),
            ("aof_last_cow_size", self.last_cow_size),
        ]
        writer = self.writer
        if self.state != "off" and writer is not None:
            fields += [
                ("aof_current_size", self.current_size()),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", int(self.rewrite_scheduled)),
                ("aof_buffer_length", len(writer.buf)),
                ("aof_pending_bio_fsync", int(writer.fsync_in_progress)),
                ("aof_delayed_fsync", writer.delayed_fsync),
            ]
        return fields


def load_order(manifest: Manifest) -> list[tuple[str, str]]:
    """(name, kind) of the files to load: the base, then the incr files in order."""
    base = [(manifest.base.name, "b")] if manifest.base else []
    return base + [(i.name, "i") for i in manifest.incrs]


def _create_empty(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


async def load_at_startup(server: Server) -> bool:
    """appendonly yes at start: load the AOF (never the RDB while an AOF exists).

    Beyond Redis: with no AOF yet but a dump.rdb, the dump is loaded and becomes the first
    base, instead of Redis's empty start that a later save would write over the dump.
    Returns False after logging a fatal error.
    """

    from persistence.aof.loader import AofLoadError, load_files
    from persistence.aof.manifest import ManifestError
    from persistence.loader import (
        LoadingProgress,
        dataset_loading,
        install_dataset,
        load_rdb_file,
    )

    aof: AppendOnly = server.persistence.aof
    log = server.log
    old_single = os.path.join(os.getcwd(), aof.prefix)
    if not aof.has_manifest() and os.path.isfile(old_single):
        os.makedirs(aof.directory, exist_ok=True)
        os.rename(old_single, aof.path(aof.prefix))
        manifest = Manifest(AofInfo(aof.prefix, 1, "b"), [], [])
        aof.persist_manifest(manifest)
        log.notice(f"Successfully migrated an old-style AOF {aof.prefix} into the AOF directory")
    if aof.has_manifest():
        try:
            manifest = aof.read_manifest()
        except (ManifestError, OSError) as exc:
            log.warning(f"*** FATAL AOF MANIFEST FILE ERROR *** {exc}")
            return False
        files = load_order(manifest)
        total = sum(os.path.getsize(aof.path(n)) for n, _ in files if os.path.exists(aof.path(n)))
        progress = LoadingProgress(server, total, "AOF")
        started = time.monotonic()
        try:
            with dataset_loading(server, progress):
                if total:
                    await load_files(server, aof.directory, files, progress)
        except AofLoadError as exc:
            log.warning(str(exc))
            return False
        except OSError as exc:
            log.warning(f"Fatal error loading the AOF: {exc.strerror}")
            return False
        install_dataset(server)
        log.notice(f"DB loaded from append only file: {time.monotonic() - started:.3f} seconds")
        aof.manifest = manifest
        aof._collect_history()
    else:
        if os.path.exists(server.config.dbfilename):
            log.notice(
                f"No AOF found: loading {server.config.dbfilename} and writing it as the first "
                "AOF base"
            )
            if not await load_rdb_file(server, server.config.dbfilename):
                return False
        aof.create_fresh()
    aof.open_for_append()
    return True
