"""keelkv vs redis-server throughput, side by side in one run.

Starts a keelkv node and a real redis-server on free loopback ports with the same persistence
settings, runs `redis-benchmark -t set,get,incr,lpush,hset -c 50` with -P 1 and -P 16 against
each, alternating which goes first every round, and prints per test the median keelkv/redis
requests-per-second ratio and each server's user-CPU microseconds per request (from /proc).

    python3 bench/throughput.py [--rounds 3] [--aof | --appendfsync always] [--tests set] [--pipelines 1,16] [-n 100000]

Not part of the test suite: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import ServerProcess, start_keelkv, start_redis  # noqa: E402

TESTS = ["set", "get", "incr", "lpush", "hset"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def user_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK  # utime


def run_benchmark(port: int, test: str, pipeline: int, requests: int) -> float:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-p",
            str(port),
            "-t",
            test,
            "-c",
            "50",
            "-P",
            str(pipeline),
            "-n",
            str(requests),
            "--csv",
            "-q",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return float(rows[1][1])


def measure(server: ServerProcess, test: str, pipeline: int, requests: int) -> tuple[float, float]:
    before = user_cpu_seconds(server.pid)
    rps = run_benchmark(server.port, test, pipeline, requests)
    used = user_cpu_seconds(server.pid) - before
    return rps, used * 1e6 / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aof", action="store_true", help="appendonly yes, appendfsync everysec")
    parser.add_argument(
        "--appendfsync",
        choices=["always", "everysec", "no"],
        help="appendonly yes with this policy",
    )
    parser.add_argument("--tests", default=",".join(TESTS), help="comma-separated tests")
    parser.add_argument(
        "--pipelines", default="1,16", help="comma-separated -P values (default 1,16)"
    )
    parser.add_argument(
        "-n", "--requests", type=int, default=100_000, help="requests per P1 run (P16 runs 5x)"
    )
    args = parser.parse_args()
    policy = args.appendfsync or ("everysec" if args.aof else None)
    persistence = (
        ["--appendonly", "yes", "--appendfsync", policy] if policy else ["--appendonly", "no"]
    )
    tests = args.tests.split(",")
    pipelines = [int(p) for p in args.pipelines.split(",")]
    keel = start_keelkv(*persistence, workdir=Path(tempfile.mkdtemp(prefix="bench-keelkv-")))
    real = start_redis(*persistence, workdir=Path(tempfile.mkdtemp(prefix="bench-redis-")))
    results: dict[tuple[str, int], dict[str, list[tuple[float, float]]]] = {}
    try:
        for rnd in range(args.rounds):
            order = [("keelkv", keel), ("redis", real)]
            if rnd % 2:
                order.reverse()
            for pipeline in pipelines:
                n = args.requests * (5 if pipeline > 1 else 1)
                for test in tests:
                    for name, server in order:
                        rps, us = measure(server, test, pipeline, n)
                        results.setdefault((test, pipeline), {}).setdefault(name, []).append(
                            (rps, us)
                        )
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        keel.stop()
        real.stop()
    mode = f"appendonly yes, appendfsync {policy}" if policy else "appendonly no"
    print(f"keelkv vs redis-server {mode}, redis-benchmark -c 50, median of {args.rounds} rounds")
    print(
        f"{'test':<8}{'P':>3}{'keelkv rps':>13}{'redis rps':>13}{'ratio':>8}{'keelkv us/req':>15}{'redis us/req':>14}"
    )
    for (test, pipeline), by_server in results.items():
        ratios = [k[0] / r[0] for k, r in zip(by_server["keelkv"], by_server["redis"], strict=True)]
        k_rps = statistics.median(x[0] for x in by_server["keelkv"])
        r_rps = statistics.median(x[0] for x in by_server["redis"])
        k_us = statistics.median(x[1] for x in by_server["keelkv"])
        r_us = statistics.median(x[1] for x in by_server["redis"])
        print(
            f"{test:<8}{pipeline:>3}{k_rps:>13,.0f}{r_rps:>13,.0f}{statistics.median(ratios):>8.2f}{k_us:>15.2f}{r_us:>14.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
