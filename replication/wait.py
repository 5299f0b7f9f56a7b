"""WAIT numreplicas timeout: a client waits until enough replicas acknowledged its writes.

As Redis 7.0 does it (replication.c waitCommand, processClientsWaitingReplicas,
replicationRequestAckFromSlaves):

- Every client has a write offset, `woff`: master_repl_offset right after its last
  top-level command (Redis's processCommand sets it after call(), for any command), kept in
  `c.woff` by node/dispatch.py. A client that never ran a command has 0.
- WAIT counts the online replicas whose last `REPLCONF ACK` offset reached `woff`. Enough
  of them, or a client that may not block (inside MULTI), and the count is the reply.
- Otherwise the client is parked by the one blocking registry (node/blocking.py, a Block
  on no keys) and, once at the end of the loop turn, the master asks every replica for an
  ACK with `REPLCONF GETACK *` in the stream. Each ACK, and each replica that goes away,
  re-checks the waiting clients.
- On timeout or CLIENT UNBLOCK the reply is the count at that moment: the parked client's
  `timeout_reply` is kept equal to it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import trio

from node import errors
from node.blocking import Block
from node.commands.args import TIMEOUT_NOT_INTEGER, get_ll, parse_ll
from node.resp import ReplyError, encode_command

if TYPE_CHECKING:
    from node.client import Client
    from replication.master import ReplicationMaster

GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])

REPLICA_ERROR = (
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
    "if a replica is configured to be writable (which is not the default) writes to "
    "replicas are just local and are not propagated."
)


def woff(c: Client) -> int:
    """The client's write offset (Redis's c->woff)."""
    return c.woff


def parse_wait_timeout(raw: bytes) -> float:
    """WAIT's timeout in ms -> seconds for a Block (0: forever).

    Redis 7.0 reads it with getTimeoutFromObjectOrReply but refuses no large value: one
    beyond any deadline blocks for good.
    """
    value = parse_ll(raw)
    if value is None:
        raise errors.CommandError(TIMEOUT_NOT_INTEGER)
    if value < 0:
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    return value / 1000


class WaitEntry:
    """One client blocked in WAIT. `argv` is the vector its BlockedState holds: while
    `c.blocked.argv is argv`, this WAIT is still the client's wait."""

    __slots__ = ("client", "argv", "offset", "numreplicas")

    def __init__(self, client: Client, argv: list[bytes], offset: int, numreplicas: int) -> None:
        self.client = client
        self.argv = argv
        self.offset = offset
        self.numreplicas = numreplicas


class WaitingClients:
    """`server.replication.waits`: Redis's clients_waiting_acks and get_ack_from_slaves."""

    def __init__(self, master: ReplicationMaster) -> None:
        self.master = master
        self.clients: dict[int, WaitEntry] = {}  # by client id, in blocking order
        self.get_ack_from_replicas = False
        self._end_of_turn_scheduled = False

    def count_acks(self, offset: int) -> int:
        """replicationCountAcksByOffset: online replicas that acknowledged `offset`."""
        return sum(
            1
            for info in self.master.replicas.values()
            if info.state == "online" and info.ack_offset >= offset
        )

    def wait(self, c: Client, argv: list[bytes]) -> Any:
        """The WAIT command (waitCommand)."""
        server = self.master.server
        if server.masterhost is not None:
            return ReplyError(REPLICA_ERROR)
        numreplicas = get_ll(argv[1])
        timeout = parse_wait_timeout(argv[2])
        offset = woff(c)
        acked = self.count_acks(offset)
        if acked >= numreplicas or not _may_block(c):
            return acked
        self.clients.pop(c.id, None)
        self.clients[c.id] = WaitEntry(c, argv, offset, numreplicas)
        self.request_ack()
        return Block([], timeout, acked)

    # -- GETACK -------------------------------------------------------------------------------

    def request_ack(self) -> None:
        """replicationRequestAckFromSlaves: one GETACK when this loop turn ends, however many
        clients started waiting in it."""
        self.get_ack_from_replicas = True
        if self._end_of_turn_scheduled:
            return
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:  # sans-IO tests run commands outside trio.run
            self.send_getack()
            return
        self._end_of_turn_scheduled = True
        token.run_sync_soon(self._end_of_turn)

    def _end_of_turn(self) -> None:
        # Runs in trio's run_sync_soon task, where an exception would end the whole run.
        self._end_of_turn_scheduled = False
        try:
            self.send_getack()
        except Exception as exc:
            self.master.server.log.warning(f"Could not request ACKs from replicas: {exc!r}")

    def send_getack(self) -> None:
        """beforeSleep's GETACK. Not while clients are paused (it would move the offset a
        failover waits for): the cron sends it once the pause is over."""
        if not self.get_ack_from_replicas:
            return
        master = self.master
        server = master.server
        if server.pause_end and time.monotonic() < server.pause_end:
            return
        self.get_ack_from_replicas = False
        if server.masterhost is None and master.backlog is not None:
            master._emit(GETACK)

    # -- answering waiting clients ----------------------------------------------------------

    def process(self) -> None:
        """processClientsWaitingReplicas: answer the clients whose WAIT is satisfied, and
        keep every other one's timeout reply equal to its current count."""
        if not self.clients:
            return
        blocking = self.master.server.blocking
        last_offset = 0
        last_count = 0
        for cid, entry in list(self.clients.items()):
            c = entry.client
            state = c.blocked
            if state is None or state.argv is not entry.argv:
                # Timed out, CLIENT UNBLOCK, disconnected, or never blocked: already answered.
                del self.clients[cid]
                continue
            # A client satisfied by an offset and count at least as high as one already
            # answered gets that count, as in Redis.
            if last_offset and last_offset >= entry.offset and last_count >= entry.numreplicas:
                count = last_count
            else:
                count = self.count_acks(entry.offset)
            if count >= entry.numreplicas:
                last_offset, last_count = entry.offset, count
                del self.clients[cid]
                blocking.unblock(c, count)
                c.wake()
            else:
                state.timeout_reply = count

    def cron(self) -> None:
        """A GETACK held back by a pause, and the counts of replicas that came online."""
        if self.get_ack_from_replicas:
            self.send_getack()
        self.process()


def _may_block(c: Client) -> bool:
    """False where node/dispatch.py call() answers a Block at once (MULTI, the master's
    stream, a nested call): Redis's CLIENT_DENY_BLOCKING."""
    return not (c.in_exec or c.kind == "master" or c.server.call_depth > 1)
