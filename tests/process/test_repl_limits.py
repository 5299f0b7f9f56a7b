"""A replica that stops reading: the master cuts it off at client-output-buffer-limit
replica, keeps serving, and the replica resyncs when it comes back."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.harness import in_sync, start_keelkv, wait_for

FAST = ("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes")


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
