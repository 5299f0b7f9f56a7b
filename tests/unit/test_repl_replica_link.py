"""ReplicaLink without sockets: literal master bytes in, handshake bytes and events out."""

from __future__ import annotations

import random

import pytest

from replication.replica import (
    GETACK,
    Continue,
    FullResync,
    GetAck,
    LinkError,
    Log,
    PayloadData,
    PayloadEnd,
    PayloadStart,
    ReplicaLink,
    StreamData,
)

REPLID = "5731380bc67b713d366ea0cab575a24f64871191"
NEWID = "b69bbe77561eee0fb63d5d0b985ab404dd65969c"
MARK = b"d8ca8a82fdc53f2761fc9b625bce6fed53ec0bbe"
RDB = b"REDIS0010\xfa\tredis-ver\x067.0.15\xfe\x00\xfb\x01\x00\x00\x01k\x01v\xff" + bytes(8)
SET_CMD = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$10\r\nafter:sync\r\n$1\r\n1\r\n"
INCR_CMD = b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
PING_CMD = b"*1\r\n$4\r\nping\r\n"

PSYNC_FULL = b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n"
HANDSHAKE = (
    b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n7392\r\n"
    b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
)


def link(**kw: object) -> ReplicaLink:
    args: dict[str, object] = {
        "listening_port": 7392,
        "announce_ip": None,
        "masterauth": None,
        "masteruser": None,
        "cached_replid": None,
        "cached_offset": -1,
    }
    args.update(kw)
    return ReplicaLink(**args)  # type: ignore[arg-type]


def no_logs(events: list) -> list:
    return [e for e in events if not isinstance(e, Log)]


def logs(events: list) -> list[str]:
    return [e.message for e in events if isinstance(e, Log)]


def to_psync_reply(lk: ReplicaLink) -> None:
    """Drive a link through PING and the REPLCONFs, up to the PSYNC reply."""
    assert lk.start() == b"*1\r\n$4\r\nPING\r\n"
    lk.receive(b"+PONG\r\n")
    lk.pending_output()
    lk.receive(b"+OK\r\n" * (2 + bool(lk.announce_ip) + (lk.masterauth is not None)))
    lk.pending_output()
    assert lk.state == "receive_psync_reply"


def full_sync(lk: ReplicaLink, offset: int = 0) -> None:
    to_psync_reply(lk)
    lk.receive(f"+FULLRESYNC {REPLID} {offset}\r\n".encode())


def collect_payload(events: list) -> tuple[bytes, list]:
    """The RDB bytes from PayloadData events, and the other events."""
    data = b"".join(e.data for e in events if isinstance(e, PayloadData))
    return data, [e for e in events if not isinstance(e, (PayloadData, Log))]


def stream_bytes(events: list) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, StreamData))


# -- handshake -------------------------------------------------------------------------------


def test_handshake_bytes_without_auth_as_redis_sends_them() -> None:
    lk = link()
    assert lk.state == "connect" and lk.role_state == "connect"
    lk.connecting()
    assert lk.state == "connecting" and lk.role_state == "connecting"
    assert lk.start() == b"*1\r\n$4\r\nPING\r\n"
    assert lk.state == "receive_ping_reply" and lk.role_state == "handshake"
    assert lk.pending_output() == b""
    events = lk.receive(b"+PONG\r\n")
    assert logs(events) == ["Master replied to PING, replication can continue..."]
    assert lk.pending_output() == HANDSHAKE
    assert lk.state == "receive_port_reply"
    assert lk.receive(b"+OK\r\n") == []
    assert lk.state == "receive_capa_reply"
    assert lk.pending_output() == b""
    events = lk.receive(b"+OK\r\n")
    assert logs(events) == ["Partial resynchronization not possible (no cached master)"]
    assert lk.pending_output() == PSYNC_FULL
    assert lk.state == "receive_psync_reply"


def test_handshake_with_auth_user_and_announce_ip_in_one_write() -> None:
    lk = link(masterauth="s3cret", masteruser="repl", announce_ip="10.1.2.3", listening_port=6380)
    lk.start()
    lk.receive(b"+PONG\r\n")
    assert lk.pending_output() == (
        b"*3\r\n$4\r\nAUTH\r\n$4\r\nrepl\r\n$6\r\ns3cret\r\n"
        b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n6380\r\n"
        b"*3\r\n$8\r\nREPLCONF\r\n$10\r\nip-address\r\n$8\r\n10.1.2.3\r\n"
        b"*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
    )
    assert lk.state == "receive_auth_reply"
    # The four replies in one packet, as the master pipelines them.
    lk.receive(b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n")
    assert lk.state == "receive_psync_reply"
    assert lk.pending_output() == PSYNC_FULL


def test_auth_without_user_is_two_arguments() -> None:
    lk = link(masterauth="s3cret")
    lk.start()
    lk.receive(b"+PONG\r\n")
    assert lk.pending_output().startswith(
        b"*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*3\r\n$8\r\nREPLCONF"
    )


def test_noauth_reply_to_ping_continues_then_auth_failure_is_an_error() -> None:
    lk = link(masterauth="wrong")
    lk.start()
    lk.receive(b"-NOAUTH Authentication required.\r\n")
    assert lk.state == "receive_auth_reply"
    with pytest.raises(LinkError) as info:
        lk.receive(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n")
    assert info.value.reason == (
        "Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled."
    )
    assert not info.value.retryable
    assert lk.state == "connect"
    with pytest.raises(LinkError):
        lk.receive(b"+OK\r\n")


@pytest.mark.parametrize(
    "reply", [b"-NOPERM this user has no permissions\r\n", b"-ERR operation not permitted\r\n"]
)
def test_ping_replies_redis_accepts(reply: bytes) -> None:
    lk = link()
    lk.start()
    lk.receive(reply)
    assert lk.state == "receive_port_reply"


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (b"-LOADING Redis is loading the dataset in memory\r\n", True),
        (b"-ERR unknown command\r\n", False),
        (b"\r\n", False),
    ],
)
def test_other_ping_replies_drop_the_link(reply: bytes, retryable: bool) -> None:
    lk = link()
    lk.start()
    with pytest.raises(LinkError) as info:
        lk.receive(reply)
    line = reply.decode().rstrip("\r\n")
    assert info.value.reason == f"Error reply to PING from master: '{line}'"
    assert info.value.retryable is retryable


def test_replconf_errors_are_not_critical() -> None:
    lk = link(announce_ip="10.0.0.9")
    lk.start()
    lk.receive(b"+PONG\r\n")
    events = lk.receive(b"-ERR a\r\n-ERR b\r\n-ERR c\r\n")
    assert logs(events) == [
        "(Non critical) Master does not understand REPLCONF listening-port: -ERR a",
        "(Non critical) Master does not understand REPLCONF ip-address: -ERR b",
        "(Non critical) Master does not understand REPLCONF capa: -ERR c",
        "Partial resynchronization not possible (no cached master)",
    ]
    assert lk.state == "receive_psync_reply"


def test_handshake_replies_split_at_every_byte() -> None:
    wire = b"+PONG\r\n+OK\r\n+OK\r\n+OK\r\n"
    for cut in range(1, len(wire)):
        lk = link(masterauth="x")
        lk.start()
        lk.receive(wire[:cut])
        lk.receive(wire[cut:])
        assert lk.state == "receive_psync_reply", cut
        out = lk.pending_output()
        assert out.endswith(PSYNC_FULL) and out.startswith(b"*2\r\n$4\r\nAUTH")


def test_cached_master_psync_and_failover_psync() -> None:
    lk = link(cached_replid=REPLID, cached_offset=115)
    lk.start()
    lk.receive(b"+PONG\r\n")
    lk.pending_output()
    events = lk.receive(b"+OK\r\n+OK\r\n")
    assert logs(events) == [f"Trying a partial resynchronization (request {REPLID}:116)."]
    assert lk.pending_output() == f"*3\r\n$5\r\nPSYNC\r\n$40\r\n{REPLID}\r\n$3\r\n116\r\n".encode()

    lk = link(cached_replid=REPLID, cached_offset=350, failover=True)
    to_psync = lk.start()
    assert to_psync
    lk.receive(b"+PONG\r\n+OK\r\n+OK\r\n")
    assert lk.pending_output().endswith(
        f"*4\r\n$5\r\nPSYNC\r\n$40\r\n{REPLID}\r\n$3\r\n351\r\n$8\r\nFAILOVER\r\n".encode()
    )


def test_state_errors_in_the_driver_are_bugs_not_link_errors() -> None:
    lk = link()
    with pytest.raises(LinkError):
        lk.receive(b"+PONG\r\n")  # bytes before start(): not from a master
    lk = link()
    lk.start()
    with pytest.raises(RuntimeError):
        lk.start()


def test_a_reply_line_without_end_is_bounded() -> None:
    lk = link()
    lk.start()
    with pytest.raises(LinkError):
        lk.receive(b"+" + b"x" * 70000)


# -- PSYNC replies ---------------------------------------------------------------------------


def test_fullresync_after_keepalive_newlines() -> None:
    lk = link()
    to_psync_reply(lk)
    assert lk.receive(b"\n\n\n") == []
    events = lk.receive(f"+FULLRESYNC {REPLID} 201\r\n".encode())
    assert no_logs(events) == [FullResync(REPLID, 201)]
    assert logs(events) == [f"Full resync from master: {REPLID}:201"]
    assert lk.state == "transfer" and lk.role_state == "sync"
    assert lk.transfer_size == -1
    assert lk.master_replid == REPLID


@pytest.mark.parametrize(
    "line", [b"+FULLRESYNC abc 5\r\n", b"+FULLRESYNC\r\n", f"+FULLRESYNC {REPLID} x\r\n".encode()]
)
def test_malformed_fullresync(line: bytes) -> None:
    lk = link()
    to_psync_reply(lk)
    with pytest.raises(LinkError, match=r"wrong \+FULLRESYNC syntax"):
        lk.receive(line)


def test_continue_same_replid_then_backlog_bytes_in_the_same_read() -> None:
    lk = link(cached_replid=REPLID, cached_offset=115)
    to_psync_reply(lk)
    events = lk.receive(f"+CONTINUE {REPLID}\r\n".encode() + SET_CMD)
    assert no_logs(events) == [Continue(None), StreamData(SET_CMD, 115 + len(SET_CMD))]
    assert logs(events) == [
        "Successful partial resynchronization with master.",
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
    ]
    assert lk.state == "connected" and lk.role_state == "connected"
    assert lk.read_offset == 175
    assert lk.master_replid == REPLID


def test_continue_with_a_new_replid() -> None:
    lk = link(cached_replid=REPLID, cached_offset=350)
    to_psync_reply(lk)
    events = lk.receive(f"+CONTINUE {NEWID}\r\n".encode())
    assert no_logs(events) == [Continue(NEWID)]
    assert f"Master replication ID changed to {NEWID}" in logs(events)
    assert lk.master_replid == NEWID
    assert lk.read_offset == 350


def test_continue_without_replid() -> None:
    lk = link(cached_replid=REPLID, cached_offset=7)
    to_psync_reply(lk)
    assert no_logs(lk.receive(b"+CONTINUE\r\n")) == [Continue(None)]
    assert lk.master_replid == REPLID
    assert no_logs(lk.receive(PING_CMD)) == [StreamData(PING_CMD, 7 + 14)]


@pytest.mark.parametrize(
    ("reply", "reason", "retryable"),
    [
        (
            b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n",
            "Master is currently unable to PSYNC but should be in the future: "
            "-NOMASTERLINK Can't SYNC while not connected with my master",
            True,
        ),
        (
            b"-LOADING Redis is loading the dataset in memory\r\n",
            "Master is currently unable to PSYNC but should be in the future: "
            "-LOADING Redis is loading the dataset in memory",
            True,
        ),
        (
            b"-ERR unknown command 'PSYNC'\r\n",
            "Master does not support PSYNC or is in error state "
            "(reply: -ERR unknown command 'PSYNC')",
            False,
        ),
        (b"+OK\r\n", "Unexpected reply to PSYNC from master: +OK", False),
    ],
)
def test_psync_refusals(reply: bytes, reason: str, retryable: bool) -> None:
    lk = link()
    to_psync_reply(lk)
    with pytest.raises(LinkError) as info:
        lk.receive(reply)
    assert info.value.reason == reason
    assert info.value.retryable is retryable
    assert lk.state == "connect"


# -- payload ---------------------------------------------------------------------------------


def disk_wire(offset: int = 0) -> bytes:
    return (
        f"+FULLRESYNC {REPLID} {offset}\r\n".encode()
        + b"\n\n"
        + f"${len(RDB)}\r\n".encode()
        + RDB
        + SET_CMD
    )


def diskless_wire() -> bytes:
    return f"+FULLRESYNC {REPLID} 0\r\n".encode() + b"$EOF:" + MARK + b"\r\n" + RDB + MARK


def test_disk_payload_split_at_every_byte_position() -> None:
    wire = disk_wire(offset=40)
    for cut in range(len(wire) + 1):
        lk = link()
        to_psync_reply(lk)
        events = lk.receive(wire[:cut]) + lk.receive(wire[cut:])
        payload, rest = collect_payload(events)
        assert payload == RDB, cut
        assert [type(e) for e in rest if not isinstance(e, StreamData)] == [
            FullResync,
            PayloadStart,
            PayloadEnd,
        ]
        assert rest[1] == PayloadStart(len(RDB), None)
        assert stream_bytes(events) == SET_CMD
        assert lk.read_offset == 40 + len(SET_CMD)
        assert lk.transfer_size == len(RDB) and lk.transfer_read == len(RDB)
        # The stream always comes after the end of the payload.
        kinds = [type(e) for e in events if not isinstance(e, Log)]
        assert kinds.index(PayloadEnd) < kinds.index(StreamData)


def test_disk_payload_byte_by_byte() -> None:
    lk = link()
    to_psync_reply(lk)
    events: list = []
    for b in disk_wire():
        events += lk.receive(bytes([b]))
    payload, _ = collect_payload(events)
    assert payload == RDB
    assert stream_bytes(events) == SET_CMD
    offsets = [e.offset_after for e in events if isinstance(e, StreamData)]
    assert offsets == list(range(1, len(SET_CMD) + 1))


def test_diskless_payload_split_at_every_byte_position_never_leaks_the_mark() -> None:
    wire = diskless_wire()
    for cut in range(len(wire) + 1):
        lk = link()
        to_psync_reply(lk)
        first = lk.receive(wire[:cut])
        second = lk.receive(wire[cut:])
        events = first + second
        payload, rest = collect_payload(events)
        assert payload == RDB, cut
        assert rest[1:] == [PayloadStart(None, MARK), PayloadEnd()], cut
        for e in events:
            if isinstance(e, PayloadData):
                assert MARK[:8] not in e.data
        assert lk.state == "connected"
        assert lk.transfer_size == 0 and lk.transfer_read == len(RDB) + 40
        # The first read never hands out the last 39 bytes it has seen.
        seen = b"".join(e.data for e in first if isinstance(e, PayloadData))
        assert RDB.startswith(seen)


def test_diskless_payload_in_random_pieces_then_stream() -> None:
    rng = random.Random(7)
    rdb = bytes(rng.randrange(256) for _ in range(5000))
    wire = diskless_wire().replace(RDB, rdb) + PING_CMD + SET_CMD
    for _ in range(50):
        lk = link()
        to_psync_reply(lk)
        events: list = []
        pos = 0
        while pos < len(wire):
            n = rng.randint(1, 90)
            events += lk.receive(wire[pos : pos + n])
            pos += n
        payload, _ = collect_payload(events)
        assert payload == rdb
        assert stream_bytes(events) == PING_CMD + SET_CMD
        assert lk.read_offset == len(PING_CMD + SET_CMD)


def test_keepalives_while_waiting_for_the_bulk_header_and_master_abort() -> None:
    lk = link()
    full_sync(lk)
    assert no_logs(lk.receive(b"\n")) == []
    assert no_logs(lk.receive(b"\n\n")) == []
    assert lk.transfer_size == -1
    with pytest.raises(LinkError) as info:
        lk.receive(b"-ERR BGSAVE failed, replication can't continue\r\n")
    assert info.value.reason == (
        "MASTER aborted replication with an error: ERR BGSAVE failed, replication can't continue"
    )


@pytest.mark.parametrize("header", [b"+OK\r\n", b"*1\r\n"])
def test_bad_bulk_header(header: bytes) -> None:
    lk = link()
    full_sync(lk)
    with pytest.raises(LinkError, match="Bad protocol from MASTER, the first byte is not '\\$'"):
        lk.receive(header)


@pytest.mark.parametrize("header", [b"$abc\r\n", b"$-1\r\n", b"$EOF:short\r\n"])
def test_bad_bulk_length(header: bytes) -> None:
    lk = link()
    full_sync(lk)
    with pytest.raises(LinkError, match="invalid bulk length"):
        lk.receive(header)


def test_empty_disk_payload() -> None:
    lk = link()
    full_sync(lk, offset=9)
    events = lk.receive(b"$0\r\n" + PING_CMD)
    assert no_logs(events) == [PayloadStart(0, None), PayloadEnd(), StreamData(PING_CMD, 23)]


# -- stream ----------------------------------------------------------------------------------


def connected(offset: int = 364) -> ReplicaLink:
    lk = link(cached_replid=REPLID, cached_offset=offset)
    to_psync_reply(lk)
    lk.receive(f"+CONTINUE {REPLID}\r\n".encode())
    return lk


def test_getack_cuts_the_stream_before_itself() -> None:
    # spec §5.1: stream at 364, SET w 1 with SELECT (+50) -> 414, GETACK (+37) -> 451.
    set_w = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$1\r\n1\r\n"
    assert len(set_w) == 50 and len(GETACK) == 37
    lk = connected(364)
    events = lk.receive(set_w + GETACK + PING_CMD)
    assert events == [
        StreamData(set_w, 414),
        GetAck(414),
        StreamData(GETACK + PING_CMD, 465),
    ]
    assert lk.ack(414) == b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n414\r\n"
    assert lk.read_offset == 465


def test_getack_split_at_every_byte_position() -> None:
    wire = INCR_CMD + GETACK + GETACK + INCR_CMD
    for cut in range(len(wire) + 1):
        lk = connected(100)
        events = lk.receive(wire[:cut]) + lk.receive(wire[cut:])
        assert stream_bytes(events) == wire
        acks = [e.offset for e in events if isinstance(e, GetAck)]
        assert acks == [100 + 27, 100 + 27 + 37], cut
        # Every GetAck comes after all the stream bytes before its GETACK, and before it
        # is complete: at the event, the bytes handed out end within the GETACK.
        seen = 100
        for e in events:
            if isinstance(e, StreamData):
                seen = e.offset_after
            elif isinstance(e, GetAck):
                assert e.offset <= seen < e.offset + 37 or seen == e.offset, cut
        assert lk.read_offset == 100 + len(wire)


def test_stream_split_arbitrarily_keeps_bytes_and_offsets() -> None:
    rng = random.Random(3)
    wire = b"".join(rng.choice([SET_CMD, INCR_CMD, PING_CMD, GETACK]) for _ in range(200))
    lk = connected(0)
    events: list = []
    pos = 0
    while pos < len(wire):
        n = rng.randint(1, 120)
        events += lk.receive(wire[pos : pos + n])
        pos += n
    assert stream_bytes(events) == wire
    total = 0
    for e in events:
        if isinstance(e, StreamData):
            total += len(e.data)
            assert e.offset_after == total
    assert len([e for e in events if isinstance(e, GetAck)]) == wire.count(GETACK)


def test_newline_in_the_stream_is_counted() -> None:
    # spec §5: a bare \n after the stream started is counted into the offset.
    lk = connected(92)
    assert lk.receive(b"\n") == [StreamData(b"\n", 93)]


def test_ack_bytes() -> None:
    assert link().ack(0) == b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n"
    assert link().ack(101) == b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n101\r\n"
