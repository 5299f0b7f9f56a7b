"""keelkv vs redis-server BGREWRITEAOF of the same dataset, side by side in one run.

Both servers run with `appendonly yes` (RDB preamble, the default) and hold the same mixed
dataset as bench/snapshot.py; each rewrite is timed from the command to
`aof_rewrite_in_progress:0` with nothing else running. keelkv is measured in both
snapshot modes.

    python3 bench/aof_rewrite.py [--keys 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.snapshot import call, fill  # noqa: E402
from tests.harness import ServerProcess, start_keelkv, start_redis  # noqa: E402


def rewrite_seconds(server: ServerProcess) -> float:
    started = time.monotonic()
    reply = call(server.port, "BGREWRITEAOF")
    if reply != b"Background append only file rewriting started":
        raise RuntimeError(f"BGREWRITEAOF: {reply!r}")
    while b"aof_rewrite_in_progress:1" in call(server.port, "INFO", "persistence"):  # type: ignore[operator]
        time.sleep(0.01)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    # No automatic rewrite while filling: only the measured one runs.
    aof = ("--appendonly", "yes", "--auto-aof-rewrite-percentage", "0")
    keel = start_keelkv(*aof, workdir=Path(tempfile.mkdtemp(prefix="bench-keelkv-")))
    real = start_redis(*aof, workdir=Path(tempfile.mkdtemp(prefix="bench-redis-")))
    try:
        print(f"filling both servers with {args.keys} mixed keys ...", flush=True)
        fill(keel.port, args.keys)
        fill(real.port, args.keys)
        redis_s = rewrite_seconds(real)
        print(f"\nBGREWRITEAOF of {args.keys} mixed keys")
        print(f"{'server':<16}{'seconds':>9}{'ratio':>8}")
        for mode in ("fork", "live"):
            assert call(keel.port, "CONFIG", "SET", "snapshot-mode", mode) == b"OK"
            secs = rewrite_seconds(keel)
            print(f"{'keelkv ' + mode:<16}{secs:>9.2f}{secs / redis_s:>8.2f}")
        print(f"{'redis':<16}{redis_s:>9.2f}{1.0:>8.2f}")
    finally:
        keel.stop()
        real.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
