"""ReplicaLink and ReplBacklog against a real redis-server 7.0 master.

A small blocking driver runs the sans-IO link over a plain socket: full sync (disk and
diskless), the RDB decoded by RdbDecoder, the live stream, GETACK, and a partial resync with
the cached replid/offset. The backlog is checked against the master's own INFO numbers by
feeding it the stream the link received.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from persistence.rdb import Aux, EncodingLimits, End, KeyRecord, RdbDecoder, SelectDb
from replication.backlog import ReplBacklog
from replication.replica import (
    GETACK,
    Continue,
    Event,
    FullResync,
    GetAck,
    LinkError,
    PayloadData,
    PayloadEnd,
    PayloadStart,
    ReplicaLink,
    StreamData,
)
from tests.harness import RawClient, ServerProcess, reply_length, start_redis

pytestmark = pytest.mark.interop


class Driver:
    """The part of a replica the link leaves out, reduced to a blocking socket."""

    def __init__(self, port: int, link: ReplicaLink) -> None:
        self.link = link
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.events: list[Event] = []
        self.rdb = bytearray()
        self.stream = bytearray()
        self.eof_mark: bytes | None = None
        self.last_ack = 0.0
        link.connecting()
        self.sock.sendall(link.start())

    def pump(self, until, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        """Read and handle master bytes until `until()` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            now = time.monotonic()
            assert now < deadline, f"timed out in state {self.link.state}"
            if self.link.state == "connected" and now - self.last_ack >= 1:
                # replicationCron's ACK once a second (an ACK sent right after a diskless
                # transfer can reach the master before it marks us online: this one counts).
                self.sock.sendall(self.link.ack(self.link.read_offset))
                self.last_ack = now
            self.sock.settimeout(0.2)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError(f"master closed the link in state {self.link.state}")
            for ev in self.link.receive(data):
                self.events.append(ev)
                if isinstance(ev, PayloadStart):
                    self.eof_mark = ev.eof_mark
                elif isinstance(ev, PayloadData):
                    self.rdb += ev.data
                elif isinstance(ev, PayloadEnd) and self.eof_mark is not None:
                    # Diskless: the master holds the stream until this first ACK.
                    self.sock.sendall(self.link.ack(self.link.read_offset))
                    self.last_ack = time.monotonic()
                elif isinstance(ev, StreamData):
                    self.stream += ev.data
                elif isinstance(ev, GetAck):
                    self.sock.sendall(self.link.ack(ev.offset))
            out = self.link.pending_output()
            if out:
                self.sock.sendall(out)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def close(self) -> None:
        self.sock.close()


def info(node: ServerProcess, section: str = "replication") -> dict[str, str]:
    with RawClient(node.port) as c:
        text = c.call("INFO", section).decode()
    body = text.split("\r\n", 1)[1]
    return dict(line.split(":", 1) for line in body.split("\r\n") if ":" in line)


def decode_rdb(data: bytes) -> tuple[dict[bytes, bytes], dict[bytes, int]]:
    dec = RdbDecoder(EncodingLimits())
    dec.feed(data)
    aux: dict[bytes, bytes] = {}
    keys: dict[bytes, int] = {}
    db = 0
    while (ev := dec.next_event()) is not None:
        if isinstance(ev, Aux):
            aux[ev.key] = ev.value
        elif isinstance(ev, SelectDb):
            db = ev.db
        elif isinstance(ev, KeyRecord):
            keys[ev.key] = db
        elif isinstance(ev, End):
            break
    dec.close()
    assert dec.unconsumed() == b""
    return aux, keys


@pytest.fixture
def master_factory() -> Iterator:
    started: list[ServerProcess] = []

    def start(*extra: str) -> ServerProcess:
        node = start_redis("--repl-diskless-sync-delay", "0", *extra)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_stream_and_partial_resync(master_factory, diskless: str) -> None:  # type: ignore[no-untyped-def]
    master = master_factory("--repl-diskless-sync", diskless)
    with RawClient(master.port) as c:
        assert c.call("SET", "str", "hello") == b"+OK\r\n"
        c.call("RPUSH", "list", "a", "b", "c")
        c.call("HSET", "hash", "f", "v")
        c.call("SELECT", "5")
        c.call("SADD", "set5", "x", "y")

    link = ReplicaLink(
        listening_port=7392,
        announce_ip=None,
        masterauth=None,
        masteruser=None,
        cached_replid=None,
        cached_offset=-1,
    )
    d = Driver(master.port, link)
    d.pump(lambda: d.of(PayloadEnd))
    [full] = d.of(FullResync)
    [start] = d.of(PayloadStart)
    if diskless == "yes":
        assert start.size is None and start.eof_mark is not None and len(start.eof_mark) == 40
        assert start.eof_mark not in d.rdb
    else:
        assert start.eof_mark is None and start.size == len(d.rdb)
    aux, keys = decode_rdb(bytes(d.rdb))
    assert aux[b"repl-id"].decode() == full.replid
    assert int(aux[b"repl-offset"]) == full.offset
    assert keys == {b"str": 0, b"list": 0, b"hash": 0, b"set5": 5}
    assert link.state == "connected"

    # The master lists us as an online replica on our announced port.
    deadline = time.monotonic() + 10
    while "state=online" not in info(master).get("slave0", ""):
        assert time.monotonic() < deadline, info(master)
        d.pump(lambda: d.last_ack and time.monotonic() - d.last_ack < 0.1)
    assert info(master)["slave0"].startswith("ip=127.0.0.1,port=7392,state=online")

    # Live stream: a write on the master arrives as its exact propagated bytes.
    with RawClient(master.port) as c:
        c.call("SET", "after:sync", "1")
        c.call("INCR", "counter")
    expected = (
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$10\r\nafter:sync\r\n$1\r\n1\r\n"
        b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
    )
    d.pump(lambda: len(d.stream) >= len(expected))
    assert bytes(d.stream) == expected
    assert link.read_offset == full.offset + len(expected)
    assert int(info(master)["master_repl_offset"]) == link.read_offset

    # GETACK: WAIT on the master makes it ask; the answer (offset before the GETACK) unblocks.
    set_w = b"*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n"
    with RawClient(master.port) as waiter:
        assert waiter.call("SET", "w", "1") == b"+OK\r\n"
        waiter.send_command("WAIT", "1", "5000")
        d.pump(lambda: d.of(GetAck))
        [getack] = d.of(GetAck)
        assert getack.offset == full.offset + len(expected) + len(set_w)
        at = getack.offset - full.offset
        assert bytes(d.stream)[at - len(set_w) : at + 37] == set_w + GETACK
        assert waiter.read_reply() == b":1\r\n"
    d.pump(lambda: link.read_offset >= getack.offset + 37)
    cached_replid, cached_offset = link.master_replid, link.read_offset
    d.close()

    # Writes while we are away, then a partial resync from the cached master.
    with RawClient(master.port) as c:
        c.call("SET", "while:away", "2")
    link2 = ReplicaLink(
        listening_port=7392,
        announce_ip=None,
        masterauth=None,
        masteruser=None,
        cached_replid=cached_replid,
        cached_offset=cached_offset,
    )
    d2 = Driver(master.port, link2)
    d2.pump(lambda: d2.of(Continue) and b"while:away" in d2.stream)
    assert d2.of(Continue) == [Continue(None)]
    assert not d2.of(FullResync)
    assert bytes(d2.stream) == b"*3\r\n$3\r\nSET\r\n$10\r\nwhile:away\r\n$1\r\n2\r\n"
    stats = info(master, "stats")
    assert stats["sync_full"] == "1" and stats["sync_partial_ok"] == "1"
    assert int(info(master)["master_repl_offset"]) == link2.read_offset
    d2.close()


def test_auth_failure_and_success_with_a_real_master(master_factory) -> None:  # type: ignore[no-untyped-def]
    master = master_factory()
    with RawClient(master.port) as c:  # set after start: the harness's readiness PING has no AUTH
        assert c.call("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
    bad = ReplicaLink(
        listening_port=7000,
        announce_ip="10.9.8.7",
        masterauth="wrong",
        masteruser=None,
        cached_replid=None,
        cached_offset=-1,
    )
    d = Driver(master.port, bad)
    with pytest.raises(LinkError) as err:
        d.pump(lambda: False)
    assert err.value.reason == (
        "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled."
    )
    d.close()

    good = ReplicaLink(
        listening_port=7000,
        announce_ip="10.9.8.7",
        masterauth="s3cret",
        masteruser="default",
        cached_replid=None,
        cached_offset=-1,
    )
    d = Driver(master.port, good)
    d.pump(lambda: d.of(PayloadEnd))
    d.pump(lambda: "slave0" in info_auth(master))
    assert info_auth(master)["slave0"].startswith("ip=10.9.8.7,port=7000,")
    d.close()


def info_auth(node: ServerProcess) -> dict[str, str]:
    with RawClient(node.port) as c:
        c.call("AUTH", "s3cret")
        text = c.call("INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def test_psync_to_a_replica_without_link_is_retryable(master_factory) -> None:  # type: ignore[no-untyped-def]
    node = master_factory("--replicaof", "127.0.0.1", "1")  # a master that is never there
    link = ReplicaLink(
        listening_port=7001,
        announce_ip=None,
        masterauth=None,
        masteruser=None,
        cached_replid=None,
        cached_offset=-1,
    )
    d = Driver(node.port, link)
    with pytest.raises(LinkError) as err:
        d.pump(lambda: False)
    assert err.value.retryable
    assert err.value.reason == (
        "Master is currently unable to PSYNC but should be in the future: "
        "-NOMASTERLINK Can't SYNC while not connected with my master"
    )
    d.close()


def split_commands(data: bytes) -> list[bytes]:
    out = []
    pos = 0
    while pos < len(data):
        n = reply_length(data[pos:])
        assert n is not None
        out.append(data[pos : pos + n])
        pos += n
    return out


def backlog_numbers(node: ServerProcess) -> tuple[int, int, int]:
    i = info(node)
    return (
        int(i["master_repl_offset"]),
        int(i["repl_backlog_first_byte_offset"]),
        int(i["repl_backlog_histlen"]),
    )


@pytest.mark.parametrize("size", [16384, 1000])
def test_backlog_numbers_equal_a_real_masters(master_factory, size: int) -> None:  # type: ignore[no-untyped-def]
    """A real replica and our link both attached; the stream the link received, fed to a
    ReplBacklog command by command, gives the master's own INFO numbers after every step."""
    master = master_factory("--repl-backlog-size", str(size), "--repl-ping-replica-period", "3600")
    tap = ReplicaLink(
        listening_port=7002,
        announce_ip=None,
        masterauth=None,
        masteruser=None,
        cached_replid=None,
        cached_offset=-1,
    )
    d = Driver(master.port, tap)  # the first replica: the backlog is born at offset 0
    d.pump(lambda: d.of(PayloadEnd))
    [full] = d.of(FullResync)
    assert full.offset == 0
    replica = master_factory("--replicaof", "127.0.0.1", str(master.port))
    backlog = ReplBacklog(size, offset=full.offset)
    fed = 0

    def check() -> None:
        nonlocal fed
        d.pump(lambda: tap.read_offset >= int(info(master)["master_repl_offset"]))
        for cmd in split_commands(bytes(d.stream[fed:])):
            backlog.feed(cmd)
        fed = len(d.stream)
        mine = (backlog.offset, backlog.first_byte_offset, backlog.histlen)
        deadline = time.monotonic() + 5
        while backlog_numbers(master) != mine:  # the master trims when replicas move on
            assert time.monotonic() < deadline, (backlog_numbers(master), mine)
            time.sleep(0.02)
        assert backlog.read_from(backlog.first_byte_offset) == bytes(d.stream)[-backlog.histlen :]

    sizes = [10, 3000, 16000, 16384, 20400, 20440, 25000, 70000, 5, 200000, 1, 40000]
    with RawClient(master.port) as c:
        for i, size in enumerate(sizes * 2):
            if i % 5 == 4:
                c.call("SELECT", str(i % 16))
            c.call("SET", f"k{i}", "v" * size)
            c.call("MULTI")
            c.call("INCR", "n")
            c.call("APPEND", "s", "x" * (size // 3))
            c.call("EXEC")
            check()
        # CONFIG SET repl-backlog-size: trims at once when shrinking, keeps all when growing.
        assert c.call("CONFIG", "SET", "repl-backlog-size", "1mb") == b"+OK\r\n"
        backlog.resize(1 << 20)
        for i, size in enumerate([30000, 150000, 70000, 300000, 20, 90000, 65536, 500000]):
            c.call("SET", f"grow{i}", "w" * size)
            check()
        assert backlog.histlen > 1 << 20
        c.call("CONFIG", "SET", "repl-backlog-size", "2000")
        backlog.resize(2000)
        assert c.call("CONFIG", "GET", "repl-backlog-size").endswith(b"$5\r\n16384\r\n")
        assert backlog.size == 16384
        check()

    # The real replica applied the same stream (its offset equals ours).
    deadline = time.monotonic() + 10
    while info(replica).get("slave_repl_offset") != str(backlog.offset):
        assert time.monotonic() < deadline, info(replica)
        time.sleep(0.05)
    d.close()
