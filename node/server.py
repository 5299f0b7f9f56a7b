"""The server: shared state of one node and the trio tasks that run it.

Nurseries (STYLE.md): `run()` owns one for listeners and client tasks and one for
background jobs (cron: active expiry, client timeouts, pause expiry). Shutdown cancels them
and then runs the shutdown hooks (saving, later) before the process exits.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final

import trio

from node import KEELKV_VERSION, REDIS_COMPAT_VERSION
from node.blocking import BlockingRegistry
from node.client import Client
from node.config import Config
from node.evict import perform_evictions
from node.hub import Hub
from node.keyspace import Database, mstime
from node.log import Logger
from node.propagate import Propagator
from node.resp import ReplyError, encode_reply, sds_repr
from node.scan import ScanCursors

if TYPE_CHECKING:
    from node.commands.table import Command


@dataclass(slots=True)
class Stats:
    """INFO stats counters (reset by CONFIG RESETSTAT)."""

    total_connections_received: int = 0
    commands_processed: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    rejected_conn: int = 0
    expired_keys: int = 0
    expired_stale_perc: float = 0.0
    expired_time_cap_reached_count: int = 0
    evicted_keys: int = 0
    evicted_clients: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    pubsub_messages: int = 0
    client_qbuf_limit_disconnections: int = 0
    client_outbuf_limit_disconnections: int = 0
    unexpected_error_replies: int = 0
    total_error_replies: int = 0
    dump_payload_sanitizations: int = 0
    io_reads_processed: int = 0
    io_writes_processed: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))())


class SlowLog:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.entries: deque[tuple[int, int, int, list[bytes], str, bytes]] = deque()
        self.next_id = 0

    def add(self, c: Client, argv: list[bytes], duration_us: int) -> None:
        maxlen = self.server.config.slowlog_max_len
        if maxlen <= 0:
            return
        args = argv[:32]
        if len(argv) > 32:
            args = args[:31] + [b"... (%d more arguments)" % (len(argv) - 31)]
        args = [
            a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128) for a in args
        ]
        self.entries.appendleft((self.next_id, int(time.time()), duration_us, args, c.addr, c.name))
        self.next_id += 1
        while len(self.entries) > maxlen:
            self.entries.pop()


class Server:
    def __init__(self, config: Config, log: Logger, executable: str = "") -> None:
        self.config = config
        self.log = log
        self.executable = executable
        self.pid = os.getpid()
        self.run_id = secrets.token_hex(20)
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.mstime = mstime()
        self.dbs = [Database(i, self) for i in range(config.databases)]
        self.stats = Stats()
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1
        self.propagator = Propagator()
        self.blocking = BlockingRegistry(self)
        self.watched_keys: dict[tuple[int, bytes], list[Client]] = {}
        self.pubsub_channels: dict[bytes, dict[int, Client]] = {}
        self.pubsub_patterns: dict[bytes, dict[int, Client]] = {}
        self.pubsub_shard_channels: dict[bytes, dict[int, Client]] = {}
        self.monitors: list[Client] = []
        self.slowlog = SlowLog(self)
        # config.slowlog_log_slower_than, read after every command (Config attributes are
        # dictionary lookups); CONFIG SET keeps it current.
        self.slowlog_slower_than: int = config.slowlog_log_slower_than
        # The clock at the end of the last command, and whether the next command starts
        # right then (set by the hub around a batch; node/dispatch.py call()).
        self.cmd_clock_ns = 0
        self.cmd_clock_chained = False
        self.scan_cursors = ScanCursors()
        self.dirty = 0
        self.lastsave = int(time.time())
        self.call_depth = 0
        self.loading = False
        self.masterhost: str | None = None
        self.executing_master_stream = False
        self.master_link_up = False
        # CLIENT PAUSE: end time (monotonic) and mode; `pause_ended` is set while unpaused.
        self.pause_end = 0.0
        self.pause_all = False
        self.pause_ended = trio.Event()
        self.pause_ended.set()
        # Gate checks in dispatch run only while one of them can apply.
        self.gate_checks = False
        self.used_memory_estimate = 0
        self.shutdown_event = trio.Event()
        # Set with shutdown_event, once the final flush and save have run: from then on no
        # command executes (Redis exits inside prepareForShutdown). A plain bool, read per
        # command by the hub.
        self.shutting_down = False
        self.shutdown_nosave = False
        self.shutdown_save = False
        self.shutdown_hooks: list[Callable[[Server], None]] = []
        self.cron_hooks: list[Callable[[Server], None]] = []
        self.startup_hooks: list[Callable[[Server], Any]] = []
        # Checks that may refuse any write (MISCONF, NOREPLICAS...): (server, client, cmd) -> error.
        self.write_barriers: list[
            Callable[[Server, Client | None, Command | None], ReplyError | None]
        ] = []
        # Disk errors that stop writes (and PING), as Redis's writeCommandsDeniedByDiskError:
        # the RDB's MISCONF, the AOF's write errors. Each returns the error or None.
        self.disk_error_checks: list[Callable[[Server], ReplyError | None]] = []
        # Before shutting down: fn(server, nosave, save) -> None, or why it cannot stop now.
        self.prepare_shutdown_hooks: list[Callable[[Server, bool, bool], str | None]] = []
        self.flushall_hooks: list[Callable[[Server], None]] = []
        # The one forked child (BGSAVE or BGREWRITEAOF; persistence/child.py), and the
        # persistence subsystem (persistence/__init__.py) once installed.
        self.child: Any = None
        # While a live snapshot runs (persistence/live_snapshot.py): called with a container
        # value just before a write changes it in place, so its old state is saved first.
        self.cow_guard: Callable[[Any], None] | None = None
        # The AOF writer while the AOF is on (persistence/aof/writer.py): a client whose
        # commands appended to it gets its replies only once they are as durable as
        # appendfsync promises (node/connection.py).
        self.aof_barrier: Any = None
        # Serves every connection in the plain request/reply state (node/hub.py) while the
        # server runs.
        self.hub: Hub | None = None
        self.persistence: Any = None
        # The replication subsystem (replication/master.py) once installed, and the link
        # to this node's master (replication/driver.py).
        self.replication: Any = None
        self.replica: Any = None
        # Set with shutdown_event when startup must stop (an unreadable dataset).
        self.exit_status = 0
        self.info_hooks: dict[str, list[Callable[[Server], list[tuple[str, Any]]]]] = {}
        # CONFIG SET side effects of other subsystems: directive name -> fn(server) that
        # returns None, or the reason the new value cannot be applied (all are rolled back).
        self.config_set_hooks: dict[str, Callable[[Server], str | None]] = {}
        # INFO and admin state (node/info.py, node/commands/server_cmd.py).
        self.master_replid = secrets.token_hex(20)
        self.dirty_at_last_save = 0
        self.error_stats: dict[str, int] = {}
        self.active_expire_enabled = True  # DEBUG SET-ACTIVE-EXPIRE
        self.listen_sockets: list[socket.socket] = []
        self.bound_port = 0
        self.cronloops = 0
        self._nursery: trio.Nursery | None = None
        self.update_gates()

    # -- gates consulted by dispatch ----------------------------------------

    def update_gates(self) -> None:
        self.gate_checks = bool(
            self.loading
            or self.masterhost is not None
            or self.pause_end
            or self.config.maxmemory
            or self.pubsub_clients_exist()
            or self.write_denied_error(None, None) is not None
            or self.config.min_replicas_to_write
        )

    def pubsub_clients_exist(self) -> bool:
        return bool(self.pubsub_channels or self.pubsub_patterns or self.pubsub_shard_channels)

    def check_gates(self, c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | int | None:
        from node.dispatch import check_gates

        return check_gates(c, cmd, argv)

    def write_denied_error(self, c: Client | None, cmd: Command | None) -> ReplyError | None:
        """Why a write must be refused now (read-only replica, MISCONF, NOREPLICAS), or None."""
        if (
            self.masterhost is not None
            and self.config.replica_read_only
            and c is not None
            and c.kind != "master"
        ):
            return ReplyError("READONLY You can't write against a read only replica.")
        err = self.disk_error()
        if err is not None:
            return err
        for check in self.write_barriers:
            err = check(self, c, cmd)
            if err is not None:
                return err
        return None

    def disk_error(self) -> ReplyError | None:
        for check in self.disk_error_checks:
            err = check(self)
            if err is not None:
                return err
        return None

    def pause_blocks(self, c: Client, cmd: Command) -> bool:
        if not self.pause_end or c.kind in ("master", "replica"):
            return False
        if time.monotonic() >= self.pause_end:
            self.unpause()
            return False
        return True

    def pause(self, seconds: float, all_commands: bool) -> None:
        self.pause_end = max(self.pause_end, time.monotonic() + seconds)
        self.pause_all = self.pause_all or all_commands
        if self.pause_ended.is_set():
            self.pause_ended = trio.Event()
        self.update_gates()

    def unpause(self) -> None:
        self.pause_end = 0.0
        self.pause_all = False
        self.pause_ended.set()
        self.update_gates()

    def expire_deletions_paused(self) -> bool:
        return bool(self.pause_end)

    def master_link_down_stale(self) -> bool:
        return not self.master_link_up and not self.config.replica_serve_stale_data

    def evict_for_command(self, c: Client) -> ReplyError | None:
        # Imported at module level: a function-level import costs ~1 us per denyoom command.
        return perform_evictions(self)

    # -- propagation ----------------------------------------------------------

    def propagate(self, db: int, argv: list[bytes]) -> None:
        self.propagator.propagate(db, argv)

    # -- clients --------------------------------------------------------------

    def new_client(self, sock: socket.socket | None) -> Client:
        c = Client(self, sock, self.next_client_id)
        self.next_client_id += 1
        self.clients[c.id] = c
        return c

    def unlink_client(self, c: Client) -> None:
        if c.blocked is not None:
            self.blocking.unblock(c, None)
        from node.commands.pubsub_state import drop_subscriptions
        from node.commands.tx_state import unwatch_all

        unwatch_all(c)
        drop_subscriptions(c)
        if c.monitor and c in self.monitors:
            self.monitors.remove(c)
        if self.replication is not None:
            self.replication.client_gone(c)
        self.clients.pop(c.id, None)
        c.closing = True
        if c.sock is not None:
            try:
                c.sock.close()
            except OSError:
                pass

    def output_pending_bytes(self, c: Client, pending: int) -> None:
        """Enforce client-output-buffer-limit for a client whose socket stopped draining."""
        limits = self.config.client_output_buffer_limit
        cls = "pubsub" if c.in_pubsub_mode else ("replica" if c.kind == "replica" else "normal")
        hard, soft, soft_seconds = limits[cls]
        over_hard = hard and pending >= hard
        if soft and pending >= soft:
            since = c.extra.setdefault("obuf_soft_since", time.monotonic())
            over_soft = time.monotonic() - since >= soft_seconds
        else:
            c.extra.pop("obuf_soft_since", None)
            over_soft = False
        if over_hard or over_soft:
            self.stats.client_outbuf_limit_disconnections += 1
            self.log.warning(
                f"Client id={c.id} addr={c.addr} scheduled to be closed ASAP for overcoming of output buffer limits."
            )
            c.kill()

    def feed_monitors(self, c: Client, argv: list[bytes]) -> None:
        now = time.time()
        where = "lua" if c.sock is None and c.kind == "lua" else c.addr
        parts = " ".join(sds_repr(a) for a in argv)
        line = b"+%.6f [%d %s] %s\r\n" % (now, c.db.id, where.encode(), parts.encode())
        for m in list(self.monitors):
            m.push_raw(line)

    def reply_to(self, c: Client, value: Any) -> None:
        encode_reply(value, c.resp3, c.out)

    # -- lifecycle ------------------------------------------------------------

    def bind_listeners(self) -> None:
        port = self.config.port
        if port == 0:
            return
        for addr in self.config.bind:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"  # Redis's spelling of every IPv6 address
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((host, port))
                sock.listen(self.config.tcp_backlog)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                if optional and exc.errno in (
                    errno.EADDRNOTAVAIL,
                    errno.EAFNOSUPPORT,
                    errno.EPROTONOSUPPORT,
                ):
                    continue
                raise OSError(
                    exc.errno,
                    f"Could not create server TCP listening socket {host}:{port}: {exc.strerror}",
                ) from exc
            self.listen_sockets.append(sock)
        if self.config.unixsocket:
            path = self.config.unixsocket
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(path)
            if self.config.unixsocketperm:
                os.chmod(path, int(str(self.config.unixsocketperm), 8))
            sock.listen(self.config.tcp_backlog)
            sock.setblocking(False)
            self.listen_sockets.append(sock)

    async def accept_loop(self, lsock: socket.socket) -> None:
        is_tcp = lsock.family in (socket.AF_INET, socket.AF_INET6)
        while True:
            try:
                await trio.lowlevel.wait_readable(lsock)
            except trio.ClosedResourceError:
                return  # closed by CONFIG SET port/bind, which started a new loop
            while True:
                try:
                    sock, peer = lsock.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    self.log.warning(f"Accepting client connection: {exc}")
                    break
                sock.setblocking(False)
                if is_tcp:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if self.config.tcp_keepalive:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                refusal = self.refuse_connection(sock, peer, is_tcp)
                if refusal is not None:
                    self.stats.rejected_conn += 1
                    try:
                        sock.send(refusal)
                    except OSError:
                        pass
                    sock.close()
                    continue
                self.stats.total_connections_received += 1
                c = self.new_client(sock)
                assert self.hub is not None  # accept loops run inside run(), beside the hub
                self.hub.adopt(c)

    def refuse_connection(self, sock: socket.socket, peer: Any, is_tcp: bool) -> bytes | None:
        if len(self.clients) >= self.config.maxclients:
            return b"-ERR max number of clients reached\r\n"
        if is_tcp and self.config.protected_mode and not self.config.requirepass:
            host = peer[0]
            if not (host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")):
                return PROTECTED_MODE_ERROR
        return None

    async def cron(self) -> None:
        """serverCron: runs `hz` times a second."""
        while True:
            await trio.sleep(1 / self.config.hz)
            self.cronloops += 1
            self.mstime = mstime()
            if self.active_expire_enabled:
                self.active_expire_cycle()
            if self.pause_end and time.monotonic() >= self.pause_end:
                self.unpause()
            if self.config.timeout and self.cronloops % self.config.hz == 0:
                self.close_idle_clients()
            for hook in self.cron_hooks:
                hook(self)

    def active_expire_cycle(self) -> None:
        if self.masterhost is not None or self.loading:
            return
        budget_ns = int(1e9 / self.config.hz * 25 / 100)
        deadline = time.monotonic_ns() + budget_ns
        for db in self.dbs:
            if db.expires:
                db.active_expire_step(deadline)
                self.propagator.flush()
            if time.monotonic_ns() >= deadline:
                self.stats.expired_time_cap_reached_count += 1
                break
        if self.blocking.ready:
            self.blocking.serve_ready()

    def close_idle_clients(self) -> None:
        limit = self.config.timeout
        now = time.monotonic()
        for c in list(self.clients.values()):
            if (
                c.kind in ("replica", "master")
                or c.monitor
                or c.blocked is not None
                or c.in_pubsub_mode
            ):
                continue
            if now - c.last_interaction > limit:
                self.log.verbose("Closing idle client")
                c.kill()

    def request_shutdown(self, nosave: bool = False, save: bool = False) -> bool:
        """prepareForShutdown: run the subsystems' last steps (the final save), then stop.

        Returns False, and keeps the node running, when one of them fails (a final save
        that cannot be written), as Redis does.
        """
        self.log.warning("User requested shutdown...")
        for hook in self.prepare_shutdown_hooks:
            err = hook(self, nosave, save)
            if err is not None:
                self.log.warning(err)
                self.log.warning(
                    "Errors trying to shut down the server. Check the logs for more information."
                )
                return False
        self.shutdown_nosave = nosave
        self.shutdown_save = save
        self.shutting_down = True
        self.shutdown_event.set()
        return True

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.bind_listeners()
        if self.listen_sockets and self.listen_sockets[0].family != socket.AF_UNIX:
            self.bound_port = self.listen_sockets[0].getsockname()[1]
        self.log.notice("Server initialized")
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.hub = Hub(self, nursery)
            nursery.start_soon(self.hub.run)
            nursery.start_soon(self._watch_signals, nursery)
            for lsock in self.listen_sockets:
                nursery.start_soon(self.accept_loop, lsock)
            nursery.start_soon(self.cron)
            # Loading the dataset runs here, with clients already accepted: they get
            # -LOADING until it is done, as in Redis.
            for hook in self.startup_hooks:
                await hook(self)
                if self.shutdown_event.is_set():
                    break
            else:
                self.log.notice("Ready to accept connections")
            task_status.started(self)
            await self.shutdown_event.wait()
            for c in list(self.clients.values()):
                c.kill()
            nursery.cancel_scope.cancel()
        hub, self.hub = self.hub, None
        if hub is not None:
            hub.close_all()
        for hook in self.shutdown_hooks:
            hook(self)
        for sock in self.listen_sockets:
            sock.close()
        if self.config.unixsocket:
            try:
                os.unlink(self.config.unixsocket)
            except OSError:
                pass
        self.log.warning("keelkv is now ready to exit, bye bye...")

    async def _watch_signals(self, nursery: trio.Nursery) -> None:
        if sys.platform == "win32":  # pragma: no cover
            return
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
                self.log.warning(f"Received {name} scheduling shutdown...")
                if not self.request_shutdown():
                    self.log.warning(
                        f"{name} received but errors trying to shut down the server, "
                        "check the logs for more information"
                    )

    def start_background(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a background job (child reaping, loading) in the server's nursery."""
        assert self._nursery is not None, "the server is not running"
        self._nursery.start_soon(fn, *args)

    def uptime(self) -> int:
        return int(time.monotonic() - self.start_monotonic)

    def version_banner(self) -> str:
        return f"keelkv {KEELKV_VERSION} (Redis {REDIS_COMPAT_VERSION} compatible)"


PROTECTED_MODE_ERROR: Final = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    b"you can just disable the protected mode by editing the Redis configuration file, and "
    b"setting the protected mode option to 'no', and then restarting the server. 3) If you "
    b"started the server manually just for testing, restart it with the '--protected-mode no' "
    b"option. 4) Set up an authentication password for the default user. NOTE: You only need to "
    b"do one of the above things in order for the server to start accepting connections from "
    b"the outside.\r\n"
)
