"""keelkv-drill: run a failover drill against a Sentinel-watched group.

    keelkv-drill --sentinel sentinel-1:26379 --sentinel sentinel-2:26379 --fault kill

Inside the compose cluster it runs as the `drill` service (profile `drill`) with the Docker
socket mounted, so faults act on the master's container. With `--pids`, faults act on
local processes instead (a group run outside Docker; `kill` is healed by `--restart-cmd`).
Prints the report (the lines scripts parse) and writes it as JSON; exits 1 if an
acknowledged write was lost or the digests differ, 2 if no failover happened.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys

from replication.drill.docker_api import DockerApi
from replication.drill.faults import FAULTS, Address, DockerFaults, Faults, ProcessFaults
from replication.drill.run import Drill, DrillSettings


def parse_address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="keelkv-drill", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sentinel",
        action="append",
        type=parse_address,
        help="a Sentinel as host:port (repeat; default from KEELKV_DRILL_SENTINELS)",
    )
    p.add_argument("--master-name", default="mymaster")
    p.add_argument("--fault", choices=FAULTS, default="kill")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the fault")
    p.add_argument("--after", type=float, default=3.0, help="seconds of load after rejoining")
    p.add_argument("--timeout", type=float, default=90.0, help="limit for each phase (s)")
    p.add_argument("--acks", type=int, default=1, help="replicas WAIT must report per write")
    p.add_argument("--wait-ms", type=int, default=1000, help="WAIT's timeout per write")
    p.add_argument("--password", default=os.environ.get("KEELKV_DRILL_PASSWORD"))
    p.add_argument("--report", default="drill-report.json", help="JSON report file")
    p.add_argument("--docker-socket", default="/var/run/docker.sock")
    p.add_argument("--project", default=os.environ.get("COMPOSE_PROJECT_NAME"))
    p.add_argument(
        "--pids",
        default=None,
        help="local mode: host:port=pid,... instead of Docker containers",
    )
    p.add_argument(
        "--restart-cmd",
        default=None,
        help="local mode: command that restarts a killed node ({port} is replaced); "
        "it must print the new PID",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sentinels = args.sentinel or [
        parse_address(s) for s in os.environ.get("KEELKV_DRILL_SENTINELS", "").split(",") if s
    ]
    if not sentinels:
        print("keelkv-drill: no Sentinel given (--sentinel host:port)", file=sys.stderr)
        return 2
    faults: Faults
    if args.pids:
        pids = {}
        for item in args.pids.split(","):
            addr, _, pid = item.partition("=")
            pids[parse_address(addr)] = int(pid)

        def restart(node: Address) -> int:
            if not args.restart_cmd:
                raise SystemExit("keelkv-drill: --fault kill in local mode needs --restart-cmd")
            cmd = args.restart_cmd.replace("{port}", str(node[1]))
            out = subprocess.run(shlex.split(cmd), capture_output=True, text=True, check=True)
            return int(out.stdout.split()[-1])

        faults = ProcessFaults(pids, restart)
    else:
        faults = DockerFaults(DockerApi(args.docker_socket), args.project)
    settings = DrillSettings(
        sentinels=sentinels,
        master_name=args.master_name,
        fault=args.fault,
        warmup=args.warmup,
        after=args.after,
        timeout=args.timeout,
        acks=args.acks,
        wait_ms=args.wait_ms,
        password=args.password,
    )
    report = Drill(settings, faults).run()
    for line in report.lines():
        print(line)
    with open(args.report, "w") as f:
        json.dump(report.as_json(), f, indent=2)
    print(f"report: {args.report}")
    if report.failover_seconds < 0:
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
