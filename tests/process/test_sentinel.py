"""Real `redis-sentinel` 7.0 processes watching a keelkv master and two keelkv replicas.

Three Sentinels (quorum 2) find the replicas through the master's INFO, and after a SIGKILL
of the master they elect a leader, promote a replica with the MULTI / SLAVEOF NO ONE /
CONFIG REWRITE / CLIENT KILL / EXEC transaction, re-point the other replica and, when the old
master comes back as a master, turn it into a replica of the new one. Everything runs on
loopback; every process is stopped by its PID, even when a test fails.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hiredis
import psutil
import pytest
import redis

from tests.harness import RawClient, ServerProcess, decode, free_port, in_sync, keelkv_argv

GROUP = "mymaster"
QUORUM = 2
DOWN_AFTER_MS = 3000
FAILOVER_TIMEOUT_MS = 10000
SENTINEL_BIN = "/usr/bin/redis-sentinel"
SERVER_BIN = "/usr/bin/redis-server"
# Every node keeps an AOF, so a restarted node comes back with its old data; no 5 s wait
# before a diskless full sync.
NODE_ARGS = (
    "--enable-debug-command",
    "yes",
    "--repl-diskless-sync-delay",
    "0",
    "--appendonly",
    "yes",
)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    logs: Callable[[], str] = lambda: "",
) -> Any:
    """Poll `predicate` until it returns a true value; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs()}")
        time.sleep(0.1)


def pairs(flat: list[Any]) -> dict[str, str]:
    """A Sentinel reply of alternating field names and values, as text."""
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    return dict(zip(text[::2], text[1::2], strict=True))


class Group:
    """A keelkv master, two keelkv replicas and three Sentinels; stops them all."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.procs: list[ServerProcess] = []
        self.nodes: list[ServerProcess] = []
        self.sentinels: list[ServerProcess] = []
        self.orphans: set[int] = set()
        self.clients: dict[int, redis.Redis] = {}

    # -- processes ---------------------------------------------------------------

    def start_node(self, name: str, *extra: str, port: int | None = None) -> ServerProcess:
        """A keelkv node with its own directory and config file (so CONFIG REWRITE works)."""
        workdir = self.base / name
        workdir.mkdir(exist_ok=True)
        conf = workdir / "keelkv.conf"
        if not conf.exists():
            conf.write_text(f'dir "{workdir}"\n')
        port = port or free_port()
        argv = keelkv_argv(port, *NODE_ARGS, *extra, config_file=str(conf))
        proc = ServerProcess(argv, port, workdir, workdir / "keelkv.log")
        self.procs.append(proc)  # before it starts, so that stop() finds it whatever happens
        proc.start()
        return proc

    def start_sentinel(self, name: str, master_port: int) -> ServerProcess:
        workdir = self.base / name
        workdir.mkdir()
        port = free_port()
        conf = workdir / "sentinel.conf"
        conf.write_text(
            f"port {port}\n"
            "bind 127.0.0.1\n"
            f'dir "{workdir}"\n'
            f"sentinel monitor {GROUP} 127.0.0.1 {master_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {GROUP} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {GROUP} {FAILOVER_TIMEOUT_MS}\n"
        )
        argv = [SENTINEL_BIN, str(conf), "--port", str(port)]
        proc = ServerProcess(argv, port, workdir, workdir / "sentinel.log")
        self.procs.append(proc)
        proc.start()
        return proc

    def start(self) -> None:
        master = self.start_node("node0")
        self.nodes = [master]
        for i in (1, 2):
            self.nodes.append(
                self.start_node(f"node{i}", "--replicaof", "127.0.0.1", str(master.port))
            )
        m = self.client(master)
        for replica in self.nodes[1:]:
            wait_for(
                lambda r=replica: in_sync(m, self.client(r)),
                30,
                f"replica {replica.port} to sync",
                self.logs,
            )
        self.sentinels = [self.start_sentinel(f"sentinel{i}", master.port) for i in range(3)]

    def kill(self, node: ServerProcess) -> None:
        """SIGKILL a node; its forked children (a sync or rewrite in progress) die too."""
        try:
            self.orphans |= {p.pid for p in psutil.Process(node.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
        node.stop(signal.SIGKILL)
        self.stop_orphans()

    def stop_orphans(self) -> None:
        for pid in self.orphans:
            try:
                proc = psutil.Process(pid)
                if "node.cli" in " ".join(proc.cmdline()):
                    proc.kill()
                    proc.wait(5)
            except (psutil.NoSuchProcess, psutil.TimeoutExpired):
                pass
        self.orphans.clear()

    def stop(self) -> None:
        for client in self.clients.values():
            client.close()
        for proc in reversed(self.procs):
            if proc.proc is not None and proc.proc.poll() is None:
                try:
                    self.orphans |= {p.pid for p in psutil.Process(proc.pid).children()}
                except psutil.NoSuchProcess:
                    pass
            proc.stop()
        self.stop_orphans()

    # -- observation ---------------------------------------------------------------

    def client(self, proc: ServerProcess) -> redis.Redis:
        """One redis-py client per port; it reconnects after Sentinel's CLIENT KILL."""
        if proc.port not in self.clients:
            self.clients[proc.port] = redis.Redis(
                host="127.0.0.1", port=proc.port, socket_timeout=5
            )
        return self.clients[proc.port]

    def sentinel_call(self, sentinel: ServerProcess, *argv: Any) -> Any:
        """A SENTINEL subcommand's reply as hiredis decodes it (redis-py reshapes some)."""
        with RawClient(sentinel.port, timeout=5) as c:
            reply = decode(c.call("SENTINEL", *argv))
        if isinstance(reply, hiredis.ReplyError):
            raise AssertionError(f"SENTINEL {argv}: {reply}")
        return reply

    def master_port(self, sentinel: ServerProcess) -> int:
        host, port = self.sentinel_call(sentinel, "get-master-addr-by-name", GROUP)
        assert host == b"127.0.0.1"
        return int(port)

    def replicas_seen(self, sentinel: ServerProcess) -> dict[int, dict[str, str]]:
        return {
            int(r["port"]): r
            for r in (pairs(flat) for flat in self.sentinel_call(sentinel, "replicas", GROUP))
        }

    def logs(self) -> str:
        out = []
        for proc in self.procs:
            out.append(f"--- {proc.workdir.name} (port {proc.port}) ---\n{proc.log()[-4000:]}")
        return "\n".join(out)


def acknowledge(group: Group, master: ServerProcess, replicas: list[ServerProcess]) -> str:
    """Wait until every replica holds the writes made so far on `master`.

    `WAIT 2 1000` where keelkv implements it; otherwise both replicas' slave_repl_offset
    reaching the master's offset. Returns which of the two was used.
    """
    m = group.client(master)
    try:
        count = m.execute_command("WAIT", len(replicas), 1000)
    except redis.ResponseError as e:
        if "unknown command" not in str(e):
            raise
    else:
        assert count == len(replicas), f"WAIT acknowledged by {count} replicas"
        return "WAIT"
    offset = m.info("replication")["master_repl_offset"]
    for replica in replicas:
        r = group.client(replica)
        wait_for(
            lambda r=r: r.info("replication")["slave_repl_offset"] >= offset,
            10,
            f"replica {replica.port} to reach offset {offset}",
            group.logs,
        )
    return "offsets"


def sentinels_ready(group: Group) -> bool:
    """Every Sentinel has found both replicas and the two other Sentinels."""
    for sentinel in group.sentinels:
        info = pairs(group.sentinel_call(sentinel, "master", GROUP))
        if info["num-slaves"] != "2" or info["num-other-sentinels"] != "2":
            return False
        if "s_down" in info["flags"] or "o_down" in info["flags"]:
            return False
    return True


# -- what a Sentinel sends, byte for byte, against keelkv and a real redis-server -----------

SENTINEL_ID8 = "883440f5"
HELLO = b"127.0.0.1,26401,883440f5381224356cc04e0159ac922d451f4b1c,0,mymaster,127.0.0.1,6379,0"


def resp(*argv: bytes | str) -> bytes:
    args = [a if isinstance(a, bytes) else a.encode() for a in argv]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


FAILOVER_TRANSACTION = b"".join(
    [
        resp("MULTI"),
        resp("SLAVEOF", "NO", "ONE"),
        resp("CONFIG", "REWRITE"),
        resp("CLIENT", "KILL", "TYPE", "normal"),
        resp("CLIENT", "KILL", "TYPE", "pubsub"),
        resp("EXEC"),
        resp("PUBLISH", "__sentinel__:hello", HELLO),
    ]
)


def read_replies(client: RawClient, count: int) -> list[bytes]:
    return [client.read_reply() for _ in range(count)]


def check_info(reply: bytes) -> None:
    """INFO as Sentinel parses it: one bulk string of CRLF lines with run_id and role."""
    text = decode(reply)
    assert isinstance(text, bytes)
    lines = text.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    run_ids = [line for line in lines if line.startswith(b"run_id:")]
    assert len(run_ids) == 1 and len(run_ids[0]) == 47
    replication = lines.index(b"# Replication")
    assert lines[replication + 1] == b"role:master"


def sentinel_conversation(port: int) -> list[bytes]:
    """The links a Sentinel opens to a master, its hello, a failover transaction and the
    SCRIPT KILL it sends to a busy server; the reply bytes, with INFO checked apart."""
    cmd = RawClient(port, timeout=5)
    pubsub = RawClient(port, timeout=5)
    bystander = RawClient(port, timeout=5)  # an application client that CLIENT KILL closes
    try:
        assert bystander.call("PING") == b"+PONG\r\n"
        cmd.send_raw(
            resp("CLIENT", "SETNAME", f"sentinel-{SENTINEL_ID8}-cmd") + resp("PING") + resp("INFO")
        )
        setname, pong, info = read_replies(cmd, 3)
        check_info(info)
        pubsub.send_raw(
            resp("CLIENT", "SETNAME", f"sentinel-{SENTINEL_ID8}-pubsub")
            + resp("SUBSCRIBE", "__sentinel__:hello")
        )
        replies = [setname, pong, *read_replies(pubsub, 2)]
        replies.append(cmd.call("PUBLISH", "__sentinel__:hello", HELLO))
        replies.append(pubsub.read_reply())  # the hello comes back on the pub/sub link
        cmd.send_raw(FAILOVER_TRANSACTION)
        replies += read_replies(cmd, 7)
        replies.append(cmd.call("SCRIPT", "KILL"))
        for killed in (pubsub, bystander):
            with pytest.raises(ConnectionError):
                killed.read_reply()
        return replies
    finally:
        for c in (cmd, pubsub, bystander):
            c.close()


def kill_pubsub_then_normal(port: int) -> list[bytes]:
    """A killed subscriber is gone at once: the next CLIENT KILL does not count it again."""
    cmd = RawClient(port, timeout=5)
    sub = RawClient(port, timeout=5)
    try:
        sub.call("SUBSCRIBE", "x")
        cmd.send_raw(
            resp("MULTI")
            + resp("CLIENT", "KILL", "TYPE", "pubsub")
            + resp("CLIENT", "KILL", "TYPE", "normal")
            + resp("EXEC")
            + resp("PUBLISH", "x", "y")
        )
        return read_replies(cmd, 5)
    finally:
        cmd.close()
        sub.close()


@pytest.mark.interop
@pytest.mark.parametrize("with_config_file", [False, True], ids=["no-config", "config-file"])
def test_sentinel_commands_get_the_replies_redis_gives(
    tmp_path: Path, with_config_file: bool
) -> None:
    procs: list[ServerProcess] = []
    try:
        for name in ("keelkv", "redis"):
            workdir = tmp_path / name
            workdir.mkdir()
            port = free_port()
            conf = workdir / "node.conf"
            conf.write_text(f'dir "{workdir}"\nsave ""\nappendonly no\n')
            config = [str(conf)] if with_config_file else []
            if name == "keelkv":
                argv = keelkv_argv(port, config_file=config[0] if config else None)
            else:
                argv = [SERVER_BIN, *config, "--port", str(port), "--save", ""]
            procs.append(ServerProcess(argv, port, workdir, workdir / "server.log"))
            procs[-1].start()
        ours, theirs = (sentinel_conversation(proc.port) for proc in procs)
        assert ours == theirs
        kills = [kill_pubsub_then_normal(proc.port) for proc in procs]
        assert kills[0] == kills[1]
        assert kills[0][3:] == [b"*2\r\n:1\r\n:0\r\n", b":0\r\n"]
        exec_reply, publish_after = ours[11:13]
        if with_config_file:
            assert exec_reply == b"*4\r\n+OK\r\n+OK\r\n:1\r\n:1\r\n"
            assert (
                "# Generated by CONFIG REWRITE" in (tmp_path / "keelkv" / "node.conf").read_text()
            )
        else:
            assert exec_reply == (
                b"*4\r\n+OK\r\n-ERR The server is running without a config file\r\n:1\r\n:1\r\n"
            )
        # CLIENT KILL TYPE pubsub closed the only subscriber before the hello was published.
        assert publish_after == b":0\r\n"
        assert ours[-1] == b"-NOTBUSY No scripts in execution right now.\r\n"
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    g = Group(tmp_path)
    try:
        g.start()
        wait_for(lambda: sentinels_ready(g), 30, "the Sentinels to find each other", g.logs)
        yield g
    finally:
        g.stop()


def test_sentinels_list_both_keelkv_replicas_while_the_group_is_healthy(group: Group) -> None:
    master, r1, r2 = group.nodes
    for sentinel in group.sentinels:
        assert group.master_port(sentinel) == master.port
        seen = group.replicas_seen(sentinel)
        assert sorted(seen) == sorted([r1.port, r2.port])
        for replica in (r1, r2):
            entry = seen[replica.port]
            assert entry["ip"] == "127.0.0.1"
            assert entry["flags"] == "slave"
            assert entry["master-link-status"] == "ok"
            assert entry["master-port"] == str(master.port)
            assert entry["slave-priority"] == "100"
            # The run_id Sentinel read from the replica's INFO.
            run_id = group.client(replica).info("server")["run_id"]
            assert entry["runid"] == run_id
        others = group.sentinel_call(sentinel, "sentinels", GROUP)
        assert len(others) == 2


def test_sentinel_fails_over_a_keelkv_group_and_demotes_the_returning_master(
    group: Group,
) -> None:
    master, r1, r2 = group.nodes
    m = group.client(master)
    acked: dict[bytes, bytes] = {}
    for batch in range(5):
        pipe = m.pipeline(transaction=False)
        for i in range(100):
            key, value = f"k:{batch}:{i}".encode(), f"v{batch}.{i}".encode()
            pipe.set(key, value)
            acked[key] = value
        pipe.rpush("log", batch)
        pipe.execute()
        acknowledge(group, master, [r1, r2])
    acked_log = [str(b).encode() for b in range(5)]

    old_port = master.port
    group.kill(master)

    # A replica is promoted and every Sentinel points at it.
    def switched() -> int | None:
        ports = {group.master_port(s) for s in group.sentinels}
        if len(ports) == 1 and ports != {old_port}:
            return ports.pop()
        return None

    new_port = wait_for(switched, 60, "all Sentinels to switch to a promoted replica", group.logs)
    promoted = next(r for r in (r1, r2) if r.port == new_port)
    other = r2 if promoted is r1 else r1
    p = group.client(promoted)
    o = group.client(other)
    assert p.info("replication")["role"] == "master"

    # The other replica follows the new master.
    def follows_new_master() -> bool:
        info = o.info("replication")
        return (
            info["role"] == "slave"
            and info["master_port"] == new_port
            and info["master_link_status"] == "up"
        )

    wait_for(follows_new_master, 30, "the other replica to follow the new master", group.logs)

    # Every acknowledged write survived the failover.
    keys = list(acked)
    assert p.mget(keys) == [acked[k] for k in keys]
    assert p.lrange("log", 0, -1) == acked_log

    # CONFIG REWRITE ran inside Sentinel's transactions: the new roles survive a restart.
    promoted_conf = (promoted.workdir / "keelkv.conf").read_text()
    other_conf = (other.workdir / "keelkv.conf").read_text()
    assert "replicaof" not in promoted_conf, promoted_conf
    assert f"replicaof 127.0.0.1 {new_port}" in other_conf, other_conf

    # The new master takes writes, and they reach the other replica.
    p.set("after:failover", "1")
    acknowledge(group, promoted, [other])
    assert o.get("after:failover") == b"1"

    # The old master comes back on its port, from its old directory, as a master.
    returned = group.start_node("node0", port=old_port)
    group.nodes[0] = returned
    old = group.client(returned)
    assert old.get("k:0:0") == b"v0.0"  # its AOF brought its data back
    try:
        old.set("stray", "written while the old master was still a master")
    except redis.ReadOnlyError:
        pass  # Sentinel was quicker

    def demoted() -> bool:
        info = old.info("replication")
        return info["role"] == "slave" and info["master_port"] == new_port

    wait_for(demoted, 40, "Sentinel to turn the old master into a replica", group.logs)
    assert f"replicaof 127.0.0.1 {new_port}" in (returned.workdir / "keelkv.conf").read_text()

    # It converges with the new master: same dataset once its offset is the master's.
    def converged() -> bool:
        if not (in_sync(p, old) and in_sync(p, o)):
            return False
        master_digest = p.execute_command("DEBUG", "DIGEST")
        if old.execute_command("DEBUG", "DIGEST") != master_digest:
            return False
        return o.execute_command("DEBUG", "DIGEST") == master_digest

    wait_for(converged, 30, "the old master to converge with the new master", group.logs)
    assert old.get("after:failover") == b"1"
    assert old.get("stray") is None
    assert old.mget(keys) == [acked[k] for k in keys]

    # Every Sentinel now lists the old master and the other replica as healthy replicas.
    def reconfigured() -> bool:
        for sentinel in group.sentinels:
            seen = group.replicas_seen(sentinel)
            for replica in (returned, other):
                entry = seen.get(replica.port)
                if entry is None or entry["flags"] != "slave":
                    return False
                if entry["master-port"] != str(new_port):
                    return False
        return True

    wait_for(reconfigured, 30, "Sentinels to see both replicas of the new master", group.logs)
