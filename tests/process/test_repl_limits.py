"""A replica that stops reading: the master cuts it off at client-output-buffer-limit
replica, keeps serving, and the replica resyncs when it comes back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.harness import start_keelkv

FAST = ("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes")


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("condition not met")


def in_sync(m: redis.Redis, r: redis.Redis) -> bool:
    info = r.info("replication")
    return (
        info.get("master_link_status") == "up"
        and info.get("slave_repl_offset") == m.info("replication")["master_repl_offset"]
    )


def test_a_stalled_replica_is_cut_off_and_resyncs(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    master = start_keelkv(
        *FAST,
        "--client-output-buffer-limit",
        "replica",
        "1mb",
        "256kb",
        "1",
        "--repl-backlog-size",
        "64kb",
        workdir=tmp_path / "m",
    )
    replica = None
    try:
        m = master.client()
        replica = start_keelkv(
            *FAST, "--replicaof", "127.0.0.1", str(master.port), workdir=tmp_path / "r"
        )
        r = replica.client()
        wait_for(lambda: in_sync(m, r))
        os.kill(replica.pid, signal.SIGSTOP)
        try:
            value = b"x" * 10_000
            for i in range(600):  # ~6 MB of stream: past the hard limit and the socket buffers
                m.set(f"big:{i}", value)
            wait_for(lambda: m.info("replication")["connected_slaves"] == 0)
            assert "scheduled to be closed ASAP for overcoming of output buffer limits" in (
                master.log()
            )
            m.set("still", "serving")
        finally:
            os.kill(replica.pid, signal.SIGCONT)
        wait_for(lambda: in_sync(m, r), timeout=30)
        assert r.execute_command("DEBUG", "DIGEST") == m.execute_command("DEBUG", "DIGEST")
        # The backlog (64 kB) could not cover the gap: the second sync was a full one.
        assert m.info("stats")["sync_full"] == 2
    finally:
        if replica is not None:
            replica.stop()
        master.stop()
