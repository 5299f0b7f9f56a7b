"""Connection commands, CLIENT, AUTH/HELLO, pub/sub and MONITOR against real Redis 7.0.

Replies are compared byte for byte, except where a value is specific to one server (client
ids, addresses, timestamps, memory figures): there the layout is compared and the value
masked.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Differ
from tests.harness import (
    RawClient,
    ServerProcess,
    decode,
    free_port,
    keelkv_argv,
    redis_server_path,
)

pytestmark = pytest.mark.interop


class Scene:
    """N connections to each server; every step runs on both and must answer the same."""

    def __init__(self, keel: ServerProcess, real: ServerProcess, n: int) -> None:
        self.keel = [RawClient(keel.port) for _ in range(n)]
        self.real = [RawClient(real.port) for _ in range(n)]

    def check(self, who: int, *argv: str) -> bytes:
        ours, theirs = self.keel[who].call(*argv), self.real[who].call(*argv)
        assert ours == theirs, f"client {who} {argv!r}: keelkv {ours!r} != redis {theirs!r}"
        return ours

    def read(self, who: int) -> bytes:
        ours, theirs = self.keel[who].read_reply(), self.real[who].read_reply()
        assert ours == theirs, f"client {who} pending: keelkv {ours!r} != redis {theirs!r}"
        return ours

    def close(self) -> None:
        for c in self.keel + self.real:
            c.close()


@pytest.fixture
def scene(differ: Differ, keelkv_node: ServerProcess, redis_node: ServerProcess) -> Iterator[Scene]:
    s = Scene(keelkv_node, redis_node, 3)
    yield s
    s.close()


ID_FIELD = re.compile(rb"(\$2\r\nid\r\n:)\d+")


def mask_hello(reply: bytes) -> bytes:
    return ID_FIELD.sub(rb"\1<id>", reply)


# -- PING ECHO SELECT QUIT --------------------------------------------------------------


def test_ping_echo_select(differ: Differ) -> None:
    d = differ
    d.check_all(("PING",), ("PING", "hi"), ("PING", "a", "b"), ("ping", ""))
    d.check_all(("ECHO",), ("ECHO", "a", "b"), ("ECHO", "x\r\ny"), ("ECHO", ""))
    for index in ("x", "16", "-1", "1.0", " 1", "01", "99999999999999999999999", "+1"):
        d.check("SELECT", index)
    d.check_all(("SELECT", "15"), ("SET", "k", "v"), ("SELECT", "0"), ("GET", "k"))
    d.check_all(("SELECT", "15"), ("FLUSHDB",), ("SELECT", "0"))


def test_quit_closes_after_ok(keelkv_node: ServerProcess, redis_node: ServerProcess) -> None:
    for node in (keelkv_node, redis_node):
        with RawClient(node.port) as c:
            assert c.call("QUIT", "extra", "args") == b"+OK\r\n"
            assert c.sock.recv(10) == b""


# -- CLIENT ---------------------------------------------------------------------------------


CLIENT_LIST_FIELDS = [
    *("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub"),
    *("ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl"),
    *("oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"),
]


def parse_client_line(line: bytes) -> dict[str, str]:
    fields = [item.split("=", 1) for item in line.decode().split(" ")]
    assert [k for k, _ in fields] == CLIENT_LIST_FIELDS
    return dict(fields)


def test_client_info_layout(differ: Differ) -> None:
    for conn in (differ.keel, differ.real):
        conn.call("CLIENT", "SETNAME", "probe")
        reply = conn.call("CLIENT", "INFO")
        body = decode(reply)
        assert body.endswith(b"\n") and body.count(b"\n") == 1
        info = parse_client_line(body[:-1])
        assert info["name"] == "probe"
        assert info["flags"] == "N" and info["db"] == "0" and info["multi"] == "-1"
        assert info["cmd"] == "client|info" and info["user"] == "default"
        assert info["argv-mem"] == "10" and info["resp"] == "2"
        conn.call("CLIENT", "SETNAME", "")


def test_client_list_filters_and_errors(differ: Differ, scene: Scene) -> None:
    d = differ
    for argv in (
        ("CLIENT", "LIST", "TYPE", "foo"),
        ("CLIENT", "LIST", "ID", "1", "2", "abc"),
        ("CLIENT", "LIST", "ID"),
        ("CLIENT", "LIST", "foo"),
        ("CLIENT", "LIST", "TYPE"),
        ("CLIENT", "LIST", "ID", "2", "TYPE", "normal"),
        ("CLIENT", "LIST", "ID", "0"),
        ("CLIENT", "LIST", "ID", "-1"),
        ("CLIENT", "LIST", "TYPE", "master"),
        ("CLIENT", "LIST", "TYPE", "replica"),
        ("CLIENT", "LIST", "TYPE", "slave"),
        ("CLIENT", "LIST", "TYPE", "pubsub"),
    ):
        d.check(*argv)
    scene.check(1, "SUBSCRIBE", "c")
    for conn in (d.keel, d.real):
        listing = decode(conn.call("CLIENT", "LIST", "TYPE", "pubsub")).decode()
        lines = listing.splitlines()
        assert len(lines) == 1
        info = parse_client_line(lines[0].encode())
        assert info["flags"] == "P" and info["sub"] == "1" and info["cmd"] == "subscribe"
        own_id = decode(conn.call("CLIENT", "ID"))
        mine = decode(conn.call("CLIENT", "LIST", "ID", str(own_id), str(own_id), "99999"))
        assert mine.count(b"\n") == 2
        assert parse_client_line(mine.splitlines()[0])["cmd"] == "client|list"


def test_client_names(differ: Differ) -> None:
    d = differ
    d.check_all(
        ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", "my name"),
        ("CLIENT", "SETNAME", "a\nb"),
        ("CLIENT", "SETNAME", "caf\xe9"),
        ("CLIENT", "SETNAME", "ok-name"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", ""),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME"),
        ("CLIENT", "GETNAME", "x"),
        ("CLIENT", "ID", "x"),
    )


def test_client_subcommand_errors(differ: Differ) -> None:
    d = differ
    d.check_all(
        ("CLIENT",),
        ("CLIENT", "foo"),
        ("CLIENT", "Foo", "bar"),
        ("CLIENT", "SETINFO", "lib-name", "x"),
        ("CLIENT", "HELP"),
        ("client", "help", "x"),
        ("CLIENT", "REPLY", "foo"),
        ("CLIENT", "REPLY"),
        ("CLIENT", "NO-EVICT", "foo"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "NO-EVICT", "off"),
        ("CLIENT", "GETREDIR"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "TRACKING", "off"),
        ("CLIENT", "TRACKING", "foo"),
        ("CLIENT", "CACHING", "yes"),
    )


def test_client_kill_errors(differ: Differ) -> None:
    d = differ
    d.check_all(
        ("CLIENT", "KILL"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
        ("CLIENT", "KILL", "id"),
        ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "ID", "abc"),
        ("CLIENT", "KILL", "ID", "0"),
        ("CLIENT", "KILL", "ID", "-3"),
        ("CLIENT", "KILL", "TYPE", "foo"),
        ("CLIENT", "KILL", "foo", "bar"),
        ("CLIENT", "KILL", "SKIPME", "maybe"),
        ("CLIENT", "KILL", "USER", "nouser"),
        ("CLIENT", "KILL", "LADDR", "1.1.1.1:1"),
        ("CLIENT", "KILL", "ADDR", "1.1.1.1:1"),
        ("CLIENT", "KILL", "MAXAGE", "10"),
        ("CLIENT", "KILL", "a", "b", "c"),
        ("CLIENT", "KILL", "ID", "1", "TYPE"),
        ("CLIENT", "KILL", "LADDR", "x", "ID", "0"),
        ("CLIENT", "KILL", "TYPE", "master"),
    )


def test_client_kill_by_id_and_type(scene: Scene) -> None:
    s = scene
    for side in (s.keel, s.real):
        victim = decode(side[1].call("CLIENT", "ID"))
        assert side[0].call("CLIENT", "KILL", "ID", str(victim)) == b":1\r\n"
        assert side[1].sock.recv(10) == b""
        side[2].call("SUBSCRIBE", "c")
        assert side[0].call("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
        assert side[2].sock.recv(10) == b""
        # SKIPME yes (the default) spares the caller.
        assert side[0].call("CLIENT", "KILL", "ID", str(decode(side[0].call("CLIENT", "ID")))) == (
            b":0\r\n"
        )


def test_client_kill_self_old_form(keelkv_node: ServerProcess, redis_node: ServerProcess) -> None:
    for node in (keelkv_node, redis_node):
        with RawClient(node.port) as c:
            info = decode(c.call("CLIENT", "INFO")).decode()
            addr = re.search(r" addr=(\S+) ", info).group(1)  # type: ignore[union-attr]
            assert c.call("CLIENT", "KILL", addr) == b"+OK\r\n"
            assert c.sock.recv(10) == b""


def test_client_pause_and_unblock_errors(differ: Differ) -> None:
    d = differ
    d.check_all(
        ("CLIENT", "PAUSE"),
        ("CLIENT", "PAUSE", "abc"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "1.5"),
        ("CLIENT", "PAUSE", "10", "foo"),
        ("CLIENT", "PAUSE", "abc", "foo"),
        ("CLIENT", "PAUSE", "10", "write", "x"),
        ("CLIENT", "PAUSE", "0"),
        ("CLIENT", "UNPAUSE"),
        ("CLIENT", "UNPAUSE", "x"),
        ("CLIENT", "UNBLOCK"),
        ("CLIENT", "UNBLOCK", "abc"),
        ("CLIENT", "UNBLOCK", "1", "foo"),
        ("CLIENT", "UNBLOCK", "abc", "foo"),
        ("CLIENT", "UNBLOCK", "999999"),
        ("CLIENT", "UNBLOCK", "999999", "ERROR"),
        ("CLIENT", "UNBLOCK", "1", "timeout", "x"),
    )


def test_client_unblock_a_blocked_client(scene: Scene) -> None:
    s = scene
    for reason, command in (("TIMEOUT", "BLPOP"), ("ERROR", "BRPOP")):
        ids = []
        for side in (s.keel, s.real):
            ids.append(decode(side[1].call("CLIENT", "ID")))
            side[1].send_raw(f"{command} q1 q2 0\r\n".encode())
        time.sleep(0.2)
        for side, cid in zip((s.keel, s.real), ids, strict=True):
            assert side[0].call("CLIENT", "UNBLOCK", str(cid), reason) == b":1\r\n"
            assert side[0].call("CLIENT", "UNBLOCK", str(cid), reason) == b":0\r\n"
        s.read(1)
        s.check(1, "PING")


def test_client_reply_modes(differ: Differ) -> None:
    d = differ
    script = (
        b"CLIENT REPLY OFF\r\nPING a\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\n"
        b"CLIENT REPLY SKIP\r\nPING skipped\r\nPING seen\r\n"
        b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING x\r\nPING y\r\n"
    )
    d.keel.send_raw(script)
    d.real.send_raw(script)
    for _ in range(3):
        assert d.keel.read_reply() == d.real.read_reply()
    d.check("PING", "after")


# -- HELLO, AUTH, RESET ----------------------------------------------------------------------


def test_hello_without_password(differ: Differ) -> None:
    d = differ
    for argv in (
        ("HELLO",),
        ("HELLO", "3"),
        ("HELLO", "2"),
        ("HELLO", "4"),
        ("HELLO", "1"),
        ("HELLO", "x"),
        ("HELLO", "3", "foo"),
        ("HELLO", "2", "SETNAME", "a b"),
        ("HELLO", "2", "AUTH", "default"),
        ("HELLO", "2", "SETNAME"),
        ("HELLO", "2", "AUTH", "default", "anything"),
        ("HELLO", "3", "AUTH", "someone", "bad"),
        ("HELLO", "AUTH", "default", "x"),
        ("HELLO", "3", "SETNAME", "named"),
        ("CLIENT", "GETNAME"),
        ("CLIENT", "INFO"),
        ("RESET",),
        ("CLIENT", "GETNAME"),
        ("HELLO", "2"),
    ):
        ours, theirs = d.both(*argv)
        if argv[0] == "CLIENT" and argv[1] == "INFO":
            assert ours.startswith(b"=") and theirs.startswith(b"=")
            continue
        assert mask_hello(ours) == mask_hello(theirs), argv


def test_auth_without_password(differ: Differ) -> None:
    d = differ
    d.check_all(
        ("AUTH",),
        ("AUTH", "foo"),
        ("AUTH", "a", "b"),
        ("AUTH", "default", "whatever"),
        ("AUTH", "a", "b", "c"),
    )


def test_resp3_replies(differ: Differ) -> None:
    d = differ
    d.both("HELLO", "3")
    d.check_all(
        ("CLIENT", "GETNAME"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "LIST", "ID", "999999"),
        ("PUBSUB", "NUMSUB", "a"),
        ("UNSUBSCRIBE",),
        ("PUNSUBSCRIBE", "x"),
        ("SUNSUBSCRIBE",),
        ("SUBSCRIBE", "x"),
        ("GET", "x"),
        ("PING",),
        ("UNSUBSCRIBE",),
        ("MULTI",),
        ("EXEC",),
    )
    d.check("RESET")


class PasswordServer(ServerProcess):
    """A server started with requirepass: NOAUTH to PING already means it is serving."""

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with RawClient(self.port, timeout=1) as c:
                    if c.call(b"PING").startswith(b"-NOAUTH"):
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server on port {self.port} not ready:\n{self.log()}")


def start_with_password(kind: str) -> ServerProcess:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-auth-"))
    if kind == "keelkv":
        argv = keelkv_argv(port, "--requirepass", "sekret")
    else:
        argv = [redis_server_path(), "--port", str(port), "--save", "", "--dir", str(workdir)]
        argv += ["--requirepass", "sekret"]
    return PasswordServer(argv, port, workdir, workdir / f"{kind}.log").start()


@pytest.fixture(scope="module")
def password_pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    keel = start_with_password("keelkv")
    real = start_with_password("redis")
    yield keel, real
    keel.stop()
    real.stop()


def test_requirepass_auth_hello_and_reset(
    password_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    keel, real = password_pair
    s = Scene(keel, real, 2)
    try:
        for argv in (
            ("PING",),
            ("GET", "x"),
            ("CLIENT", "ID"),
            ("CLIENT", "foo"),
            ("GET",),
            ("NOSUCH",),
            ("MULTI",),
            ("EXEC",),
            ("HELLO",),
            ("HELLO", "3"),
            ("HELLO", "2", "AUTH", "default", "bad"),
            ("HELLO", "3", "AUTH", "u", "bad"),
            ("AUTH", "wrong"),
            ("AUTH", "default", "wrong"),
            ("AUTH", "sekret"),
            ("PING",),
            ("AUTH", "wrong"),
            ("PING",),
            ("RESET",),
            ("PING",),
            ("AUTH", "default", "sekret"),
            ("PING",),
            ("RESET",),
        ):
            s.check(0, *argv)
        ours = s.keel[1].call("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "nm")
        theirs = s.real[1].call("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "nm")
        assert mask_hello(ours) == mask_hello(theirs)
        for argv in (
            ("CLIENT", "GETNAME"),
            ("RESET",),
            ("HELLO", "3", "AUTH", "default", "sekret", "AUTH", "default", "x"),
            ("PING",),
            ("RESET",),
            ("HELLO", "3", "SETNAME", "bad name", "AUTH", "default", "sekret"),
            ("PING",),
            ("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "good", "foo"),
            ("CLIENT", "GETNAME"),
        ):
            s.check(1, *argv)
    finally:
        s.close()


def test_unauthenticated_limits_apply_before_auth(
    password_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    for node in password_pair:
        with RawClient(node.port) as c:
            c.send_raw(b"*20\r\n")
            assert c.read_reply() == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
        with RawClient(node.port) as c:
            assert c.call("AUTH", "sekret") == b"+OK\r\n"
            assert c.call("ECHO", "x" * 20000) == b"$20000\r\n" + b"x" * 20000 + b"\r\n"


# -- pub/sub ----------------------------------------------------------------------------------


def test_pubsub_confirmations_and_errors(differ: Differ) -> None:
    d = differ
    d.check_all(("UNSUBSCRIBE",), ("PUNSUBSCRIBE",), ("SUNSUBSCRIBE",))
    d.check_all(
        ("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH", "x"), ("SPUBLISH", "a")
    )
    d.check_all(
        ("PUBSUB",),
        ("PUBSUB", "foo"),
        ("PUBSUB", "HELP"),
        ("PUBSUB", "NUMPAT", "x"),
        ("PUBSUB", "CHANNELS", "a", "b"),
        ("PUBSUB", "SHARDCHANNELS", "a", "b"),
        ("PUBSUB", "NUMSUB"),
        ("PUBSUB", "NUMPAT"),
        ("PUBSUB", "CHANNELS"),
    )
    d.check("UNSUBSCRIBE", "x", "y")
    assert d.keel.read_reply() == d.real.read_reply()


def test_subscribed_mode(scene: Scene) -> None:
    s = scene
    s.check(0, "SUBSCRIBE", "c1", "c2", "c1")
    s.read(0)
    s.read(0)
    s.check(0, "PSUBSCRIBE", "c*", "d?")
    s.read(0)
    s.check(0, "SSUBSCRIBE", "s1")
    for argv in (("PING",), ("PING", "hi"), ("GET", "x"), ("PING", "a", "b"), ("CLIENT", "LIST")):
        s.check(0, *argv)
    s.check(0, "MULTI")
    s.check(1, "PUBLISH", "c1", "hello")
    s.read(0)
    s.read(0)
    for argv in (
        ("PUBLISH", "zz", "hello"),
        ("SPUBLISH", "s1", "m"),
        ("SPUBLISH", "c1", "m"),
        ("PUBLISH", "s1", "m"),
        ("PUBSUB", "CHANNELS", "c1*"),
        ("PUBSUB", "NUMSUB", "c1", "c2", "zz"),
        ("PUBSUB", "NUMPAT"),
        ("PUBSUB", "SHARDCHANNELS"),
        ("PUBSUB", "SHARDNUMSUB", "s1", "x"),
    ):
        s.check(1, *argv)
    s.read(0)  # the smessage
    s.check(0, "PUNSUBSCRIBE", "d?", "nope")
    s.read(0)
    s.check(0, "SUNSUBSCRIBE")
    s.check(0, "UNSUBSCRIBE", "c1", "c2")
    s.read(0)
    s.check(0, "PUNSUBSCRIBE")
    s.check(0, "PING")


def test_pattern_subscribers_and_numpat(scene: Scene) -> None:
    s = scene
    s.check(0, "PSUBSCRIBE", "p*")
    s.check(1, "PSUBSCRIBE", "p*")
    s.check(2, "PUBSUB", "NUMPAT")
    s.check(2, "PUBLISH", "px", "m")
    s.read(0)
    s.read(1)
    s.check(0, "PUNSUBSCRIBE")
    s.check(1, "PUNSUBSCRIBE")
    s.check(2, "PUBSUB", "NUMPAT")


def test_resp3_pushes(scene: Scene) -> None:
    s = scene
    for who in (0, 1):
        ours = s.keel[who].call("HELLO", "3")
        theirs = s.real[who].call("HELLO", "3")
        assert mask_hello(ours) == mask_hello(theirs)
    s.check(0, "SUBSCRIBE", "x")
    s.check(0, "PSUBSCRIBE", "*")
    s.check(1, "PUBLISH", "x", "m2")
    s.read(0)
    s.read(0)
    s.check(1, "SUBSCRIBE", "y")
    s.check(1, "PUBLISH", "y", "to-myself")
    s.read(1)
    s.check(0, "RESET")
    s.check(1, "RESET")


# -- MONITOR ------------------------------------------------------------------------------------

MONITOR_LINE = re.compile(rb"^\+\d+\.\d{6} \[(\d+) [^\]]+\] (.*)\r\n$")


def monitor_feed(node: ServerProcess, commands: list[tuple[str, ...]]) -> list[tuple[bytes, bytes]]:
    with RawClient(node.port) as m, RawClient(node.port) as c:
        assert m.call("MONITOR") == b"+OK\r\n"
        for argv in commands:
            c.call(*argv)
        c.call("PING", "end-of-feed")
        lines = []
        while True:
            line = m.read_reply()
            match = MONITOR_LINE.match(line)
            assert match, line
            lines.append((match.group(1), match.group(2)))
            if match.group(2) == b'"PING" "end-of-feed"':
                return lines


MONITORED: list[tuple[str, ...]] = [
    ("SET", "k", 'a b"\n\x01'),
    ("MULTI",),
    ("SET", "k", "1"),
    ("GET", "k"),
    ("EXEC",),
    ("AUTH", "foo"),
    ("AUTH", "a", "b"),
    ("HELLO", "2", "AUTH", "default", "x"),
    ("CLIENT", "ID"),
    ("CLIENT", "LIST"),
    ("CONFIG", "GET", "maxmemory"),
    ("SELECT", "2"),
    ("nosuch",),
    ("GET",),
    ("SUBSCRIBE", "x"),
    ("UNSUBSCRIBE",),
    ("SELECT", "0"),
    ("DEL", "k"),
]


def test_monitor_lines_match_redis(keelkv_node: ServerProcess, redis_node: ServerProcess) -> None:
    assert monitor_feed(keelkv_node, MONITORED) == monitor_feed(redis_node, MONITORED)
