"""Loading an RDB stream into the keyspace: at startup, for DEBUG RELOAD, and (later) from a
master or as an AOF base.

`persistence.apply.DatasetLoader` applies the decoded stream (no I/O, compiled with mypyc).
`load_rdb_file` is the startup path: it reads the file in chunks and yields to the event
loop between them, so clients connect meanwhile and get `-LOADING`, while INFO shows
`loading_*` progress and the log reports it once a second.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio

from persistence.apply import DatasetLoader
from persistence.rdb import RdbError

if TYPE_CHECKING:
    from node.server import Server

READ_CHUNK = 1 << 20
PROGRESS_LOG_INTERVAL = 1.0


class LoadingProgress:
    """INFO's loading_* fields and the progress log while a load runs."""

    def __init__(self, server: Server, total_bytes: int, what: str) -> None:
        self.server = server
        self.total_bytes = total_bytes
        self.loaded_bytes = 0
        self.start = time.time()
        self.what = what
        self.rdb_used_mem = 0
        self._last_log = time.monotonic()

    def update(self, loaded: int, keys: int) -> None:
        self.loaded_bytes = loaded
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_INTERVAL:
            self._last_log = now
            self.server.log.notice(
                f"Loading {self.what}: {self.percent:.2f}% ({keys} keys, "
                f"{loaded / 1048576:.1f} of {self.total_bytes / 1048576:.1f} MB, "
                f"eta {self.eta_seconds} s)"
            )

    @property
    def percent(self) -> float:
        return self.loaded_bytes * 100 / self.total_bytes if self.total_bytes else 0.0

    @property
    def eta_seconds(self) -> int:
        elapsed = time.time() - self.start
        if not self.loaded_bytes or elapsed <= 0:
            return 1
        rate = self.loaded_bytes / elapsed
        return int((self.total_bytes - self.loaded_bytes) / rate)

    def info_fields(self) -> list[tuple[str, Any]]:
        return [
            ("loading_start_time", int(self.start)),
            ("loading_total_bytes", self.total_bytes),
            ("loading_rdb_used_mem", self.rdb_used_mem),
            ("loading_loaded_bytes", self.loaded_bytes),
            ("loading_loaded_perc", f"{self.percent:.2f}"),
            ("loading_eta_seconds", self.eta_seconds),
        ]


@contextmanager
def dataset_loading(server: Server, progress: LoadingProgress | None = None) -> Iterator[None]:
    """While a load fills the keyspace: the node is `loading` (clients get -LOADING, INFO
    shows `progress`), and the cyclic collector is paused: with millions of new objects it
    would rescan the growing heap again and again (a third of the load time). The new
    objects are frozen into the permanent generation after."""
    gc.disable()
    server.persistence.loading_progress = progress
    server.loading = True
    server.update_gates()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
        server.loading = False
        server.persistence.loading_progress = None
        server.update_gates()


def empty_dataset(server: Server) -> None:
    """Drop every key before a reload (WATCHers see the change, as after FLUSHALL)."""
    from node.commands.tx_state import touch_watched_keys_in_db

    for db in server.dbs:
        touch_watched_keys_in_db(db, None)
        db.clear()


def install_dataset(server: Server) -> None:
    """After a load replaced the databases' contents: restart the per-db bookkeeping."""
    from node.evict import sync_databases

    for db in server.dbs:
        db.reset_expire_scan()
    sync_databases(server)


def log_rdb_aux(server: Server, aux: dict[bytes, bytes]) -> None:
    """rdbLoad's notes about the file it read (producer version, age, memory)."""
    log = server.log
    if b"redis-ver" in aux:
        log.notice(f"Loading RDB produced by version {aux[b'redis-ver'].decode(errors='replace')}")
    ctime = aux.get(b"ctime")
    if ctime is not None and ctime.lstrip(b"-").isdigit():
        log.notice(f"RDB age {max(0, int(time.time()) - int(ctime))} seconds")
    used = aux.get(b"used-mem")
    if used is not None and used.isdigit():
        log.notice(f"RDB memory usage when created {int(used) / 1048576:.2f} Mb")


def read_file_sync(server: Server, path: str, loader: DatasetLoader) -> None:
    """Load a whole file in the calling thread (DEBUG RELOAD): raises OSError or RdbError."""
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            loader.feed(chunk)
    loader.finish()


async def load_rdb_into(
    server: Server, path: str, *, keep_expired: bool, what: str = "RDB"
) -> DatasetLoader:
    """Load the RDB at `path` into the keyspace, yielding to the event loop between chunks
    (clients get -LOADING, INFO shows loading_*, the log reports progress), and log what
    rdbLoad logs. Raises RdbError or OSError; the caller decides what a failure means."""
    total = os.stat(path).st_size
    loader = DatasetLoader(server, keep_expired=keep_expired)
    progress = LoadingProgress(server, total, what)
    logged_aux = False
    with dataset_loading(server, progress), open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            loader.feed(chunk)
            if not logged_aux and loader.keys_loaded:
                logged_aux = True
                log_rdb_aux(server, loader.aux)
                used = loader.aux.get(b"used-mem", b"")
                progress.rdb_used_mem = int(used) if used.isdigit() else 0
            progress.update(loader.offset, loader.keys_loaded)
            await trio.sleep(0)
        loader.finish()
    if not logged_aux:
        log_rdb_aux(server, loader.aux)
    install_dataset(server)
    state = server.persistence
    state.last_load_keys_loaded = loader.keys_loaded
    state.last_load_keys_expired = loader.keys_expired
    server.log.notice(
        f"Done loading RDB, keys loaded: {loader.keys_loaded}, keys expired: {loader.keys_expired}."
    )
    return loader


async def load_rdb_file(server: Server, path: str) -> bool:
    """Startup: load `path` if it exists. Returns False after logging a fatal error."""
    if not os.path.exists(path):
        return True
    started = time.monotonic()
    try:
        loader = await load_rdb_into(server, path, keep_expired=server.masterhost is not None)
    except RdbError as exc:
        server.log.warning(f"Fatal error loading the DB ({path}): {exc}. Exiting.")
        return False
    except OSError as exc:
        server.log.warning(f"Fatal error loading the DB ({path}): {exc.strerror}. Exiting.")
        return False
    server.persistence.loaded_aux = loader.aux
    server.log.notice(f"DB loaded from disk: {time.monotonic() - started:.3f} seconds")
    return True


def debug_reload(server: Server, *, merge: bool, flush: bool, save: bool) -> str | None:
    """DEBUG RELOAD: save (unless NOSAVE), empty the dataset (unless NOFLUSH), load the file.

    Returns the error to answer, or None. MERGE lets keys from the file replace live ones.
    """
    path = server.config.dbfilename
    if save and server.persistence.rdb.save() is not None:
        return "ERR"
    if flush:
        empty_dataset(server)
    loader = DatasetLoader(server, keep_expired=server.masterhost is not None, replace=merge)
    try:
        with dataset_loading(server):
            read_file_sync(server, path, loader)
    except (OSError, RdbError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        server.log.warning(f"Error loading {path} for DEBUG RELOAD: {reason}")
        return "ERR Error trying to load the RDB dump, check server logs."
    finally:
        install_dataset(server)
    server.log.warning("DB reloaded by DEBUG RELOAD")
    return None
