"""Forked children (BGSAVE, BGREWRITEAOF): fork, the child's report pipe, and reaping.

The child runs one synchronous function and leaves with `os._exit`, so it never returns into
trio, never runs atexit handlers and never flushes buffers it shares with the parent. It
tells the parent how it is doing over a pipe, one msgpack map per message (Redis's child
info pipe): `{"type": "progress", "keys": n}` while it works and `{"type": "done", ...}`
with its own final figures (keys written, bytes, copy-on-write) before it exits.

The parent reads the pipe from a trio task and reaps the child without blocking the loop:
the pipe reaching EOF means the child has exited (or was killed), then `waitpid(WNOHANG)`
is polled until the kernel hands over the status.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import trio

# How the child's work ends, as an exit status; anything else (or a signal) is a failure.
CHILD_OK = 0
CHILD_FAILED = 1


class ChildReporter:
    """The child's end of the report pipe."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._packer = msgpack.Packer()

    def send(self, message: dict[str, Any]) -> None:
        data = self._packer.pack(message)
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError:
                return  # the parent is gone or stopped listening: keep working
            view = view[written:]


@dataclass
class ChildProcess:
    """The parent's handle on a running child."""

    pid: int
    kind: str  # "rdb" or "aof", as INFO and the log name them
    started: float  # time.time() at fork
    fork_usec: int
    read_fd: int
    error: str | None = None  # what the child reported before failing
    last_progress: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] | None = None
    exit_code: int | None = None
    exit_signal: int | None = None

    def kill(self) -> None:
        """Stop the child on purpose (SIGUSR1, which Redis does not count as a failure)."""
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass

    @property
    def succeeded(self) -> bool:
        return self.exit_signal is None and self.exit_code == CHILD_OK


def fork_child(
    kind: str,
    body: Callable[[ChildReporter], None],
    close_in_child: list[int],
    on_fork_in_child: Callable[[], None] | None = None,
) -> ChildProcess:
    """Fork; the child runs `body(reporter)` and exits 0, or 1 if it raised.

    `close_in_child` are descriptors the child must not keep (listening sockets), so a
    restarted node can bind its port while an old child still writes.
    Raises OSError when fork fails.
    """
    read_fd, write_fd = os.pipe()
    # Objects alive now move to the permanent generation: the parent's collector stops
    # visiting them (fewer pages written after fork), and so does the child's.
    gc.freeze()
    start = time.perf_counter_ns()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        status = CHILD_FAILED
        try:
            gc.disable()
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            os.close(read_fd)
            for fd in close_in_child:
                try:
                    os.close(fd)
                except OSError:
                    pass
            if on_fork_in_child is not None:
                on_fork_in_child()
            body(ChildReporter(write_fd))
            status = CHILD_OK
        except BaseException as exc:  # noqa: BLE001 - report and leave, never unwind into trio
            try:
                ChildReporter(write_fd).send({"type": "error", "error": f"{exc}"})
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(status)
    fork_usec = (time.perf_counter_ns() - start) // 1000
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return ChildProcess(pid, kind, time.time(), fork_usec, read_fd)


async def follow_child(
    child: ChildProcess, on_message: Callable[[ChildProcess, dict[str, Any]], None]
) -> None:
    """Read the child's reports until EOF, then reap it and fill its exit status."""
    unpacker = msgpack.Unpacker()
    try:
        while True:
            await trio.lowlevel.wait_readable(child.read_fd)
            try:
                data = os.read(child.read_fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                break
            unpacker.feed(data)
            for message in unpacker:
                if not isinstance(message, dict):
                    continue
                kind = message.get("type")
                if kind == "done":
                    child.final = message
                elif kind == "progress":
                    child.last_progress = message
                elif kind == "error":
                    child.error = str(message.get("error"))
                on_message(child, message)
    finally:
        os.close(child.read_fd)
    while True:
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            break
        await trio.sleep(0.005)
    if os.WIFSIGNALED(status):
        child.exit_signal = os.WTERMSIG(status)
    else:
        child.exit_code = os.waitstatus_to_exitcode(status)
