"""keelkv-drill against a keelkv group watched by three real redis-sentinel processes on
loopback: faults on local processes (the Docker faults run in the cluster tests)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from replication.drill.faults import Address, ProcessFaults
from replication.drill.run import Drill, DrillSettings
from tests.process.test_sentinel import Group, group  # noqa: F401  (the fixture)

pytestmark = pytest.mark.interop


def faults_for(g: Group) -> ProcessFaults:
    by_port = {n.port: n for n in g.nodes}
    pids: dict[Address, int] = {("127.0.0.1", p): n.pid for p, n in by_port.items()}

    def restart(node: Address) -> int:
        old = by_port[node[1]]
        proc = g.start_node(old.workdir.name, port=node[1])
        return proc.pid

    return ProcessFaults(pids, restart)


@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_drill_reports_no_acknowledged_write_lost(group: Group, fault: str) -> None:  # noqa: F811
    settings = DrillSettings(
        sentinels=[("127.0.0.1", s.port) for s in group.sentinels],
        fault=fault,
        warmup=2.0,
        after=1.0,
        timeout=60.0,
    )
    out = io.StringIO()
    report = Drill(settings, faults_for(group), out=out).run()
    lines = "\n".join(report.lines())
    print(lines)
    assert report.failover_seconds > 0, out.getvalue() + lines + group.logs()
    assert report.acknowledged_writes > 0
    assert report.lost_acknowledged_writes == 0, lines
    assert report.old_master_rejoined, lines + group.logs()
    assert report.digests_equal, lines
    assert report.replicas_following == 2, lines
    assert "lost_acknowledged_writes: 0" in lines and "digests_equal: yes" in lines


def test_drill_cli_local_mode_writes_its_json_report(group: Group, tmp_path: Path) -> None:  # noqa: F811
    master = group.nodes[0]
    pids = ",".join(f"127.0.0.1:{n.port}={n.pid}" for n in group.nodes)
    report_path = tmp_path / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "replication.drill.cli",
        *[arg for s in group.sentinels for arg in ("--sentinel", f"127.0.0.1:{s.port}")],
        "--fault",
        "pause",
        "--pids",
        pids,
        "--warmup",
        "1",
        "--after",
        "1",
        "--report",
        str(report_path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr + group.logs()
    assert "lost_acknowledged_writes: 0" in done.stdout
    data = json.loads(report_path.read_text())
    assert data["ok"] is True and data["old_master"] == f"127.0.0.1:{master.port}"
