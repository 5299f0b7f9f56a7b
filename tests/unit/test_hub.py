"""The hub's synchronous round on real socket pairs: a pipelined batch is answered with one
send, a killed client gets nothing (not even replies an fsync held), and with the AOF on
every write reaches the file before its reply leaves."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, cast

import pytest
import trio

from node.client import Client
from node.hub import Hub
from node.resp import encode_command
from node.server import Server
from persistence.aof.writer import AofWriter
from tests.unit.sansio import make_server


class Pair:
    """A client connection to `server` through a socketpair, served by `hub`."""

    def __init__(self, server: Server, hub: Hub) -> None:
        ours, self.peer = socket.socketpair()
        ours.setblocking(False)
        self.peer.settimeout(2)
        self.client: Client = server.new_client(ours)
        hub.adopt(self.client)

    def send(self, *commands: list[bytes]) -> None:
        self.peer.sendall(b"".join(encode_command(argv) for argv in commands))

    def received(self) -> bytes:
        self.peer.setblocking(False)
        try:
            return self.peer.recv(65536)
        except BlockingIOError:
            return b""
        finally:
            self.peer.settimeout(2)


def new_hub(server: Server) -> Hub:
    # No hand-off happens in these rounds, so the hub needs no nursery.
    return Hub(server, cast(trio.Nursery, None))


def ready_events(hub: Hub) -> list[tuple[int, int]]:
    return hub.ep.poll(0)


def test_a_pipelined_batch_is_answered_in_one_send() -> None:
    server = make_server()
    hub = new_hub(server)
    pair = Pair(server, hub)
    pair.send([b"SET", b"a", b"1"], [b"INCR", b"a"], [b"GET", b"a"], [b"PING"])
    hub.serve_round(ready_events(hub))
    assert pair.received() == b"+OK\r\n:2\r\n$1\r\n2\r\n+PONG\r\n"
    assert pair.received() == b""


def test_a_killed_client_gets_nothing_more_even_held_replies() -> None:
    server = make_server()
    hub = new_hub(server)
    pair = Pair(server, hub)
    c = pair.client
    c.out.append(b"+OK\r\n")  # a reply an fsync was holding, released as the client died
    c.kill()
    hub.serve_round(ready_events(hub))
    assert pair.peer.recv(100) == b""  # closed, and nothing was sent first
    assert c.id not in server.clients
    assert c.fd not in hub.by_fd


def test_quit_closes_after_its_reply() -> None:
    server = make_server()
    hub = new_hub(server)
    pair = Pair(server, hub)
    pair.send([b"PING"], [b"QUIT"], [b"PING"])
    hub.serve_round(ready_events(hub))
    assert pair.peer.recv(100) == b"+PONG\r\n+OK\r\n"
    assert pair.peer.recv(100) == b""


@pytest.mark.parametrize("policy", ["everysec", "always"])
def test_writes_reach_the_aof_before_their_replies(tmp_path: Path, policy: str) -> None:
    server = make_server("--appendfsync", policy)
    path = tmp_path / "1.incr.aof"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    writer = AofWriter(server, fd, 0)
    server.aof_barrier = writer
    server.propagator.consumers.append(writer)
    hub = new_hub(server)
    pair = Pair(server, hub)
    pair.send([b"SET", b"k", b"v"], [b"GET", b"k"])
    hub.serve_round(ready_events(hub))
    written: Any = path.read_bytes()
    if policy == "everysec":
        # Written (to the kernel) in the same round, before the replies were sent.
        assert written.endswith(encode_command([b"SET", b"k", b"v"]))
        assert pair.received() == b"+OK\r\n$1\r\nv\r\n"
    else:
        # always: the replies wait for the group commit's fsync; nothing went out yet.
        assert written == b""
        assert pair.received() == b""
        assert pair.client.aof_hold == writer.appended
        writer.flush_and_sync()  # what a commit does: write, fsync, release the held replies
        assert path.read_bytes().endswith(encode_command([b"SET", b"k", b"v"]))
        assert pair.received() == b"+OK\r\n$1\r\nv\r\n"
    os.close(fd)


def test_nothing_runs_after_a_shutdown_in_the_same_round() -> None:
    server = make_server()
    hub = new_hub(server)
    stopper, other = Pair(server, hub), Pair(server, hub)
    stopper.send([b"SET", b"before", b"1"], [b"SHUTDOWN", b"NOSAVE"], [b"SET", b"after", b"1"])
    other.send([b"SET", b"other", b"1"])
    # The stopper's socket comes first in this round, as epoll may report it.
    hub.serve_round([(stopper.client.fd, 1), (other.client.fd, 1)])
    assert server.shutting_down
    data = server.dbs[0].data
    assert b"before" in data
    assert b"after" not in data and b"other" not in data  # Redis exits inside SHUTDOWN
