"""keelkv vs redis-server replication, side by side in one run.

Full sync: a master holding the mixed dataset of bench/snapshot.py and a fresh, empty
replica of the same kind (keelkv -> keelkv, redis -> redis); timed from sending
`REPLICAOF host port` to the replica's INFO replication showing `master_link_status:up`
(polled every 10 ms), once with `repl-diskless-sync yes` and once with `no`. Both masters
run with `repl-diskless-sync-delay 0`, so Redis's wait for more replicas is not counted.
After each sync the replica's DBSIZE must equal the master's. Target: keelkv at most
3x redis's time.

Stream lag: a fresh, empty master with its replica attached takes
`redis-benchmark -t set -n M -P 16 -c 50 -r 100000`; every 50 ms the master's
master_repl_offset and then the replica's slave_repl_offset are sampled (lag = their
difference, in bytes). A sample waits for both INFO replies, so busy servers are sampled
less often: "samples" against "run s" shows how often. Reported: max and mean lag during the
run, the seconds from the end of the run until both offsets are equal, the master's requests
per second, and how many resyncs the master served meanwhile (anything but 0 means the link
dropped, and the offsets after it come from a new sync; the logs are printed).

    python3 bench/replication.py [--keys 1000000] [--requests 2000000] [--only sync|lag]

Not part of the test suite: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import hiredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.snapshot import fill  # noqa: E402
from node._native import native_is_current  # noqa: E402
from tests.harness import (  # noqa: E402
    ROOT,
    ServerProcess,
    free_port,
    keelkv_argv,
    redis_server_path,
)

KINDS = ("keelkv", "redis")
MODES = ("yes", "no")
SYNC_POLL = 0.01
LAG_SAMPLE = 0.05
TARGET_RATIO = 3.0
# Applied to every master: a diskless sync starts at once instead of waiting for more replicas.
MASTER_ARGS = ("--repl-diskless-sync-delay", "0")


class Probe:
    """One persistent connection for polling, so that polls do not pay for a connect."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = hiredis.Reader()

    def call(self, *args: str) -> object:
        self.sock.sendall(hiredis.pack_command(args))
        while (reply := self.reader.gets()) is False:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)
        if isinstance(reply, hiredis.ReplyError):
            raise RuntimeError(f"{' '.join(args)}: {reply}")
        return reply

    def info(self, section: str) -> dict[str, str]:
        text = self.call("INFO", section)
        assert isinstance(text, bytes)
        return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)

    def close(self) -> None:
        self.sock.close()


class Fleet:
    """Every server this run starts, each in its own temp dir; all stopped by PID at the end."""

    def __init__(self) -> None:
        self.servers: list[ServerProcess] = []
        self.dirs: list[Path] = []

    def start(self, kind: str, *extra: str) -> ServerProcess:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-repl-{kind}-"))
        self.dirs.append(workdir)
        port = free_port()
        # The same command lines as tests/harness.py's start_keelkv and start_redis, but the
        # process is registered before it starts, so one that never gets ready is stopped too.
        if kind == "keelkv":
            os.environ.setdefault("PYTHONPATH", str(ROOT))
            argv = keelkv_argv(port, *extra)
        else:
            argv = [redis_server_path(), "--port", str(port), "--save", "", "--appendonly", "no"]
            argv += ["--dir", str(workdir), *extra]
        server = ServerProcess(argv, port, workdir, workdir / f"{kind}-{port}.log")
        self.servers.append(server)
        return server.start()

    def discard(self, server: ServerProcess) -> None:
        self.servers.remove(server)
        server.stop()
        self.dirs.remove(server.workdir)
        shutil.rmtree(server.workdir, ignore_errors=True)

    def close(self) -> None:
        for server in self.servers:
            if server.proc is None:
                continue  # never spawned
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                print(f"stopping pid {server.pid}: {exc}", file=sys.stderr)
        for workdir in self.dirs:
            shutil.rmtree(workdir, ignore_errors=True)
        self.servers.clear()
        self.dirs.clear()


def evidence(what: str, *servers: ServerProcess, lines: int = 80) -> None:
    """Print why a measurement failed, with the tail of each server's log."""
    print(f"\n{what}", file=sys.stderr)
    for server in servers:
        tail = server.log().splitlines()[-lines:]
        print(f"--- {server.log_path.name} (pid {server.pid}) ---", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)


def attach(replica: ServerProcess, master: ServerProcess, timeout: float) -> float:
    """Seconds from REPLICAOF to master_link_status:up on the replica."""
    probe = Probe(replica.port, timeout)
    try:
        started = time.monotonic()
        reply = probe.call("REPLICAOF", "127.0.0.1", str(master.port))
        if not (isinstance(reply, bytes) and reply.startswith(b"OK")):
            raise RuntimeError(f"REPLICAOF: {reply!r}")
        deadline = started + timeout
        while probe.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise TimeoutError(f"master_link_status not up after {timeout:.0f} s")
            time.sleep(SYNC_POLL)
        return time.monotonic() - started
    finally:
        probe.close()


def dbsize(server: ServerProcess) -> int:
    probe = Probe(server.port, 60)
    try:
        n = probe.call("DBSIZE")
        assert isinstance(n, int)
        return n
    finally:
        probe.close()


def full_sync(
    fleet: Fleet, kind: str, master: ServerProcess, mode: str, timeout: float
) -> float | None:
    """One full sync to a fresh replica; None (with the logs printed) when it fails."""
    probe = Probe(master.port, 10)
    try:
        probe.call("CONFIG", "SET", "repl-diskless-sync", mode)
    finally:
        probe.close()
    replica = fleet.start(kind)
    try:
        seconds = attach(replica, master, timeout)
        got, want = dbsize(replica), dbsize(master)
        if got != want:
            raise RuntimeError(f"replica DBSIZE {got} != master DBSIZE {want}")
        return seconds
    except Exception as exc:
        evidence(f"{kind} full sync, repl-diskless-sync {mode}: {exc}", replica, master)
        return None
    finally:
        fleet.discard(replica)


@dataclass
class Lag:
    rps: float = 0.0
    samples: list[int] = field(default_factory=list)
    catch_up: float = 0.0
    seconds: float = 0.0  # the benchmark's run
    resyncs: int = 0  # full or partial resyncs the master served during the run


def sync_count(master: Probe) -> int:
    stats = master.info("stats")
    return int(stats["sync_full"]) + int(stats["sync_partial_ok"])


def offsets(master: Probe, replica: Probe) -> tuple[int, int]:
    """(master_repl_offset, slave_repl_offset), the master's read first."""
    m = int(master.info("replication")["master_repl_offset"])
    r = int(replica.info("replication")["slave_repl_offset"])
    return m, r


def benchmark_argv(port: int, requests: int) -> list[str]:
    return [
        "redis-benchmark",
        "-p",
        str(port),
        "-t",
        "set",
        "-n",
        str(requests),
        "-P",
        "16",
        "-c",
        "50",
        "-r",
        "100000",
        "--csv",
        "-q",
    ]


def stream_lag(fleet: Fleet, kind: str, requests: int, timeout: float) -> Lag | None:
    master = fleet.start(kind, *MASTER_ARGS)
    replica = fleet.start(kind)
    probes: list[Probe] = []
    try:
        attach(replica, master, timeout)
        m_probe, r_probe = Probe(master.port, timeout), Probe(replica.port, timeout)
        probes.extend((m_probe, r_probe))
        result = Lag()
        syncs_before = sync_count(m_probe)
        stop = threading.Event()
        errors: list[BaseException] = []

        def sample() -> None:
            tick = time.monotonic()
            try:
                while not stop.is_set():
                    m, r = offsets(m_probe, r_probe)
                    result.samples.append(m - r)
                    tick += LAG_SAMPLE
                    stop.wait(max(0.0, tick - time.monotonic()))
            except BaseException as exc:
                errors.append(exc)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            out = subprocess.run(
                benchmark_argv(master.port, requests),
                check=True,
                capture_output=True,
                text=True,
                timeout=timeout,
            ).stdout
        finally:
            stop.set()
            sampler.join()
        ended = time.monotonic()
        result.seconds = ended - started
        if errors:
            raise errors[0]
        while True:
            m, r = offsets(m_probe, r_probe)
            if m == r:
                break
            if time.monotonic() - ended > timeout:
                raise TimeoutError(f"replica still {m - r} bytes behind after {timeout:.0f} s")
            time.sleep(SYNC_POLL)
        result.catch_up = time.monotonic() - ended
        result.resyncs = sync_count(m_probe) - syncs_before
        if result.resyncs:
            # The offsets then restarted from a new sync: show why the link dropped.
            evidence(
                f"{kind} stream lag: {result.resyncs} resync(s) during the run", replica, master
            )
        result.rps = float(list(csv.reader(io.StringIO(out)))[1][1])
        got, want = dbsize(replica), dbsize(master)
        if got != want:
            raise RuntimeError(f"replica DBSIZE {got} != master DBSIZE {want}")
        return result
    except Exception as exc:
        evidence(f"{kind} stream lag: {exc}", replica, master)
        return None
    finally:
        for probe in probes:
            probe.close()
        fleet.discard(replica)
        fleet.discard(master)


def ratio(keel: float | None, real: float | None) -> str:
    if keel is None or real is None or real == 0:
        return "-"
    return f"{keel / real:,.2f}"


def figure(value: float | None, fmt: str) -> str:
    return "failed" if value is None else format(value, fmt)


def run_sync(fleet: Fleet, keys: int, timeout: float) -> None:
    masters = {}
    for kind in KINDS:
        masters[kind] = fleet.start(kind, *MASTER_ARGS)
        print(f"filling the {kind} master with {keys} mixed keys ...", flush=True)
        fill(masters[kind].port, keys)
    seconds: dict[tuple[str, str], float | None] = {}
    for i, mode in enumerate(MODES):
        # Alternate which kind goes first, so neither always runs on a warmer machine.
        for kind in KINDS if i % 2 == 0 else reversed(KINDS):
            print(f"{kind}: full sync, repl-diskless-sync {mode} ...", flush=True)
            seconds[kind, mode] = full_sync(fleet, kind, masters[kind], mode, timeout)
    for master in masters.values():
        fleet.discard(master)
    print(f"\nFull sync of {keys} mixed keys: REPLICAOF on an empty replica -> link up")
    print(f"{'repl-diskless-sync':<20}{'keelkv s':>10}{'redis s':>10}{'ratio':>8}")
    for mode in MODES:
        keel, real = seconds["keelkv", mode], seconds["redis", mode]
        print(f"{mode:<20}{figure(keel, '.2f'):>10}{figure(real, '.2f'):>10}{ratio(keel, real):>8}")
    print(f"target: ratio <= {TARGET_RATIO:.0f}")


def run_lag(fleet: Fleet, requests: int, timeout: float) -> None:
    results: dict[str, Lag | None] = {}
    for kind in KINDS:
        print(f"{kind}: {requests} SETs against the master, replica attached ...", flush=True)
        results[kind] = stream_lag(fleet, kind, requests, timeout)
    print(
        f"\nStream lag: redis-benchmark -t set -n {requests} -P 16 -c 50 -r 100000 on the master,"
        f" offsets sampled at most every {LAG_SAMPLE * 1000:.0f} ms"
    )
    print(f"{'':<20}{'keelkv':>14}{'redis':>14}{'ratio':>10}")
    keel, real = results["keelkv"], results["redis"]
    rows: list[tuple[str, float | None, float | None, str]] = [
        ("master SET/s", keel and keel.rps, real and real.rps, ",.0f"),
        ("max lag bytes", keel and max(keel.samples), real and max(real.samples), ",.0f"),
        (
            "mean lag bytes",
            keel and statistics.fmean(keel.samples),
            real and statistics.fmean(real.samples),
            ",.0f",
        ),
        ("catch-up s", keel and keel.catch_up, real and real.catch_up, ".3f"),
        ("run s", keel and keel.seconds, real and real.seconds, ".1f"),
        ("samples", keel and len(keel.samples), real and len(real.samples), "d"),
        ("resyncs", keel and keel.resyncs, real and real.resyncs, "d"),
    ]
    for name, k, r, fmt in rows:
        print(f"{name:<20}{figure(k, fmt):>14}{figure(r, fmt):>14}{ratio(k, r):>10}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys on the sync masters")
    parser.add_argument(
        "--requests", type=int, default=2_000_000, help="SETs for the stream-lag run"
    )
    parser.add_argument("--only", choices=["sync", "lag"])
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds before a sync or catch-up fails"
    )
    args = parser.parse_args()
    compiled = native_is_current() and not os.environ.get("KEELKV_PURE_PYTHON")
    print(f"keelkv hot path: {'compiled (mypyc)' if compiled else 'plain Python'}")
    # SIGTERM unwinds like an error, so the finally below still stops every server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    fleet = Fleet()
    try:
        if args.only in (None, "sync"):
            run_sync(fleet, args.keys, args.timeout)
        if args.only in (None, "lag"):
            run_lag(fleet, args.requests, args.timeout)
    finally:
        fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
