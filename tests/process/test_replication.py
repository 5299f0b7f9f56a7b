"""keelkv replicating from keelkv: a three-node chain, promotion of the middle node with both
peers continuing through replid2, a restarted replica, a replica or a master killed in the
middle of a full sync (through a throttling TCP proxy, so that the transfer takes long enough
to be cut), a master connection reset, replica-serve-stale-data, and REPLICAOF's answers."""

from __future__ import annotations

import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness import (
    RawClient,
    ServerProcess,
    digest,
    free_port,
    in_sync,
    start_keelkv,
    wait_for,
)

DEBUG = ("--enable-debug-command", "yes")
# No 5 s wait for more replicas before a diskless transfer.
NO_DELAY = ("--repl-diskless-sync-delay", "0")
# No master PING between a sync and a promotion, so every node keeps the same offset.
NO_PINGS = ("--repl-ping-replica-period", "3600")
PARTIAL_ACCEPTED = re.compile(r"Partial resynchronization request from \S+ accepted")
BIG = 200_000  # keys for the syncs that must last long enough to be interrupted


def wait_in_sync(master: redis.Redis, replica: redis.Redis, timeout: float = 20.0) -> None:
    wait_for(lambda: in_sync(master, replica), timeout, "the replica to reach the master offset")


def stats(r: redis.Redis) -> dict[str, Any]:
    return r.info("stats")


def fill(r: redis.Redis, prefix: str, dbs: tuple[int, ...] = (0, 4)) -> None:
    """A little of every type, with a TTL and a transaction, in several dbs."""
    for db in dbs:
        r.execute_command("SELECT", db)
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set(f"{prefix}:s:{i}", f"v{i}")
        p.rpush(f"{prefix}:l", *range(200))
        p.hset(f"{prefix}:h", mapping={f"f{i}": i for i in range(50)})
        p.sadd(f"{prefix}:set", *range(20))
        p.zadd(f"{prefix}:z", {f"m{i}": i / 2 for i in range(50)})
        p.set(f"{prefix}:ttl", "t", px=600_000)
        p.execute()
        with r.pipeline(transaction=True) as tx:
            tx.incr(f"{prefix}:counter")
            tx.lpop(f"{prefix}:l")
            tx.execute()
    r.execute_command("SELECT", 0)


class Nodes:
    """Every process and proxy a test starts, stopped in reverse order."""

    def __init__(self) -> None:
        self.procs: list[ServerProcess] = []
        self.proxies: list[ThrottledProxy] = []

    def start(self, *args: str, **kw: Any) -> ServerProcess:
        proc = start_keelkv(*DEBUG, *NO_DELAY, *args, **kw)
        self.procs.append(proc)
        return proc

    def replica_of(self, master: ServerProcess, *args: str, **kw: Any) -> ServerProcess:
        return self.start("--replicaof", "127.0.0.1", str(master.port), *args, **kw)

    def proxy(self, target_port: int, rate: int) -> ThrottledProxy:
        proxy = ThrottledProxy(target_port, rate)
        self.proxies.append(proxy)
        return proxy

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        for proc in reversed(self.procs):
            proc.stop()


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    n = Nodes()
    yield n
    n.stop()


class ThrottledProxy:
    """A loopback TCP proxy that forwards master -> replica at `rate` bytes/s.

    `target_port` may change between connections; `cut()` drops the open connections at
    once, as the loss of the master's machine would (killing a process alone lets the kernel
    deliver what it had already accepted)."""

    CHUNK = 16 * 1024

    def __init__(self, target_port: int, rate: int) -> None:
        self.target_port = target_port
        self.rate = rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.conns: list[tuple[socket.socket, socket.socket]] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                # Nobody on the target port: close the way a refusing master's host would
                # look to the replica after a connect, with FIN (no reset).
                threading.Thread(target=self._close_gently, args=(client,), daemon=True).start()
                continue
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.conns.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self.rate), daemon=True
            ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, rate: int) -> None:
        try:
            while data := src.recv(self.CHUNK):
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        self._drop(src, dst)

    @staticmethod
    def _close_gently(sock: socket.socket) -> None:
        """FIN, then read until the peer closes too: closing a socket with unread input
        would send a reset instead."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(5)
            while sock.recv(4096):
                pass
        except OSError:
            pass
        sock.close()

    @staticmethod
    def _drop(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for pair in conns:
            self._drop(*pair)

    def close(self) -> None:
        with self.lock:
            self.closed = True
        self._drop(self.listener)
        self.cut()


def wait_mid_transfer(replica: redis.Redis) -> dict[str, Any]:
    """Wait until `replica` has received part, not all, of its master's RDB payload."""

    def receiving() -> dict[str, Any] | None:
        info = replica.info("replication")
        if info.get("master_sync_in_progress") == 1 and info.get("master_sync_read_bytes", 0):
            return info
        return None

    return wait_for(receiving, 20, "the replica to be receiving the RDB payload")


# -- chains and promotion -------------------------------------------------------------------


def test_three_node_chain_shares_one_history(nodes: Nodes) -> None:
    a = nodes.start()
    ac = a.client()
    fill(ac, "before")
    b = nodes.replica_of(a)
    c = nodes.replica_of(b)
    bc, cc = b.client(), c.client()
    wait_in_sync(ac, bc)
    wait_in_sync(ac, cc)
    fill(ac, "after", dbs=(0, 9))
    ac.delete("before:s:1")
    ac.expire("before:s:2", 100)
    wait_in_sync(ac, cc)
    a_info, b_info, c_info = (x.info("replication") for x in (ac, bc, cc))
    assert c_info["slave_repl_offset"] == a_info["master_repl_offset"]
    assert c_info["master_repl_offset"] == a_info["master_repl_offset"]
    assert b_info["master_repl_offset"] == a_info["master_repl_offset"]
    assert c_info["master_replid"] == b_info["master_replid"] == a_info["master_replid"]
    assert b_info["connected_slaves"] == 1
    assert digest(cc) == digest(bc) == digest(ac)
    assert cc.dbsize() == ac.dbsize()


def test_promoted_middle_node_lets_both_peers_resync_partially(nodes: Nodes) -> None:
    a = nodes.start(*NO_PINGS)
    ac = a.client()
    fill(ac, "k")
    b = nodes.replica_of(a)
    c = nodes.replica_of(b)
    bc, cc = b.client(), c.client()
    wait_in_sync(ac, cc)
    wait_in_sync(ac, bc)
    old = ac.info("replication")
    old_replid, old_offset = old["master_replid"], old["master_repl_offset"]
    b_before = stats(bc)
    assert b_before["sync_full"] == 1  # C's first sync

    assert bc.replicaof("NO", "ONE")
    b_info = bc.info("replication")
    assert b_info["role"] == "master"
    assert b_info["master_replid2"] == old_replid
    assert b_info["second_repl_offset"] == old_offset + 1
    new_replid = b_info["master_replid"]
    assert new_replid != old_replid

    # C was dropped by B and comes back; A, the old master, follows B.
    assert cc.replicaof("127.0.0.1", b.port) == b"OK Already connected to specified master"
    assert ac.replicaof("127.0.0.1", b.port)
    wait_in_sync(bc, cc)
    wait_in_sync(bc, ac)
    b_after = stats(bc)
    assert b_after["sync_partial_ok"] == b_before["sync_partial_ok"] + 2
    assert b_after["sync_full"] == b_before["sync_full"]
    assert len(PARTIAL_ACCEPTED.findall(b.log())) == 2, b.log()[-3000:]
    for peer in (ac, cc):
        info = peer.info("replication")
        assert info["role"] == "slave"
        assert info["master_replid"] == new_replid
        assert info["master_replid2"] == old_replid

    fill(bc, "new", dbs=(2,))
    bc.delete("k:s:0")
    wait_in_sync(bc, ac)
    wait_in_sync(bc, cc)
    assert digest(ac) == digest(bc) == digest(cc)


# -- restarts and failures ------------------------------------------------------------------


def test_restarted_replica_resyncs_and_converges(nodes: Nodes, tmp_path: Path) -> None:
    a = nodes.start()
    ac = a.client()
    fill(ac, "k")
    b = nodes.replica_of(a, workdir=tmp_path)
    wait_in_sync(ac, b.client())
    b.stop(signal.SIGKILL)
    fill(ac, "while-down", dbs=(1,))
    ac.delete("k:s:3")
    b2 = nodes.replica_of(a, workdir=tmp_path, port=b.port)
    bc = b2.client()
    wait_in_sync(ac, bc)
    assert digest(bc) == digest(ac)
    ac.set("after-restart", "1")
    wait_in_sync(ac, bc)
    assert bc.get("after-restart") == b"1"


def test_replica_killed_during_a_full_sync_leaves_the_master_healthy(nodes: Nodes) -> None:
    a = nodes.start()
    ac = a.client()
    assert ac.execute_command("DEBUG", "POPULATE", BIG)
    proxy = nodes.proxy(a.port, rate=3_000_000)
    b = nodes.start("--replicaof", "127.0.0.1", str(proxy.port))
    wait_mid_transfer(b.client())
    b.stop(signal.SIGKILL)

    # The master notices the dead replica and keeps serving.
    assert ac.ping()
    wait_for(lambda: ac.info("replication")["connected_slaves"] == 0, 10, "the replica gone")
    assert ac.set("after-kill", "1")
    assert ac.dbsize() == BIG + 1
    assert "Connection with replica" in a.log()

    # And a new replica gets a complete sync.
    c = nodes.replica_of(a)
    cc = c.client()
    wait_in_sync(ac, cc, timeout=30)
    assert cc.dbsize() == BIG + 1
    assert cc.get("after-kill") == b"1"
    assert cc.get(f"key:{BIG - 1}") == f"value:{BIG - 1}".encode()
    assert stats(ac)["sync_full"] == 2


def test_master_killed_during_a_full_sync_replica_keeps_its_data(
    nodes: Nodes, tmp_path: Path
) -> None:
    old_master = nodes.start()
    om = old_master.client()
    fill(om, "old")
    big = nodes.start("--repl-diskless-sync", "no")
    bm = big.client()
    assert bm.execute_command("DEBUG", "POPULATE", BIG)
    proxy = nodes.proxy(old_master.port, rate=3_000_000)
    replica = nodes.start("--replicaof", "127.0.0.1", str(proxy.port), workdir=tmp_path)
    r = replica.client()
    wait_in_sync(om, r)
    old_digest = digest(r)

    # Make the replica's next connection reach the big master, and drop the current one.
    proxy.target_port = big.port
    assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    transfer = wait_mid_transfer(r)
    assert 0 < transfer["master_sync_read_bytes"] < transfer["master_sync_total_bytes"]
    assert list(tmp_path.glob("temp-*.rdb")), "the payload is not being stored in a temp file"
    big.stop(signal.SIGKILL)
    proxy.cut()

    def link_down() -> dict[str, Any] | None:
        info = r.info("replication")
        return info if info["master_sync_in_progress"] == 0 else None

    info = wait_for(link_down, 10, "the replica to abandon the transfer")
    assert info["master_link_status"] == "down"
    assert "master_link_down_since_seconds" in info
    assert r.get("old:s:7") == b"v7"  # replica-serve-stale-data yes: the old data is served
    assert r.dbsize() == om.dbsize()
    assert digest(r) == old_digest
    assert not list(tmp_path.glob("temp-*.rdb")), "the partial payload was left on disk"

    # A master is back on that port: the replica syncs with it.
    back = nodes.start(port=big.port)
    bc = back.client()
    fill(bc, "back", dbs=(3,))
    wait_in_sync(bc, r, timeout=30)
    assert digest(r) == digest(bc)
    assert r.get("old:s:7") is None


def test_replica_survives_a_connection_reset_by_its_master(nodes: Nodes) -> None:
    fake = socket.create_server(("127.0.0.1", 0))
    fake.settimeout(10)
    port = fake.getsockname()[1]
    replica = nodes.start("--replicaof", "127.0.0.1", str(port))
    try:
        conn, _ = fake.accept()
        conn.settimeout(10)
        assert conn.recv(1024) == b"*1\r\n$4\r\nPING\r\n"
        # A master host that dies answers with a reset (SO_LINGER 0 sends RST on close).
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        # The replica drops the link and connects again a second later.
        fake.settimeout(5)
        try:
            again, _ = fake.accept()
            again.close()
        except TimeoutError:
            pass
    finally:
        fake.close()
    assert replica.proc is not None
    exit_status = replica.proc.poll()
    assert exit_status is None, f"the replica exited ({exit_status}):\n{replica.log()[-2500:]}"
    r = replica.client()
    assert r.ping()
    # And it syncs once a real master listens on that port.
    master = nodes.start(port=port)
    m = master.client()
    m.set("k", "v")
    wait_in_sync(m, r)
    assert r.get("k") == b"v"


def test_serve_stale_data_no_refuses_reads_while_the_link_is_down(nodes: Nodes) -> None:
    a = nodes.start()
    ac = a.client()
    ac.set("k", "v")
    b = nodes.replica_of(a, "--replica-serve-stale-data", "no")
    bc = b.client()
    wait_in_sync(ac, bc)
    assert bc.get("k") == b"v"
    a.stop(signal.SIGKILL)
    wait_for(lambda: bc.info("replication")["master_link_status"] == "down", 10, "the link down")
    masterdown = (
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    )
    with RawClient(b.port) as raw:
        assert raw.call("GET", "k") == masterdown
        assert raw.call("DBSIZE") == masterdown
        assert raw.call("PING") == masterdown  # PING lacks the `stale` flag in Redis 7.0
        # Commands with the `stale` flag are still served.
        assert b"master_link_status:down" in raw.call("INFO", "replication")
        assert raw.call("ROLE").startswith(b"*5\r\n$5\r\nslave\r\n")


# -- REPLICAOF answers ----------------------------------------------------------------------


def test_replicaof_the_current_master_is_a_no_op(nodes: Nodes) -> None:
    a = nodes.start()
    ac = a.client()
    b = nodes.replica_of(a)
    wait_in_sync(ac, b.client())
    with RawClient(b.port) as raw:
        reply = raw.call("REPLICAOF", "127.0.0.1", a.port)
        assert reply == b"+OK Already connected to specified master\r\n"
        assert raw.call("SLAVEOF", "127.0.0.1", a.port) == reply
    time.sleep(0.2)
    assert b.client().info("replication")["master_link_status"] == "up"
    assert stats(ac)["sync_full"] == 1
    assert stats(ac)["sync_partial_ok"] == 0


def test_replicaof_with_a_bad_port_is_refused(nodes: Nodes) -> None:
    a = nodes.start()
    unused = free_port()
    with RawClient(a.port) as raw:
        # Redis 7.0.15 answers every one of these with the same error and stays a master
        # (checked against redis-server on this machine; spec/replication.md §8).
        replies = {}
        for port in ("abc", "1.5", "70000", "65536", "-1"):
            replies[port] = (raw.call("REPLICAOF", "127.0.0.1", port), raw.call("ROLE")[:16])
            raw.call("REPLICAOF", "NO", "ONE")
        refused = (b"-ERR Invalid master port\r\n", b"*3\r\n$6\r\nmaster\r\n")
        assert replies == dict.fromkeys(replies, refused)
        # A valid port that nobody listens on is accepted.
        assert raw.call("REPLICAOF", "127.0.0.1", unused) == b"+OK\r\n"
        assert raw.call("REPLICAOF", "NO", "ONE") == b"+OK\r\n"
