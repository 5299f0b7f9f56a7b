"""Start and stop real server processes (keelkv and redis-server) on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hiredis

from node.resp import encode_command

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server process started by a test; stopped by its own PID."""

    def __init__(self, argv: list[str], port: int, workdir: Path, log_path: Path) -> None:
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> ServerProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with RawClient(self.port, timeout=1) as c:
                    if c.call(b"PING") == b"+PONG\r\n":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server on port {self.port} not ready:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def client(self, **kw: Any) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def keelkv_argv(port: int, *extra: str, config_file: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "node.cli"]
    if config_file:
        argv.append(config_file)
    return argv + ["--port", str(port), "--save", "", *extra]


def start_keelkv(
    *extra: str,
    workdir: Path | None = None,
    config_file: str | None = None,
    port: int | None = None,
) -> ServerProcess:
    port = port or free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="keelkv-test-"))
    env_argv = keelkv_argv(port, *extra, config_file=config_file)
    proc = ServerProcess(env_argv, port, workdir, workdir / f"keelkv-{port}.log")
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    return proc.start()


def redis_server_path() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server 7.0 is required for differential tests (apt-get install redis-server)"
        )
    return path


def start_redis(*extra: str, workdir: Path | None = None, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="redis-test-"))
    argv = [
        redis_server_path(),
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *extra,
    ]
    proc = ServerProcess(argv, port, workdir, workdir / f"redis-{port}.log")
    return proc.start()


class RawClient:
    """A blocking RESP client that returns each reply's exact bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_command(self, *argv: bytes | str | int) -> None:
        """Send one command without reading its reply (a client about to block)."""
        self.send_raw(
            encode_command([a if isinstance(a, bytes) else str(a).encode() for a in argv])
        )

    def call(self, *argv: bytes | str | int) -> bytes:
        self.send_command(*argv)
        return self.read_reply()

    def read_reply(self) -> bytes:
        """Read exactly one reply and return its bytes."""
        while True:
            if self.buf:
                n = reply_length(self.buf)
                if n is not None:
                    reply, self.buf = self.buf[:n], self.buf[n:]
                    return reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; pending {self.buf!r}")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reply_length(buf: bytes) -> int | None:
    """Length of the first complete RESP2/RESP3 reply in `buf`, or None if incomplete."""
    end = _reply_end(buf, 0)
    return end


def _reply_end(buf: bytes, pos: int) -> int | None:
    if pos >= len(buf):
        return None
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind = buf[pos : pos + 1]
    head = buf[pos + 1 : nl]
    after = nl + 2
    if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
        return after
    if kind in (b"$", b"=", b"!"):
        n = int(head)
        if n < 0:
            return after
        end = after + n + 2
        return end if end <= len(buf) else None
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(head)
        if n < 0:
            return after
        count = n * 2 if kind in (b"%", b"|") else n
        p: int | None = after
        for _ in range(count):
            assert p is not None
            p = _reply_end(buf, p)
            if p is None:
                return None
        if kind == b"|":
            return _reply_end(buf, p)  # type: ignore[arg-type]
        return p
    raise ValueError(f"bad reply type {kind!r} in {buf[:50]!r}")


def blocked_clients(node: ServerProcess) -> int:
    """INFO clients' blocked_clients of a running server."""
    with RawClient(node.port) as probe:
        info = probe.call("INFO", "clients").decode()
    for line in info.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("INFO clients has no blocked_clients")


def wait_blocked(node: ServerProcess, count: int, timeout: float = 5.0) -> None:
    """Wait until `count` clients are blocked, so that arrival order is the send order."""
    deadline = time.monotonic() + timeout
    while blocked_clients(node) != count:
        assert time.monotonic() < deadline, f"expected {count} blocked clients"
        time.sleep(0.005)


def decode(reply: bytes) -> Any:
    r = hiredis.Reader()
    r.feed(reply)
    return r.gets()


# -- replication tests --------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll `predicate` until it returns a true value; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.05)


def in_sync(master: Any, replica: Any) -> bool:
    """The replica's link is up and it has applied every byte the master produced
    (both redis-py clients)."""
    offset = master.info("replication")["master_repl_offset"]
    info = replica.info("replication")
    return info.get("master_link_status") == "up" and info.get("slave_repl_offset") == offset


def digest(r: Any) -> bytes:
    return bytes(r.execute_command("DEBUG", "DIGEST"))
