"""WAIT without sockets: write offsets, counting ACKs, blocking, GETACK, answers on ACK,
timeout replies that follow the count, MULTI, replicas and argument errors."""

from __future__ import annotations

from typing import Any

import hiredis
import trio
import trio.testing

from node.client import Client
from node.dispatch import BLOCKED, DONE, execute
from node.server import Server
from replication.master import ReplicaInfo
from replication.wait import GETACK, woff
from tests.unit.sansio import Session, make_server


def err(reply: Any) -> str:
    assert isinstance(reply, hiredis.ReplyError), reply
    return str(reply)


def master_with_replicas(n: int) -> tuple[Server, list[Client]]:
    """A master with a backlog and `n` online replicas that have acknowledged nothing."""
    server = make_server()
    master = server.replication
    master.create_backlog()
    links = []
    for _ in range(n):
        link = server.new_client(None)
        link.kind = "replica"
        info = ReplicaInfo(link)
        info.state = "online"
        master.replicas[link.id] = info
        links.append(link)
    return server, links


def ack(server: Server, link: Client, offset: int) -> None:
    execute(link, [b"REPLCONF", b"ACK", str(offset).encode()])
    link.out.clear()


def offset(server: Server) -> int:
    return server.replication.offset


def reply(c: Client) -> Any:
    reader = hiredis.Reader()
    reader.feed(b"".join(c.out))
    c.out.clear()
    return reader.gets()


def test_write_offset_follows_every_top_level_command() -> None:
    server, _ = master_with_replicas(1)
    writer, reader = Session(server), Session(server)
    assert woff(reader.client) == 0
    writer.run("SET", "k", "v")
    assert offset(server) > 0
    assert woff(writer.client) == offset(server)
    # Redis 7.0 sets it after any command, a read too: the reader now waits for that write.
    reader.run("GET", "k")
    assert woff(reader.client) == offset(server)
    # Queued commands do not move it; EXEC does.
    before = offset(server)
    writer.run("MULTI")
    writer.run("SET", "k", "v2")
    assert woff(writer.client) == before
    writer.run("EXEC")
    assert offset(server) > before
    assert woff(writer.client) == offset(server)


def test_a_client_that_ran_nothing_counts_every_online_replica() -> None:
    server, _ = master_with_replicas(2)
    Session(server).run("SET", "k", "v")
    assert Session(server).run("WAIT", 2, 0) == 2


def test_wait_answers_at_once_when_enough_replicas_acked() -> None:
    server, links = master_with_replicas(2)
    s = Session(server)
    s.run("SET", "k", "v")
    ack(server, links[0], offset(server))
    assert s.run("WAIT", 1, 0) == 1
    assert s.run("WAIT", 0, 0) == 1
    assert s.run("WAIT", -1, 0) == 1
    # Replicas not online yet are not counted.
    server.replication.replicas[links[0].id].state = "wait_bgsave"
    assert s.run("WAIT", 0, 0) == 0


def test_blocked_wait_asks_for_acks_and_is_answered_by_them() -> None:
    server, links = master_with_replicas(2)
    s = Session(server)
    s.run("SET", "k", "v")
    target = offset(server)
    for link in links:
        link.out.clear()
    assert execute(s.client, [b"WAIT", b"2", b"0"]) == BLOCKED
    assert s.client.blocked is not None
    assert server.blocking.blocked_clients == 1
    # REPLCONF GETACK * went into the stream (at once outside a trio loop).
    assert offset(server) == target + len(GETACK)
    assert all(b"".join(link.out) == GETACK for link in links)
    # An ACK below the client's offset answers nothing.
    ack(server, links[0], target - 1)
    assert s.client.blocked is not None and not s.client.out
    ack(server, links[0], target)
    assert s.client.blocked is not None and not s.client.out
    ack(server, links[1], target)
    assert s.client.blocked is None
    assert server.blocking.blocked_clients == 0
    assert reply(s.client) == 2
    assert not server.replication.waits.clients


def test_timeout_reply_is_the_count_at_that_moment() -> None:
    server, links = master_with_replicas(2)
    s = Session(server)
    s.run("SET", "k", "v")
    assert execute(s.client, [b"WAIT", b"3", b"100"]) == BLOCKED
    state = s.client.blocked
    assert state is not None and state.timeout_reply == 0
    ack(server, links[0], offset(server))
    assert state.timeout_reply == 1
    ack(server, links[1], offset(server))
    assert state.timeout_reply == 2
    # A replica that goes away is not counted any more.
    server.unlink_client(links[0])
    assert state.timeout_reply == 1
    assert s.client.blocked is state


def test_client_unblock_answers_the_current_count() -> None:
    server, links = master_with_replicas(2)
    s, admin = Session(server), Session(server)
    s.run("SET", "k", "v")
    execute(s.client, [b"WAIT", b"2", b"0"])
    ack(server, links[1], offset(server))
    assert admin.run("CLIENT", "UNBLOCK", s.client.id) == 1
    assert reply(s.client) == 1
    # The ended wait is forgotten: later ACKs answer nothing more.
    ack(server, links[0], offset(server))
    assert not s.client.out
    assert not server.replication.waits.clients
    execute(s.client, [b"WAIT", b"5", b"0"])
    assert admin.run("CLIENT", "UNBLOCK", s.client.id, "ERROR") == 1
    assert err(reply(s.client)) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"


def test_several_waiting_clients_each_get_their_own_answer() -> None:
    server, links = master_with_replicas(2)
    first, second = Session(server), Session(server)
    first.run("SET", "a", "1")
    first_offset = offset(server)
    second.run("SET", "b", "2")
    assert execute(first.client, [b"WAIT", b"1", b"0"]) == BLOCKED
    assert execute(second.client, [b"WAIT", b"1", b"0"]) == BLOCKED
    ack(server, links[0], first_offset)
    assert reply(first.client) == 1
    assert second.client.blocked is not None
    ack(server, links[0], offset(server))
    assert reply(second.client) == 1


def test_wait_inside_multi_does_not_block() -> None:
    server, _ = master_with_replicas(2)
    s = Session(server)
    s.run("SET", "k", "v")
    s.run("MULTI")
    assert s.run("SET", "k", "v2") == b"QUEUED"
    assert s.run("WAIT", 2, 0) == b"QUEUED"
    assert s.run("WAIT", 0, 0) == b"QUEUED"
    assert s.run("EXEC") == [b"OK", 0, 0]
    assert s.client.blocked is None
    assert not server.replication.waits.clients


def test_wait_without_replicas_counts_none() -> None:
    s = Session()
    assert s.run("WAIT", 0, 0) == 0
    assert execute(s.client, [b"WAIT", b"1", b"10"]) == BLOCKED
    assert s.client.blocked is not None and s.client.blocked.timeout_reply == 0


def test_wait_argument_errors() -> None:
    s = Session()
    assert err(s.run("WAIT", "x", 0)) == "ERR value is not an integer or out of range"
    assert err(s.run("WAIT", "1.0", 0)) == "ERR value is not an integer or out of range"
    assert err(s.run("WAIT", "x", -1)) == "ERR value is not an integer or out of range"
    assert err(s.run("WAIT", 1, "x")) == "ERR timeout is not an integer or out of range"
    assert err(s.run("WAIT", 1, "1.5")) == "ERR timeout is not an integer or out of range"
    assert err(s.run("WAIT", 1, -1)) == "ERR timeout is negative"
    assert err(s.run("WAIT", 1)) == "ERR wrong number of arguments for 'wait' command"
    # Redis 7.0 takes any timeout that fits a long long: the largest blocks for good.
    assert execute(s.client, [b"WAIT", b"1", b"%d" % (2**63 - 1)]) == BLOCKED


def test_wait_is_refused_on_a_replica() -> None:
    server = make_server("--replicaof", "127.0.0.1", "1")
    s = Session(server)
    message = err(s.run("WAIT", 1, 0))
    assert message.startswith("ERR WAIT cannot be used with replica instances.")
    assert message.endswith("writes to replicas are just local and are not propagated.")
    # Checked before the arguments, as in Redis.
    assert err(s.run("WAIT", "x", -1)) == message


def test_one_getack_per_loop_turn() -> None:
    server, links = master_with_replicas(1)

    async def main() -> None:
        sessions = [Session(server) for _ in range(3)]
        sessions[0].run("SET", "k", "v")
        for s in sessions[1:]:
            s.run("GET", "k")
        before = offset(server)
        links[0].out.clear()
        for s in sessions:
            assert execute(s.client, [b"WAIT", b"1", b"0"]) == BLOCKED
        # Not yet: it goes out when the turn ends, once for all three.
        assert offset(server) == before
        await trio.testing.wait_all_tasks_blocked()
        assert offset(server) == before + len(GETACK)
        assert b"".join(links[0].out) == GETACK
        # The ACK to it carries the offset before the GETACK (as Redis replicas answer).
        ack(server, links[0], before)
        assert [reply(s.client) for s in sessions] == [1, 1, 1]

    trio.run(main)


def test_getack_waits_for_the_end_of_a_pause() -> None:
    server, links = master_with_replicas(1)
    s = Session(server)
    s.run("SET", "k", "v")
    before = offset(server)
    server.pause(60, False)
    assert execute(s.client, [b"WAIT", b"1", b"0"]) == BLOCKED
    assert offset(server) == before
    server.replication.waits.cron()
    assert offset(server) == before
    server.unpause()
    server.replication.waits.cron()
    assert offset(server) == before + len(GETACK)


def test_the_commands_status_for_the_connection_loop() -> None:
    server, links = master_with_replicas(1)
    s = Session(server)
    assert execute(s.client, [b"WAIT", b"1", b"0"]) == DONE
    assert reply(s.client) == 1
