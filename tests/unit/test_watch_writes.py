"""Every in-place write signals its keys: WATCH breaks and the dirty counter moves.

A handler that mutates a value it looked up (SADD's one-member path once did) must call
`db.modified(key, n)` or go through set_key/add/delete; otherwise WATCH on the key is not
broken and memory accounting (node/memory.py, fed by the same signal) lags. For each family,
each case below runs once to find which keys its write changed, then once per changed key
with only that key WATCHed by another client, whose EXEC must then abort. A meta test makes
sure every write command of the family has a case, so a new command cannot skip this.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from node.commands.table import COMMANDS
from node.server import Server
from node.zset import ZSet
from tests.unit.sansio import Session, make_server

Argv = tuple[str, ...]

# family -> (module, setup commands, keys to observe as (db, key), write commands)
FAMILIES: dict[str, tuple[str, list[Argv], list[tuple[int, str]], list[Argv]]] = {
    "sets": (
        "node.commands.sets",
        [("SADD", "s", "a", "b", "c"), ("SADD", "t", "c", "d")],
        [(0, "s"), (0, "t"), (0, "dst"), (0, "new")],
        [
            ("SADD", "s", "x"),
            ("SADD", "s", "x", "y"),
            ("SADD", "new", "a"),
            ("SREM", "s", "a"),
            ("SREM", "t", "c", "d"),
            ("SMOVE", "s", "t", "a"),
            ("SMOVE", "s", "new", "a"),
            ("SPOP", "s"),
            ("SPOP", "s", "2"),
            ("SPOP", "t", "10"),
            ("SINTERSTORE", "dst", "s", "t"),
            ("SUNIONSTORE", "s", "s", "t"),
            ("SDIFFSTORE", "dst", "s", "t"),
        ],
    ),
    "hashes": (
        "node.commands.hashes",
        [("HSET", "h", "f1", "v1", "f2", "10", "f3", "1.5"), ("HSET", "g", "a", "1")],
        [(0, "h"), (0, "g"), (0, "new")],
        [
            ("HSET", "h", "f1", "x"),
            ("HSET", "h", "f9", "x", "f8", "y"),
            ("HSET", "new", "a", "b"),
            ("HMSET", "h", "f1", "x"),
            ("HSETNX", "h", "f9", "x"),
            ("HSETNX", "new", "a", "b"),
            ("HDEL", "h", "f1"),
            ("HDEL", "g", "a"),
            ("HINCRBY", "h", "f2", "3"),
            ("HINCRBY", "h", "f9", "3"),
            ("HINCRBYFLOAT", "h", "f3", "0.5"),
            ("HINCRBYFLOAT", "new", "x", "1"),
        ],
    ),
    "lists": (
        "node.commands.lists",
        [("RPUSH", "l", "a", "b", "c", "a"), ("RPUSH", "m", "x", "y")],
        [(0, "l"), (0, "m"), (0, "new")],
        [
            ("LPUSH", "l", "z"),
            ("RPUSH", "l", "z", "w"),
            ("LPUSH", "new", "z"),
            ("LPUSHX", "l", "z"),
            ("RPUSHX", "l", "z"),
            ("LINSERT", "l", "BEFORE", "b", "z"),
            ("LPOP", "l"),
            ("RPOP", "l", "2"),
            ("LPOP", "m", "5"),
            ("LMPOP", "1", "l", "LEFT", "COUNT", "2"),
            ("LSET", "l", "0", "z"),
            ("LREM", "l", "0", "a"),
            ("LREM", "l", "-1", "a"),
            ("LTRIM", "l", "1", "2"),
            ("LMOVE", "l", "m", "LEFT", "RIGHT"),
            ("LMOVE", "l", "l", "LEFT", "RIGHT"),
            ("RPOPLPUSH", "l", "new"),
            ("BLPOP", "l", "0"),
            ("BRPOP", "m", "0"),
            ("BLMPOP", "0", "1", "l", "RIGHT"),
            ("BLMOVE", "l", "m", "RIGHT", "LEFT", "0"),
            ("BRPOPLPUSH", "l", "m", "0"),
        ],
    ),
    "zsets": (
        "node.commands.zsets",
        [("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "y", "1", "c", "5", "d")],
        [(0, "z"), (0, "y"), (0, "dst"), (0, "new")],
        [
            ("ZADD", "z", "9", "a"),
            ("ZADD", "z", "4", "d"),
            ("ZADD", "z", "INCR", "1", "a"),
            ("ZADD", "new", "1", "a"),
            ("ZINCRBY", "z", "2", "b"),
            ("ZREM", "z", "a"),
            ("ZREM", "y", "c", "d"),
            ("ZREMRANGEBYRANK", "z", "0", "0"),
            ("ZREMRANGEBYSCORE", "z", "2", "3"),
            ("ZREMRANGEBYLEX", "z", "[a", "[b"),
            ("ZPOPMIN", "z"),
            ("ZPOPMAX", "z", "2"),
            ("ZMPOP", "1", "z", "MIN"),
            ("BZPOPMIN", "z", "0"),
            ("BZPOPMAX", "y", "0"),
            ("BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"),
            ("ZUNIONSTORE", "dst", "2", "z", "y"),
            ("ZINTERSTORE", "z", "2", "z", "y"),
            ("ZDIFFSTORE", "dst", "2", "z", "y"),
            ("ZRANGESTORE", "dst", "z", "0", "1"),
        ],
    ),
    "strings": (
        "node.commands.strings",
        [
            ("SET", "s", "hello"),
            ("SET", "n", "10"),
            ("SET", "f", "1.5"),
            ("SET", "t", "x", "EX", "100"),
        ],
        [(0, "s"), (0, "n"), (0, "f"), (0, "t"), (0, "new"), (0, "new2")],
        [
            ("SET", "s", "v"),
            ("SET", "s", "v", "GET"),
            ("SET", "new", "v"),
            ("SETNX", "new", "v"),
            ("SETEX", "s", "100", "v"),
            ("PSETEX", "s", "100000", "v"),
            ("GETSET", "s", "v"),
            ("GETDEL", "s"),
            ("GETEX", "s", "EX", "100"),
            ("GETEX", "t", "PERSIST"),
            ("MSET", "s", "1", "new", "2"),
            ("MSETNX", "new", "1", "new2", "2"),
            ("INCR", "n"),
            ("DECR", "n"),
            ("INCRBY", "n", "5"),
            ("DECRBY", "n", "5"),
            ("INCRBYFLOAT", "f", "0.5"),
            ("APPEND", "s", "!"),
            ("APPEND", "new", "!"),
            ("SETRANGE", "s", "1", "E"),
            ("SETRANGE", "new", "2", "x"),
        ],
    ),
    "keys": (
        "node.commands.keys",
        [("SET", "a", "1"), ("SET", "b", "2"), ("EXPIRE", "b", "100"), ("RPUSH", "l", "x")],
        [(0, "a"), (0, "b"), (0, "c"), (0, "l"), (1, "a")],
        [
            ("DEL", "a", "b"),
            ("UNLINK", "l"),
            ("RENAME", "a", "c"),
            ("RENAME", "a", "b"),
            ("RENAMENX", "a", "c"),
            ("COPY", "l", "c"),
            ("COPY", "a", "b", "REPLACE"),
            ("COPY", "a", "a", "DB", "1"),
            ("EXPIRE", "a", "100"),
            ("PEXPIRE", "b", "5000"),
            ("EXPIREAT", "a", "1"),
            ("PEXPIREAT", "a", "99999999999999"),
            ("PERSIST", "b"),
        ],
    ),
    "db": (
        "node.commands.db",
        [("SET", "a", "1"), ("SET", "b", "2"), ("SELECT", "1"), ("SET", "a", "9"), ("SELECT", "0")],
        [(0, "a"), (0, "b"), (1, "a"), (1, "b")],
        [
            ("MOVE", "b", "1"),
            ("SWAPDB", "0", "1"),
            ("FLUSHDB",),
            ("FLUSHALL",),
        ],
    ),
}


def _value_state(value: Any) -> Any:
    t = type(value)
    if t is deque:
        return ("list", tuple(value))
    if t is dict:
        return ("hash", tuple(value.items()))
    if t is set:
        return ("set", frozenset(value))
    if t is ZSet:
        return ("zset", tuple(value.index))
    return value


def _snapshot(server: Server, keys: list[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    out = {}
    for db_id, key in keys:
        db = server.dbs[db_id]
        raw = key.encode()
        out[(db_id, key)] = (_value_state(db.data.get(raw)), db.expires.get(raw))
    return out


def _prepared(setup: list[Argv]) -> tuple[Server, Session]:
    server = make_server()
    writer = Session(server)
    for argv in setup:
        reply = writer.run(*argv)
        assert not isinstance(reply, Exception), (argv, reply)
    return server, writer


def _changed_keys(family: str, argv: Argv) -> list[tuple[int, str]]:
    _, setup, keys, _ = FAMILIES[family]
    server, writer = _prepared(setup)
    before = _snapshot(server, keys)
    reply = writer.run(*argv)
    assert not isinstance(reply, Exception), (argv, reply)
    after = _snapshot(server, keys)
    return [k for k in keys if before[k] != after[k]]


def _cases() -> list[Any]:
    return [
        pytest.param(family, argv, id=f"{family}:{' '.join(argv)}")
        for family, (_, _, _, writes) in FAMILIES.items()
        for argv in writes
    ]


@pytest.mark.parametrize(("family", "argv"), _cases())
def test_write_breaks_watch_on_every_key_it_changes(family: str, argv: Argv) -> None:
    changed = _changed_keys(family, argv)
    assert changed, f"{argv} changed nothing: the case does not exercise a write"
    _, setup, _, _ = FAMILIES[family]
    for db_id, key in changed:
        server, writer = _prepared(setup)
        watcher = Session(server)
        watcher.run("SELECT", db_id)
        assert watcher.run("WATCH", key) == b"OK"
        dirty = server.dirty
        writer.run(*argv)
        assert server.dirty > dirty, f"{argv} changed {key!r} without counting it dirty"
        watcher.run("MULTI")
        watcher.run("PING")
        assert watcher.raw("EXEC") == b"*-1\r\n", (
            f"{argv} changed {key!r} (db {db_id}) but did not break a WATCH on it"
        )


def test_single_member_sadd_breaks_watch() -> None:
    """The original miss: SADD of one new member to an existing set."""
    server, writer = _prepared([("SADD", "s", "a")])
    watcher = Session(server)
    watcher.run("WATCH", "s")
    assert writer.run("SADD", "s", "b") == 1
    watcher.run("MULTI")
    watcher.run("PING")
    assert watcher.raw("EXEC") == b"*-1\r\n"


def test_noop_write_leaves_watch_alone() -> None:
    """SADD of a member already there changes nothing, so the transaction goes through."""
    server, writer = _prepared([("SADD", "s", "a")])
    watcher = Session(server)
    watcher.run("WATCH", "s")
    assert writer.run("SADD", "s", "a") == 0
    watcher.run("MULTI")
    watcher.run("PING")
    assert watcher.run("EXEC") == [b"PONG"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_write_command_of_the_family_has_a_case(family: str) -> None:
    Session()  # the command table is filled when a server is built
    module, _, _, writes = FAMILIES[family]
    registered = {
        name.decode()
        for name, cmd in COMMANDS.items()
        if cmd.is_write and cmd.handler.__module__ == module
    }
    covered = {argv[0].lower() for argv in writes}
    assert registered, module
    assert registered <= covered, f"{family}: no WATCH case for {sorted(registered - covered)}"
