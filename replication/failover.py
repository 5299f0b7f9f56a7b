"""FAILOVER: a master hands its role to one of its replicas without losing a write.

Redis 7.0's coordinated failover (replication.c failoverCommand / updateFailoverStatus):
the master pauses writes (`waiting-for-sync`), waits until the target replica has
acknowledged every byte of the stream (or, without TO, until any replica has), then
becomes a replica of it (`failover-in-progress`) with `PSYNC <replid> <offset> FAILOVER`.
The target sees its own replid in that PSYNC, promotes itself (REPLICAOF NO ONE) and
answers +CONTINUE, so both keep their data and the old master follows by partial resync.
Writes resume once the PSYNC got its answer; a timeout without FORCE, ABORT, or a
rejected PSYNC give the role back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from node.resp import ReplyError

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server
    from replication.master import ReplicaInfo

PAUSE_FOREVER = 10.0 * 365 * 24 * 3600


class Failover:
    """`server.replication.failover`: the state INFO shows as master_failover_state."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.state = "no-failover"  # | waiting-for-sync | failover-in-progress
        self.target: tuple[str, int] | None = None
        self.force = False
        self.end_time = 0.0  # monotonic deadline, 0: none

    @property
    def active(self) -> bool:
        return self.state != "no-failover"

    # -- FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] -------------------------------

    def command(self, c: Client, argv: list[bytes]) -> Any:
        from node.commands.args import get_ll

        server = self.server
        if len(argv) == 2 and argv[1].lower() == b"abort":
            if not self.active:
                return ReplyError("ERR No failover in progress.")
            self.abort("Failover manually aborted")
            return None
        timeout_ms = 0
        force = False
        host: str | None = None
        port = 0
        j = 1
        while j < len(argv):
            word = argv[j].lower()
            if word == b"timeout" and j + 1 < len(argv) and timeout_ms == 0:
                timeout_ms = get_ll(argv[j + 1])
                if timeout_ms <= 0:
                    return ReplyError("ERR FAILOVER timeout must be greater than 0")
                j += 2
            elif word == b"to" and j + 2 < len(argv) and host is None:
                port = get_ll(argv[j + 2])
                host = argv[j + 1].decode("utf-8", "replace")
                j += 3
            elif word == b"force" and not force:
                force = True
                j += 1
            else:
                return ReplyError("ERR syntax error")
        if self.active:
            return ReplyError("ERR FAILOVER already in progress.")
        if server.masterhost is not None:
            return ReplyError("ERR FAILOVER is not valid when server is a replica.")
        repl = server.replication
        if not repl.replicas and not repl.waiting:
            return ReplyError("ERR FAILOVER requires connected replicas.")
        if force and (not timeout_ms or host is None):
            return ReplyError(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
            )
        if host is not None:
            info = self._find(host, port)
            if info is None:
                return ReplyError("ERR FAILOVER target HOST and PORT is not a replica.")
            if info.state != "online":
                return ReplyError("ERR FAILOVER target replica is not online.")
            self.target = (host, port)
            server.log.notice(f"FAILOVER requested to {host}:{port}.")
        else:
            server.log.notice("FAILOVER requested to any replica.")
        self.end_time = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
        self.force = force
        self.state = "waiting-for-sync"
        server.pause(PAUSE_FOREVER, False)
        return None

    def _find(self, host: str, port: int) -> ReplicaInfo | None:
        repl = self.server.replication
        for info in repl.replicas.values():
            if info.address.lower() == host.lower() and info.listening_port == port:
                return info
        return None

    # -- progress ----------------------------------------------------------------------------

    def cron(self) -> None:
        """updateFailoverStatus: time out, or hand over once a replica has every byte."""
        if self.state != "waiting-for-sync":
            return
        server = self.server
        if self.end_time and time.monotonic() >= self.end_time:
            if self.force and self.target is not None:
                host, port = self.target
                server.log.notice(f"FAILOVER to {host}:{port} time out exceeded, failing over.")
                self._hand_over()
            else:
                self.abort("Replica never caught up before timeout")
            return
        repl = server.replication
        offset = repl.offset
        if self.target is not None:
            info = self._find(*self.target)
            if info is None or info.ack_offset != offset:
                return
        else:
            caught_up = [i for i in repl.replicas.values() if i.ack_offset == offset]
            if not caught_up:
                return
            info = caught_up[0]
            self.target = (info.address, info.listening_port)
        host, port = self.target
        server.log.notice(f"Failover target {host}:{port} is synced, failing over.")
        self._hand_over()

    def _hand_over(self) -> None:
        assert self.target is not None
        self.state = "failover-in-progress"
        self.server.replica.attach(*self.target, failover=True)

    def psync_answered(self) -> None:
        """The target answered our PSYNC FAILOVER: it is the master now, writes resume
        (and are refused as on any replica)."""
        if self.state == "failover-in-progress":
            self._clear()

    def psync_failed(self) -> None:
        if self.state == "failover-in-progress":
            self.abort("Failover target rejected psync request")

    def abort(self, reason: str) -> None:
        """abortFailover: log, take the role back if it was already handed over, unpause."""
        if not self.active:
            return
        server = self.server
        if self.target is not None:
            host, port = self.target
            server.log.notice(f"FAILOVER to {host}:{port} aborted: {reason}")
        else:
            server.log.notice(f"FAILOVER to any replica aborted: {reason}")
        if self.state == "failover-in-progress":
            server.replica.detach()
        self._clear()

    def _clear(self) -> None:
        self.state = "no-failover"
        self.target = None
        self.force = False
        self.end_time = 0.0
        self.server.unpause()


def psync_failover(server: Server, c: Client, replid: str) -> ReplyError | None:
    """The target side of FAILOVER: a PSYNC ... FAILOVER naming our own master's replid
    promotes this replica before the PSYNC is answered."""
    from node.commands.client_cmd import client_info

    if server.masterhost is None or replid != server.replication.replid:
        return ReplyError("ERR PSYNC FAILOVER replid must match my replid.")
    server.replica.detach()
    who = client_info(c, c, [])
    server.log.notice(f"MASTER MODE enabled (failover request from '{who}')")
    return None
