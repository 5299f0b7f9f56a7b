"""keelkv vs redis-server RDB snapshots, side by side in one run.

Fills a keelkv node and a real redis-server with the same mixed dataset (70% strings, then
hashes, lists, sets and sorted sets), then measures on each:

- SAVE: wall time of the SAVE command;
- load: the "DB loaded from disk: X seconds" figure both servers log at restart;
- BGSAVE memory: while clients rewrite half the keys, the peak physical memory of the node
  plus its child (sum of PSS, which counts shared pages once, and sum of RSS, which counts
  them twice) above the node's memory before the save; for keelkv once per
  snapshot-mode (fork, live).

    python3 bench/snapshot.py [--keys 1000000]

Not part of the test suite: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import hiredis
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import ServerProcess, start_keelkv, start_redis  # noqa: E402

MB = 1024 * 1024


def commands_for(i: int) -> list[tuple[bytes, ...]]:
    kind = i % 20
    key = b"key:%d" % i
    if kind < 14:
        return [(b"SET", key, b"value-%d-" % i + b"x" * (i % 40))]
    if kind < 16:
        return [(b"HSET", key, b"f1", b"%d" % i, b"f2", b"v" * (i % 30), b"f3", b"3")]
    if kind < 18:
        return [(b"RPUSH", key, b"a", b"%d" % i, b"c" * (i % 25), b"d")]
    if kind < 19:
        return [(b"SADD", key, b"%d" % i, b"%d" % (i + 1), b"m%d" % i)]
    return [(b"ZADD", key, b"1", b"one", b"%d.5" % i, b"two", b"3", b"m%d" % i)]


def rewrite_for(i: int) -> tuple[bytes, ...]:
    kind = i % 20
    key = b"key:%d" % i
    if kind < 14:
        return (b"SET", key, b"rewritten-%d" % i)
    if kind < 16:
        return (b"HSET", key, b"f1", b"new")
    if kind < 18:
        return (b"RPUSH", key, b"new")
    if kind < 19:
        return (b"SADD", key, b"new")
    return (b"ZADD", key, b"9", b"new")


def pipeline(port: int, commands: list[tuple[bytes, ...]], batch: int = 5000) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        reader = hiredis.Reader()
        for start in range(0, len(commands), batch):
            chunk = commands[start : start + batch]
            s.sendall(b"".join(hiredis.pack_command(c) for c in chunk))
            got = 0
            while got < len(chunk):
                data = s.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    if isinstance(reply, hiredis.ReplyError):
                        raise RuntimeError(reply)
                    got += 1


def call(port: int, *args: bytes | str) -> object:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(hiredis.pack_command(tuple(args)))
        reader = hiredis.Reader()
        while (reply := reader.gets()) is False:
            reader.feed(s.recv(1 << 20))
        return reply


def fill(port: int, keys: int) -> None:
    commands = [c for i in range(keys) for c in commands_for(i)]
    pipeline(port, commands)


def tree_memory(pid: int) -> tuple[int, int]:
    """(sum of PSS, sum of RSS) of the process and its children."""
    pss = rss = 0
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children()]
    except psutil.Error:
        return 0, 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        pss += info.pss
        rss += info.rss
    return pss, rss


def bgsave_peak(server: ServerProcess, keys: int) -> tuple[int, int, float, float]:
    """Peak (PSS, RSS) growth of node + child during BGSAVE with half the keys rewritten,
    the seconds until both were done, and the rewrites per second clients got meanwhile."""
    base_pss, base_rss = tree_memory(server.pid)
    peak = [base_pss, base_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            pss, rss = tree_memory(server.pid)
            peak[0] = max(peak[0], pss)
            peak[1] = max(peak[1], rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    rewrites = [rewrite_for(i) for i in range(0, keys, 2)]
    started = time.monotonic()
    reply = call(server.port, "BGSAVE")
    if reply != b"Background saving started":
        raise RuntimeError(f"BGSAVE: {reply!r}")
    pipeline(server.port, rewrites)
    rewrite_rate = len(rewrites) / (time.monotonic() - started)
    while b"rdb_bgsave_in_progress:1" in call(server.port, "INFO", "persistence"):  # type: ignore[operator]
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    stop.set()
    sampler.join()
    return peak[0] - base_pss, peak[1] - base_rss, elapsed, rewrite_rate


def loaded_seconds(server: ServerProcess) -> float:
    found = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", server.log())
    if not found:
        raise RuntimeError("no load time in the log:\n" + server.log()[-2000:])
    return float(found[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    keys = args.keys
    keel_dir = Path(tempfile.mkdtemp(prefix="bench-keelkv-"))
    redis_dir = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    keel = start_keelkv(workdir=keel_dir)
    real = start_redis(workdir=redis_dir)
    try:
        print(f"filling both servers with {keys} mixed keys ...", flush=True)
        fill(keel.port, keys)
        fill(real.port, keys)
        save = {}
        for name, server in (("keelkv", keel), ("redis", real)):
            t = time.monotonic()
            assert call(server.port, "SAVE") == b"OK"
            save[name] = time.monotonic() - t
        size = {
            "keelkv": (keel_dir / "dump.rdb").stat().st_size,
            "redis": (redis_dir / "dump.rdb").stat().st_size,
        }
        keel.stop()
        real.stop()
        keel = start_keelkv(workdir=keel_dir, port=keel.port)
        real = start_redis(workdir=redis_dir, port=real.port)
        load = {"keelkv": loaded_seconds(keel), "redis": loaded_seconds(real)}
        print(
            f"\nRDB of {keys} mixed keys (keelkv file {size['keelkv'] / MB:.1f} MB, redis {size['redis'] / MB:.1f} MB)"
        )
        print(f"{'':<8}{'keelkv s':>10}{'redis s':>10}{'ratio':>8}")
        for what, figures in (("SAVE", save), ("load", load)):
            ratio = figures["keelkv"] / figures["redis"]
            print(f"{what:<8}{figures['keelkv']:>10.2f}{figures['redis']:>10.2f}{ratio:>8.2f}")
        print("\nBGSAVE while clients rewrite half the keys: peak growth of node + child")
        print(f"{'server':<16}{'PSS MB':>9}{'RSS MB':>9}{'seconds':>9}{'rewrites/s':>12}")
        rows = []
        for mode in ("fork", "live"):
            assert call(keel.port, "CONFIG", "SET", "snapshot-mode", mode) == b"OK"
            rows.append((f"keelkv {mode}", *bgsave_peak(keel, keys)))
        rows.append(("redis", *bgsave_peak(real, keys)))
        for name, pss, rss, secs, rate in rows:
            print(f"{name:<16}{pss / MB:>9.1f}{rss / MB:>9.1f}{secs:>9.2f}{rate:>12.0f}")
        base_pss, base_rss = tree_memory(keel.pid)
        rbase_pss, _ = tree_memory(real.pid)
        print(
            f"\nbefore the saves: keelkv node PSS {base_pss / MB:.0f} MB, redis PSS {rbase_pss / MB:.0f} MB"
        )
    finally:
        keel.stop()
        real.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
