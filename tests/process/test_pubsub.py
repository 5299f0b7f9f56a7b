"""Pub/sub on a live keelkv node through redis-py, in RESP2 and RESP3."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.harness import ServerProcess


def next_message(p: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = p.get_message(timeout=0.2)
        if msg is not None:
            return msg
    raise AssertionError("no pub/sub message arrived")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def clients(keelkv_node: ServerProcess, protocol: int) -> Iterator[tuple[Any, Any]]:
    sub = keelkv_node.client(protocol=protocol)
    pub = keelkv_node.client(protocol=protocol)
    yield sub, pub
    sub.close()
    pub.close()


def test_subscribe_publish_unsubscribe(clients: tuple[Any, Any]) -> None:
    sub, pub = clients
    p = sub.pubsub()
    p.subscribe("news", "sport")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert next_message(p)["data"] == 2
    assert pub.publish("news", "hello") == 1
    assert next_message(p) == {
        "type": "message",
        "pattern": None,
        "channel": b"news",
        "data": b"hello",
    }
    assert sorted(pub.pubsub_channels()) == [b"news", b"sport"]
    assert pub.pubsub_numsub("news", "none") == [(b"news", 1), (b"none", 0)]
    p.unsubscribe("news")
    assert next_message(p) == {
        "type": "unsubscribe",
        "pattern": None,
        "channel": b"news",
        "data": 1,
    }
    assert pub.publish("news", "nobody") == 0
    p.close()


def test_pattern_subscription(clients: tuple[Any, Any]) -> None:
    sub, pub = clients
    p = sub.pubsub()
    p.psubscribe("room.*")
    assert next_message(p)["type"] == "psubscribe"
    assert pub.pubsub_numpat() == 1
    assert pub.publish("room.1", "hi") == 1
    assert next_message(p) == {
        "type": "pmessage",
        "pattern": b"room.*",
        "channel": b"room.1",
        "data": b"hi",
    }
    assert pub.publish("hall", "hi") == 0
    p.punsubscribe()
    assert next_message(p)["type"] == "punsubscribe"
    assert pub.pubsub_numpat() == 0
    p.close()


def test_sharded_pubsub(clients: tuple[Any, Any]) -> None:
    sub, pub = clients
    p = sub.pubsub()
    p.ssubscribe("shard-ch")
    assert next_message(p)["type"] == "ssubscribe"
    assert pub.execute_command("PUBSUB", "SHARDCHANNELS") == [b"shard-ch"]
    assert pub.spublish("shard-ch", "s-msg") == 1
    msg = next_message(p)
    assert msg["type"] == "smessage" and msg["data"] == b"s-msg"
    p.sunsubscribe()
    assert next_message(p)["type"] == "sunsubscribe"
    p.close()


def test_run_in_thread_handlers(clients: tuple[Any, Any]) -> None:
    sub, pub = clients
    received: list[bytes] = []
    done = threading.Event()

    def handler(message: dict[str, Any]) -> None:
        received.append(message["data"])
        if len(received) == 3:
            done.set()

    p = sub.pubsub()
    p.subscribe(**{"jobs": handler})
    worker = p.run_in_thread(sleep_time=0.05)
    try:
        deadline = time.monotonic() + 5
        while pub.pubsub_numsub("jobs")[0][1] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        for i in range(3):
            pub.publish("jobs", f"job-{i}")
        assert done.wait(5)
        assert received == [b"job-0", b"job-1", b"job-2"]
    finally:
        worker.stop()
        worker.join(5)
        p.close()


def test_resp2_subscribed_connection_refuses_other_commands(keelkv_node: ServerProcess) -> None:
    conn = redis.Connection(host="127.0.0.1", port=keelkv_node.port, protocol=2)
    try:
        conn.send_command("SUBSCRIBE", "c")
        assert conn.read_response() == [b"subscribe", b"c", 1]
        conn.send_command("GET", "x")
        with pytest.raises(redis.ResponseError, match="only \\(P\\|S\\)SUBSCRIBE"):
            conn.read_response()
        conn.send_command("PING")
        assert conn.read_response() == [b"pong", b""]
    finally:
        conn.disconnect()


def test_resp3_subscribed_connection_keeps_full_command_set(keelkv_node: ServerProcess) -> None:
    r = keelkv_node.client(protocol=3)
    try:
        p = r.pubsub()
        p.subscribe("c")
        next_message(p)
        # The pubsub connection still answers ordinary commands in RESP3.
        p.connection.send_command("SET", "k", "v")
        assert p.connection.read_response() == b"OK"
        p.close()
    finally:
        r.close()


def test_sentinel_hello_channel(keelkv_node: ServerProcess) -> None:
    """Sentinel subscribes to __sentinel__:hello and publishes its hello there."""
    listener = keelkv_node.client(protocol=2)  # Sentinel speaks RESP2
    publisher = keelkv_node.client()
    try:
        p = listener.pubsub()
        p.subscribe("__sentinel__:hello")
        next_message(p)
        hello = "127.0.0.1,26379,abcdef,0,mymaster,127.0.0.1,6379,0"
        assert publisher.publish("__sentinel__:hello", hello) == 1
        assert next_message(p)["data"] == hello.encode()
        p.close()
    finally:
        listener.close()
        publisher.close()


def test_subscriber_disconnect_cleans_up(keelkv_node: ServerProcess) -> None:
    sub = keelkv_node.client()
    pub = keelkv_node.client()
    try:
        p = sub.pubsub()
        p.subscribe("gone")
        next_message(p)
        p.close()
        deadline = time.monotonic() + 5
        while pub.pubsub_numsub("gone")[0][1] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pub.pubsub_numsub("gone") == [(b"gone", 0)]
        assert pub.publish("gone", "m") == 0
    finally:
        sub.close()
        pub.close()


def test_many_subscribers_each_get_the_message(keelkv_node: ServerProcess) -> None:
    subs = [keelkv_node.client() for _ in range(20)]
    pub = keelkv_node.client()
    try:
        pubsubs = []
        for r in subs:
            p = r.pubsub()
            p.subscribe("fan")
            next_message(p)
            pubsubs.append(p)
        assert pub.publish("fan", "out") == 20
        for p in pubsubs:
            assert next_message(p)["data"] == b"out"
            p.close()
    finally:
        for r in subs:
            r.close()
        pub.close()
