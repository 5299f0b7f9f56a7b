"""Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER
SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN.

A set is a Python set of bytes. Redis keeps a small set of integers as an intset, which is
sorted, so its members come back in numeric order; `ordered` reproduces that for sets Redis
would hold as an intset, and replies in set order otherwise (which Redis leaves unspecified).
"""

from __future__ import annotations

import random
from itertools import islice
from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.args import (
    LLONG_MAX,
    get_positive,
    get_range,
    parse_ll,
    parse_rand_count,
    repeat_count,
)
from node.commands.table import command
from node.config import Config
from node.keyspace import Database
from node.resp import SetReply
from node.scan import glob_match, parse_cursor, parse_scan_options, scan_reply

NUMKEYS_POSITIVE: Final = "ERR numkeys should be greater than 0"
TOO_MANY_NUMKEYS: Final = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE: Final = "ERR LIMIT can't be negative"
# Below this size SPOP draws uniformly (an O(n) walk). Above it, it takes set.pop()'s next
# member: Python sets have no random access, and their slot order is already a per-process
# pseudo-random permutation (bytes hashes are seeded at start-up), so the pops stay O(1).
SPOP_UNIFORM_MAX: Final = 1024


def intset_order(s: set[bytes], config: Config) -> list[bytes] | None:
    """The members in numeric order if Redis would hold `s` as an intset, else None."""
    if len(s) > config.set_max_intset_entries:
        return None
    for m in s:
        if parse_ll(m) is None:
            return None
    return sorted(s, key=int)


def ordered(s: set[bytes], config: Config) -> list[bytes]:
    """The members in the order Redis would list them (sorted when it is an intset)."""
    members = intset_order(s, config)
    return list(s) if members is None else members


def _read(c: Client, key: bytes) -> set[bytes] | None:
    s = c.db.lookup_read(key)
    if s is None or type(s) is set:
        return s
    raise errors.wrongtype()


def _write(c: Client, key: bytes) -> set[bytes] | None:
    s = c.db.lookup_write(key)
    if s is None or type(s) is set:
        return s
    raise errors.wrongtype()


def _removed(c: Client, key: bytes, s: set[bytes], n: int) -> None:
    """Account for `n` members removed from `s` in place: delete the key if it emptied."""
    db = c.db
    if s:
        db.modified(key, n)
    else:
        db.delete(key)
        c.server.dirty += n


@command("sadd", -3, "write denyoom fast", 1, 1, 1, categories="write set fast")
def sadd(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    s = _write(c, key)
    if s is None:
        s = set(islice(argv, 2, None))
        added = len(s)
        c.db.add(key, s)
        c.server.dirty += added
    elif len(argv) == 3:
        if argv[2] in s:
            return 0
        s.add(argv[2])
        added = 1
        c.db.modified(key)
    else:
        before = len(s)
        s.update(islice(argv, 2, None))
        added = len(s) - before
        if not added:
            return 0
        c.db.modified(key, added)
    c.server.propagate(c.db.id, argv)
    return added


@command("srem", -3, "write fast", 1, 1, 1, categories="write set fast")
def srem(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    s = _write(c, key)
    if s is None:
        return 0
    before = len(s)
    s.difference_update(islice(argv, 2, None))
    removed = before - len(s)
    if removed:
        _removed(c, key, s, removed)
        c.server.propagate(c.db.id, argv)
    return removed


@command("smove", 4, "write fast", 1, 2, 1, categories="write set fast")
def smove(c: Client, argv: list[bytes]) -> Any:
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    db = c.db
    src = db.lookup_write(src_key)
    dst = db.lookup_write(dst_key)
    if src is None:
        return 0
    if type(src) is not set or (dst is not None and type(dst) is not set):
        raise errors.wrongtype()
    if src is dst:
        return int(member in src)
    if member not in src:
        return 0
    src.remove(member)
    _removed(c, src_key, src, 1)
    if dst is None:
        db.add(dst_key, {member})
        c.server.dirty += 1
    elif member not in dst:
        dst.add(member)
        db.modified(dst_key)
    c.server.propagate(db.id, argv)
    return 1


@command("sismember", 3, "readonly fast", 1, 1, 1, categories="read set fast")
def sismember(c: Client, argv: list[bytes]) -> Any:
    s = _read(c, argv[1])
    return 0 if s is None else int(argv[2] in s)


@command("smismember", -3, "readonly fast", 1, 1, 1, categories="read set fast")
def smismember(c: Client, argv: list[bytes]) -> Any:
    s = _read(c, argv[1])
    if s is None:
        return [0] * (len(argv) - 2)
    return [int(m in s) for m in islice(argv, 2, None)]


@command("scard", 2, "readonly fast", 1, 1, 1, categories="read set fast")
def scard(c: Client, argv: list[bytes]) -> Any:
    s = _read(c, argv[1])
    return 0 if s is None else len(s)


@command("smembers", 2, "readonly", 1, 1, 1, categories="read set slow")
def smembers(c: Client, argv: list[bytes]) -> Any:
    s = _read(c, argv[1])
    return SetReply(() if s is None else ordered(s, c.server.config))


# ---------------------------------------------------------------------------
# Random members


def _random_member(s: set[bytes]) -> bytes:
    return next(islice(s, random.randrange(len(s)), None))


@command("spop", -2, "write fast", 1, 1, 1, categories="write set fast")
def spop(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise errors.syntax()
    key = argv[1]
    s = _write(c, key)
    if s is None:
        return None
    if len(s) <= SPOP_UNIFORM_MAX:
        member = _random_member(s)
        s.remove(member)
    else:
        member = s.pop()
    _removed(c, key, s, 1)
    c.server.propagate(c.db.id, [b"SREM", key, member])
    return member


def _spop_count(c: Client, argv: list[bytes]) -> Any:
    count = get_positive(argv[2])
    key = argv[1]
    s = _write(c, key)
    if s is None or count == 0:
        return SetReply(())
    db = c.db
    size = len(s)
    if count >= size:
        # The whole set: Redis deletes the key and propagates DEL rather than SREMs.
        members = ordered(s, c.server.config)
        db.delete(key)
        c.server.dirty += size
        c.server.propagate(db.id, [b"DEL", key])
        return SetReply(members)
    if size <= SPOP_UNIFORM_MAX or count * 5 > size:
        members = random.sample(list(s), count)
        s.difference_update(members)
    else:
        pop = s.pop
        members = [pop() for _ in range(count)]
    db.modified(key, count)
    # One SREM per member, as Redis 7.0 writes them (wrapped in MULTI/EXEC when > 1).
    for member in members:
        c.server.propagate(db.id, [b"SREM", key, member])
    return SetReply(members)


@command("srandmember", -2, "readonly", 1, 1, 1, categories="read set slow")
def srandmember(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        count = parse_rand_count(argv[2])
        s = _read(c, argv[1])
        if s is None or count == 0:
            return []
        if count < 0 or count == 1:
            return random.choices(list(s), k=repeat_count(count))
        if count >= len(s):
            return ordered(s, c.server.config)
        return random.sample(list(s), count)
    if len(argv) > 3:
        raise errors.syntax()
    s = _read(c, argv[1])
    return None if s is None else _random_member(s)


# ---------------------------------------------------------------------------
# Algebra


def _load(c: Client, keys: list[bytes], write: bool) -> list[set[bytes] | None]:
    """The sets at `keys` (None for a missing key); WRONGTYPE if any key holds another type."""
    db: Database = c.db
    lookup = db.lookup_write if write else db.lookup_read
    sets: list[set[bytes] | None] = []
    for key in keys:
        value = lookup(key)
        if value is not None and type(value) is not set:
            raise errors.wrongtype()
        sets.append(value)
    return sets


def _inter(sets: list[set[bytes] | None]) -> set[bytes]:
    present: list[set[bytes]] = []
    for s in sets:
        if s is None:
            return set()
        present.append(s)
    present.sort(key=len)
    return present[0].intersection(*present[1:])


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    result: set[bytes] = set()
    result.update(*[s for s in sets if s is not None])
    return result


def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    return first.difference(*[s for s in sets[1:] if s is not None])


def _store(c: Client, argv: list[bytes], result: set[bytes]) -> int:
    """The *STORE commands: the result replaces the destination (any type, TTL dropped)."""
    db = c.db
    dst = argv[1]
    if result:
        db.set_key(dst, result)
    elif not db.delete(dst):
        return 0
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return len(result)


@command("sinter", -2, "readonly", 1, -1, 1, categories="read set slow")
def sinter(c: Client, argv: list[bytes]) -> Any:
    result = _inter(_load(c, argv[1:], False))
    return SetReply(ordered(result, c.server.config))


@command("sinterstore", -3, "write denyoom", 1, -1, 1, categories="write set slow")
def sinterstore(c: Client, argv: list[bytes]) -> Any:
    return _store(c, argv, _inter(_load(c, argv[2:], True)))


@command("sunion", -2, "readonly", 1, -1, 1, categories="read set slow")
def sunion(c: Client, argv: list[bytes]) -> Any:
    result = _union(_load(c, argv[1:], False))
    return SetReply(ordered(result, c.server.config))


@command("sunionstore", -3, "write denyoom", 1, -1, 1, categories="write set slow")
def sunionstore(c: Client, argv: list[bytes]) -> Any:
    return _store(c, argv, _union(_load(c, argv[2:], True)))


@command("sdiff", -2, "readonly", 1, -1, 1, categories="read set slow")
def sdiff(c: Client, argv: list[bytes]) -> Any:
    result = _diff(_load(c, argv[1:], False))
    return SetReply(ordered(result, c.server.config))


@command("sdiffstore", -3, "write denyoom", 1, -1, 1, categories="write set slow")
def sdiffstore(c: Client, argv: list[bytes]) -> Any:
    return _store(c, argv, _diff(_load(c, argv[2:], True)))


@command("sintercard", -3, "readonly movablekeys", 0, 0, 0, categories="read set slow")
def sintercard(c: Client, argv: list[bytes]) -> Any:
    numkeys = get_range(argv[1], 1, LLONG_MAX, NUMKEYS_POSITIVE)
    if numkeys > len(argv) - 2:
        raise errors.CommandError(TOO_MANY_NUMKEYS)
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = get_positive(argv[i + 1], LIMIT_NEGATIVE)
            i += 2
        else:
            raise errors.syntax()
    sets = _load(c, argv[2 : 2 + numkeys], False)
    present: list[set[bytes]] = []
    for s in sets:
        if s is None:
            return 0
        present.append(s)
    present.sort(key=len)
    smallest, others = present[0], present[1:]
    if not limit:
        return len(smallest.intersection(*others))
    n = 0
    for m in smallest:
        for other in others:
            if m not in other:
                break
        else:
            n += 1
            if n == limit:
                break
    return n


@command("sscan", -3, "readonly", 1, 1, 1, categories="read set slow")
def sscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    s = _read(c, argv[1])
    if s is None:
        return scan_reply(0, [])
    count, pattern, _ = parse_scan_options(argv, 3)
    members = intset_order(s, c.server.config)
    if members is not None:
        # Redis returns an intset whole, whatever the cursor and COUNT.
        cursor = 0
    else:
        cursor, members = c.server.scan_cursors.scan(s, cursor, count)
    if pattern is not None:
        members = [m for m in members if glob_match(pattern, m)]
    return scan_reply(cursor, members)
