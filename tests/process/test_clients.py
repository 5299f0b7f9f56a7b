"""Client management on a live keelkv node through redis-py: CLIENT KILL, PAUSE, UNBLOCK,
requirepass with AUTH and HELLO AUTH, QUIT, RESET, MONITOR."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.harness import RawClient, ServerProcess, free_port, keelkv_argv


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


class Background:
    """Runs one call in a thread and keeps its result (or exception)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished_at = 0.0
        self.thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self.thread.start()

    def _run(self, fn: Any, *args: Any) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        self.finished_at = time.monotonic()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, timeout: float = 5.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background call still running"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def admin(keelkv_node: ServerProcess) -> Iterator[Any]:
    r = keelkv_node.client()
    r.flushall()
    yield r
    r.client_unpause()
    r.close()


# -- CLIENT KILL --------------------------------------------------------------------


def test_client_list_parsed_by_redis_py(admin: Any, keelkv_node: ServerProcess) -> None:
    other = keelkv_node.client(client_name="worker-1")
    try:
        other.ping()
        clients = {c["name"]: c for c in admin.client_list()}
        worker = clients["worker-1"]
        assert worker["db"] == "0" and worker["flags"] == "N" and worker["cmd"] == "ping"
        assert worker["user"] == "default" and worker["resp"] == "3"
        assert admin.client_getname() is None
        assert admin.client_setname("admin-conn")
        assert admin.client_getname() == "admin-conn"
        assert admin.client_info()["name"] == "admin-conn"
        assert admin.client_id() == admin.client_info()["id"]
    finally:
        other.close()


def test_client_kill_by_id_addr_laddr_type_user(admin: Any, keelkv_node: ServerProcess) -> None:
    victims = [keelkv_node.client(protocol=2) for _ in range(5)]
    try:
        infos = []
        for v in victims:
            v.ping()
            infos.append(v.client_info())
        assert admin.client_kill_filter(_id=infos[0]["id"]) == 1
        assert admin.client_kill(infos[1]["addr"]) is True
        assert admin.client_kill_filter(laddr=infos[2]["laddr"], _id=infos[2]["id"]) == 1
        p = victims[3].pubsub()
        p.subscribe("c")
        p.get_message(timeout=1)
        assert admin.client_kill_filter(_type="pubsub") == 1
        own = admin.client_id()
        # USER default with SKIPME yes: everyone but the caller.
        assert admin.client_kill_filter(user="default", skipme=True) >= 1
        assert admin.client_id() == own
        wait_until(lambda: [c["id"] for c in admin.client_list()] == [str(own)])
    finally:
        for v in victims:
            v.close()


def test_client_kill_skipme_no_kills_the_caller(keelkv_node: ServerProcess) -> None:
    with RawClient(keelkv_node.port) as c:
        own = c.call("CLIENT", "ID").decode()[1:-2]
        assert c.call("CLIENT", "KILL", "ID", own, "SKIPME", "no") == b":1\r\n"
        assert c.sock.recv(10) == b""


# -- CLIENT PAUSE ----------------------------------------------------------------------


def test_pause_write_holds_writes_while_reads_pass(admin: Any, keelkv_node: ServerProcess) -> None:
    writer = keelkv_node.client()
    reader = keelkv_node.client()
    try:
        admin.set("k", "old")
        assert admin.client_pause(5000, all=False)
        started = time.monotonic()
        write = Background(writer.set, "k", "new")
        time.sleep(0.3)
        assert not write.done()
        # Reads pass while the write waits, and see the old value.
        assert reader.get("k") == b"old"
        assert reader.ping()
        assert time.monotonic() - started < 2
        assert admin.client_unpause()
        assert write.join() is True
        assert reader.get("k") == b"new"
    finally:
        writer.close()
        reader.close()


def test_pause_all_holds_reads_until_it_expires(admin: Any, keelkv_node: ServerProcess) -> None:
    reader = keelkv_node.client()
    try:
        admin.set("k", "v")
        assert admin.client_pause(400)
        started = time.monotonic()
        read = Background(reader.get, "k")
        assert read.join() == b"v"
        assert read.finished_at - started >= 0.3
    finally:
        reader.close()


def test_pause_write_holds_exec_with_writes(admin: Any, keelkv_node: ServerProcess) -> None:
    with RawClient(keelkv_node.port) as tx:
        assert tx.call("MULTI") == b"+OK\r\n"
        assert tx.call("INCR", "n") == b"+QUEUED\r\n"
        admin.client_pause(5000, all=False)
        tx.send_raw(b"EXEC\r\n")
        time.sleep(0.3)
        assert admin.get("n") is None
        admin.client_unpause()
        assert tx.read_reply() == b"*1\r\n:1\r\n"
    assert admin.get("n") == b"1"


# -- CLIENT UNBLOCK and blocked clients -------------------------------------------------


def test_client_unblock_timeout_and_error(admin: Any, keelkv_node: ServerProcess) -> None:
    blocked = keelkv_node.client(protocol=2)
    try:
        cid = blocked.client_id()
        pop = Background(blocked.blpop, ["q"], 0)
        wait_until(lambda: "b" in admin.client_list(_type="normal")[-1]["flags"] or pop.done())
        wait_until(lambda: admin.client_unblock(cid))
        assert pop.join() is None
        pop = Background(blocked.brpop, ["q"], 0)
        wait_until(lambda: admin.client_unblock(cid, error=True))
        with pytest.raises(redis.ResponseError, match="UNBLOCKED client unblocked via CLIENT"):
            pop.join()
    finally:
        blocked.close()


def test_kill_a_blocked_client(admin: Any, keelkv_node: ServerProcess) -> None:
    # A raw connection: redis-py would reconnect and block again after the kill.
    with RawClient(keelkv_node.port) as blocked:
        cid = int(blocked.call("CLIENT", "ID")[1:-2])
        blocked.send_raw(b"BLPOP q 0\r\n")
        wait_until(lambda: any("b" in c["flags"] for c in admin.client_list()))
        assert admin.client_kill_filter(_id=cid) == 1
        assert blocked.sock.recv(10) == b""
    wait_until(lambda: not any("b" in c["flags"] for c in admin.client_list()))
    admin.rpush("q", "x")
    assert admin.lrange("q", 0, -1) == [b"x"]


# -- QUIT, RESET, MONITOR -----------------------------------------------------------------


def test_quit_closes_the_connection(keelkv_node: ServerProcess) -> None:
    with RawClient(keelkv_node.port) as c:
        c.send_raw(b"PING\r\nQUIT\r\nPING\r\n")
        assert c.read_reply() == b"+PONG\r\n"
        assert c.read_reply() == b"+OK\r\n"
        assert c.sock.recv(10) == b""


def test_reset_returns_to_a_fresh_connection(keelkv_node: ServerProcess) -> None:
    r = keelkv_node.client(protocol=3, single_connection_client=True)
    try:
        r.select(3)
        r.client_setname("named")
        assert r.execute_command("RESET") == b"RESET"
        info = r.client_info()
        assert str(info["db"]) == "0" and info["name"] == "" and str(info["resp"]) == "2"
    finally:
        r.close()


def test_monitor_streams_other_clients_commands(keelkv_node: ServerProcess) -> None:
    watcher = keelkv_node.client(protocol=2)
    worker = keelkv_node.client(protocol=2)
    try:
        with watcher.monitor() as m:
            worker.set("mon-key", "value with space")
            worker.get("mon-key")
            commands = []
            for event in m.listen():
                commands.append(event["command"])
                if event["command"].startswith("GET"):
                    break
        assert "SET mon-key value with space" in commands
        assert commands[-1] == "GET mon-key"
    finally:
        watcher.close()
        worker.close()


# -- requirepass -----------------------------------------------------------------------------


class PasswordNode(ServerProcess):
    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with RawClient(self.port, timeout=1) as c:
                    if c.call(b"PING").startswith(b"-NOAUTH"):
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"keelkv on port {self.port} not ready:\n{self.log()}")


@pytest.fixture(scope="module")
def password_node() -> Iterator[ServerProcess]:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="keelkv-auth-"))
    argv = keelkv_argv(port, "--requirepass", "s3cret")
    node = PasswordNode(argv, port, workdir, workdir / "keelkv.log").start()
    yield node
    node.stop()


def test_requirepass_refuses_unauthenticated(password_node: ServerProcess) -> None:
    r = password_node.client(protocol=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            r.get("k")
    finally:
        r.close()
    bad = password_node.client(password="wrong", protocol=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            bad.ping()
    finally:
        bad.close()


def test_auth_with_password_resp2(password_node: ServerProcess) -> None:
    # RESP2: redis-py authenticates with AUTH <password>.
    r = password_node.client(password="s3cret", protocol=2)
    try:
        assert r.set("k", "v")
        assert r.get("k") == b"v"
        assert r.client_info()["user"] == "default"
    finally:
        r.close()


def test_hello_auth_resp3(password_node: ServerProcess) -> None:
    # RESP3: redis-py sends HELLO 3 AUTH default <password>.
    r = password_node.client(username="default", password="s3cret", protocol=3)
    try:
        assert r.ping()
        assert r.client_info()["resp"] == "3"
    finally:
        r.close()


def test_reset_deauthenticates(password_node: ServerProcess) -> None:
    with RawClient(password_node.port) as c:
        assert c.call("AUTH", "default", "s3cret") == b"+OK\r\n"
        assert c.call("PING") == b"+PONG\r\n"
        assert c.call("RESET") == b"+RESET\r\n"
        assert c.call("PING") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("QUIT") == b"+OK\r\n"
