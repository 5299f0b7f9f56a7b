"""DEBUG OBJECT answers with OBJECT's encoding and refcount (one source of truth), and the
key's lru field as Redis prints it; it neither expires the key nor counts as an access."""

from __future__ import annotations

import re

import pytest

from node.commands.object_cmd import SHARED_REFCOUNT
from tests.unit.sansio import Session, make_server

FIELDS = re.compile(rb"(\w+):(\S+)")


def debug_session(*config: str) -> Session:
    return Session(make_server("--enable-debug-command", "yes", *config))


def debug_fields(s: Session, key: str) -> dict[bytes, bytes]:
    reply = s.run("DEBUG", "OBJECT", key)
    assert reply.startswith(b"Value at:0x"), reply
    return dict(FIELDS.findall(reply))


SETUPS = [
    ("l", [("RPUSH", "l", "a", "b", "c")]),
    ("big", [("RPUSH", "big", *[str(i) for i in range(200)])]),
    ("n", [("SET", "n", "123")]),
    ("s", [("SET", "s", "hello")]),
    ("r", [("SET", "r", "x" * 45)]),
    ("h", [("HSET", "h", "f", "v")]),
    ("is", [("SADD", "is", "1", "2")]),
    ("hs", [("SADD", "hs", "a")]),
    ("z", [("ZADD", "z", "1", "a")]),
    ("zl", [("ZADD", "zl", "1", "x" * 65)]),
]


@pytest.mark.parametrize(("key", "setup"), SETUPS, ids=[k for k, _ in SETUPS])
def test_encoding_is_object_encoding(key: str, setup: list[tuple[str, ...]]) -> None:
    s = debug_session()
    for argv in setup:
        s.run(*argv)
    assert debug_fields(s, key)[b"encoding"] == s.run("OBJECT", "ENCODING", key)


def test_a_small_list_is_a_quicklist() -> None:
    s = debug_session()
    s.run("RPUSH", "l", "a")
    assert debug_fields(s, "l")[b"encoding"] == b"quicklist"


def test_a_zset_that_shrank_stays_a_skiplist() -> None:
    """Redis never converts a zset back to a listpack; OBJECT and DEBUG OBJECT agree."""
    s = debug_session()
    args = [str(a) for i in range(130) for a in (i, f"m{i}")]
    s.run("ZADD", "z", *args)
    s.run("ZREMRANGEBYRANK", "z", "0", "-2")
    assert s.run("ZCARD", "z") == 1
    assert s.run("OBJECT", "ENCODING", "z") == b"skiplist"
    assert debug_fields(s, "z")[b"encoding"] == b"skiplist"


def test_refcount_of_a_shared_integer() -> None:
    s = debug_session()
    s.run("SET", "n", "123")
    s.run("SET", "s", "hello")
    assert int(debug_fields(s, "n")[b"refcount"]) == SHARED_REFCOUNT
    assert debug_fields(s, "s")[b"refcount"] == b"1"


def test_lru_and_idle_follow_the_lru_clock() -> None:
    s = debug_session()
    s.run("SET", "k", "v")
    db = s.client.db
    now = s.server.mstime
    db.access[b"k"] = now - 7000
    fields = debug_fields(s, "k")
    assert int(fields[b"lru"]) == ((now - 7000) // 1000) & ((1 << 24) - 1)
    assert int(fields[b"lru_seconds_idle"]) in (6, 7, 8)
    assert s.run("OBJECT", "IDLETIME", "k") in (6, 7, 8)


def test_lru_is_the_packed_lfu_data_under_an_lfu_policy() -> None:
    s = debug_session("--maxmemory-policy", "allkeys-lfu")
    s.run("SET", "k", "v")
    packed = s.client.db.access[b"k"]
    assert packed & 255 == 5
    assert debug_fields(s, "k")[b"lru"] == b"%d" % packed


def test_an_expired_key_is_still_found_and_not_deleted() -> None:
    s = debug_session()
    s.run("SET", "k", "v")
    s.client.db.expires[b"k"] = 1
    assert debug_fields(s, "k")[b"encoding"] == b"embstr"
    assert b"k" in s.client.db.data
    assert str(s.run("DEBUG", "OBJECT", "nokey")) == "ERR no such key"
