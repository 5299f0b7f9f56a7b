"""The AOF write path: the propagated stream into the current incr file, under appendfsync.

The writer is a consumer of `propagate` (node/propagate.py): every vector becomes RESP in
an in-memory buffer (with SELECT on database change and, with aof-timestamp-enabled,
`#TS:` annotations). What that buffer must reach before a client may see the reply to a
write depends on `appendfsync` (spec/aof.md §4.1):

- `always`: the disk. Clients whose commands appended bytes wait (`wait_for`) until an fsync
  covers them. One task writes and fsyncs everything buffered so far in a worker thread,
  so all writes that arrive while an fsync runs share the next one (group commit).
- `everysec`: the kernel. The buffer is written synchronously before the reply, and a
  background fsync runs at most once a second. If that fsync is still running, the write is
  postponed (Redis's rule) for up to 2 s, then forced (`aof_delayed_fsync`).
- `no`: the kernel; the OS decides when to flush.

A failed write (ENOSPC, EIO) is cut back to the last complete byte the file held before it,
so the file never ends torn; the data stays in the buffer, writes are refused with
`-MISCONF Errors writing to the AOF file: ...`, and the buffer is retried every second until
the disk accepts it (then `AOF write error looks solved, Redis can write again.`). With
`always`, the clients whose writes it holds keep waiting for their replies meanwhile, so no
write is ever acknowledged before it is durable.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from typing import TYPE_CHECKING

import trio

from node.propagate import StreamEncoder
from node.resp import ReplyError

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

FSYNC_POSTPONE_LIMIT = 2.0
# Scheduler turns the group commit waits, at most, for more writes to join it.
GATHER_TURNS = 4
RETRY_INTERVAL = 1.0


class AofWriter:
    """Appends to one open incr file; `server.aof_barrier` while the AOF is on."""

    def __init__(self, server: Server, fd: int, size: int) -> None:
        self.server = server
        self.fd = fd
        self.encoder = StreamEncoder()
        self.buf = bytearray()
        # Offsets in the stream of bytes this writer was given (not file offsets).
        self.appended = 0  # fed to the buffer
        self.written = 0  # handed to the kernel
        self.synced = 0  # covered by an fsync
        self.file_size = size  # bytes in the file, for rewrite triggers and INFO
        self.last_ts = 0
        self.policy = server.config.appendfsync
        self.timestamps = bool(server.config.aof_timestamp_enabled)
        self.last_write_ok = True
        self.last_write_error = ""
        self.fsync_in_progress = False
        self.postponed_since = 0.0
        self.delayed_fsync = 0
        self.last_fsync = time.monotonic()
        self._work = trio.Event()
        # `_work` is set (a commit is wanted); set() is a Python-level call per write.
        self._work_set = False
        self._progress = trio.Event()
        self.closed = False
        self.commits = 0  # group commits done (appendfsync always)
        # always: clients whose replies wait for an fsync (Client.aof_hold), by id.
        self.held: dict[int, Client] = {}
        # Every writer of the file holds this, so bytes land in stream order.
        self.io_lock = threading.Lock()
        # A pending switch to a new incr file: (stream offset where it starts, its fd).
        self.switch: tuple[int, int] | None = None
        # The bytes a group commit handed to its worker thread, until the worker takes them.
        self.inflight: bytes | None = None

    # -- the stream consumer ------------------------------------------------------------

    def feed(self, db: int, argv: list[bytes]) -> None:
        buf = self.buf
        before = len(buf)
        if self.timestamps:
            now = int(time.time())
            if now > self.last_ts:
                self.last_ts = now
                buf += b"#TS:%d\r\n" % now
        buf += self.encoder.encode(db, argv)
        self.appended += len(buf) - before
        if self.policy == "always" and not self._work_set:
            self._want_commit()

    # -- durability for replies --------------------------------------------------------

    def _want_commit(self) -> None:
        self._work_set = True
        self._work.set()

    def done_offset(self) -> int:
        return self.synced if self.policy == "always" else self.written

    async def wait_for(self, target: int) -> None:
        """Return once the stream up to `target` is as durable as appendfsync promises."""
        if self.policy != "always":
            self.write_pending()
            return
        while self.synced < target and not self.closed:
            event = self._progress
            self._want_commit()
            await event.wait()

    def hold(self, c: Client, offset: int) -> None:
        """always: `c`'s replies go out once an fsync covers the stream up to `offset`."""
        c.aof_hold = max(c.aof_hold, offset)
        self.held[c.id] = c
        self._want_commit()

    def release_held(self, everything: bool = False) -> None:
        """Send the held replies the last fsync made durable (all of them when closing)."""
        if not self.held:
            return
        stats = self.server.stats
        synced = self.synced
        for cid, c in list(self.held.items()):
            if c.closing or c.sock is None:
                c.aof_hold = 0
                del self.held[cid]
                continue
            if c.aof_hold > synced and not everything:
                continue
            del self.held[cid]
            c.aof_hold = 0
            if not c.out:
                continue
            data = b"".join(c.out)
            c.out.clear()
            try:
                sent = c.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                c.kill()
                continue
            c.tot_net_out += sent
            stats.net_output_bytes += sent
            if sent < len(data):
                # The socket is full: the client's own task sends the rest when writable.
                c.out.append(data[sent:])
                c.wake()

    # -- writing -----------------------------------------------------------------------

    def write_pending(self) -> None:
        """everysec / no: hand the buffer to the kernel now (before replies go out)."""
        if not self.buf or self.closed:
            return
        if self.policy == "everysec" and self.fsync_in_progress:
            now = time.monotonic()
            if not self.postponed_since:
                self.postponed_since = now
                return
            if now - self.postponed_since < FSYNC_POSTPONE_LIMIT:
                return
            self.delayed_fsync += 1
            self.server.log.notice(
                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF "
                "buffer without waiting for fsync to complete, this may slow down Redis."
            )
        self.postponed_since = 0.0
        data = bytes(self.buf)
        if self._write(data):
            del self.buf[: len(data)]
            self.written += len(data)

    def _write(self, data: bytes) -> bool:
        """Write all of `data` or nothing: a partial write is truncated away."""
        start = self.file_size
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except OSError as exc:
            if done:
                try:
                    os.ftruncate(self.fd, start)
                except OSError:
                    self.server.log.warning(
                        f"Could not remove a short write from the AOF ({exc.strerror}); "
                        "the next successful write completes the record."
                    )
                    self.file_size += done
                    # The kernel has these bytes now: keep only the rest in the buffer.
                    del self.buf[:done]
                    self.written += done
            self._write_failed(exc)
            return False
        self.file_size += done
        self._write_succeeded()
        return True

    def _write_failed(self, exc: OSError) -> None:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        if self.last_write_ok:
            self.server.log.warning(f"Error writing to the AOF file: {reason}")
        self.last_write_ok = False
        self.last_write_error = reason
        self.server.update_gates()

    def _write_succeeded(self) -> None:
        if not self.last_write_ok:
            self.server.log.warning("AOF write error looks solved, Redis can write again.")
            self.last_write_ok = True
            self.last_write_error = ""
            self.server.update_gates()

    def misconf(self, server: Server) -> ReplyError | None:
        if self.last_write_ok:
            return None
        return ReplyError(f"MISCONF Errors writing to the AOF file: {self.last_write_error}")

    # -- background tasks ----------------------------------------------------------------

    async def run(self) -> None:
        """The writer's own task: group commit (always), the once-a-second fsync (everysec),
        and retries after a write error."""
        while not self.closed:
            if self.policy == "always":
                with trio.move_on_after(RETRY_INTERVAL):
                    await self._work.wait()
                self._work = trio.Event()
                self._work_set = False
                await self._commit_group()
            else:
                await trio.sleep(RETRY_INTERVAL if self.policy == "no" else 0.1)
                if self.buf:
                    self.write_pending()
                if (
                    self.policy == "everysec"
                    and self.written > self.synced
                    and time.monotonic() - self.last_fsync >= 1.0
                    and not self._fsync_paused()
                ):
                    await self._background_fsync()

    def _fsync_paused(self) -> bool:
        """no-appendfsync-on-rewrite: no fsync while a child is saving."""
        return bool(self.server.config.no_appendfsync_on_rewrite) and self.server.child is not None

    async def _background_fsync(self) -> None:
        target = self.written
        fd = self.fd
        lock = self.io_lock
        self.fsync_in_progress = True

        def work() -> None:
            with lock:
                os.fdatasync(fd)

        try:
            await trio.to_thread.run_sync(work)
            self.synced = max(self.synced, target)
        except OSError as exc:
            self._write_failed(exc)
        finally:
            self.fsync_in_progress = False
            self.last_fsync = time.monotonic()

    async def _commit_group(self) -> None:
        """always: write and fsync everything buffered, then release the held replies.

        The commit takes the buffer (what arrives meanwhile waits for the next one) and
        hands it to a worker thread, which appends it under `io_lock` (see
        `_append_locked`). Until the worker has taken it, the bytes stay in `inflight`, so
        a synchronous `flush_and_sync` (shutdown) writes them first instead.
        """
        if not self.buf and self.synced >= self.written and self.switch is None:
            return
        # Let every client that is ready in this loop turn run first, so one fsync covers
        # all of them (Redis gets this from fsyncing once per event-loop iteration).
        for _ in range(GATHER_TURNS):
            size = len(self.buf)
            await trio.lowlevel.cancel_shielded_checkpoint()
            if len(self.buf) == size:
                break
        data = bytes(self.buf)
        self.buf = bytearray()
        self.inflight = data
        before = self.written
        try:
            await trio.to_thread.run_sync(self._commit_in_thread, data)
        except OSError as exc:
            # The worker counted what reached the file; the rest goes back in front.
            self.buf = bytearray(data[self.written - before :]) + self.buf
            self._write_failed(exc)
            await trio.sleep(RETRY_INTERVAL)
            return
        self.commits += 1
        self._write_succeeded()
        progress, self._progress = self._progress, trio.Event()
        progress.set()
        self.release_held()

    def _commit_in_thread(self, data: bytes) -> None:
        """Worker thread: append `data` and fdatasync, unless flush_and_sync took it first."""
        with self.io_lock:
            if self.inflight is not data:
                return
            self.inflight = None
            self._append_locked(data)
            os.fdatasync(self.fd)
            self.synced = self.written

    def _append_locked(self, data: bytes) -> None:
        """Append `data` (the next bytes of the stream) with `io_lock` held.

        A pending rewrite switch happens exactly at its stream offset: the bytes before it
        end the old incr file, which is fsync'd and closed, and the rest start the new one.
        The counters follow what reached a file. A short write is cut back, so no file ever
        ends inside a command, and the OSError propagates.
        """
        pos = 0
        while True:
            switch = self.switch
            limit = len(data) - pos
            if switch is not None:
                limit = min(limit, switch[0] - self.written)
            if limit > 0:
                _append_all(self.fd, data[pos : pos + limit])
                pos += limit
                self.written += limit
                self.file_size += limit
            if switch is not None and self.written >= switch[0]:
                old, self.fd, self.switch = self.fd, switch[1], None
                self.file_size = 0
                try:
                    os.fdatasync(old)
                finally:
                    os.close(old)
                continue
            if pos >= len(data):
                return

    def switch_to(self, new_fd: int) -> None:
        """Send everything appended from now on to `new_fd` (a rewrite's new incr file);
        what was appended before still goes to the current file, whatever is buffered."""
        if self.policy == "always":
            self.switch = (self.appended, new_fd)
            self._want_commit()
            return
        if self.buf:
            data = bytes(self.buf)
            with self.io_lock:
                ok = self._write(data)
            if ok:
                del self.buf[: len(data)]
                self.written += len(data)
            else:
                # The old file cannot take them: they go to the new one, never lost.
                self.server.log.warning("AOF buffer moved to the new incr file after a write error")
        old = self.fd
        self.fd = new_fd
        self.file_size = 0
        self.switch = None
        self.server.start_background(_sync_and_close, old, self.io_lock)

    def flush_and_sync(self) -> None:
        """Everything buffered to disk now, synchronously (shutdown, switching off)."""
        with self.io_lock:
            data = bytes(self.buf)
            inflight = self.inflight
            if inflight is not None:
                # A group commit's bytes the worker has not taken yet come first.
                self.inflight = None
                data = inflight + data
            before = self.written
            try:
                self._append_locked(data)
            except OSError as exc:
                self.buf = bytearray(data[self.written - before :])
                self._write_failed(exc)
                raise
            self.buf = bytearray()
            self._write_succeeded()
            os.fdatasync(self.fd)
        self.synced = max(self.synced, self.written)
        progress, self._progress = self._progress, trio.Event()
        progress.set()
        self.release_held()

    def close(self) -> None:
        self.closed = True
        self.release_held(everything=True)
        self._want_commit()
        progress, self._progress = self._progress, trio.Event()
        progress.set()


def _append_all(fd: int, data: bytes) -> None:
    """Write all of `data` at the end of `fd`, or nothing: a short write is cut back."""
    start = os.lseek(fd, 0, os.SEEK_END)
    done = 0
    try:
        while done < len(data):
            done += os.write(fd, data[done:])
    except OSError:
        if done:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
        raise


async def _sync_and_close(fd: int, lock: threading.Lock) -> None:
    """A previous incr file: fsync it and close it, off the event loop."""

    def work() -> None:
        with lock:
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)

    await trio.to_thread.run_sync(work)
