"""Sorted-set commands, with Redis 7.0's semantics, replies, error texts and propagation.

The code follows t_zset.c's structure (zaddGenericCommand, zrangeGenericCommand,
zremrangeGenericCommand, zunionInterDiffGenericCommand, genericZpopCommand), including the
order in which it checks arguments, so that a bad command fails with the same error.

Propagation, as Redis 7.0 writes it to the AOF: ZADD, ZINCRBY, ZREM, ZPOPMIN/ZPOPMAX,
ZREMRANGEBY* and the *STORE commands go out as given when they changed something (a *STORE
with an empty result that deleted its destination included); ZMPOP and BZMPOP become
`ZPOPMIN|ZPOPMAX key <popped>`, BZPOPMIN/BZPOPMAX become `ZPOPMIN|ZPOPMAX key`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any, Final

from node import errors
from node.blocking import KEEP_WAITING, Block
from node.client import Client
from node.commands.args import (
    LLONG_MAX,
    OUT_OF_RANGE,
    get_ll,
    get_positive,
    get_range,
    parse_rand_count,
    parse_timeout,
    repeat_count,
)
from node.commands.table import command
from node.resp import NULL_ARRAY, Double, Raw, format_double
from node.scan import glob_match, parse_cursor, parse_scan_options, scan_reply
from node.zset import (
    LexRange,
    ScoreRange,
    ZSet,
    listpack_score_text,
    parse_lex_range,
    parse_score,
    parse_score_range,
)

NAN_ERROR: Final = "ERR resulting score is not a number (NaN)"
NOT_FLOAT_RANGE: Final = "ERR min or max is not a float"
NOT_LEX_RANGE: Final = "ERR min or max not valid string range item"
EMPTY_SCAN: Final = Raw(b"*2\r\n$1\r\n0\r\n*0\r\n")
EMPTY_ARRAY: Final = Raw(b"*0\r\n")

# ZRANGE range kinds and directions (zrange_type / zrange_direction in t_zset.c).
AUTO: Final = -1
RANK: Final = 0
SCORE: Final = 1
LEX: Final = 2
FORWARD: Final = 0
REVERSE: Final = 1

# ZUNION/ZINTER/ZDIFF operations and aggregates.
UNION: Final = 0
INTER: Final = 1
DIFF: Final = 2
SUM: Final = 0
MIN: Final = 1
MAX: Final = 2
_AGGREGATES: Final = {b"sum": SUM, b"min": MIN, b"max": MAX}

_ZADD_OPTIONS: Final = {b"nx": 1, b"xx": 2, b"ch": 4, b"incr": 8, b"gt": 16, b"lt": 32}


# ---------------------------------------------------------------------------
# Shared helpers


def _read(c: Client, key: bytes) -> ZSet | None:
    value = c.db.lookup_read(key)
    if value is None or type(value) is ZSet:
        return value
    raise errors.wrongtype()


def _write(c: Client, key: bytes) -> ZSet | None:
    value = c.db.lookup_write(key)
    if value is None or type(value) is ZSet:
        return value
    raise errors.wrongtype()


def _changed(c: Client, key: bytes, zs: ZSet, changes: int) -> None:
    """Record `changes` in-place changes of `zs`; an emptied zset is deleted, as Redis does."""
    if zs:
        c.db.modified(key, changes)
    else:
        c.db.delete(key)
        c.server.dirty += changes


def _new_zset(c: Client, first_member: bytes) -> ZSet:
    """A zset created by ZADD/ZINCRBY: listpack unless disabled or the first member is long."""
    config = c.server.config
    return ZSet(
        not (
            config.zset_max_listpack_entries == 0
            or len(first_member) > config.zset_max_listpack_value
        )
    )


def _store_zset(c: Client, scores: dict[bytes, float]) -> ZSet:
    """A *STORE result: built as a listpack when Redis would convert it to one."""
    config = c.server.config
    listpack = len(scores) <= config.zset_max_listpack_entries and all(
        len(m) <= config.zset_max_listpack_value for m in scores
    )
    return ZSet.from_scores(scores, listpack)


def _store(c: Client, argv: list[bytes], dst: bytes, scores: dict[bytes, float]) -> int:
    """Set `dst` to the result, or delete it when the result is empty; reply the size."""
    db = c.db
    if scores:
        db.set_key(dst, _store_zset(c, scores))
        c.server.dirty += 1
        c.server.propagate(db.id, argv)
        return len(scores)
    if db.delete(dst):
        c.server.dirty += 1
        c.server.propagate(db.id, argv)
    return 0


def _members_reply(c: Client, items: Iterable[tuple[float, bytes]], withscores: bool) -> Raw:
    """An array of members, with scores as a flat list (RESP2) or [member, score] pairs (RESP3).

    Scores are formatted with "%.17g", Redis 7.0's addReplyDouble ("inf"/"-inf" included).
    """
    if not withscores:
        out = [b"$%d\r\n%s\r\n" % (len(m), m) for _, m in items]
        return Raw(b"*%d\r\n%s" % (len(out), b"".join(out)))
    if c.resp3:
        out = [b"*2\r\n$%d\r\n%s\r\n,%.17g\r\n" % (len(m), m, s) for s, m in items]
        return Raw(b"*%d\r\n%s" % (len(out), b"".join(out)))
    out = []
    append = out.append
    for score, member in items:
        text = b"%.17g" % score
        append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(member), member, len(text), text))
    return Raw(b"*%d\r\n%s" % (2 * len(out), b"".join(out)))


# ---------------------------------------------------------------------------
# ZADD / ZINCRBY


def _zadd_generic(c: Client, argv: list[bytes], incr_command: bool) -> Any:
    n = len(argv)
    flags = 8 if incr_command else 0
    scoreidx = 2
    while scoreidx < n:
        opt = _ZADD_OPTIONS.get(argv[scoreidx].lower())
        if opt is None:
            break
        flags |= opt
        scoreidx += 1
    nx = flags & 1
    xx = flags & 2
    ch = flags & 4
    incr = flags & 8
    gt = flags & 16
    lt = flags & 32
    elements = n - scoreidx
    if elements % 2 or not elements:
        raise errors.syntax()
    if nx and xx:
        raise errors.CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise errors.CommandError(
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        )
    if incr and elements > 2:
        raise errors.CommandError("ERR INCR option supports a single increment-element pair")
    scores: list[float] = []
    for j in range(scoreidx, n, 2):
        score = parse_score(argv[j])
        if score is None:
            raise errors.CommandError(errors.NOT_FLOAT)
        scores.append(score)

    key = argv[1]
    db = c.db
    zs = _write(c, key)
    created = False
    if zs is None:
        if xx:
            return None if incr else 0
        zs = _new_zset(c, argv[scoreidx + 1])
        created = True
    config = c.server.config
    current = zs.scores
    added = updated = processed = 0
    newscore = 0.0
    for i, score in enumerate(scores):
        member = argv[scoreidx + 1 + 2 * i]
        cur = current.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    raise errors.CommandError(NAN_ERROR)
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                zs.update(member, cur, score)
                score = zs.scores[member]
                updated += 1
            newscore = score
        elif not xx:
            if zs.listpack and (
                len(current) + 1 > config.zset_max_listpack_entries
                or len(member) > config.zset_max_listpack_value
            ):
                zs.listpack = False
            zs.insert(member, score)
            newscore = current[member]
            added += 1
            processed += 1
    changes = added + updated
    if changes:
        if created:
            db.add(key, zs)
            c.server.dirty += changes
        else:
            db.modified(key, changes)
        c.server.propagate(db.id, argv)
    if incr:
        return Double(newscore) if processed else None
    return changes if ch else added


@command("zadd", -4, "write denyoom fast", 1, 1, 1, categories="write sortedset fast")
def zadd(c: Client, argv: list[bytes]) -> Any:
    return _zadd_generic(c, argv, False)


@command("zincrby", 4, "write denyoom fast", 1, 1, 1, categories="write sortedset fast")
def zincrby(c: Client, argv: list[bytes]) -> Any:
    return _zadd_generic(c, argv, True)


# ---------------------------------------------------------------------------
# Single-member reads and ZREM


@command("zrem", -3, "write fast", 1, 1, 1, categories="write sortedset fast")
def zrem(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    zs = _write(c, key)
    if zs is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if not zs:
                break
    if deleted:
        _changed(c, key, zs, deleted)
        c.server.propagate(c.db.id, argv)
    return deleted


@command("zcard", 2, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zcard(c: Client, argv: list[bytes]) -> Any:
    zs = _read(c, argv[1])
    return 0 if zs is None else len(zs)


@command("zscore", 3, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zscore(c: Client, argv: list[bytes]) -> Any:
    zs = _read(c, argv[1])
    if zs is None:
        return None
    score = zs.scores.get(argv[2])
    return None if score is None else Double(score)


@command("zmscore", -3, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zmscore(c: Client, argv: list[bytes]) -> Any:
    zs = _read(c, argv[1])
    if zs is None:
        return [None] * (len(argv) - 2)
    scores = zs.scores
    reply: list[Any] = []
    for member in argv[2:]:
        score = scores.get(member)
        reply.append(None if score is None else Double(score))
    return reply


def _rank(c: Client, argv: list[bytes], reverse: bool) -> Any:
    zs = _read(c, argv[1])
    if zs is None:
        return None
    rank = zs.rank(argv[2])
    if rank is None:
        return None
    return len(zs) - 1 - rank if reverse else rank


@command("zrank", 3, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zrank(c: Client, argv: list[bytes]) -> Any:
    return _rank(c, argv, False)


@command("zrevrank", 3, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zrevrank(c: Client, argv: list[bytes]) -> Any:
    return _rank(c, argv, True)


# ---------------------------------------------------------------------------
# Counting


def _score_range_arg(lo: bytes, hi: bytes) -> ScoreRange:
    spec = parse_score_range(lo, hi)
    if spec is None:
        raise errors.CommandError(NOT_FLOAT_RANGE)
    return spec


def _lex_range_arg(lo: bytes, hi: bytes) -> LexRange:
    spec = parse_lex_range(lo, hi)
    if spec is None:
        raise errors.CommandError(NOT_LEX_RANGE)
    return spec


@command("zcount", 4, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zcount(c: Client, argv: list[bytes]) -> Any:
    spec = _score_range_arg(argv[2], argv[3])
    zs = _read(c, argv[1])
    if zs is None:
        return 0
    lo, hi = zs.score_bounds(spec)
    return hi - lo if hi > lo else 0


@command("zlexcount", 4, "readonly fast", 1, 1, 1, categories="read sortedset fast")
def zlexcount(c: Client, argv: list[bytes]) -> Any:
    spec = _lex_range_arg(argv[2], argv[3])
    zs = _read(c, argv[1])
    if zs is None:
        return 0
    first = zs.lex_first(spec)
    if first is None:
        return 0
    if zs.listpack:
        return zs.lex_walk_end(spec, first) - first
    # Redis's skiplist count: from the ranks of the first and last elements in range.
    last = zs.lex_last(spec)
    count = len(zs) - first
    if last is not None:
        count -= len(zs) - (last + 1)
    return count


# ---------------------------------------------------------------------------
# ZRANGE and its family


def _range_items(
    zs: ZSet,
    rangetype: int,
    reverse: bool,
    start: int,
    end: int,
    spec: Any,
    offset: int,
    limit: int,
) -> list[tuple[float, bytes]]:
    """The (score, member) pairs a range selects, in reply order."""
    index = zs.index
    length = len(index)
    if rangetype == RANK:
        if start < 0:
            start += length
        if end < 0:
            end += length
        if start < 0:
            start = 0
        if start > end or start >= length:
            return []
        if end >= length:
            end = length - 1
        if reverse:
            return list(index.islice(length - 1 - end, length - start, reverse=True))
        return list(index.islice(start, end + 1))
    if offset > 0 and offset >= length:
        return []
    if rangetype == SCORE:
        lo, hi = zs.score_bounds(spec)
        # A negative offset makes Redis skip to the end of the set.
        if lo >= hi or offset < 0:
            return []
        if reverse:
            top = hi - offset
            bottom = lo if limit < 0 else max(lo, top - limit)
            if top <= bottom:
                return []
            return list(index.islice(bottom, top, reverse=True))
        first = lo + offset
        stop = hi if limit < 0 else min(hi, first + limit)
        if first >= stop:
            return []
        return list(index.islice(first, stop))
    # LEX: find the first (last) element in range, skip `offset`, then walk while in range.
    items: list[tuple[float, bytes]] = []
    if reverse:
        pos = zs.lex_last(spec)
        if pos is None or offset < 0 or pos - offset < 0:
            return items
        for item in index.islice(0, pos - offset + 1, reverse=True):
            if limit == 0 or not spec.gte_min(item[1]):
                break
            items.append(item)
            limit -= 1
        return items
    pos = zs.lex_first(spec)
    if pos is None or offset < 0:
        return items
    for item in index.islice(pos + offset, length):
        if limit == 0 or not spec.lte_max(item[1]):
            break
        items.append(item)
        limit -= 1
    return items


def _zrange_generic(
    c: Client,
    argv: list[bytes],
    argc_start: int,
    dst: bytes | None,
    rangetype: int,
    direction: int,
) -> Any:
    key = argv[argc_start]
    minidx = argc_start + 1
    maxidx = argc_start + 2
    withscores = False
    offset = 0
    limit = -1
    n = len(argv)
    j = argc_start + 3
    while j < n:
        opt = argv[j].lower()
        if dst is None and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and n - j - 1 >= 2:
            offset = get_ll(argv[j + 1])
            limit = get_ll(argv[j + 2])
            j += 2
        elif direction == AUTO and opt == b"rev":
            direction = REVERSE
        elif rangetype == AUTO and opt == b"bylex":
            rangetype = LEX
        elif rangetype == AUTO and opt == b"byscore":
            rangetype = SCORE
        else:
            raise errors.syntax()
        j += 1
    if direction == AUTO:
        direction = FORWARD
    if rangetype == AUTO:
        rangetype = RANK
    if limit != -1 and rangetype == RANK:
        raise errors.CommandError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and rangetype == LEX:
        raise errors.CommandError(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        )
    reverse = direction == REVERSE
    if reverse and rangetype != RANK:
        minidx, maxidx = maxidx, minidx
    start = end = 0
    spec: Any = None
    if rangetype == RANK:
        start = get_ll(argv[minidx])
        end = get_ll(argv[maxidx])
    elif rangetype == SCORE:
        spec = _score_range_arg(argv[minidx], argv[maxidx])
    else:
        spec = _lex_range_arg(argv[minidx], argv[maxidx])

    zs = _read(c, key)
    if zs is None:
        if dst is not None:
            return _store(c, argv, dst, {})
        return EMPTY_ARRAY
    items = _range_items(zs, rangetype, reverse, start, end, spec, offset, limit)
    if dst is not None:
        return _store(c, argv, dst, {m: s for s, m in items})
    return _members_reply(c, items, withscores)


@command("zrange", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrange(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, AUTO, AUTO)


@command("zrangestore", -5, "write denyoom", 1, 2, 1, categories="write sortedset slow")
def zrangestore(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 2, argv[1], AUTO, AUTO)


@command("zrevrange", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrevrange(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, RANK, REVERSE)


@command("zrangebyscore", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, SCORE, FORWARD)


@command("zrevrangebyscore", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrevrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, SCORE, REVERSE)


@command("zrangebylex", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, LEX, FORWARD)


@command("zrevrangebylex", -4, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrevrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, None, LEX, REVERSE)


# ---------------------------------------------------------------------------
# ZREMRANGEBY*


def _zremrange(c: Client, argv: list[bytes], rangetype: int) -> Any:
    key = argv[1]
    start = end = 0
    spec: Any = None
    if rangetype == RANK:
        start = get_ll(argv[2])
        end = get_ll(argv[3])
    elif rangetype == SCORE:
        spec = _score_range_arg(argv[2], argv[3])
    else:
        spec = _lex_range_arg(argv[2], argv[3])
    zs = _write(c, key)
    if zs is None:
        return 0
    if rangetype == RANK:
        length = len(zs)
        if start < 0:
            start += length
        if end < 0:
            end += length
        if start < 0:
            start = 0
        if start > end or start >= length:
            return 0
        lo, hi = start, min(end, length - 1) + 1
    elif rangetype == SCORE:
        lo, hi = zs.score_bounds(spec)
    else:
        first = zs.lex_first(spec)
        if first is None:
            return 0
        lo, hi = first, zs.lex_walk_end(spec, first)
    deleted = zs.delete_range(lo, hi)
    if deleted:
        _changed(c, key, zs, deleted)
        c.server.propagate(c.db.id, argv)
    return deleted


@command("zremrangebyrank", 4, "write", 1, 1, 1, categories="write sortedset slow")
def zremrangebyrank(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, RANK)


@command("zremrangebyscore", 4, "write", 1, 1, 1, categories="write sortedset slow")
def zremrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, SCORE)


@command("zremrangebylex", 4, "write", 1, 1, 1, categories="write sortedset slow")
def zremrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, LEX)


# ---------------------------------------------------------------------------
# Pops


def _pop_source(c: Client, keys: list[bytes]) -> tuple[bytes, ZSet] | None:
    """The first existing key (WRONGTYPE if it is not a zset), as genericZpopCommand picks it."""
    for key in keys:
        zs = _write(c, key)
        if zs is not None:
            return key, zs
    return None


def _pop(c: Client, key: bytes, zs: ZSet, last: bool, count: int) -> list[tuple[float, bytes]]:
    """Pop up to `count` members; the key is deleted when emptied."""
    popped = [zs.pop(last) for _ in range(min(count, len(zs)))]
    _changed(c, key, zs, len(popped))
    return popped


def _zpop(c: Client, argv: list[bytes], last: bool) -> Any:
    if len(argv) > 3:
        raise errors.syntax()
    count = -1
    if len(argv) == 3:
        count = get_positive(argv[2])
    found = _pop_source(c, [argv[1]])
    if found is None or count == 0:
        return EMPTY_ARRAY
    key, zs = found
    popped = _pop(c, key, zs, last, 1 if count == -1 else count)
    c.server.propagate(c.db.id, argv)
    # RESP3 nests [member, score] pairs only when a count was given.
    return _members_reply(c, popped, True) if count != -1 else _flat_pairs(popped)


def _flat_pairs(items: list[tuple[float, bytes]]) -> list[Any]:
    reply: list[Any] = []
    for score, member in items:
        reply.append(member)
        reply.append(Double(score))
    return reply


@command("zpopmin", -2, "write fast", 1, 1, 1, categories="write sortedset fast")
def zpopmin(c: Client, argv: list[bytes]) -> Any:
    return _zpop(c, argv, False)


@command("zpopmax", -2, "write fast", 1, 1, 1, categories="write sortedset fast")
def zpopmax(c: Client, argv: list[bytes]) -> Any:
    return _zpop(c, argv, True)


def _bzpop(c: Client, argv: list[bytes], last: bool) -> Any:
    timeout = parse_timeout(argv[-1])
    keys = argv[1:-1]
    for key in keys:
        zs = _write(c, key)
        if zs:
            return _bzpop_serve(c, key, zs, last)

    def serve(c: Client, key: bytes, value: Any) -> Any:
        if type(value) is not ZSet:
            return KEEP_WAITING
        return _bzpop_serve(c, key, value, last)

    return Block(list(dict.fromkeys(keys)), timeout, NULL_ARRAY, serve)


def _bzpop_serve(c: Client, key: bytes, zs: ZSet, last: bool) -> list[Any]:
    score, member = _pop(c, key, zs, last, 1)[0]
    c.server.propagate(c.db.id, [b"ZPOPMAX" if last else b"ZPOPMIN", key])
    return [key, member, Double(score)]


@command(
    "bzpopmin", -3, "write noscript blocking fast", 1, -2, 1, categories="write sortedset fast"
)
def bzpopmin(c: Client, argv: list[bytes]) -> Any:
    return _bzpop(c, argv, False)


@command(
    "bzpopmax", -3, "write noscript blocking fast", 1, -2, 1, categories="write sortedset fast"
)
def bzpopmax(c: Client, argv: list[bytes]) -> Any:
    return _bzpop(c, argv, True)


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """`numkeys key [key ...] MIN|MAX [COUNT count]` -> (keys, pop max?, count)."""
    numkeys = get_range(argv[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise errors.syntax()
    where = argv[where_idx].lower()
    if where == b"min":
        last = False
    elif where == b"max":
        last = True
    else:
        raise errors.syntax()
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and j + 1 < n:
            j += 1
            count = get_range(argv[j], 1, LLONG_MAX, "ERR count should be greater than 0")
        else:
            raise errors.syntax()
        j += 1
    return argv[numkeys_idx + 1 : where_idx], last, 1 if count == -1 else count


def _mpop_reply(c: Client, key: bytes, zs: ZSet, last: bool, count: int) -> list[Any]:
    popped = _pop(c, key, zs, last, count)
    c.server.propagate(c.db.id, [b"ZPOPMAX" if last else b"ZPOPMIN", key, b"%d" % len(popped)])
    return [key, _members_reply(c, popped, True) if c.resp3 else _nested_pairs(popped)]


def _nested_pairs(items: list[tuple[float, bytes]]) -> list[Any]:
    return [[member, Double(score)] for score, member in items]


@command("zmpop", -4, "write movablekeys", categories="write sortedset slow")
def zmpop(c: Client, argv: list[bytes]) -> Any:
    keys, last, count = _parse_mpop(argv, 1)
    found = _pop_source(c, keys)
    if found is None:
        return NULL_ARRAY
    return _mpop_reply(c, found[0], found[1], last, count)


@command("bzmpop", -5, "write blocking movablekeys", categories="write sortedset slow blocking")
def bzmpop(c: Client, argv: list[bytes]) -> Any:
    keys, last, count = _parse_mpop(argv, 2)
    timeout = parse_timeout(argv[1])
    for key in keys:
        zs = _write(c, key)
        if zs:
            return _mpop_reply(c, key, zs, last, count)

    def serve(c: Client, key: bytes, value: Any) -> Any:
        if type(value) is not ZSet:
            return KEEP_WAITING
        return _mpop_reply(c, key, value, last, count)

    return Block(list(dict.fromkeys(keys)), timeout, NULL_ARRAY, serve)


# ---------------------------------------------------------------------------
# ZUNION / ZINTER / ZDIFF (and STORE) / ZINTERCARD


class _SetScores:
    """A plain set read as a sorted set whose members all score 1 (Redis allows sets here)."""

    __slots__ = ("members",)

    def __init__(self, members: set[bytes]) -> None:
        self.members = members

    def __len__(self) -> int:
        return len(self.members)

    def get(self, member: bytes) -> float | None:
        return 1.0 if member in self.members else None

    def items(self) -> Iterable[tuple[bytes, float]]:
        return ((m, 1.0) for m in self.members)


_EMPTY_SOURCE: Final[dict[bytes, float]] = {}


def _aggregate(target: float, value: float, aggregate: int) -> float:
    if aggregate == SUM:
        target += value
        # inf + -inf: Redis keeps the convention that the result is 0.
        return 0.0 if target != target else target
    if aggregate == MIN:
        return value if value < target else target
    return value if value > target else target


def _zsetop(
    c: Client,
    argv: list[bytes],
    name: str,
    numkeys_idx: int,
    op: int,
    dst: bytes | None,
    cardinality_only: bool = False,
) -> Any:
    setnum = get_ll(argv[numkeys_idx])
    if setnum < 1:
        raise errors.CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    n = len(argv)
    if setnum > n - (numkeys_idx + 1):
        raise errors.syntax()
    db = c.db
    sources: list[Any] = []
    for key in argv[numkeys_idx + 1 : numkeys_idx + 1 + setnum]:
        value = db.lookup_read(key)
        if value is None:
            sources.append(_EMPTY_SOURCE)
        elif type(value) is ZSet:
            sources.append(value.scores)
        elif type(value) is set:
            sources.append(_SetScores(value))
        else:
            raise errors.wrongtype()
    weights = [1.0] * setnum
    aggregate = SUM
    withscores = False
    limit = 0
    j = numkeys_idx + 1 + setnum
    remaining = n - j
    while remaining:
        opt = argv[j].lower()
        if op != DIFF and not cardinality_only and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            remaining -= 1
            for i in range(setnum):
                weight = parse_score(argv[j])
                if weight is None:
                    raise errors.CommandError("ERR weight value is not a float")
                weights[i] = weight
                j += 1
                remaining -= 1
        elif op != DIFF and not cardinality_only and remaining >= 2 and opt == b"aggregate":
            agg = _AGGREGATES.get(argv[j + 1].lower())
            if agg is None:
                raise errors.syntax()
            aggregate = agg
            j += 2
            remaining -= 2
        elif remaining >= 1 and dst is None and not cardinality_only and opt == b"withscores":
            withscores = True
            j += 1
            remaining -= 1
        elif cardinality_only and remaining >= 2 and opt == b"limit":
            limit = get_positive(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
            remaining -= 2
        else:
            raise errors.syntax()

    result: dict[bytes, float] = {}
    if op == DIFF:
        first = sources[0]
        others = sources[1:]
        for member, score in first.items():
            for other in others:
                if other.get(member) is not None:
                    break
            else:
                result[member] = score
    else:
        # Smallest input first, like Redis: this fixes the order of floating-point sums.
        order = sorted(range(setnum), key=lambda i: len(sources[i]))
        srcs = [sources[i] for i in order]
        wts = [weights[i] for i in order]
        if op == INTER:
            cardinality = 0
            if len(srcs[0]) > 0:
                base = srcs[0]
                w0 = wts[0]
                rest = list(zip(srcs[1:], wts[1:], strict=True))
                for member, s0 in base.items():
                    score = w0 * s0
                    if score != score:
                        score = 0.0
                    for src, weight in rest:
                        other = src.get(member)
                        if other is None:
                            break
                        score = _aggregate(score, other * weight, aggregate)
                    else:
                        if cardinality_only:
                            cardinality += 1
                            if limit and cardinality >= limit:
                                break
                        else:
                            result[member] = score
            if cardinality_only:
                return cardinality
        else:
            for src, weight in zip(srcs, wts, strict=True):
                for member, s in src.items():
                    score = weight * s
                    if score != score:
                        score = 0.0
                    existing = result.get(member)
                    if existing is None:
                        result[member] = score
                    else:
                        result[member] = _aggregate(existing, score, aggregate)
    if dst is not None:
        return _store(c, argv, dst, result)
    return _members_reply(c, sorted((s, m) for m, s in result.items()), withscores)


@command("zunionstore", -4, "write denyoom movablekeys", 1, 1, 1, categories="write sortedset slow")
def zunionstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zunionstore", 2, UNION, argv[1])


@command("zinterstore", -4, "write denyoom movablekeys", 1, 1, 1, categories="write sortedset slow")
def zinterstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zinterstore", 2, INTER, argv[1])


@command("zdiffstore", -4, "write denyoom movablekeys", 1, 1, 1, categories="write sortedset slow")
def zdiffstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zdiffstore", 2, DIFF, argv[1])


@command("zunion", -3, "readonly movablekeys", categories="read sortedset slow")
def zunion(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zunion", 1, UNION, None)


@command("zinter", -3, "readonly movablekeys", categories="read sortedset slow")
def zinter(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zinter", 1, INTER, None)


@command("zdiff", -3, "readonly movablekeys", categories="read sortedset slow")
def zdiff(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zdiff", 1, DIFF, None)


@command("zintercard", -3, "readonly movablekeys", categories="read sortedset slow")
def zintercard(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, "zintercard", 1, INTER, None, cardinality_only=True)


# ---------------------------------------------------------------------------
# ZRANDMEMBER and ZSCAN

_WITHSCORES_LIMIT: Final = LLONG_MAX // 2


@command("zrandmember", -2, "readonly", 1, 1, 1, categories="read sortedset slow")
def zrandmember(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n < 3:
        zs = _read(c, argv[1])
        if zs is None:
            return None
        return zs.index[random.randrange(len(zs))][1]
    count = parse_rand_count(argv[2])
    withscores = False
    if n > 4 or (n == 4 and argv[3].lower() != b"withscores"):
        raise errors.syntax()
    if n == 4:
        withscores = True
        if count < -_WITHSCORES_LIMIT or count > _WITHSCORES_LIMIT:
            raise errors.CommandError(OUT_OF_RANGE)
    zs = _read(c, argv[1])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    index = zs.index
    size = len(index)
    if count < 0 or count == 1:
        # With repetitions (negative count), or a single member: plain random draws.
        # A huge negative count is refused (Redis 7.0 crashes on it).
        picks = (index[random.randrange(size)] for _ in range(repeat_count(count)))
        return _members_reply(c, picks, withscores)
    if count >= size:
        # The whole set, which Redis 7.0 emits from the highest rank down.
        return _members_reply(c, reversed(index), withscores)
    ranks = random.sample(range(size), count)
    return _members_reply(c, (index[r] for r in ranks), withscores)


@command("zscan", -3, "readonly", 1, 1, 1, categories="read sortedset slow")
def zscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    zs = _read(c, argv[1])
    if zs is None:
        return EMPTY_SCAN
    count, pattern, _ = parse_scan_options(argv, 3)
    reply: list[bytes] = []
    if zs.listpack:
        # A listpack is returned whole in one call, whatever the cursor, as Redis does.
        next_cursor = 0
        for score, member in zs.index:
            if pattern is None or glob_match(pattern, member):
                reply.append(member)
                reply.append(listpack_score_text(score))
    else:
        scores = zs.scores
        next_cursor, members = c.server.scan_cursors.scan(scores, cursor, count)
        for member in members:
            if pattern is None or glob_match(pattern, member):
                reply.append(member)
                reply.append(format_double(scores[member]))
    return scan_reply(next_cursor, reply)
