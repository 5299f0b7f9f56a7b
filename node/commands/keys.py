"""Generic key commands: DEL EXISTS TYPE RENAME COPY KEYS SCAN RANDOMKEY and the expiry family.

Expiry writes propagate as Redis 7.0 writes them to its AOF: EXPIRE/PEXPIRE/EXPIREAT become
`PEXPIREAT key <ms> [NX|XX|GT|LT...]`, and a time already in the past deletes the key and
propagates `DEL key` (`UNLINK` with lazyfree-lazy-expire yes).
"""

from __future__ import annotations

import copy
import random
from collections import deque
from itertools import islice
from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.args import LLONG_MAX, get_int, get_ll
from node.commands.table import command
from node.keyspace import value_type_name
from node.resp import OK, Status
from node.scan import glob_match, parse_cursor, parse_scan_options, scan_reply
from node.zset import ZSet

_TYPE_REPLIES: Final = {
    name: Status(name) for name in (b"string", b"list", b"hash", b"set", b"zset", b"none")
}

# EXPIRE option flags (expire.c).
EXPIRE_NX: Final = 1
EXPIRE_XX: Final = 2
EXPIRE_GT: Final = 4
EXPIRE_LT: Final = 8


# ---------------------------------------------------------------------------
# Existence and deletion


def _del_generic(c: Client, argv: list[bytes]) -> int:
    db = c.db
    deleted = 0
    for key in argv[1:]:
        if db.exists(key):  # an expired key is removed (and its DEL propagated) here
            db.delete(key)
            deleted += 1
    if deleted:
        c.server.dirty += deleted
        c.server.propagate(db.id, argv)
    return deleted


@command("del", -2, "write", 1, -1, 1, categories="keyspace write slow")
def del_(c: Client, argv: list[bytes]) -> Any:
    return _del_generic(c, argv)


@command("unlink", -2, "write fast", 1, -1, 1, categories="keyspace write fast")
def unlink(c: Client, argv: list[bytes]) -> Any:
    return _del_generic(c, argv)


@command("exists", -2, "readonly fast", 1, -1, 1, categories="keyspace read fast")
def exists(c: Client, argv: list[bytes]) -> Any:
    """Not an access (LOOKUP_NOTOUCH), but counted in keyspace_hits / keyspace_misses."""
    lookup = c.db.lookup_notouch
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("touch", -2, "readonly fast", 1, -1, 1, categories="keyspace read fast")
def touch(c: Client, argv: list[bytes]) -> Any:
    """EXISTS that is an access: it refreshes each key's LRU / LFU data."""
    lookup = c.db.lookup_read
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("type", 2, "readonly fast", 1, 1, 1, categories="keyspace read fast")
def type_(c: Client, argv: list[bytes]) -> Any:
    name = value_type_name(c.db.lookup_notouch(argv[1]))
    reply = _TYPE_REPLIES.get(name)
    return reply if reply is not None else Status(name)


# ---------------------------------------------------------------------------
# Renaming and copying


def _rename_generic(c: Client, argv: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    value = db.lookup_write(src)
    if value is None:
        raise errors.CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    expire = db.get_expire(src)
    if db.lookup_write(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.delete(src)
    db.add(dst, value)
    if expire is not None:
        db.set_expire(dst, expire)
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return 1 if nx else OK


@command("rename", 3, "write", 1, 2, 1, categories="keyspace write slow")
def rename(c: Client, argv: list[bytes]) -> Any:
    return _rename_generic(c, argv, False)


@command("renamenx", 3, "write fast", 1, 2, 1, categories="keyspace write fast")
def renamenx(c: Client, argv: list[bytes]) -> Any:
    return _rename_generic(c, argv, True)


def duplicate_value(value: Any) -> Any:
    """A copy of a value that shares nothing mutable with it (COPY)."""
    t = type(value)
    if t is bytes:
        return value
    if t is deque:
        return deque(value)
    if t is dict:
        return dict(value)
    if t is set:
        return set(value)
    if t is ZSet:
        return value.copy()
    return copy.deepcopy(value)


@command("copy", -3, "write denyoom", 1, 2, 1, categories="keyspace write slow")
def copy_(c: Client, argv: list[bytes]) -> Any:
    """COPY source destination [DB index] [REPLACE]."""
    server = c.server
    src_db = dst_db = c.db
    replace = False
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            index = get_int(argv[j + 1])
            if not 0 <= index < len(server.dbs):
                raise errors.CommandError(errors.DB_INDEX)
            dst_db = server.dbs[index]
            j += 1
        else:
            raise errors.syntax()
        j += 1
    src, dst = argv[1], argv[2]
    if src_db is dst_db and src == dst:
        raise errors.CommandError("ERR source and destination objects are the same")
    value = src_db.lookup_read(src)
    if value is None:
        return 0
    expire = src_db.get_expire(src)
    if dst_db.lookup_write(dst) is not None:
        if not replace:
            return 0
        dst_db.delete(dst)
    dst_db.add(dst, duplicate_value(value))
    if expire is not None:
        dst_db.set_expire(dst, expire)
    server.dirty += 1
    server.propagate(src_db.id, argv)
    return 1


# ---------------------------------------------------------------------------
# Iteration


@command("keys", 2, "readonly", categories="keyspace read slow dangerous")
def keys(c: Client, argv: list[bytes]) -> Any:
    """KEYS pattern: expired keys are skipped but not deleted, like Redis."""
    db = c.db
    pattern = argv[1]
    if pattern == b"*":
        candidates: Any = db.data
    else:
        candidates = (k for k in db.data if glob_match(pattern, k))
    if not db.expires:
        return list(candidates)
    expired = db.is_logically_expired
    return [k for k in candidates if not expired(k)]


@command("scan", -2, "readonly", categories="keyspace read slow")
def scan(c: Client, argv: list[bytes]) -> Any:
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]."""
    cursor = parse_cursor(argv[1])
    count, pattern, type_name = parse_scan_options(argv, 2, with_type=True)
    db = c.db
    next_cursor, found = c.server.scan_cursors.scan(db.data, cursor, count)
    out = []
    for key in found:
        if pattern is not None and not glob_match(pattern, key):
            continue
        if type_name is not None:
            # Redis looks the key up for its type (LOOKUP_NOTOUCH), which also expires it.
            if value_type_name(db.lookup_notouch(key)) != type_name:
                continue
            if type_name == b"none":
                out.append(key)
                continue
        if key in db.expires and db.expire_if_needed(key):
            continue
        out.append(key)
    return scan_reply(next_cursor, out)


@command("randomkey", 1, "readonly", categories="keyspace read slow")
def randomkey(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    data = db.data
    all_volatile = len(data) == len(db.expires)
    replica = c.server.masterhost is not None
    tries = 100
    while data:
        key = next(islice(data, random.randrange(len(data)), None))
        if key in db.expires:
            tries -= 1
            # On a replica expired keys stay until the master's DEL: when all keys are
            # volatile they may all be expired, so Redis gives up and returns one.
            if all_volatile and replica and tries == 0:
                return key
            if db.expire_if_needed(key):
                continue
        return key
    return None


# ---------------------------------------------------------------------------
# Expiry


def _parse_expire_flags(argv: list[bytes]) -> int:
    """parseExtendedExpireArgumentsOrReply: NX XX GT LT, with Redis's compatibility errors."""
    flags = 0
    for raw in argv[3:]:
        opt = raw.lower()
        if opt == b"nx":
            flags |= EXPIRE_NX
        elif opt == b"xx":
            flags |= EXPIRE_XX
        elif opt == b"gt":
            flags |= EXPIRE_GT
        elif opt == b"lt":
            flags |= EXPIRE_LT
        else:
            raise errors.CommandError(
                "ERR Unsupported option " + raw.decode("utf-8", "surrogateescape")
            )
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        raise errors.CommandError(
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        )
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        raise errors.CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire_generic(c: Client, argv: list[bytes], name: str, basetime: int, seconds: bool) -> Any:
    """expireGenericCommand: the absolute time is computed, checked against the options, then
    set, or the key deleted when the time is already past."""
    flags = _parse_expire_flags(argv) if len(argv) > 3 else 0
    when = get_ll(argv[2])
    if seconds:
        # C's LLONG_MIN / 1000 truncates toward zero.
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise errors.CommandError(errors.INVALID_EXPIRE.format(name))
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise errors.CommandError(errors.INVALID_EXPIRE.format(name))
    when += basetime
    db = c.db
    key = argv[1]
    if db.lookup_write(key) is None:
        return 0
    if flags:
        current = db.get_expire(key)
        if flags & EXPIRE_NX and current is not None:
            return 0
        if flags & EXPIRE_XX and current is None:
            return 0
        if flags & EXPIRE_GT and (current is None or when <= current):
            return 0
        if flags & EXPIRE_LT and current is not None and when >= current:
            return 0
    server = c.server
    if when <= server.mstime and not server.loading and server.masterhost is None:
        db.delete(key)
        lazy = server.config.lazyfree_lazy_expire
        server.dirty += 1
        server.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])
        return 1
    db.set_expire(key, when)
    db.signal_modified(key)
    server.dirty += 1
    if name == "pexpireat":
        server.propagate(db.id, argv)
    else:
        server.propagate(db.id, [b"PEXPIREAT", key, b"%d" % when, *argv[3:]])
    return 1


@command("expire", -3, "write fast", 1, 1, 1, categories="keyspace write fast")
def expire(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, "expire", c.server.mstime, True)


@command("pexpire", -3, "write fast", 1, 1, 1, categories="keyspace write fast")
def pexpire(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, "pexpire", c.server.mstime, False)


@command("expireat", -3, "write fast", 1, 1, 1, categories="keyspace write fast")
def expireat(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, "expireat", 0, True)


@command("pexpireat", -3, "write fast", 1, 1, 1, categories="keyspace write fast")
def pexpireat(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, "pexpireat", 0, False)


def _ttl_generic(c: Client, key: bytes, ms: bool, absolute: bool) -> int:
    """TTL and friends: not an access (LOOKUP_NOTOUCH), counted as a hit or miss."""
    db = c.db
    if db.lookup_notouch(key) is None:
        return -2
    when = db.get_expire(key)
    if when is None:
        return -1
    ttl = when if absolute else when - c.server.mstime
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", 1, 1, 1, categories="keyspace read fast")
def ttl(c: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], False, False)


@command("pttl", 2, "readonly fast", 1, 1, 1, categories="keyspace read fast")
def pttl(c: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], True, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1, categories="keyspace read fast")
def expiretime(c: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1, categories="keyspace read fast")
def pexpiretime(c: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv[1], True, True)


@command("persist", 2, "write fast", 1, 1, 1, categories="keyspace write fast")
def persist(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    if db.lookup_write(key) is None or not db.persist(key):
        return 0
    db.signal_modified(key)
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return 1
