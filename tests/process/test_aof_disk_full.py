"""Disk full: a node whose AOF lives on a 4 MiB tmpfs runs out of space and survives it.

The test mounts the tmpfs itself (root is required; a failed mount fails the test), fills
part of it with a file of its own, and writes until the node refuses writes with -MISCONF.
Then reads must still work, freeing the filler must let writes resume, nothing that was
acknowledged may be lost across a restart, and redis-check-aof must find no torn record.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness import ServerProcess, reply_length, start_keelkv
from tests.process.test_aof import info, wait_for, wait_rewrite_done

VALUE = b"v" * 4000
DEBUG = ("--enable-debug-command", "yes")
NO_SPACE = b"-MISCONF Errors writing to the AOF file: No space left on device\r\n"


@contextmanager
def small_tmpfs(size: str = "4m") -> Iterator[Path]:
    mountpoint = Path(tempfile.mkdtemp(prefix="keelkv-diskfull-"))
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        mountpoint.rmdir()
        detail = getattr(exc, "stderr", b"") or b""
        raise AssertionError(
            f"cannot mount a {size} tmpfs (the disk-full test needs root): "
            f"{exc} {detail.decode(errors='replace')}"
        ) from exc
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
        mountpoint.rmdir()


def make_filler(directory: Path, size: int) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    return filler


class Conn:
    """A raw connection with a read timeout, to see a held reply as a held reply."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, *argv: bytes) -> None:
        self.sock.sendall(
            b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
        )

    def read(self, timeout: float | None = None) -> bytes:
        if timeout is not None:
            self.sock.settimeout(timeout)
        while (n := reply_length(self.buf)) is None:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def call(self, *argv: bytes) -> bytes:
        self.send(*argv)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def check_aof(directory: Path) -> None:
    manifest = directory / "appendonlydir" / "appendonly.aof.manifest"
    out = subprocess.run(
        ["redis-check-aof", str(manifest)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All AOF files and manifest are valid" in out.stdout


def start_on(
    disk: Path, workdir: Path, policy: str, *extra: str, port: int | None = None
) -> ServerProcess:
    return start_keelkv(
        *DEBUG,
        *extra,
        "--dir",
        str(disk),
        "--appendonly",
        "yes",
        "--appendfsync",
        policy,
        "--auto-aof-rewrite-percentage",
        "0",
        workdir=workdir,
        port=port,
    )


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_disk_full_refuses_writes_keeps_reads_and_recovers_without_loss(
    policy: str, tmp_path: Path
) -> None:
    with small_tmpfs() as disk:
        filler = make_filler(disk, 1 << 20)
        node = start_on(disk, tmp_path, policy)
        try:
            writer = Conn(node.port, timeout=10)
            other = Conn(node.port, timeout=10)
            acked: list[int] = []
            pending: int | None = None  # a write whose reply is held (always)
            i = 0
            while True:
                assert i < 2000, "the disk never filled"
                writer.send(b"SET", b"big:%d" % i, VALUE)
                try:
                    answer = writer.read(timeout=2.0)
                except TimeoutError:
                    assert policy == "always", "everysec replies are never held"
                    pending = i
                    break
                if answer.startswith(b"-MISCONF"):
                    assert answer == NO_SPACE
                    break
                assert answer == b"+OK\r\n", answer
                acked.append(i)
                i += 1
            assert len(acked) > 100
            # always holds the reply of the write the disk refused; everysec answers it
            # (the bytes wait in the buffer) and refuses the next ones.
            assert (pending is not None) == (policy == "always")
            # Writes are refused with a clear error, reads keep working.
            assert wait_for(lambda: other.call(b"SET", b"x", b"y") == NO_SPACE, 5)
            assert other.call(b"GET", b"big:0") == b"$4000\r\n" + VALUE + b"\r\n"
            assert other.call(b"DBSIZE").startswith(b":")
            state = other.call(b"INFO", b"persistence").decode()
            assert "aof_last_write_status:err" in state
            assert "Error writing to the AOF file: No space left on device" in node.log()
            # Space comes back: the held write is acknowledged and writes resume.
            filler.unlink()
            if pending is not None:
                assert writer.read(timeout=5.0) == b"+OK\r\n"
                acked.append(pending)
            assert wait_for(lambda: other.call(b"SET", b"after", b"space") == b"+OK\r\n", 5)
            assert "AOF write error looks solved, Redis can write again." in node.log()
            assert "aof_last_write_status:ok" in other.call(b"INFO", b"persistence").decode()
            for k in range(20):
                assert writer.call(b"SET", b"later:%d" % k, b"x") == b"+OK\r\n"
            writer.close()
            other.close()
            node.stop()
            check_aof(disk)
            node = start_on(disk, tmp_path, policy, port=node.port)
            r = node.client()
            missing = [k for k in acked if r.get(f"big:{k}") != VALUE]
            assert not missing, f"acknowledged writes lost: {missing[:10]}"
            assert r.get("after") == b"space"
            assert all(r.get(f"later:{k}") == b"x" for k in range(20))
        finally:
            node.stop()


def test_appendfsync_always_set_at_runtime_holds_the_refused_write(tmp_path: Path) -> None:
    """Redis reads appendfsync on every flush: CONFIG SET appendfsync always applies at once,
    so a write the full disk refuses is never acknowledged."""
    with small_tmpfs() as disk:
        node = start_on(disk, tmp_path, "everysec")
        try:
            writer = Conn(node.port, timeout=10)
            assert writer.call(b"CONFIG", b"SET", b"appendfsync", b"always") == b"+OK\r\n"
            answers = []
            for i in range(2000):
                writer.send(b"SET", b"big:%d" % i, VALUE)
                try:
                    answer = writer.read(timeout=2.0)
                except TimeoutError:
                    break  # held: what always promises
                answers.append(answer)
                assert answer == b"+OK\r\n", (
                    f"write {i} answered {answer[:60]!r} instead of being held until the disk "
                    f"takes it ({len(answers) - 1} acknowledged before)"
                )
            else:
                raise AssertionError("the disk never filled")
            writer.close()
        finally:
            node.stop(timeout=3)


@pytest.mark.parametrize("mode", ["fork", "live"])
def test_rewrite_that_runs_out_of_space_fails_cleanly(tmp_path: Path, mode: str) -> None:
    with small_tmpfs() as disk:
        node = start_on(disk, tmp_path, "always", "--snapshot-mode", mode)
        try:
            r = node.client()
            pipe = r.pipeline(transaction=False)
            for i in range(600):
                pipe.set(f"big:{i}", os.urandom(4000))  # incompressible for the RDB base
            pipe.execute()  # 2.4 MB in the incr file: no room for a 2.4 MB base too
            before = r.execute_command("DEBUG", "DIGEST")
            assert r.bgrewriteaof()
            done = wait_rewrite_done(r)
            assert done["aof_last_bgrewrite_status"] == "err"
            assert not [n for n in os.listdir(disk) if n.startswith("temp-")]
            names = sorted(os.listdir(disk / "appendonlydir"))
            assert not [n for n in names if n.startswith("temp-")]
            assert info(r)["aof_last_write_status"] == "ok"
            assert r.set("still", "writable")
            node.stop()
            check_aof(disk)
            node = start_on(disk, tmp_path, "always", port=node.port)
            r = node.client()
            assert r.get("still") == b"writable"
            r.delete("still")
            assert r.execute_command("DEBUG", "DIGEST") == before
        finally:
            node.stop()


def test_small_tmpfs_is_really_small() -> None:
    """The drill above is only meaningful if the mount limits space."""
    with small_tmpfs() as disk:
        assert shutil.disk_usage(disk).total <= 4 << 20
        with pytest.raises(OSError) as exc:
            make_filler(disk, 5 << 20)
        assert exc.value.errno == 28  # ENOSPC
