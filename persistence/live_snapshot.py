"""`snapshot-mode live`: a point-in-time RDB written from inside the node, without fork.

Why: a forked CPython child dirties the page of every object it serializes (reference
counts), so a fork-based BGSAVE ends up copying most of the dataset even when clients write
nothing. This mode copies almost nothing:

1. At the start (one loop turn) each database's key -> value dict and expiry dict are
   shallow-copied. Strings are immutable `bytes`, so the copy alone freezes them: a later
   SET or DEL replaces or drops the live reference and leaves the copy's object alone.
2. Containers (lists, hashes, sets, sorted sets) are changed in place, so the ones the copy
   holds are registered by identity. Before any write changes one of them
   (`Database.lookup_write` and the blocking-pop path call `server.cow_guard`), its old
   value is serialized at once into that database's "early" buffer and unregistered — the
   copy-on-write, at the granularity of one key, of exactly the values written first.
3. Between requests the snapshot serializes the copied dicts a slice at a time (a time
   budget per loop turn), skipping containers already written early, and appends the
   early buffers in their database's section. RDB order is by database, CRC-64 is computed
   over the bytes in file order.

The trade-off against `fork`: no second process and no page copies (the extra memory is
the dict copies, about 100 bytes per key, plus the early-serialized values), but the
serialization runs on the event loop's thread, so clients share the CPU with it while it
runs and the snapshot takes longer. The README has the measurements behind the default.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

import trio

from node.evict import idle_seconds, is_lfu_policy, lfu_frequency
from persistence.dataset import aux_fields, limits_of
from persistence.rdb import RdbEncoder
from persistence.rdb.encoder import crc64
from persistence.rdbfile import AUTOSYNC_BYTES, fsync_directory, write_all

if TYPE_CHECKING:
    from node.server import Server

# How long one slice of serialization may hold the loop before yielding to clients.
SLICE_SECONDS = 0.002
KEYS_PER_CHECK = 64
FLUSH_BYTES = 1 << 20
_EOF_OPCODE = b"\xff"
_PACK_U64 = struct.Struct("<Q").pack


class _DbCopy:
    __slots__ = ("db_id", "data", "expires", "early", "early_bytes", "live_db")

    def __init__(
        self, db_id: int, data: dict[bytes, Any], expires: dict[bytes, int], live_db: Any
    ) -> None:
        self.db_id = db_id
        self.data = data
        self.expires = expires
        self.early: list[bytes] = []
        self.early_bytes = 0
        self.live_db = live_db


class LiveSnapshot:
    """One running live snapshot; answers like a forked child (persistence/background.py)."""

    pid = 0

    def __init__(self, server: Server, path: str, temp_path: str, aof_base: bool = False) -> None:
        self.server = server
        self.aof_base = aof_base
        self.path = path
        self.temp_path = temp_path
        config = server.config
        self.encoder = RdbEncoder(
            limits_of(server), compression=config.rdbcompression, checksum=False
        )
        self.checksum = config.rdbchecksum
        self.incremental_fsync = config.rdb_save_incremental_fsync
        policy = config.maxmemory_policy
        self.want_idle = policy.endswith("lru")
        self.want_freq = is_lfu_policy(policy)
        started = time.perf_counter_ns()
        self.dbs: list[_DbCopy] = []
        # id(container) -> (db copy, key) for every container the copy still has to write.
        self.pending: dict[int, tuple[_DbCopy, bytes]] = {}
        for db in server.dbs:
            if not db.data:
                continue
            copy = _DbCopy(db.id, db.data.copy(), db.expires.copy(), db)
            self.dbs.append(copy)
            pending = self.pending
            for key, value in copy.data.items():
                if type(value) is not bytes:
                    pending[id(value)] = (copy, key)
        self.copy_usec = (time.perf_counter_ns() - started) // 1000
        self.copy_bytes = sum(
            sys.getsizeof(c.data) + sys.getsizeof(c.expires) for c in self.dbs
        ) + sys.getsizeof(self.pending)
        self.keys_total = sum(len(c.data) for c in self.dbs)
        self.keys_done = 0
        self.early_keys = 0
        self.early_bytes = 0
        self.last_progress: dict[str, Any] = {"keys": 0}
        self.started = time.time()
        self.cancelled = False
        self.error: str | None = None
        self.final: dict[str, Any] | None = None
        self.exit_code: int | None = None
        self.exit_signal: int | None = None
        self._crc = 0
        self._unsynced = 0
        self._written = 0

    # -- copy-on-write ------------------------------------------------------------------

    def before_write(self, value: Any) -> None:
        """`server.cow_guard`: a container is about to change; write its old value first."""
        entry = self.pending.pop(id(value), None)
        if entry is None:
            return
        copy, key = entry
        data = self._key_bytes(copy, key, value)
        copy.early.append(data)
        copy.early_bytes += len(data)
        self.early_keys += 1
        self.early_bytes += len(data)

    def _key_bytes(self, copy: _DbCopy, key: bytes, value: Any) -> bytes:
        expire = copy.expires.get(key)
        if self.want_idle:
            return self.encoder.key(key, value, expire, idle_seconds(copy.live_db, key), None)
        if self.want_freq:
            return self.encoder.key(key, value, expire, None, lfu_frequency(copy.live_db, key))
        return self.encoder.key(key, value, expire)

    # -- the child-like interface --------------------------------------------------------

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    def kill(self) -> None:
        self.cancelled = True

    # -- writing ------------------------------------------------------------------------

    def _out(self, fd: int, data: bytes | bytearray) -> None:
        if self.checksum:
            self._crc = crc64(data, self._crc)
        write_all(fd, data)
        self._written += len(data)
        self._unsynced += len(data)

    async def _maybe_sync(self, fd: int) -> None:
        if self.incremental_fsync and self._unsynced >= AUTOSYNC_BYTES:
            self._unsynced = 0
            await trio.to_thread.run_sync(os.fdatasync, fd)

    async def run(self) -> None:
        """Write the snapshot; sets exit_code 0 on success, 1 on error (self.error)."""
        fd = -1
        try:
            fd = os.open(
                self.temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644
            )
            await self._write_all(fd)
            if self.cancelled:
                raise _Cancelled
            await trio.to_thread.run_sync(os.fsync, fd)
            os.close(fd)
            fd = -1
            os.rename(self.temp_path, self.path)
            await trio.to_thread.run_sync(fsync_directory, os.path.dirname(self.path))
            self.exit_code = 0
            self.final = {
                "keys": self.keys_done,
                "bytes": self._written,
                "cow": self.copy_bytes + self.early_bytes,
                "early_keys": self.early_keys,
            }
        except _Cancelled:
            self.exit_signal = 10  # reported like a child stopped with SIGUSR1
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.exit_code = 1
        finally:
            if fd >= 0:
                os.close(fd)
            if self.exit_code != 0:
                try:
                    os.unlink(self.temp_path)
                except OSError:
                    pass

    async def _write_all(self, fd: int) -> None:
        server = self.server
        encoder = self.encoder
        buf = bytearray(encoder.header(aux_fields(server, aof_base=self.aof_base)))
        pending = self.pending
        deadline = time.monotonic() + SLICE_SECONDS
        for copy in self.dbs:
            buf += encoder.select_db(copy.db_id, len(copy.data), len(copy.expires))
            for n, (key, value) in enumerate(copy.data.items(), 1):
                if type(value) is bytes or pending.pop(id(value), None) is not None:
                    buf += self._key_bytes(copy, key, value)
                self.keys_done += 1
                if n % KEYS_PER_CHECK == 0 and time.monotonic() >= deadline:
                    if copy.early:
                        buf += b"".join(copy.early)
                        copy.early.clear()
                    if len(buf) >= FLUSH_BYTES:
                        self._out(fd, buf)
                        buf.clear()
                        await self._maybe_sync(fd)
                    self.last_progress = {"keys": self.keys_done}
                    await trio.sleep(0)
                    if self.cancelled:
                        return
                    deadline = time.monotonic() + SLICE_SECONDS
            if copy.early:
                buf += b"".join(copy.early)
                copy.early.clear()
            # This database is complete: release its copies now.
            copy.data = {}
            copy.expires = {}
        buf += _EOF_OPCODE
        self._out(fd, buf)
        trailer = _PACK_U64(self._crc if self.checksum else 0)
        write_all(fd, trailer)
        self._written += len(trailer)
        self.last_progress = {"keys": self.keys_done}


class _Cancelled(Exception):
    pass
