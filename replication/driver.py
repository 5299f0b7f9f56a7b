"""The replica side at run time: the connection to the master around a ReplicaLink.

`server.replica` (ReplicaDriver) owns one background task. While the node is a replica
(`replicaof` in the config, REPLICAOF/SLAVEOF at run time) it connects to the master, runs
the handshake through a new `ReplicaLink` per attempt (replication/replica.py, sans-IO),
receives the RDB payload into a temp file, replaces the dataset with it, and then applies
the master's command stream as the `master` client. When the link drops it retries once a
second, offering the history it has (the cached master) for a partial resync.

Offsets follow Redis: `applied` is the offset of the last byte of the last command executed
(Redis's master->reploff, `slave_repl_offset`), never counting a MULTI block until its EXEC.
The bytes of every executed command go unchanged into this node's backlog and to its own
replicas (chained replication), so all nodes of a chain share one replid and one offset
numbering. The node's AOF receives the executed commands through `propagate`, like any
write.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import TYPE_CHECKING, Any

import trio

from node.dispatch import execute
from node.keyspace import mstime
from node.resp import _encoded_len
from persistence.loader import empty_dataset, load_rdb_into
from replication.replica import (
    Continue,
    FullResync,
    LinkError,
    Log,
    PayloadData,
    PayloadEnd,
    PayloadStart,
    ReplicaLink,
    StreamData,
)

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

RECV_SIZE = 256 * 1024
RETRY_INTERVAL = 1.0  # replicationCron runs once a second
ACK_INTERVAL = 1.0


class SyncFailed(Exception):
    """The payload could not be stored or loaded; the link is retried."""


class ReplicaDriver:
    """`server.replica`: the node's link to its master while it is a replica."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.link: ReplicaLink | None = None
        self.master_client: Client | None = None
        # The history this node can continue from: (replid, offset of the last applied
        # byte, db the stream had selected). Set when a link drops, or from the node's own
        # history when a master becomes a replica (Redis's cached master).
        self.cached: tuple[str, int, int] | None = None
        self.applied = 0  # slave_repl_offset
        self.read_offset = 0  # slave_read_repl_offset
        self.last_io = 0.0
        self.down_since = 0.0  # 0: the link was never up (master_link_down_since_seconds -1)
        self.transfer_last_io = 0.0
        self._pending_raw = bytearray()  # received stream bytes not yet executed
        self._ack_due = False
        self._ack_offset = 0  # what the ACK answering the last GETACK reports
        self._changed = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._temp_path: str | None = None
        self._temp_fd = -1
        self._full: FullResync | None = None
        self.failover_psync = False  # the next PSYNC carries FAILOVER

    async def started(self, server: Server) -> None:
        """Startup hook (after loading): the link task, and the first connection."""
        self._resume_from_snapshot()
        server.start_background(self.run)

    def _resume_from_snapshot(self) -> None:
        """A node restarted from its own RDB continues the history recorded in it
        (loadDataFromDisk): a replica offers it to its master for a partial resync; a
        master keeps it as replid2, so its replicas resync partially with it."""
        persistence = self.server.persistence
        aux = persistence.loaded_aux if persistence is not None else {}
        replid = aux.get(b"repl-id", b"").decode("latin-1")
        try:
            offset = int(aux.get(b"repl-offset", b"-1"))
            db = int(aux.get(b"repl-stream-db", b"-1"))
        except ValueError:
            return
        if len(replid) != 40 or offset < 0 or db < 0 or db >= len(self.server.dbs):
            return
        repl = self.server.replication
        if self.server.masterhost is not None:
            repl.reset_history(replid, offset)
            self.cached = (replid, offset, db)
        else:
            repl.continue_history(replid, offset)

    # -- role changes (REPLICAOF) ------------------------------------------------------

    @property
    def host_port(self) -> tuple[str, int] | None:
        return self.server.config.replicaof

    def attach(self, host: str, port: int, failover: bool = False) -> None:
        """replicationSetMaster: follow `host:port` from now on. `failover`: FAILOVER's old
        master handing over to that replica (the first PSYNC carries FAILOVER)."""
        server = self.server
        was_master = server.masterhost is None
        self._drop_link()
        _disconnect_blocked_clients(server)
        server.config.replicaof = (host, port)
        server.masterhost = host
        server.update_gates()
        self.down_since = time.monotonic()
        if was_master:
            # Offer our own history to the new master: a former replica of it (or a node
            # it was promoted from) continues with a partial resync.
            repl = server.replication
            self.cached = (repl.replid, repl.offset, 0)
        self.failover_psync = failover
        self._restart()

    def detach(self) -> None:
        """replicationUnsetMaster (REPLICAOF NO ONE): a master with a new history that
        remembers the old one as replid2, so its former peers resync partially."""
        server = self.server
        if server.masterhost is None:
            return
        self._drop_link()
        self.cached = None
        server.masterhost = None
        server.config.replicaof = None
        server.master_link_up = False
        self.down_since = 0.0
        repl = server.replication
        repl.shift_replid()
        repl.disconnect_replicas()
        server.update_gates()
        persistence = server.persistence
        if persistence is not None:
            persistence.after_replica_sync(server)
        self._restart()

    def _restart(self) -> None:
        scope = self._scope
        if scope is not None:
            scope.cancel()
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def _drop_link(self) -> None:
        """Stop the current attempt or link (the running task is cancelled by _restart)."""
        c = self.master_client
        if c is not None:
            self._cache_master(c)
        self._free_master_client()
        self._discard_temp()
        self.link = None
        self._full = None

    # -- the task ------------------------------------------------------------------------

    async def run(self) -> None:
        """The background task: one connection attempt after another while a replica."""
        server = self.server
        while True:
            target = self.host_port if server.masterhost is not None else None
            if target is None:
                await self._changed.wait()
                continue
            changed = self._changed
            with trio.CancelScope() as scope:
                self._scope = scope
                try:
                    await self._session(*target)
                except LinkError as exc:
                    log = server.log.notice if exc.level == "notice" else server.log.warning
                    log(exc.reason)
                except SyncFailed as exc:
                    server.log.warning(str(exc))
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    reason = _reason(exc)
                    if self.link is not None and self.link.state in ("connect", "connecting"):
                        server.log.warning(f"Error condition on socket for SYNC: {reason}")
                    else:
                        server.log.notice(f"Connection with master lost ({reason}).")
                except Exception as exc:  # never let the link take the node down
                    server.log.warning(
                        "Replication link error: "
                        + "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\n    ")
                    )
            self._scope = None
            if changed is self._changed:
                server.replication.failover.psync_failed()
                # The same master: the link dropped. Retry from the cron's next tick.
                self._link_lost()
                with trio.move_on_after(RETRY_INTERVAL):
                    await self._changed.wait()

    def _link_lost(self) -> None:
        server = self.server
        c = self.master_client
        if c is not None:
            server.log.notice("Connection with master lost.")
            server.log.notice("* Caching the disconnected master state.")
            self._cache_master(c)
            self._free_master_client()
        if server.master_link_up:
            server.master_link_up = False
            self.down_since = time.monotonic()
            server.update_gates()
        self._discard_temp()
        self.link = None
        self._full = None

    async def _session(self, host: str, port: int) -> None:
        server = self.server
        config = server.config
        cached = self.cached
        link = ReplicaLink(
            listening_port=int(config.replica_announce_port or server.bound_port),
            announce_ip=config.replica_announce_ip or None,
            masterauth=config.masterauth or None,
            masteruser=config.masteruser or None,
            cached_replid=cached[0] if cached else None,
            cached_offset=cached[1] if cached else -1,
            failover=self.failover_psync,
        )
        self.failover_psync = False
        self.link = link
        server.log.notice(f"Connecting to MASTER {host}:{port}")
        server.log.notice("MASTER <-> REPLICA sync started")
        link.connecting()
        timeout = float(config.repl_timeout)
        with trio.move_on_after(timeout) as connecting:
            stream = await trio.open_tcp_stream(host, port)
        if connecting.cancelled_caught:
            raise LinkError("Timeout connecting to the MASTER...")
        async with stream:
            server.log.notice("Non blocking connect for SYNC fired the event.")
            self.last_io = time.monotonic()
            await stream.send_all(link.start())
            last_ack = time.monotonic()
            while True:
                wait = ACK_INTERVAL if link.state == "connected" else timeout
                with trio.move_on_after(wait):
                    data = await stream.receive_some(RECV_SIZE)
                    if not data:
                        raise LinkError("Connection with master lost.", level="notice")
                    self.last_io = time.monotonic()
                    for event in link.receive(data):
                        await self._on_event(event, stream)
                    out = link.pending_output()
                    if out:
                        await stream.send_all(out)
                now = time.monotonic()
                if now - self.last_io > timeout:
                    raise LinkError(self._timeout_reason(link))
                if (
                    link.state == "connected"
                    and self.master_client is not None
                    and (self._ack_due or now - last_ack >= ACK_INTERVAL)
                ):
                    offset = self._ack_offset if self._ack_due else self.applied
                    self._ack_due = False
                    last_ack = now
                    await stream.send_all(link.ack(offset))

    def _timeout_reason(self, link: ReplicaLink) -> str:
        if link.state == "transfer":
            return (
                "Timeout receiving bulk data from MASTER... If the problem persists try to "
                "set the 'repl-timeout' parameter in redis.conf to a larger value."
            )
        if link.state == "connected":
            return "MASTER timeout: no data nor PING received..."
        return "Timeout connecting to the MASTER..."

    # -- link events ---------------------------------------------------------------------

    async def _on_event(self, event: Any, stream: trio.SocketStream) -> None:
        server = self.server
        kind = type(event)
        if kind is StreamData:
            self.read_offset = event.offset_after
            self._apply(event.data)
        elif kind is PayloadData:
            self.transfer_last_io = time.monotonic()
            self._store_payload(event.data)
        elif kind is Log:
            (server.log.notice if event.level == "notice" else server.log.warning)(event.message)
        elif kind is FullResync:
            self._full = event
            server.replication.failover.psync_answered()
        elif kind is PayloadStart:
            self._start_payload(event)
        elif kind is PayloadEnd:
            await self._load_payload()
            assert self.link is not None
            if self.link.transfer_size == 0:
                # Diskless: the master holds the stream until this first ACK.
                await stream.send_all(self.link.ack(self.applied))
        elif kind is Continue:
            self._continue(event)
            server.replication.failover.psync_answered()
        # GetAck events: the stream's own REPLCONF GETACK is answered when executed.

    def _start_payload(self, event: PayloadStart) -> None:
        server = self.server
        if event.size is None:
            server.log.notice(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
            )
        else:
            server.log.notice(
                f"MASTER <-> REPLICA sync: receiving {event.size} bytes from master to disk"
            )
        self._discard_temp()
        path = f"temp-{int(time.time())}.{os.getpid()}.rdb"
        try:
            self._temp_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as exc:
            raise SyncFailed(
                f"Opening the temp file needed for MASTER <-> REPLICA synchronization: "
                f"{_reason(exc)}"
            ) from exc
        self._temp_path = path
        self.transfer_last_io = time.monotonic()

    def _store_payload(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._temp_fd, view) :]
        except OSError as exc:
            raise SyncFailed(
                f"Write error or short write writing to the DB dump file needed for MASTER "
                f"<-> REPLICA synchronization: {_reason(exc)}"
            ) from exc

    async def _load_payload(self) -> None:
        """The payload is complete: replace the dataset with it (readSyncBulkPayload)."""
        server = self.server
        full = self._full
        temp = self._temp_path
        assert full is not None and temp is not None
        try:
            os.fsync(self._temp_fd)
        except OSError as exc:
            raise SyncFailed(
                f"Failed trying to sync the temp DB to disk in MASTER <-> REPLICA "
                f"synchronization: {_reason(exc)}"
            ) from exc
        os.close(self._temp_fd)
        self._temp_fd = -1
        repl = server.replication
        # A new history: our replicas must resync with us, the old backlog is void.
        repl.disconnect_replicas()
        repl.free_backlog()
        self.cached = None
        persistence = server.persistence
        if persistence is not None:
            persistence.before_replica_sync(server)
        dbfilename = server.config.dbfilename
        try:
            os.rename(temp, dbfilename)
        except OSError as exc:
            raise SyncFailed(
                f"Failed trying to rename the temp DB into {dbfilename} in MASTER <-> REPLICA "
                f"synchronization: {_reason(exc)}"
            ) from exc
        self._temp_path = None
        server.log.notice("MASTER <-> REPLICA sync: Flushing old data")
        empty_dataset(server)
        server.log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        ok = await self._load_file(dbfilename)
        if not ok:
            empty_dataset(server)
            raise SyncFailed(
                "Failed trying to load the MASTER synchronization DB from disk, check server logs."
            )
        repl.reset_history(full.replid, full.offset)
        self._new_master_client(full.offset, 0)
        server.log.notice("MASTER <-> REPLICA sync: Finished with success")
        if persistence is not None:
            persistence.after_replica_sync(server)

    async def _load_file(self, path: str) -> bool:
        from persistence.rdb import RdbError

        server = self.server
        try:
            await load_rdb_into(server, path, keep_expired=True, what="RDB from master")
        except (RdbError, OSError) as exc:
            server.log.warning(f"Error loading the RDB from the master ({path}): {_reason(exc)}")
            return False
        return True

    def _continue(self, event: Continue) -> None:
        """+CONTINUE: keep the dataset, follow on from the cached offset."""
        server = self.server
        cached = self.cached
        assert cached is not None
        replid, offset, db = cached
        repl = server.replication
        if event.replid is not None:
            # The master has a new history that continues ours (a promoted peer).
            repl.adopt_new_replid(event.replid, offset)
            repl.disconnect_replicas()
        elif repl.backlog is None:
            repl.reset_history(replid, offset)
        self.cached = None
        self._new_master_client(offset, db)

    def _new_master_client(self, offset: int, db: int) -> None:
        server = self.server
        host_port = self.host_port
        c = server.new_client(None)
        c.kind = "master"
        c.authenticated = True
        c.parser.authenticated = True
        if host_port is not None:
            c.addr = f"{host_port[0]}:{host_port[1]}"
        c.db = server.dbs[db]
        c.wake_scope = self._scope
        self.master_client = c
        self.applied = offset
        self.read_offset = offset
        self._pending_raw.clear()
        self.down_since = 0.0
        server.master_link_up = True
        server.update_gates()

    def _free_master_client(self) -> None:
        c = self.master_client
        if c is None:
            return
        self.master_client = None
        c.wake_scope = None
        self.server.unlink_client(c)

    def _cache_master(self, c: Client) -> None:
        repl = self.server.replication
        self.cached = (repl.replid, self.applied, c.db.id)

    # -- the command stream --------------------------------------------------------------

    def _apply(self, data: bytes) -> None:
        """Execute the complete commands in `data` as the master client."""
        c = self.master_client
        if c is None:
            return
        if c.closing:
            raise LinkError("Connection with master lost (killed by a client).", level="notice")
        server = self.server
        pending = self._pending_raw
        pending += data
        commands = c.parser.feed(data)
        if not commands:
            return
        server.mstime = mstime()
        done = 0  # bytes of `pending` executed and counted in `applied`
        pos = 0
        server.executing_master_stream = True
        try:
            for argv in commands:
                if len(argv) == 3 and argv[0].lower() == b"replconf":
                    if argv[1].lower() == b"getack":
                        # The answer is the offset applied before this GETACK.
                        self._ack_due = True
                        self._ack_offset = self.applied + done
                else:
                    execute(c, argv)
                pos += _encoded_len(argv)
                if c.multi is None:
                    done = pos
        finally:
            server.executing_master_stream = False
            c.out.clear()
        if done:
            self.applied += done
            server.replication.feed_from_master(bytes(pending[:done]))
            del pending[:done]

    # -- status --------------------------------------------------------------------------

    def stream_db(self) -> int:
        """The db the master's stream has selected (an RDB for our replicas records it)."""
        c = self.master_client
        if c is not None:
            return int(c.db.id)
        return self.cached[2] if self.cached is not None else 0

    def offsets(self) -> tuple[int, int]:
        """(slave_repl_offset, slave_read_repl_offset), as Redis reports them."""
        if self.master_client is not None:
            return self.applied, self.read_offset
        if self.cached is not None:
            return self.cached[1], self.cached[1]
        return 1, 1

    def info_fields(self) -> list[tuple[str, Any]]:
        server = self.server
        config = server.config
        host, port = self.host_port or ("", 0)
        now = time.monotonic()
        link = self.link
        transfer = link is not None and link.state == "transfer" and link.transfer_size >= 0
        applied, read = self.offsets()
        fields: list[tuple[str, Any]] = [
            ("role", "slave"),
            ("master_host", host),
            ("master_port", port),
            ("master_link_status", "up" if server.master_link_up else "down"),
            (
                "master_last_io_seconds_ago",
                int(now - self.last_io) if self.master_client is not None else -1,
            ),
            ("master_sync_in_progress", int(transfer)),
            ("slave_read_repl_offset", read),
            ("slave_repl_offset", applied),
        ]
        if transfer:
            assert link is not None
            size, got = link.transfer_size, link.transfer_read
            fields += [
                ("master_sync_total_bytes", size),
                ("master_sync_read_bytes", got),
                ("master_sync_left_bytes", size - got),
                ("master_sync_perc", f"{got * 100 / size if size else 0:.2f}"),
                ("master_sync_last_io_seconds_ago", int(now - self.transfer_last_io)),
            ]
        if not server.master_link_up:
            down = int(now - self.down_since) if self.down_since else -1
            fields.append(("master_link_down_since_seconds", down))
        fields += [
            ("slave_priority", config.replica_priority),
            ("slave_read_only", int(config.replica_read_only)),
            ("replica_announced", int(config.replica_announced)),
        ]
        return fields

    def role_reply(self) -> list[Any]:
        host, port = self.host_port or ("", 0)
        offset = self.applied if self.master_client is not None else -1
        return [b"slave", host.encode(), port, self.role_state().encode(), offset]

    def role_state(self) -> str:
        link = self.link
        if link is None:
            return "connect"
        if link.state == "connected" and self.master_client is None:
            return "sync"  # the payload is loading
        return link.role_state

    def _discard_temp(self) -> None:
        if self._temp_fd >= 0:
            os.close(self._temp_fd)
            self._temp_fd = -1
        if self._temp_path is not None:
            try:
                os.unlink(self._temp_path)
            except OSError:
                pass
            self._temp_path = None


def _disconnect_blocked_clients(server: Server) -> None:
    """disconnectAllBlockedClients: what they wait for may never happen on a replica."""
    from node.resp import ReplyError

    for c in list(server.clients.values()):
        if c.blocked is not None:
            server.blocking.unblock(
                c,
                ReplyError(
                    "UNBLOCKED force unblock from blocking operation, instance state changed "
                    "(master -> replica?)"
                ),
            )
            c.close_after_reply = True


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__
