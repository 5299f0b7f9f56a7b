"""Per-connection state: what CLIENT LIST shows and what the dispatcher consults."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import trio

from node.resp import Push, RequestParser, encode_reply

if TYPE_CHECKING:
    from node.blocking import BlockedState
    from node.commands.table import Command
    from node.hub import Hub
    from node.keyspace import Database
    from node.server import Server


class Client:
    """One connection. The hub (node/hub.py) or its own task (node/connection.py) owns the
    socket; others only append to `out` and call `wake()` (pub/sub, unblocking, CLIENT KILL)."""

    __slots__ = (
        "id",
        "server",
        "sock",
        "addr",
        "laddr",
        "fd",
        "parser",
        "out",
        "out_bytes",
        "db",
        "resp3",
        "authenticated",
        "user",
        "name",
        "lib_name",
        "lib_ver",
        "ctime",
        "last_interaction",
        "last_cmd",
        "last_name",
        "last_top",
        "multi",
        "multi_error",
        "in_exec",
        "dirty_cas",
        "watched",
        "channels",
        "patterns",
        "shard_channels",
        "reply_mode",
        "closing",
        "close_after_reply",
        "wake_scope",
        "blocked",
        "kind",
        "monitor",
        "no_evict",
        "tot_net_in",
        "tot_net_out",
        "tot_cmds",
        "aof_hold",
        "woff",
        "hub",
        "hub_pending",
        "extra",
    )

    def __init__(self, server: Server, sock: socket.socket | None, client_id: int) -> None:
        self.id = client_id
        self.server = server
        self.sock = sock
        self.addr = "?:0"
        self.laddr = "?:0"
        self.fd = -1
        if sock is not None:
            self.fd = sock.fileno()
            self.addr = _format_addr(sock.getpeername(), sock.family)
            self.laddr = _format_addr(sock.getsockname(), sock.family)
        self.parser = RequestParser(
            server.config.proto_max_bulk_len, server.config.client_query_buffer_limit
        )
        self.out: list[bytes] = []
        self.out_bytes = 0
        self.db: Database = server.dbs[0]
        self.resp3 = False
        self.authenticated = not server.config.requirepass
        self.parser.authenticated = self.authenticated
        self.user = "default"
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.ctime = time.monotonic()
        self.last_interaction = self.ctime
        # The last command looked up for this client (CLIENT LIST `cmd=`); None: unknown.
        self.last_cmd: Command | None = None
        # The name of the last command as the client spelled it, and its table entry
        # (node/dispatch.py execute).
        self.last_name = b""
        self.last_top: Command | None = None
        # MULTI state: queued (command, argv) pairs, or None outside a transaction.
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.in_exec = False
        self.dirty_cas = False
        self.watched: list[tuple[int, bytes, bool]] = []
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        self.reply_mode = "on"  # on | off | skip
        self.closing = False
        self.close_after_reply = False
        self.wake_scope: trio.CancelScope | None = None
        self.blocked: BlockedState | None = None
        self.kind = "normal"  # normal | pubsub | replica | master
        self.monitor = False
        self.no_evict = False
        self.tot_net_in = 0
        self.tot_net_out = 0
        self.tot_cmds = 0
        # appendfsync always: replies are held until the AOF is fsync'd up to this stream
        # offset (0: nothing held); the AOF writer sends them (persistence/aof/writer.py).
        self.aof_hold = 0
        # master_repl_offset after this client's last command: what its WAIT waits for.
        self.woff = 0
        # The hub serving this connection (node/hub.py), or None while a task of its own
        # does (node/connection.py); hub_pending: queued for the hub's next round.
        self.hub: Hub | None = None
        self.hub_pending = False
        self.extra: dict[str, Any] = {}

    # -- output --------------------------------------------------------------

    def reply(self, value: Any) -> None:
        """Queue a reply for this client's current command."""
        if self.reply_mode == "on":
            encode_reply(value, self.resp3, self.out)
        elif self.reply_mode == "skip":
            self.reply_mode = "on"

    def push(self, items: list[Any]) -> None:
        """Queue an out-of-band message (pub/sub, MONITOR) and make sure it goes out."""
        encode_reply(Push(items), self.resp3, self.out)
        self.wake()

    def push_raw(self, data: bytes) -> None:
        self.out.append(data)
        self.wake()

    def wake(self) -> None:
        """Interrupt the connection's idle wait so it flushes output or notices a kill."""
        hub = self.hub
        if hub is not None:
            hub.notify(self)
            return
        scope = self.wake_scope
        if scope is not None:
            scope.cancel()

    def kill(self) -> None:
        self.closing = True
        self.wake()

    @property
    def subscription_count(self) -> int:
        return len(self.channels) + len(self.patterns)

    @property
    def in_pubsub_mode(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)


def _format_addr(addr: Any, family: int) -> str:
    if family == socket.AF_INET6:
        return f"{addr[0]}:{addr[1]}"
    if family == socket.AF_UNIX:
        return f"{addr or ''}:0"
    return f"{addr[0]}:{addr[1]}"
