"""The master side of replication: PSYNC, full and partial resyncs, the live stream, ACKs.

The replication stream is a consumer of `propagate` (node/propagate.py), like the AOF: every
vector is encoded once (SELECT on database change), appended to the backlog and to every
online replica's output. `master_repl_offset` counts those bytes (spec/replication.md §1).

A full sync serializes the dataset at the moment of `+FULLRESYNC` into an RDB whose AUX
fields carry the replid, the offset and the stream's selected db, sends it as `$<len>` (disk
mode) or `$EOF:<mark> ... <mark>` (diskless, `repl-diskless-sync yes`), and then the stream
produced since, which accumulated in the replica's output meanwhile. The snapshot is taken
in one step on the node's thread: simple and exact, at the cost of pausing clients for the
time it takes (about 1.5 s per million keys).
"""

from __future__ import annotations

import os
import secrets
import time
from typing import TYPE_CHECKING, Any

from node.propagate import StreamEncoder
from node.resp import ReplyError, encode_command
from persistence.dataset import rdb_chunks
from replication.backlog import ReplBacklog
from replication.failover import Failover
from replication.wait import WaitingClients

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

ZERO_REPLID = "0" * 40
PING = encode_command([b"ping"])


class ReplicaInfo:
    """What the master knows of one attached replica (its client has kind "replica")."""

    __slots__ = (
        "client",
        "state",
        "ack_offset",
        "ack_time",
        "listening_port",
        "ip",
        "capa",
        "rdb_only",
        "pre_psync",
    )

    def __init__(self, client: Client) -> None:
        self.client = client
        self.state = "wait_bgsave"
        self.ack_offset = 0
        self.ack_time = time.monotonic()
        self.listening_port = 0
        self.ip: str | None = None
        self.capa: set[str] = set()
        self.rdb_only = False
        self.pre_psync = False  # attached with SYNC (redis-cli --replica): it never ACKs

    @property
    def address(self) -> str:
        """The replica's IP as it announced it (REPLCONF ip-address) or as it connected."""
        return self.ip or self.client.addr.rsplit(":", 1)[0]


class ReplicationMaster:
    """`server.replication`: replid history, backlog, replicas, and the stream feed."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.replid2 = ZERO_REPLID
        self.second_offset = -1
        self.backlog: ReplBacklog | None = None
        self.encoder = StreamEncoder()
        self.replicas: dict[int, ReplicaInfo] = {}
        self.pending: dict[int, ReplicaInfo] = {}  # clients that sent REPLCONF, not PSYNC yet
        # Diskless full syncs waiting for repl-diskless-sync-delay, since `waiting_since`.
        self.waiting: dict[int, ReplicaInfo] = {}
        self.waiting_since = 0.0
        self.last_newline = 0.0
        self.last_ping = time.monotonic()
        self.no_replicas_since = time.monotonic()
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.attached = False
        self.failover = Failover(server)
        self.waits = WaitingClients(self)  # clients blocked in WAIT

    # -- identity and offsets -----------------------------------------------------------------

    @property
    def replid(self) -> str:
        return self.server.master_replid

    @property
    def offset(self) -> int:
        return self.backlog.offset if self.backlog is not None else 0

    def create_backlog(self) -> None:
        """The first replica: a new history (replid), replid2 cleared, the backlog born."""
        if self.backlog is not None:
            return
        self.server.master_replid = secrets.token_hex(20)
        self.replid2 = ZERO_REPLID
        self.second_offset = -1
        self.backlog = ReplBacklog(int(self.server.config.repl_backlog_size))
        if not self.attached:
            self.server.propagator.consumers.append(self)
            self.attached = True

    def save_info(self) -> tuple[int, str, int] | None:
        """(stream db, replid, offset) for a snapshot's AUX fields, or None without history."""
        server = self.server
        if server.masterhost is None:
            if self.backlog is None:
                return None
            db = self.encoder.selected_db
            return (db if db >= 0 else 0, self.replid, self.offset)
        replica = server.replica
        if replica is None or (replica.master_client is None and replica.cached is None):
            return None
        return (replica.stream_db(), self.replid, replica.offsets()[0])

    def free_backlog(self) -> None:
        self.backlog = None

    def reset_history(self, replid: str, offset: int) -> None:
        """A replica after a full sync: its master's history, from `offset` on."""
        self.server.master_replid = replid
        self.replid2 = ZERO_REPLID
        self.second_offset = -1
        self.backlog = ReplBacklog(int(self.server.config.repl_backlog_size), offset)
        self.encoder.selected_db = -1
        if not self.attached:
            self.server.propagator.consumers.append(self)
            self.attached = True

    def continue_history(self, replid: str, offset: int) -> None:
        """A master restarted from an RDB of `replid` at `offset`: a new history that
        continues it, with the backlog starting there (empty)."""
        self.create_backlog()
        self.replid2 = replid
        self.second_offset = offset + 1
        self.backlog = ReplBacklog(int(self.server.config.repl_backlog_size), offset)

    def adopt_new_replid(self, replid: str, offset: int) -> None:
        """+CONTINUE with a new replid: the master is a promoted peer whose history
        continues ours; ours stays valid as replid2 up to `offset`."""
        self.replid2 = self.replid
        self.second_offset = offset + 1
        self.server.master_replid = replid
        if self.backlog is None:
            self.backlog = ReplBacklog(int(self.server.config.repl_backlog_size), offset)

    def shift_replid(self) -> None:
        """A replica becomes a master (shiftReplicationId): a new history that continues
        the one it followed, which stays valid as replid2 up to the current offset."""
        server = self.server
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        server.master_replid = secrets.token_hex(20)
        # The new history's first command carries its own SELECT.
        self.encoder.selected_db = -1
        self.no_replicas_since = time.monotonic()
        server.log.notice(
            f"Setting secondary replication ID to {self.replid2}, valid up to offset: "
            f"{self.second_offset}. New replication ID is {self.replid}"
        )

    def disconnect_replicas(self) -> None:
        """Drop every attached replica (they reconnect and learn the new replid)."""
        for group in (self.replicas, self.waiting):
            for info in list(group.values()):
                info.client.kill()

    # -- the stream -------------------------------------------------------------------------

    def feed(self, db: int, argv: list[bytes]) -> None:
        """Propagator consumer: encode once, append to the backlog and every online replica.

        A replica's own writes are not sent on: its replicas get its master's stream
        (`feed_from_master`), unchanged.
        """
        if self.backlog is None or self.server.masterhost is not None:
            return
        self._emit(self.encoder.encode(db, argv))

    def feed_from_master(self, data: bytes) -> None:
        """A replica: the master's stream bytes it executed, for its backlog and replicas."""
        if self.backlog is not None:
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        backlog = self.backlog
        assert backlog is not None
        backlog.feed(data)
        for info in self.replicas.values():
            c = info.client
            c.out.append(data)
            if info.state == "online":
                c.wake()

    def cron(self) -> None:
        """repl-ping-replica-period pings, and dropping replicas silent past repl-timeout."""
        server = self.server
        now = time.monotonic()
        config = server.config
        self.failover.cron()
        if (
            self.replicas
            and server.masterhost is None
            and not self.failover.active  # a PING would move the offset it waits for
            and now - self.last_ping >= config.repl_ping_replica_period
        ):
            self.last_ping = now
            self._emit(PING)
        if self.waiting and now - self.last_newline >= 1.0:
            # Keep the waiting replicas' links alive while the sync is prepared.
            self.last_newline = now
            for info in self.waiting.values():
                info.client.push_raw(b"\n")
        self._maybe_start_waiting_sync()
        for info in list(self.replicas.values()):
            c = info.client
            if c.out:
                # client-output-buffer-limit replica: the stream queued for a replica that
                # does not read it (Redis checks on every append; a tenth of a second here).
                server.output_pending_bytes(c, sum(map(len, c.out)))
            if (
                info.state == "online"
                and not info.pre_psync
                and now - info.ack_time > config.repl_timeout
            ):
                server.log.warning(
                    f"Disconnecting timedout replica (streaming sync): {self.describe(info)}"
                )
                info.client.kill()

    # -- REPLCONF / PSYNC ------------------------------------------------------------------

    def info_for(self, c: Client) -> ReplicaInfo:
        info = self.replicas.get(c.id) or self.pending.get(c.id)
        if info is None:
            info = ReplicaInfo(c)
            self.pending[c.id] = info
        return info

    def ack(self, c: Client, offset: int) -> None:
        info = self.replicas.get(c.id)
        if info is None:
            return
        info.ack_offset = max(info.ack_offset, offset)
        info.ack_time = time.monotonic()
        self.waits.process()

    def psync(self, c: Client, replid: str, offset: int, sync_command: bool = False) -> None:
        """Answer PSYNC on `c`'s output: +CONTINUE with the backlog, or a full sync."""
        server = self.server
        info = self.info_for(c)
        info.pre_psync = sync_command
        if server.masterhost is not None and not server.master_link_up:
            c.reply(ReplyError("NOMASTERLINK Can't SYNC while not connected with my master"))
            return
        self.pending.pop(c.id, None)
        backlog = self.backlog
        can_continue = (
            backlog is not None
            and offset >= 1
            and (replid == self.replid or (replid == self.replid2 and offset <= self.second_offset))
            and backlog.can_serve(offset)
        )
        c.kind = "replica"
        if can_continue:
            assert backlog is not None
            psync2 = "psync2" in info.capa
            c.out.append(f"+CONTINUE {self.replid}\r\n".encode() if psync2 else b"+CONTINUE\r\n")
            c.out.append(backlog.read_from(offset))
            info.state = "online"
            info.ack_time = time.monotonic()
            self.replicas[c.id] = info
            self.sync_partial_ok += 1
            server.log.notice(
                f"Partial resynchronization request from {self.describe(info)} accepted. "
                f"Sending {backlog.offset - offset + 1} bytes of backlog starting from "
                f"offset {offset}."
            )
            return
        if replid != "?":
            self.sync_partial_err += 1
            server.log.notice(
                f"Partial resynchronization not accepted: Replication ID mismatch or offset "
                f"out of range (Replica asked for '{replid}', offset {offset})"
            )
        else:
            server.log.notice(f"Replica {self.describe(info)} asks for synchronization")
        self.full_sync(info, sync_command)

    def full_sync(self, info: ReplicaInfo, sync_command: bool = False) -> None:
        """Serve a full resync: at once to disk, or diskless after repl-diskless-sync-delay
        so that replicas arriving meanwhile share one snapshot."""
        server = self.server
        self.create_backlog()
        self.sync_full += 1
        config = server.config
        diskless = bool(config.repl_diskless_sync) and "eof" in info.capa
        if diskless and config.repl_diskless_sync_delay > 0 and not info.rdb_only:
            info.state = "wait_bgsave"
            if not self.waiting:
                self.waiting_since = time.monotonic()
            self.waiting[info.client.id] = info
            self._maybe_start_waiting_sync()
            return
        self._send_snapshot([info], diskless, sync_command)

    def _maybe_start_waiting_sync(self) -> None:
        if not self.waiting:
            return
        config = self.server.config
        enough = config.repl_diskless_sync_max_replicas
        if (enough and len(self.waiting) >= enough) or (
            time.monotonic() - self.waiting_since >= config.repl_diskless_sync_delay
        ):
            infos = list(self.waiting.values())
            self.waiting.clear()
            self._send_snapshot(infos, True, False)

    def _send_snapshot(self, infos: list[ReplicaInfo], diskless: bool, sync_command: bool) -> None:
        """One snapshot of the dataset, now, for every replica in `infos`."""
        server = self.server
        offset = self.offset
        if server.masterhost is not None:
            # A replica's replicas get its master's stream: whatever db that has selected.
            stream_db = server.replica.stream_db()
        else:
            # The first command after the payload must carry its own SELECT.
            stream_db = self.encoder.selected_db if self.encoder.selected_db >= 0 else 0
            self.encoder.selected_db = -1
        target = "replicas sockets" if diskless else "disk"
        server.log.notice(f"Starting BGSAVE for SYNC with target: {target}")
        started = time.monotonic()
        payload = b"".join(rdb_chunks(server, repl=(stream_db, self.replid, offset)))
        server.log.notice(
            f"Background RDB transfer started (in-process snapshot of {len(payload)} bytes "
            f"in {time.monotonic() - started:.3f} s)"
        )
        if diskless:
            mark = secrets.token_hex(20).encode()
            body = [b"$EOF:" + mark + b"\r\n", payload, mark]
        else:
            _write_dump(server.config.dbfilename, payload)
            body = [b"$%d\r\n" % len(payload), payload]
        for info in infos:
            c = info.client
            if c.closing:
                continue
            if not sync_command:  # the old SYNC gets the payload alone
                c.out.append(f"+FULLRESYNC {self.replid} {offset}\r\n".encode())
            c.out.extend(body)
            if info.rdb_only:
                # redis-cli --rdb: a backup, not a replica.
                c.close_after_reply = True
                c.wake()
                server.log.notice(f"Sent the RDB payload to {self.describe(info)} (rdb-only)")
                continue
            info.state = "online"
            info.ack_time = time.monotonic()
            self.replicas[c.id] = info
            c.wake()
            server.log.notice(f"Synchronization with replica {self.describe(info)} succeeded")

    def client_gone(self, c: Client) -> None:
        self.pending.pop(c.id, None)
        self.waiting.pop(c.id, None)
        info = self.replicas.pop(c.id, None)
        if info is not None:
            self.server.log.notice(f"Connection with replica {self.describe(info)} lost.")
            if not self.replicas:
                self.no_replicas_since = time.monotonic()
            self.waits.process()  # WAIT counts one replica fewer

    def describe(self, info: ReplicaInfo) -> str:
        return f"{info.address}:{info.listening_port}"

    # -- min-replicas-to-write -------------------------------------------------------------

    def good_replicas(self) -> int:
        """Online replicas whose last ACK is at most min-replicas-max-lag seconds old."""
        max_lag = self.server.config.min_replicas_max_lag
        now = time.monotonic()
        return sum(
            1
            for info in self.replicas.values()
            if info.state == "online" and now - info.ack_time <= max_lag
        )

    def noreplicas(self, server: Server, c: Any, cmd: Any) -> ReplyError | None:
        """Write barrier: refuse writes while too few replicas are in sync (a master only)."""
        config = server.config
        if not config.min_replicas_to_write or not config.min_replicas_max_lag:
            return None
        if server.masterhost is not None:
            return None
        if self.good_replicas() < config.min_replicas_to_write:
            return ReplyError("NOREPLICAS Not enough good replicas to write.")
        return None

    # -- INFO ------------------------------------------------------------------------------

    def info_section(self, server: Server) -> list[tuple[str, Any]]:
        """INFO replication, field for field in Redis 7.0's order."""
        now = time.monotonic()
        config = server.config
        fields: list[tuple[str, Any]] = []
        replica = server.replica
        if server.masterhost is not None and replica is not None:
            fields += replica.info_fields()
        else:
            fields.append(("role", "master"))
        attached = list(self.waiting.values()) + list(self.replicas.values())
        fields.append(("connected_slaves", len(attached)))
        for n, info in enumerate(attached):
            fields.append(
                (
                    f"slave{n}",
                    f"ip={info.address},port={info.listening_port},state={info.state},"
                    f"offset={info.ack_offset},lag={int(now - info.ack_time)}",
                )
            )
        if config.min_replicas_to_write and config.min_replicas_max_lag:
            fields.append(("min_slaves_good_slaves", self.good_replicas()))
        backlog = self.backlog
        fields += [
            ("master_failover_state", self.failover.state),
            ("master_replid", self.replid),
            ("master_replid2", self.replid2),
            ("master_repl_offset", self.offset),
            ("second_repl_offset", self.second_offset),
            ("repl_backlog_active", int(backlog is not None)),
            ("repl_backlog_size", int(config.repl_backlog_size)),
            ("repl_backlog_first_byte_offset", backlog.first_byte_offset if backlog else 0),
            ("repl_backlog_histlen", backlog.histlen if backlog else 0),
        ]
        return fields

    def role_reply(self, server: Server) -> list[Any]:
        """ROLE: ["master", offset, [[ip, port, acked offset], ...]] or the replica's shape."""
        replica = server.replica
        if server.masterhost is not None and replica is not None:
            return replica.role_reply()
        online = [
            [
                info.address.encode(),
                str(info.listening_port).encode(),
                str(info.ack_offset).encode(),
            ]
            for info in self.replicas.values()
            if info.state == "online"
        ]
        return [b"master", self.offset, online]

    def info_stats(self, server: Server) -> list[tuple[str, Any]]:
        return [
            ("sync_full", self.sync_full),
            ("sync_partial_ok", self.sync_partial_ok),
            ("sync_partial_err", self.sync_partial_err),
        ]


def _write_dump(path: str, payload: bytes) -> None:
    """Disk mode leaves the synced RDB as the dump file, like Redis's BGSAVE for SYNC."""
    from persistence.rdbfile import write_file_atomically

    try:
        write_file_atomically(path, [payload], temp_path=f"temp-{os.getpid()}.rdb")
    except OSError:
        pass


def install(server: Server) -> None:
    from replication.driver import ReplicaDriver

    master = ReplicationMaster(server)
    server.replication = master
    driver = ReplicaDriver(server)
    server.replica = driver
    if server.config.replicaof is not None:
        # Before loading: a replica keeps the keys its master has not expired yet.
        server.masterhost = server.config.replicaof[0]
        server.update_gates()
    server.startup_hooks.append(driver.started)
    server.cron_hooks.append(lambda s: master.cron())
    server.cron_hooks.append(lambda s: master.waits.cron())
    server.info_hooks.setdefault("stats", []).append(master.info_stats)
    server.write_barriers.append(master.noreplicas)
