"""Hash commands: HSET HSETNX HGET HMSET HMGET HDEL HEXISTS HLEN HKEYS HVALS HGETALL HINCRBY
HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.

A hash is a plain dict of bytes -> bytes. Dicts keep insertion order and an overwritten field
keeps its place, which is exactly the order of Redis's listpack encoding, so HGETALL of a
small hash answers in the same order as Redis.

HINCRBYFLOAT computes in Redis's `long double` (node/longdouble.py) to print the digits Redis
prints.
"""

from __future__ import annotations

import random
from itertools import islice
from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.args import (
    LLONG_MAX,
    LLONG_MIN,
    OUT_OF_RANGE,
    get_ll,
    get_long_double,
    parse_rand_count,
    repeat_count,
)
from node.commands.table import command
from node.config import Config
from node.longdouble import ld_add, ld_format_human
from node.resp import OK, Map
from node.scan import glob_match, parse_cursor, parse_scan_options, scan_reply

# ---------------------------------------------------------------------------
# Encodings. keelkv keeps one representation per type; Redis's small encodings are only
# visible through reply order and SCAN behaviour, which these predicates reproduce.


def hash_is_listpack(h: dict[bytes, bytes], config: Config) -> bool:
    """Would Redis hold this hash as a listpack?

    Judged from the hash as it is now. Redis never converts a hash back, so one that grew
    past the limits and then shrank is a hashtable there and counts as a listpack here; only
    SCAN's batching and the reply order of such a hash can tell.
    """
    if len(h) > config.hash_max_listpack_entries:
        return False
    limit = config.hash_max_listpack_value
    return all(len(field) <= limit and len(value) <= limit for field, value in h.items())


# ---------------------------------------------------------------------------
# Commands

HASH_VALUE_NOT_INTEGER: Final = "ERR hash value is not an integer"
HASH_VALUE_NOT_FLOAT: Final = "ERR hash value is not a float"
NAN_OR_INFINITY: Final = "ERR value is NaN or Infinity"
WOULD_PRODUCE_NAN: Final = "ERR increment would produce NaN or Infinity"


def _read(c: Client, key: bytes) -> dict[bytes, bytes] | None:
    h = c.db.lookup_read(key)
    if h is None or type(h) is dict:
        return h
    raise errors.wrongtype()


def _write(c: Client, key: bytes) -> dict[bytes, bytes] | None:
    h = c.db.lookup_write(key)
    if h is None or type(h) is dict:
        return h
    raise errors.wrongtype()


def _set_fields(c: Client, argv: list[bytes], name: str) -> int:
    """HSET/HMSET: set the pairs; returns how many fields were new."""
    n = len(argv)
    if n & 1:
        raise errors.wrong_arity(name)
    key = argv[1]
    db = c.db
    h = db.lookup_write(key)
    if h is None:
        h = dict(zip(argv[2:n:2], argv[3:n:2], strict=True))
        created = len(h)
        db.add(key, h)
        c.server.dirty += (n - 2) >> 1
    elif type(h) is not dict:
        raise errors.wrongtype()
    elif n == 4:
        field = argv[2]
        created = 0 if field in h else 1
        h[field] = argv[3]
        db.modified(key)
    else:
        before = len(h)
        for i in range(2, n, 2):
            h[argv[i]] = argv[i + 1]
        created = len(h) - before
        db.modified(key, (n - 2) >> 1)
    c.server.propagate(db.id, argv)
    return created


@command("hset", -4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hset(c: Client, argv: list[bytes]) -> Any:
    return _set_fields(c, argv, "hset")


@command("hmset", -4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hmset(c: Client, argv: list[bytes]) -> Any:
    _set_fields(c, argv, "hmset")
    return OK


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hsetnx(c: Client, argv: list[bytes]) -> Any:
    key, field = argv[1], argv[2]
    db = c.db
    h = _write(c, key)
    if h is None:
        db.add(key, {field: argv[3]})
        c.server.dirty += 1
    elif field in h:
        return 0
    else:
        h[field] = argv[3]
        db.modified(key)
    c.server.propagate(db.id, argv)
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hget(c: Client, argv: list[bytes]) -> Any:
    h = c.db.lookup_read(argv[1])
    if h is None:
        return None
    if type(h) is not dict:
        raise errors.wrongtype()
    return h.get(argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hmget(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, categories="write hash fast")
def hdel(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    h = _write(c, key)
    if h is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if h.pop(field, None) is not None:
            deleted += 1
            if not h:
                break
    if deleted:
        db = c.db
        if h:
            db.modified(key, deleted)
        else:
            db.delete(key)
            c.server.dirty += deleted
        c.server.propagate(db.id, argv)
    return deleted


@command("hexists", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hexists(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return 0 if h is None else int(argv[2] in h)


@command("hlen", 2, "readonly fast", 1, 1, 1, categories="read hash fast")
def hlen(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hstrlen(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    if h is None:
        return 0
    value = h.get(argv[2])
    return 0 if value is None else len(value)


@command("hkeys", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hkeys(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return [] if h is None else list(h)


@command("hvals", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hvals(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hgetall(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return Map(() if h is None else h.items())


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hincrby(c: Client, argv: list[bytes]) -> Any:
    incr = get_ll(argv[3])
    key, field = argv[1], argv[2]
    h = _write(c, key)
    current = None if h is None else h.get(field)
    if current is None:
        value = incr
    else:
        value = get_ll(current, HASH_VALUE_NOT_INTEGER) + incr
        if value < LLONG_MIN or value > LLONG_MAX:
            raise errors.CommandError(errors.OVERFLOW)
    _store(c, key, h, field, b"%d" % value)
    c.server.propagate(c.db.id, argv)
    return value


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hincrbyfloat(c: Client, argv: list[bytes]) -> Any:
    incr = get_long_double(argv[3])
    if isinstance(incr, float):
        raise errors.CommandError(NAN_OR_INFINITY)
    key, field = argv[1], argv[2]
    h = _write(c, key)
    current = None if h is None else h.get(field)
    result = incr
    if current is not None:
        # A stored "inf" parses but cannot be added to: the sum would be infinite.
        total = ld_add(get_long_double(current, HASH_VALUE_NOT_FLOAT), incr)
        if total is None:
            raise errors.CommandError(WOULD_PRODUCE_NAN)
        result = total
    text = ld_format_human(result)
    _store(c, key, h, field, text)
    # The final value, so that replicas and AOF replays hold the same bytes.
    c.server.propagate(c.db.id, [b"HSET", key, field, text])
    return text


def _store(c: Client, key: bytes, h: dict[bytes, bytes] | None, field: bytes, value: bytes) -> None:
    if h is None:
        c.db.add(key, {field: value})
        c.server.dirty += 1
    else:
        h[field] = value
        c.db.modified(key)


@command("hrandfield", -2, "readonly", 1, 1, 1, categories="read hash slow")
def hrandfield(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        h = _read(c, argv[1])
        if not h:
            return None
        return next(islice(h, random.randrange(len(h)), None))
    count = parse_rand_count(argv[2])
    withvalues = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise errors.syntax()
    if len(argv) == 4:
        withvalues = True
        if count < -(LLONG_MAX // 2) or count > LLONG_MAX // 2:
            raise errors.CommandError(OUT_OF_RANGE)
    h = _read(c, argv[1])
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:
        fields = random.choices(list(h), k=repeat_count(count))
    elif count >= len(h):
        fields = list(h)  # the whole hash, in its order (as Redis's CASE 2)
    else:
        fields = random.sample(list(h), count)
    if not withvalues:
        return fields
    if c.resp3:
        return [[f, h[f]] for f in fields]
    flat: list[bytes] = []
    for f in fields:
        flat.append(f)
        flat.append(h[f])
    return flat


@command("hscan", -3, "readonly", 1, 1, 1, categories="read hash slow")
def hscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    h = _read(c, argv[1])
    if h is None:
        return scan_reply(0, [])
    count, pattern, _ = parse_scan_options(argv, 3)
    if hash_is_listpack(h, c.server.config):
        # Redis returns a listpack hash whole, whatever the cursor and COUNT.
        cursor = 0
        fields: list[bytes] = list(h)
    else:
        cursor, fields = c.server.scan_cursors.scan(h, cursor, count)
    out: list[bytes] = []
    for f in fields:
        if pattern is None or glob_match(pattern, f):
            out.append(f)
            out.append(h[f])
    return scan_reply(cursor, out)
