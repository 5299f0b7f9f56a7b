"""The compose cluster end to end: `scripts/cluster up`, a drill per fault, `down`.

Builds what is missing (base images made locally when they cannot be pulled, the keelkv
image, the wheelhouse), so the first run on a fresh machine takes a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "keelkv-ci"
pytestmark = pytest.mark.cluster


def cluster(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT)
    return subprocess.run(
        [str(ROOT / "scripts" / "cluster"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report_fields(stdout: str) -> dict[str, str]:
    fields = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.replace("_", "").isalnum():
            fields[key] = value
    return fields


@pytest.fixture(scope="module")
def running_cluster() -> Iterator[None]:
    up = cluster("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield
    finally:
        down = cluster("down")
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.parametrize("fault", ["kill", "pause", "partition"])
def test_drill_loses_no_acknowledged_write(running_cluster: None, fault: str) -> None:
    done = cluster("drill", "--fault", fault, "--report", f"{fault}.json")
    fields = report_fields(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert float(fields["failover_seconds"]) > 0
    assert int(fields["acknowledged_writes"]) > 0
    assert fields["lost_acknowledged_writes"] == "0"
    assert fields["digests_equal"] == "yes"
    assert fields["old_master_rejoined"] == "yes"
    print(done.stdout)
    saved = ROOT / "build" / "drill-reports" / f"{fault}.json"
    assert json.loads(saved.read_text())["ok"] is True


NET = os.environ.get("KEELKV_NET_PREFIX", "172.31.237")
WRITER = r"""
import json, time, redis
from redis.backoff import NoBackoff
from redis.retry import Retry
r = redis.Redis(port=6379, socket_timeout=2, retry=Retry(NoBackoff(), 0))
out = {"accepted": [], "noreplicas": 0, "acked": 0, "errors": 0}
end = time.monotonic() + 10
i = 0
while time.monotonic() < end:
    i += 1
    try:
        r.set(f"part:{i}", i)
        out["accepted"].append(i)
        if int(r.execute_command("WAIT", 1, 200)) >= 1:
            out["acked"] += 1
    except redis.ResponseError as exc:
        if str(exc).startswith("NOREPLICAS"):
            out["noreplicas"] += 1
        else:
            out["errors"] += 1
    except redis.RedisError:
        out["errors"] += 1
    time.sleep(0.05)
print(json.dumps(out))
"""


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def container_with_ip(ip: str) -> str:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").split()
    for cid in ids:
        fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        if ip in docker("inspect", "-f", fmt, cid).split():
            return cid
    raise AssertionError(f"no container has {ip}")


def iptables(cid: str, *rule: str) -> None:
    """Run iptables in the node's network namespace (a helper container, NET_ADMIN)."""
    docker(
        "run", "--rm", "--net", f"container:{cid}", "--cap-add", "NET_ADMIN",
        "--user", "root", "--entrypoint", "iptables", "keelkv:latest", *rule,
    )  # fmt: skip


def test_partitioned_master_stops_taking_writes_with_min_replicas(running_cluster: None) -> None:
    """A one-sided partition: the master loses the network but keeps a client on its own
    side (in its container). min-replicas-to-write turns that client's writes away once the
    replicas' ACKs are older than min-replicas-max-lag; what it accepted before was never
    acknowledged by WAIT, and no acknowledged write is lost after healing."""
    import redis

    sentinel = redis.Redis(port=int(os.environ.get("SENTINEL_PORT_1", "26380")))
    host, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
    ip = host.decode()
    cid = container_with_ip(ip)
    master = redis.Redis(host=ip, port=int(port), socket_timeout=5)
    master.config_set("min-replicas-to-write", 1)
    master.config_set("min-replicas-max-lag", 3)
    for i in range(200):
        master.set(f"acked:{i}", i)
    assert int(master.execute_command("WAIT", 2, 5000)) == 2
    iptables(cid, "-A", "INPUT", "-s", f"{NET}.0/24", "-j", "DROP")
    iptables(cid, "-A", "OUTPUT", "-d", f"{NET}.0/24", "-j", "DROP")
    try:
        result = json.loads(docker("exec", cid, "/opt/keelkv/venv/bin/python", "-c", WRITER))
    finally:
        iptables(cid, "-F")
    print("writes on the partitioned master:", {**result, "accepted": len(result["accepted"])})
    assert result["acked"] == 0  # nothing it took was acknowledged
    assert result["noreplicas"] > 0  # and then it refused writes
    # Healed: Sentinel has promoted another node and turns the old master into its replica.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            info = master.info("replication")
            if info["role"] == "slave" and info["master_link_status"] == "up":
                break
        except redis.RedisError:
            pass
        time.sleep(0.5)
    else:
        raise AssertionError("the old master did not rejoin as a replica")
    new_host, new_port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
    new = redis.Redis(host=new_host.decode(), port=int(new_port), socket_timeout=5)
    assert new_host.decode() != ip
    values = new.mget([f"acked:{i}" for i in range(200)])
    assert values == [str(i).encode() for i in range(200)]
    # The writes the isolated master accepted without acknowledgement are gone everywhere.
    assert not new.exists(*[f"part:{i}" for i in result["accepted"]] or ["part:none"])
