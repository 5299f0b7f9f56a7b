"""Pub/sub and MONITOR without sockets: confirmations, delivery, PUBSUB, gates, teardown."""

from __future__ import annotations

import re
from typing import Any

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from node.scan import glob_match
from node.server import Server
from tests.unit.sansio import Session, make_server

CONTEXT_ERROR = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
    "are allowed in this context"
)


def err(reply: Any) -> str:
    assert isinstance(reply, hiredis.ReplyError), reply
    return str(reply)


def drain(s: Session) -> bytes:
    """What was queued for a session by other clients (messages, MONITOR lines)."""
    data = b"".join(s.client.out)
    s.client.out.clear()
    return data


def replies(data: bytes) -> list[Any]:
    reader = hiredis.Reader()
    reader.feed(data)
    out = []
    while (item := reader.gets()) is not False:
        out.append(item)
    return out


def clients(n: int, resp3: bool = False) -> tuple[Server, list[Session]]:
    server = make_server()
    return server, [Session(server, resp3=resp3) for _ in range(n)]


# -- confirmations -------------------------------------------------------------------


def test_subscribe_confirms_each_channel_with_running_count() -> None:
    s = Session()
    assert replies(s.raw("SUBSCRIBE", "c1", "c2", "c1")) == [
        [b"subscribe", b"c1", 1],
        [b"subscribe", b"c2", 2],
        [b"subscribe", b"c1", 2],
    ]
    assert replies(s.raw("PSUBSCRIBE", "c*", "d?")) == [
        [b"psubscribe", b"c*", 3],
        [b"psubscribe", b"d?", 4],
    ]
    # Shard subscriptions are counted on their own.
    assert replies(s.raw("SSUBSCRIBE", "s1")) == [[b"ssubscribe", b"s1", 1]]


def test_unsubscribe_without_subscriptions_answers_null_channel() -> None:
    s = Session()
    assert s.raw("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert s.raw("PUNSUBSCRIBE") == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    assert s.raw("SUNSUBSCRIBE") == b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n"
    r3 = Session(resp3=True)
    assert r3.raw("UNSUBSCRIBE") == b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"


def test_unsubscribe_named_and_all() -> None:
    s = Session()
    s.raw("SUBSCRIBE", "a", "b")
    s.raw("PSUBSCRIBE", "p*")
    assert replies(s.raw("UNSUBSCRIBE", "a", "nope")) == [
        [b"unsubscribe", b"a", 2],
        [b"unsubscribe", b"nope", 2],
    ]
    assert replies(s.raw("UNSUBSCRIBE")) == [[b"unsubscribe", b"b", 1]]
    assert replies(s.raw("PUNSUBSCRIBE")) == [[b"punsubscribe", b"p*", 0]]
    assert not s.client.in_pubsub_mode
    assert s.run("PING") == b"PONG"


def test_resp3_confirmations_are_pushes() -> None:
    s = Session(resp3=True)
    assert s.raw("SUBSCRIBE", "x") == b">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n"
    # RESP3 clients keep the full command set while subscribed.
    assert s.raw("GET", "x") == b"_\r\n"
    assert s.raw("PING") == b"+PONG\r\n"


# -- delivery ------------------------------------------------------------------------


def test_publish_reaches_channel_then_pattern_subscribers() -> None:
    _, (sub, psub, pub) = clients(3)
    sub.raw("SUBSCRIBE", "news")
    psub.raw("PSUBSCRIBE", "n*", "x*")
    sub.raw("PSUBSCRIBE", "*s")
    assert pub.run("PUBLISH", "news", "hello") == 3
    assert replies(drain(sub)) == [
        [b"message", b"news", b"hello"],
        [b"pmessage", b"*s", b"news", b"hello"],
    ]
    assert replies(drain(psub)) == [[b"pmessage", b"n*", b"news", b"hello"]]
    assert pub.run("PUBLISH", "nothing-here", "m") == 1
    assert pub.run("PUBLISH", "zzz", "m") == 0


def test_messages_are_encoded_per_receiver_protocol() -> None:
    server, (r2,) = clients(1)
    r3 = Session(server, resp3=True)
    r2.raw("SUBSCRIBE", "c")
    r3.raw("SUBSCRIBE", "c")
    r3.run("PUBLISH", "c", "m")
    assert drain(r2) == b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"


def test_publisher_subscribed_in_resp3_sees_its_message_before_the_count() -> None:
    s = Session(resp3=True)
    s.raw("SUBSCRIBE", "c")
    assert s.raw("PUBLISH", "c", "m") == b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n:1\r\n"


def test_sharded_channels_are_separate() -> None:
    _, (sub, pub) = clients(2)
    sub.raw("SSUBSCRIBE", "s1")
    sub.raw("SUBSCRIBE", "c1")
    assert pub.run("SPUBLISH", "s1", "m") == 1
    assert pub.run("SPUBLISH", "c1", "m") == 0
    assert pub.run("PUBLISH", "s1", "m") == 0
    assert replies(drain(sub)) == [[b"smessage", b"s1", b"m"]]
    assert replies(sub.raw("SUNSUBSCRIBE", "s1", "s2")) == [
        [b"sunsubscribe", b"s1", 0],
        [b"sunsubscribe", b"s2", 0],
    ]
    assert sub.client.in_pubsub_mode  # still on c1


def test_shard_subscription_alone_enters_subscribed_mode() -> None:
    s = Session()
    s.raw("SSUBSCRIBE", "q")
    assert err(s.run("GET", "x")) == CONTEXT_ERROR.format("get")
    assert s.run("PING", "hi") == [b"pong", b"hi"]
    s.raw("SUNSUBSCRIBE")
    assert s.run("GET", "x") is None


# -- PUBSUB ----------------------------------------------------------------------------


def test_pubsub_introspection() -> None:
    _, (a, b, c) = clients(3)
    a.raw("SUBSCRIBE", "c1", "c2")
    b.raw("SUBSCRIBE", "c1")
    a.raw("PSUBSCRIBE", "p*")
    b.raw("PSUBSCRIBE", "p*", "q*")
    b.raw("SSUBSCRIBE", "s1")
    assert sorted(c.run("PUBSUB", "CHANNELS")) == [b"c1", b"c2"]
    assert c.run("PUBSUB", "channels", "*1") == [b"c1"]
    assert c.run("PUBSUB", "NUMSUB", "c1", "c2", "zz") == [b"c1", 2, b"c2", 1, b"zz", 0]
    assert c.run("PUBSUB", "NUMSUB") == []
    assert c.run("PUBSUB", "NUMPAT") == 2  # distinct patterns
    assert c.run("PUBSUB", "SHARDCHANNELS") == [b"s1"]
    assert c.run("PUBSUB", "SHARDCHANNELS", "x*") == []
    assert c.run("PUBSUB", "SHARDNUMSUB", "s1", "x") == [b"s1", 1, b"x", 0]


def test_pubsub_errors() -> None:
    s = Session()
    assert err(s.run("PUBSUB")) == "ERR wrong number of arguments for 'pubsub' command"
    assert err(s.run("PUBSUB", "foo")) == "ERR unknown subcommand 'foo'. Try PUBSUB HELP."
    assert err(s.run("PUBSUB", "NUMPAT", "x")) == (
        "ERR wrong number of arguments for 'pubsub|numpat' command"
    )
    assert err(s.run("pubsub", "Channels", "a", "b")) == (
        "ERR unknown subcommand or wrong number of arguments for 'Channels'. Try PUBSUB HELP."
    )
    help_lines = s.run("PUBSUB", "HELP")
    assert help_lines[0] == b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_lines[-2:] == [b"HELP", b"    Prints this help."]


# -- subscribed mode, gates and teardown ------------------------------------------------


def test_resp2_subscribed_mode_restricts_commands() -> None:
    s = Session()
    s.raw("SUBSCRIBE", "c")
    assert err(s.run("GET", "x")) == CONTEXT_ERROR.format("get")
    assert err(s.run("CLIENT", "LIST")) == CONTEXT_ERROR.format("client|list")
    assert s.run("PING") == [b"pong", b""]
    assert s.run("RESET") == b"RESET"
    assert s.run("GET", "x") is None


def test_gate_checks_follow_subscriptions() -> None:
    server, (a, b) = clients(2)
    assert not server.gate_checks
    a.raw("SUBSCRIBE", "c")
    b.raw("PSUBSCRIBE", "p*")
    assert server.gate_checks
    a.raw("UNSUBSCRIBE")
    assert server.gate_checks
    b.raw("PUNSUBSCRIBE", "p*")
    assert not server.gate_checks
    a.raw("SSUBSCRIBE", "s")
    assert server.gate_checks
    server.unlink_client(a.client)
    assert not server.gate_checks and not server.pubsub_shard_channels


def test_disconnect_drops_every_subscription() -> None:
    server, (a, b) = clients(2)
    a.raw("SUBSCRIBE", "c")
    a.raw("PSUBSCRIBE", "p*")
    server.unlink_client(a.client)
    assert not server.pubsub_channels and not server.pubsub_patterns
    assert b.run("PUBLISH", "c", "m") == 0


def test_subscribe_inside_exec_is_allowed_but_not_ssubscribe() -> None:
    s = Session()
    s.run("MULTI")
    s.run("SUBSCRIBE", "c")
    assert s.raw("EXEC") == b"*1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
    s.raw("UNSUBSCRIBE")
    s.run("MULTI")
    s.run("SSUBSCRIBE", "c")
    assert s.raw("EXEC") == b"*1\r\n-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n"


# -- MONITOR ----------------------------------------------------------------------------

LINE = re.compile(rb"^\+\d+\.\d{6} \[(\d+) ([^\]]+)\] (.*)\r\n$")


def monitor_lines(m: Session) -> list[tuple[bytes, bytes]]:
    out = []
    for line in drain(m).splitlines(keepends=True):
        match = LINE.match(line)
        assert match, line
        out.append((match.group(1), match.group(3)))
    return out


def test_monitor_sees_commands_in_execution_order() -> None:
    _, (m, s) = clients(2)
    assert m.run("MONITOR") == b"OK"
    s.run("SET", "k", b'a b"\n\x01\xff')
    s.run("MULTI")
    s.run("SET", "k", "1")
    s.run("GET", "k")
    s.run("EXEC")
    s.run("SELECT", "2")
    s.run("CLIENT", "LIST")  # admin commands are not shown
    s.run("GET")  # refused commands are not shown
    s.run("AUTH", "secret")
    s.run("HELLO", "2", "AUTH", "default", "pw")
    assert monitor_lines(m) == [
        (b"0", b'"SET" "k" "a b\\"\\n\\x01\\xff"'),
        (b"0", b'"MULTI"'),
        (b"0", b'"SET" "k" "1"'),
        (b"0", b'"GET" "k"'),
        (b"0", b'"EXEC"'),
        (b"2", b'"SELECT" "2"'),
        (b"2", b'"AUTH" "(redacted)"'),
        (b"2", b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"'),
    ]


def test_monitor_inside_exec_and_reset() -> None:
    server, (m, s) = clients(2)
    m.run("MULTI")
    m.run("MONITOR")
    assert m.raw("EXEC") == b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    m.run("MONITOR")
    assert server.monitors == [m.client]
    assert m.raw("MONITOR") == b""  # already monitoring: no reply at all
    assert m.run("RESET") == b"RESET"
    assert server.monitors == []
    s.run("PING")
    assert drain(m) == b""


# -- pattern matching used by PSUBSCRIBE --------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab*?", min_size=0, max_size=6),
    st.text(alphabet="ab", min_size=0, max_size=6),
)
def test_pattern_delivery_agrees_with_glob_match(pattern: str, channel: str) -> None:
    _, (sub, pub) = clients(2)
    sub.raw("PSUBSCRIBE", pattern)
    expected = 1 if glob_match(pattern.encode(), channel.encode()) else 0
    assert pub.run("PUBLISH", channel, "m") == expected
