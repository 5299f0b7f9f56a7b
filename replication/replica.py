"""ReplicaLink: the replica's side of one connection to its master, as a sans-IO state machine.

Bytes from the master go in through `receive`, events come out; bytes for the master come out
of `start`, `pending_output` and `ack`. The driver owns the socket, the timers (repl-timeout,
the once-a-second ACK, reconnect backoff), the RDB loading and the applying of the stream;
it makes a new link for every connection attempt. States and log lines are Redis 7.0's
(replication.c syncWithMaster / slaveTryPartialResynchronization / readSyncBulkPayload), see
spec/replication.md §2-§5:

    connect -> connecting -> receive_ping_reply -> send_handshake -> receive_auth_reply
    -> receive_port_reply -> receive_ip_reply -> receive_capa_reply -> send_psync
    -> receive_psync_reply -> transfer (full sync) -> connected
                           `-> connected (+CONTINUE)

The `send_*` states are passed through inside one call (their output is queued at once);
`receive_auth_reply` / `receive_ip_reply` are skipped without masterauth / announce-ip.
Any protocol error raises LinkError and leaves the link in `connect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from node.resp import encode_command

RUN_ID_SIZE: Final = 40  # CONFIG_RUN_ID_SIZE: replids and the diskless EOF mark
MAX_LINE: Final = 64 * 1024  # a handshake reply longer than this is not from a master
GETACK: Final = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"

# What ROLE shows for each link state (replicationGetSlaveState / roleCommand).
ROLE_STATES: Final = {
    "none": "none",
    "connect": "connect",
    "connecting": "connecting",
    "transfer": "sync",
    "connected": "connected",
}


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FullResync:
    """+FULLRESYNC: a payload follows; the stream after it starts at `offset`."""

    replid: str
    offset: int


@dataclass(frozen=True, slots=True)
class Continue:
    """+CONTINUE: partial resync accepted; `replid` is set only when the master changed it
    (the driver then shifts replid -> replid2 at its offset + 1 and drops its sub-replicas)."""

    replid: str | None


@dataclass(frozen=True, slots=True)
class PayloadStart:
    """The bulk header: `$<size>` (disk transfer) or `$EOF:<mark>` (diskless)."""

    size: int | None
    eof_mark: bytes | None


@dataclass(frozen=True, slots=True)
class PayloadData:
    """RDB bytes, in order (never any byte of the EOF mark)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PayloadEnd:
    """The RDB is complete. Load it before applying any StreamData; after a diskless
    (eof_mark) transfer Redis then sends `REPLCONF ACK` at once: the master holds the
    stream until that first ACK."""


@dataclass(frozen=True, slots=True)
class StreamData:
    """Command-stream bytes, exactly as received; `offset_after` is the replication offset
    of their last byte (what INFO calls slave_read_repl_offset)."""

    data: bytes
    offset_after: int


@dataclass(frozen=True, slots=True)
class GetAck:
    """The master asked `REPLCONF GETACK *`. `offset` is the stream offset just before the
    GETACK command (all StreamData before this event ends there): Redis answers with the
    offset it applied, which at that point is this one."""

    offset: int


@dataclass(frozen=True, slots=True)
class Log:
    """A line Redis logs at this step (level: "notice" or "warning")."""

    level: str
    message: str


Event = FullResync | Continue | PayloadStart | PayloadData | PayloadEnd | StreamData | GetAck | Log


class LinkError(Exception):
    """The link must be dropped. `reason` is Redis's log line; `retryable` marks a master
    that said it cannot serve now but will (-LOADING, -NOMASTERLINK) — Redis reconnects
    after any error, the flag only tells transient refusals from broken masters."""

    def __init__(self, reason: str, *, retryable: bool = False, level: str = "warning") -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.level = level


def command(*argv: str | bytes) -> bytes:
    return encode_command([a.encode() if isinstance(a, str) else a for a in argv])


class ReplicaLink:
    """One connection attempt to the master, from TCP connect to the live stream."""

    def __init__(
        self,
        *,
        listening_port: int,
        announce_ip: str | None = None,
        masterauth: str | None = None,
        masteruser: str | None = None,
        cached_replid: str | None = None,
        cached_offset: int = -1,
        failover: bool = False,
    ) -> None:
        """`cached_replid`/`cached_offset`: the cached master (offset = last applied byte),
        None -> `PSYNC ? -1`. `failover`: send `PSYNC ... FAILOVER` (FAILOVER's old master)."""
        self.listening_port = listening_port
        self.announce_ip = announce_ip
        self.masterauth = masterauth
        self.masteruser = masteruser
        self.cached_replid = cached_replid
        self.cached_offset = cached_offset
        self.failover = failover
        self.state = "connect"
        self.master_replid: str | None = None  # known after the PSYNC reply
        self.read_offset = -1  # offset of the last stream byte received (-1: no stream yet)
        self.transfer_size = -1  # Redis's repl_transfer_size: -1 before `$`, 0 with EOF mark
        self.transfer_read = 0  # payload bytes read (with the mark, as Redis counts them)
        self._lines = bytearray()  # unparsed reply bytes in the line-oriented states
        self._out: list[bytes] = []
        self._eof_mark = b""
        self._held = b""  # diskless: the last bytes read, which may be the mark's start
        self._left = 0  # disk: payload bytes still to come
        self._tail = b""  # last stream bytes, to find a GETACK split across reads

    # -- driver calls ---------------------------------------------------------------------

    @property
    def role_state(self) -> str:
        """The state as ROLE shows it (`handshake` for every handshake step)."""
        return ROLE_STATES.get(self.state, "handshake")

    def connecting(self) -> None:
        """The non-blocking connect was started (state `connecting`)."""
        self._expect("connect")
        self.state = "connecting"

    def start(self) -> bytes:
        """TCP connected: the PING to send first."""
        self._expect("connect", "connecting")
        self.state = "receive_ping_reply"
        return command("PING")

    def pending_output(self) -> bytes:
        """Bytes the link wants sent now (the handshake's commands, PSYNC)."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def ack(self, offset: int) -> bytes:
        """`REPLCONF ACK <offset>`: once a second, after a diskless load, and on GetAck."""
        return command("REPLCONF", "ACK", str(offset))

    def receive(self, data: bytes) -> list[Event]:
        """Feed bytes read from the master; the events they complete, in order."""
        events: list[Event] = []
        try:
            self._receive(bytes(data), events)
        except LinkError:
            self.state = "connect"
            raise
        return events

    # -- the machine ----------------------------------------------------------------------

    def _expect(self, *states: str) -> None:
        if self.state not in states:
            raise RuntimeError(f"replica link is in state {self.state}, not {'/'.join(states)}")

    def _receive(self, data: bytes, events: list[Event]) -> None:
        if self.state in ("connect", "connecting"):
            raise LinkError("Received data from MASTER before the replication handshake")
        while data:
            if self.state == "connected":
                self._stream(data, events)
                return
            if self.state == "transfer" and self.transfer_size != -1:
                data = self._payload(data, events)
                continue
            self._lines += data
            data = b""
            while self.state not in ("connected", "connect") and (
                self.state != "transfer" or self.transfer_size == -1
            ):
                line = self._take_line()
                if line is None:
                    return
                self._on_line(line, events)
            data = bytes(self._lines)
            self._lines.clear()

    def _take_line(self) -> str | None:
        """One reply line without its \\r\\n (Redis's syncReadLine), or None."""
        nl = self._lines.find(b"\n")
        if nl < 0:
            if len(self._lines) > MAX_LINE:
                raise LinkError("Master sent a protocol line that is too long")
            return None
        raw = bytes(self._lines[:nl])
        del self._lines[: nl + 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", "replace")

    def _on_line(self, line: str, events: list[Event]) -> None:
        state = self.state
        if state == "receive_ping_reply":
            if not (
                line.startswith("+")
                or line.startswith("-NOAUTH")
                or line.startswith("-NOPERM")
                or line.startswith("-ERR operation not permitted")
            ):
                raise LinkError(
                    f"Error reply to PING from master: '{line}'",
                    retryable=line.startswith("-LOADING"),
                )
            events.append(Log("notice", "Master replied to PING, replication can continue..."))
            self.state = "send_handshake"
            self._send_handshake()
        elif state == "receive_auth_reply":
            if line.startswith("-"):
                raise LinkError(f"Unable to AUTH to MASTER: {line}")
            self.state = "receive_port_reply"
        elif state == "receive_port_reply":
            self._non_critical("listening-port", line, events)
            self.state = "receive_ip_reply" if self.announce_ip else "receive_capa_reply"
        elif state == "receive_ip_reply":
            self._non_critical("ip-address", line, events)
            self.state = "receive_capa_reply"
        elif state == "receive_capa_reply":
            self._non_critical("capa", line, events)
            self.state = "send_psync"
            self._send_psync(events)
        elif state == "receive_psync_reply":
            self._on_psync_reply(line, events)
        elif state == "transfer":
            self._on_bulk_header(line, events)
        else:  # pragma: no cover - _receive only reads lines in the states above
            raise AssertionError(state)

    def _send_handshake(self) -> None:
        """AUTH, REPLCONF listening-port, ip-address, capa: pipelined in one write."""
        if self.masterauth is not None:
            if self.masteruser is not None:
                self._out.append(command("AUTH", self.masteruser, self.masterauth))
            else:
                self._out.append(command("AUTH", self.masterauth))
        self._out.append(command("REPLCONF", "listening-port", str(self.listening_port)))
        if self.announce_ip:
            self._out.append(command("REPLCONF", "ip-address", self.announce_ip))
        self._out.append(command("REPLCONF", "capa", "eof", "capa", "psync2"))
        self.state = "receive_auth_reply" if self.masterauth is not None else "receive_port_reply"

    def _non_critical(self, what: str, line: str, events: list[Event]) -> None:
        if line.startswith("-"):
            events.append(
                Log("notice", f"(Non critical) Master does not understand REPLCONF {what}: {line}")
            )

    def _send_psync(self, events: list[Event]) -> None:
        if self.cached_replid is not None:
            replid, offset = self.cached_replid, str(self.cached_offset + 1)
            events.append(
                Log("notice", f"Trying a partial resynchronization (request {replid}:{offset}).")
            )
        else:
            replid, offset = "?", "-1"
            events.append(
                Log("notice", "Partial resynchronization not possible (no cached master)")
            )
        argv = ["PSYNC", replid, offset] + (["FAILOVER"] if self.failover else [])
        self._out.append(command(*argv))
        self.state = "receive_psync_reply"

    def _on_psync_reply(self, line: str, events: list[Event]) -> None:
        if line == "":
            return  # keepalive newline while the master prepares the sync
        if line.startswith("+FULLRESYNC"):
            parts = line.split(" ")
            if len(parts) < 3 or len(parts[1]) != RUN_ID_SIZE:
                # Redis blanks its replid and syncs anyway; a master that says this is broken.
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.")
            try:
                offset = int(parts[2])
            except ValueError:
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.") from None
            self.master_replid = parts[1]
            self.read_offset = offset
            self.state = "transfer"
            self.transfer_size = -1
            events.append(Log("notice", f"Full resync from master: {parts[1]}:{offset}"))
            events.append(FullResync(parts[1], offset))
            return
        if line.startswith("+CONTINUE"):
            events.append(Log("notice", "Successful partial resynchronization with master."))
            new = line[10:]
            changed: str | None = None
            if len(new) == RUN_ID_SIZE and new != self.cached_replid:
                events.append(Log("warning", f"Master replication ID changed to {new}"))
                changed = new
            self.master_replid = changed or self.cached_replid
            self.read_offset = self.cached_offset
            self.state = "connected"
            events.append(Continue(changed))
            events.append(
                Log(
                    "notice",
                    "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
                )
            )
            return
        if line.startswith("-NOMASTERLINK") or line.startswith("-LOADING"):
            raise LinkError(
                f"Master is currently unable to PSYNC but should be in the future: {line}",
                retryable=True,
                level="notice",
            )
        if line.startswith("-ERR"):
            raise LinkError(
                f"Master does not support PSYNC or is in error state (reply: {line})",
                level="notice",
            )
        raise LinkError(f"Unexpected reply to PSYNC from master: {line}")

    def _on_bulk_header(self, line: str, events: list[Event]) -> None:
        if line == "":
            return  # keepalive newline while the master saves the RDB
        if line.startswith("-"):
            raise LinkError(f"MASTER aborted replication with an error: {line[1:]}")
        if not line.startswith("$"):
            raise LinkError(
                "Bad protocol from MASTER, the first byte is not '$' "
                f"(we received '{line}'), are you sure the host and port are right?"
            )
        if line.startswith("$EOF:") and len(line) >= 5 + RUN_ID_SIZE:
            self._eof_mark = line[5 : 5 + RUN_ID_SIZE].encode()
            self.transfer_size = 0
            events.append(PayloadStart(None, self._eof_mark))
            return
        try:
            size = int(line[1:])
        except ValueError:
            size = -1
        if size < 0:
            raise LinkError(f"Bad protocol from MASTER, invalid bulk length '{line}'")
        self.transfer_size = size
        self._left = size
        events.append(PayloadStart(size, None))
        if size == 0:
            self._end_payload(events)

    def _payload(self, data: bytes, events: list[Event]) -> bytes:
        """RDB bytes; returns what follows the payload (the start of the stream)."""
        if self._eof_mark:
            return self._payload_eof(data, events)
        take = min(self._left, len(data))
        if take:
            events.append(PayloadData(data[:take] if take < len(data) else data))
        self._left -= take
        self.transfer_read += take
        if self._left == 0:
            self._end_payload(events)
        return data[take:]

    def _payload_eof(self, data: bytes, events: list[Event]) -> bytes:
        """Diskless: pass bytes on, keeping back the last 39 (a mark may start there)."""
        buf = self._held + data
        mark = self._eof_mark
        at = buf.find(mark)
        if at >= 0:
            if at:
                events.append(PayloadData(buf[:at]))
            end = at + RUN_ID_SIZE
            self.transfer_read += end - len(self._held)
            self._held = b""
            self._end_payload(events)
            return buf[end:]
        keep = RUN_ID_SIZE - 1
        if len(buf) > keep:
            events.append(PayloadData(buf[:-keep]))
            self._held = buf[-keep:]
        else:
            self._held = buf
        self.transfer_read += len(data)
        return b""

    def _end_payload(self, events: list[Event]) -> None:
        events.append(PayloadEnd())
        self.state = "connected"

    def _stream(self, data: bytes, events: list[Event]) -> None:
        """Command-stream bytes, cut just before every complete REPLCONF GETACK."""
        base = self.read_offset  # offset of the byte before data[0]
        tail = self._tail
        window = tail + data[: len(GETACK) - 1] if tail else b""
        start = 0  # data[:start] already emitted
        # A GETACK that began in an earlier read: its end falls within data.
        if window:
            at = window.find(GETACK)
            if 0 <= at < len(tail):
                events.append(GetAck(base - len(tail) + at))
        search = 0
        while True:
            at = data.find(GETACK, search)
            if at < 0:
                break
            if at > start:
                events.append(StreamData(data[start:at], base + at))
                start = at
            events.append(GetAck(base + at))
            search = at + len(GETACK)
        end = base + len(data)
        events.append(StreamData(data[start:] if start else data, end))
        self.read_offset = end
        keep = len(GETACK) - 1
        self._tail = (tail + data)[-keep:] if len(data) < keep else data[-keep:]
