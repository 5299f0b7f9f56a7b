"""The drill: steady acknowledged writes, a fault on the master, Sentinel's failover, and
an account of what survived.

Every write is `SET drill:<n> <n>` followed by `WAIT <acks> <ms>`; it counts as
acknowledged only when WAIT reports at least `acks` replicas. After the failover, the
healed old master must come back as a replica, every node's offset must reach the new
master's, their DEBUG DIGESTs must agree, and every acknowledged key must be on the new
master with its value.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from replication.drill.faults import Address, Faults, describe

KEY_PREFIX = "drill:"


@dataclass
class DrillSettings:
    sentinels: list[Address]
    master_name: str = "mymaster"
    fault: str = "kill"
    warmup: float = 3.0
    after: float = 3.0  # seconds of writes after the failover
    timeout: float = 90.0  # for each phase: promotion, rejoin, convergence
    acks: int = 1
    wait_ms: int = 1000
    password: str | None = None


@dataclass
class DrillReport:
    fault: str
    fault_action: str = ""
    old_master: str = ""
    new_master: str = ""
    failover_seconds: float = -1.0
    write_unavailable_seconds: float = -1.0
    acknowledged_writes: int = 0
    unacknowledged_writes: int = 0
    failed_writes: int = 0
    lost_acknowledged_writes: int = 0
    old_master_rejoined: bool = False
    replicas_following: int = 0
    digests_equal: bool = False
    digests: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.failover_seconds >= 0 and self.lost_acknowledged_writes == 0 and self.digests_equal
        )

    def lines(self) -> list[str]:
        yes = {True: "yes", False: "no"}
        return [
            f"fault: {self.fault} ({self.fault_action})",
            f"old_master: {self.old_master}",
            f"new_master: {self.new_master}",
            f"failover_seconds: {self.failover_seconds:.2f}",
            f"write_unavailable_seconds: {self.write_unavailable_seconds:.2f}",
            f"acknowledged_writes: {self.acknowledged_writes}",
            f"unacknowledged_writes: {self.unacknowledged_writes}",
            f"failed_writes: {self.failed_writes}",
            f"lost_acknowledged_writes: {self.lost_acknowledged_writes}",
            f"old_master_rejoined: {yes[self.old_master_rejoined]}",
            f"replicas_following: {self.replicas_following}",
            f"digests_equal: {yes[self.digests_equal]}",
        ] + [f"note: {n}" for n in self.notes]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class Writer(threading.Thread):
    """The steady load: one write at a time, each acknowledged with WAIT or not."""

    def __init__(self, drill: Drill) -> None:
        super().__init__(daemon=True, name="drill-writer")
        self.drill = drill
        self.stop_event = threading.Event()
        self.seq = 0
        self.acked: list[int] = []
        self.unacked = 0
        self.failed = 0
        self.last_ack = time.monotonic()
        self.acked_on: Address | None = None

    def run(self) -> None:
        drill = self.drill
        conn: redis.Redis | None = None
        target: Address | None = None
        settings = drill.settings
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    target = drill.master_address()
                    conn = drill.connect(target)
                self.seq += 1
                n = self.seq
                conn.set(f"{KEY_PREFIX}{n}", n)
                replicas = int(conn.execute_command("WAIT", settings.acks, settings.wait_ms))
                if replicas >= settings.acks:
                    self.acked.append(n)
                    self.last_ack = time.monotonic()
                    self.acked_on = target
                else:
                    self.unacked += 1
            except (redis.RedisError, OSError):
                self.failed += 1
                if conn is not None:
                    conn.close()
                conn = None
                self.stop_event.wait(0.1)
        if conn is not None:
            conn.close()


class Drill:
    def __init__(self, settings: DrillSettings, faults: Faults, out: TextIO = sys.stderr) -> None:
        self.settings = settings
        self.faults = faults
        self.out = out
        self.phase = "starting"
        self._progress_stop = threading.Event()
        self.writer: Writer | None = None

    # -- connections --------------------------------------------------------------------

    def connect(self, node: Address, timeout: float = 2.0) -> redis.Redis:
        # No client-side retries: redis-py's default (3, with backoff up to 10 s) would
        # hide how long writes were really unavailable; the writer retries itself.
        return redis.Redis(
            host=node[0],
            port=node[1],
            password=self.settings.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def master_address(self) -> Address:
        """What the Sentinels (the first that answers) say the master is."""
        for sentinel in self.settings.sentinels:
            try:
                with self.connect(sentinel) as s:
                    host, port = s.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.settings.master_name
                    )
                return (host.decode(), int(port))
            except (redis.RedisError, OSError, TypeError, ValueError):
                continue
        raise redis.ConnectionError("no Sentinel answered")

    def replica_addresses(self) -> list[Address]:
        for sentinel in self.settings.sentinels:
            try:
                with self.connect(sentinel) as s:
                    rows = s.execute_command("SENTINEL", "REPLICAS", self.settings.master_name)
            except (redis.RedisError, OSError):
                continue
            out = []
            for row in rows:
                # redis-py parses each replica into a dict; a raw reply is a flat list.
                fields = (
                    row if isinstance(row, dict) else dict(zip(row[::2], row[1::2], strict=True))
                )
                fields = {_text(k): v for k, v in fields.items()}
                out.append((_text(fields["ip"]), int(fields["port"])))
            return out
        return []

    def info(self, node: Address) -> dict[str, Any] | None:
        try:
            with self.connect(node) as r:
                return dict(r.info("replication"))
        except (redis.RedisError, OSError):
            return None

    # -- progress -----------------------------------------------------------------------

    def _progress(self) -> None:
        tty = self.out.isatty()
        last = 0.0
        while not self._progress_stop.wait(0.5):
            w = self.writer
            if w is None:
                continue
            line = (
                f"[{self.phase}] writes {w.seq}  acknowledged {len(w.acked)}  "
                f"unacknowledged {w.unacked}  failed {w.failed}"
            )
            if tty:
                self.out.write("\r" + line.ljust(100))
                self.out.flush()
            elif time.monotonic() - last >= 5:
                last = time.monotonic()
                self.out.write(line + "\n")
                self.out.flush()
        if tty:
            self.out.write("\n")

    def log(self, message: str) -> None:
        self.out.write(("\n" if self.out.isatty() else "") + message + "\n")
        self.out.flush()

    def _until(self, what: str, predicate: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.log(f"timed out waiting for {what}")
        return None

    # -- the drill ----------------------------------------------------------------------

    def run(self) -> DrillReport:
        settings = self.settings
        report = DrillReport(settings.fault)
        progress = threading.Thread(target=self._progress, daemon=True)
        progress.start()
        try:
            self._run(report)
        finally:
            self._progress_stop.set()
            progress.join()
        return report

    def _run(self, report: DrillReport) -> None:
        settings = self.settings
        old = self.master_address()
        report.old_master = describe(old)
        self.log(f"master {describe(old)}; replicas {self.replica_addresses()}")
        writer = self.writer = Writer(self)
        self.phase = "load"
        writer.start()
        time.sleep(settings.warmup)

        self.phase = f"fault:{settings.fault}"
        started = time.monotonic()
        report.fault_action = self.faults.inject(settings.fault, old)
        self.log(f"injected: {report.fault_action}")
        new = self._until("Sentinel's promotion", lambda: self._promoted(old), settings.timeout)
        healed = False
        try:
            if new is None:
                report.notes.append("no failover happened")
                return
            report.failover_seconds = time.monotonic() - started
            report.new_master = describe(new)
            self.log(f"promoted {describe(new)} after {report.failover_seconds:.2f} s")
            self.phase = "after failover"
            if self._until(
                "writes acknowledged by the new master",
                lambda: writer.acked_on == new and writer.last_ack > started,
                settings.timeout,
            ):
                report.write_unavailable_seconds = writer.last_ack - started
            self.log(self.faults.heal(settings.fault, old))
            healed = True
            self.phase = "rejoin"
            report.old_master_rejoined = bool(
                self._until(
                    "the old master to follow the new one",
                    lambda: self._follows(old, new),
                    settings.timeout,
                )
            )
            time.sleep(settings.after)
        finally:
            writer.stop_event.set()
            writer.join()
            if not healed:
                self.log(self.faults.heal(settings.fault, old))
        report.acknowledged_writes = len(writer.acked)
        report.unacknowledged_writes = writer.unacked
        report.failed_writes = writer.failed
        self.phase = "converge"
        nodes = [new] + [a for a in self.replica_addresses() if a != new]
        if old not in nodes:
            nodes.append(old)
        report.replicas_following = sum(1 for a in nodes[1:] if self._follows(a, new))
        self._until("every node at the master's offset", lambda: self._converged(new, nodes), 60)
        report.digests = {describe(a): self._digest(a) for a in nodes}
        report.digests_equal = len(set(report.digests.values())) == 1 and "" not in set(
            report.digests.values()
        )
        self.phase = "verify"
        report.lost_acknowledged_writes = self._lost(new, writer.acked)

    def _promoted(self, old: Address) -> Address | None:
        """The new master once Sentinel names another node and that node is a master."""
        try:
            node = self.master_address()
        except redis.RedisError:
            return None
        if node == old:
            return None
        info = self.info(node)
        return node if info is not None and info.get("role") == "master" else None

    def _follows(self, node: Address, master: Address) -> bool:
        info = self.info(node)
        return (
            info is not None
            and info.get("role") == "slave"
            and int(info.get("master_port", 0)) == master[1]
            and info.get("master_link_status") == "up"
        )

    def _converged(self, master: Address, nodes: list[Address]) -> bool:
        minfo = self.info(master)
        if minfo is None:
            return False
        offset = minfo.get("master_repl_offset")
        for node in nodes[1:]:
            info = self.info(node)
            if info is None or info.get("slave_repl_offset") != offset:
                return False
        return True

    def _digest(self, node: Address) -> str:
        try:
            with self.connect(node, timeout=30) as r:
                return bytes(r.execute_command("DEBUG", "DIGEST")).decode()
        except (redis.RedisError, OSError) as exc:
            self.log(f"DEBUG DIGEST on {describe(node)} failed: {exc}")
            return ""

    def _lost(self, master: Address, acked: list[int]) -> int:
        lost = 0
        with self.connect(master, timeout=30) as r:
            for i in range(0, len(acked), 1000):
                batch = acked[i : i + 1000]
                values = r.mget([f"{KEY_PREFIX}{n}" for n in batch])
                lost += sum(1 for n, v in zip(batch, values, strict=True) if v != str(n).encode())
        return lost


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
