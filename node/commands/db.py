"""Database-wide commands: FLUSHALL FLUSHDB DBSIZE SWAPDB MOVE."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.args import get_int
from node.commands.table import command
from node.commands.tx_state import touch_watched_keys_in_db
from node.resp import OK


def _flush_mode(c: Client, argv: list[bytes], name: str) -> None:
    if len(argv) > 2:
        raise errors.syntax()
    if len(argv) == 2 and argv[1].lower() not in (b"async", b"sync"):
        raise errors.syntax()


def flush_db(c: Client, db_index: int) -> int:
    db = c.server.dbs[db_index]
    touch_watched_keys_in_db(db, None)
    return db.clear()


@command("flushall", -1, "write", categories="keyspace write slow dangerous")
def flushall(c: Client, argv: list[bytes]) -> Any:
    _flush_mode(c, argv, "flushall")
    server = c.server
    removed = sum(flush_db(c, db.id) for db in server.dbs)
    server.dirty += removed + 1
    server.propagate(c.db.id, [b"FLUSHALL"])
    for hook in server.flushall_hooks:
        hook(server)
    return OK


@command("flushdb", -1, "write", categories="keyspace write slow dangerous")
def flushdb(c: Client, argv: list[bytes]) -> Any:
    _flush_mode(c, argv, "flushdb")
    removed = flush_db(c, c.db.id)
    c.server.dirty += removed + 1
    c.server.propagate(c.db.id, [b"FLUSHDB"])
    return OK


@command("dbsize", 1, "readonly fast", categories="keyspace read fast")
def dbsize(c: Client, argv: list[bytes]) -> Any:
    return len(c.db.data)


def _check_db_index(c: Client, index: int) -> int:
    if not 0 <= index < len(c.server.dbs):
        raise errors.CommandError(errors.DB_INDEX)
    return index


@command("swapdb", 3, "write fast", categories="keyspace write fast dangerous")
def swapdb(c: Client, argv: list[bytes]) -> Any:
    # Both indexes are parsed (one text for both failures) before either is range-checked.
    a = get_int(argv[1], "ERR invalid first DB index")
    b = get_int(argv[2], "ERR invalid second DB index")
    _check_db_index(c, a)
    _check_db_index(c, b)
    server = c.server
    if a == b:
        return OK
    db_a, db_b = server.dbs[a], server.dbs[b]
    touch_watched_keys_in_db(db_a, db_b)
    touch_watched_keys_in_db(db_b, db_a)
    db_a.data, db_b.data = db_b.data, db_a.data
    db_a.expires, db_b.expires = db_b.expires, db_a.expires
    db_a.avg_ttl, db_b.avg_ttl = db_b.avg_ttl, db_a.avg_ttl
    db_a.reset_expire_scan()
    db_b.reset_expire_scan()
    server.blocking.on_db_swap(db_a, db_b)
    server.dirty += 1
    server.propagate(c.db.id, argv)
    return OK


@command("move", 3, "write fast", 1, 1, 1, categories="keyspace write fast")
def move(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    target_index = _check_db_index(c, get_int(argv[2]))
    src = c.db
    if target_index == src.id:
        raise errors.CommandError("ERR source and destination objects are the same")
    value = src.lookup_write(key)
    if value is None:
        return 0
    dst = c.server.dbs[target_index]
    if dst.exists(key):
        return 0
    expire = src.get_expire(key)
    dst.add(key, value)
    if expire is not None:
        dst.set_expire(key, expire)
    src.delete(key)
    c.server.dirty += 1
    c.server.propagate(src.id, argv)
    return 1
