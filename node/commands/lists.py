"""List commands, after Redis 7.0's t_list.c.

A list is a `collections.deque` (head = left). An emptied list is deleted. A list key that
comes into being goes through `Database.add`, which signals clients blocked on it; pushes to
an existing list need no signal, since nobody waits on a list that has elements.

The blocking commands return `Block(..., serve=...)` when they find nothing. The serve
function is what Redis 7.0's serveClientBlockedOnList does when a key becomes ready: it pops
from *that* key (not from the first non-empty key of the command, as re-running it would),
replies and propagates the non-blocking form (BLPOP -> LPOP key, BLMPOP -> LPOP key n,
BLMOVE -> LMOVE ... left|right, BRPOPLPUSH -> RPOPLPUSH).
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any

from node import errors
from node.blocking import KEEP_WAITING, Block
from node.client import Client
from node.commands.args import LLONG_MAX, LLONG_MIN, get_ll, get_positive, get_range, parse_timeout
from node.commands.table import command
from node.resp import EMPTY_ARRAY, NULL_ARRAY, OK

# -- argument parsing ------------------------------------------------------------------


def list_position(raw: bytes) -> bool:
    """LEFT -> True (head), RIGHT -> False (tail), case-insensitively."""
    lowered = raw.lower()
    if lowered == b"left":
        return True
    if lowered == b"right":
        return False
    raise errors.syntax()


def _may_block(c: Client) -> bool:
    """False where Redis sets CLIENT_DENY_BLOCKING: inside EXEC, scripts, the master link."""
    return not (c.in_exec or c.kind == "master" or c.server.call_depth > 1)


# -- shared building blocks -------------------------------------------------------------


def _lookup_list(c: Client, key: bytes, write: bool) -> deque[bytes] | None:
    value = c.db.lookup_write(key) if write else c.db.lookup_read(key)
    if value is None or type(value) is deque:
        return value
    raise errors.wrongtype()


def _removed(c: Client, key: bytes, value: deque[bytes], count: int) -> None:
    """After `count` elements left `value`: delete the key if emptied, count the change."""
    db = c.db
    if value:
        db.modified(key, count)
    else:
        db.delete(key)
        c.server.dirty += count


def _extend(value: deque[bytes], argv: list[bytes], head: bool, count: int) -> None:
    """Push argv[2:] in order (LPUSH a b c leaves c first)."""
    if count == 1:
        if head:
            value.appendleft(argv[2])
        else:
            value.append(argv[2])
    elif head:
        value.extendleft(islice(argv, 2, None))
    else:
        value.extend(islice(argv, 2, None))


def _push(c: Client, argv: list[bytes], head: bool, only_existing: bool) -> int:
    db = c.db
    key = argv[1]
    value = db.lookup_write(key)
    count = len(argv) - 2
    if value is None:
        if only_existing:
            return 0
        value = deque()
        _extend(value, argv, head, count)
        db.add(key, value)
        c.server.dirty += count
    elif type(value) is deque:
        _extend(value, argv, head, count)
        db.modified(key, count)
    else:
        raise errors.wrongtype()
    c.server.propagate(db.id, argv)
    return len(value)


def _pop_range(value: deque[bytes], head: bool, count: int) -> list[bytes]:
    """Pop up to `count` elements from one end, in the order they are popped."""
    pop = value.popleft if head else value.pop
    return [pop() for _ in range(min(count, len(value)))]


def _move(
    c: Client, src: bytes, dst: bytes, source: deque[bytes], from_head: bool, to_head: bool
) -> bytes:
    """LMOVE's body once the source is known to hold elements; checks the destination."""
    db = c.db
    target = db.lookup_write(dst)
    if target is not None and type(target) is not deque:
        raise errors.wrongtype()
    element = source.popleft() if from_head else source.pop()
    if target is None:
        target = deque((element,))
        db.add(dst, target)
    else:
        if to_head:
            target.appendleft(element)
        else:
            target.append(element)
        db.signal_modified(dst)
    if source:
        db.signal_modified(src)
    else:
        db.delete(src)
    c.server.dirty += 1
    return element


# -- pushes -----------------------------------------------------------------------------


@command("lpush", -3, "write denyoom fast", 1, 1, 1, categories="write list fast")
def lpush(c: Client, argv: list[bytes]) -> int:
    return _push(c, argv, True, False)


@command("rpush", -3, "write denyoom fast", 1, 1, 1, categories="write list fast")
def rpush(c: Client, argv: list[bytes]) -> int:
    return _push(c, argv, False, False)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1, categories="write list fast")
def lpushx(c: Client, argv: list[bytes]) -> int:
    return _push(c, argv, True, True)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1, categories="write list fast")
def rpushx(c: Client, argv: list[bytes]) -> int:
    return _push(c, argv, False, True)


@command("linsert", 5, "write denyoom", 1, 1, 1, categories="write list slow")
def linsert(c: Client, argv: list[bytes]) -> int:
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise errors.syntax()
    key = argv[1]
    value = _lookup_list(c, key, write=True)
    if value is None:
        return 0
    try:
        index = value.index(argv[3])
    except ValueError:
        return -1
    value.insert(index + 1 if after else index, argv[4])
    c.db.modified(key)
    c.server.propagate(c.db.id, argv)
    return len(value)


# -- pops -------------------------------------------------------------------------------


def _pop(c: Client, argv: list[bytes], head: bool) -> Any:
    if len(argv) > 3:
        raise errors.wrong_arity(argv[0].decode(errors="replace").lower())
    has_count = len(argv) == 3
    count = get_positive(argv[2], "ERR value is out of range, must be positive") if has_count else 0
    key = argv[1]
    value = _lookup_list(c, key, write=True)
    if value is None:
        return NULL_ARRAY if has_count else None
    if not has_count:
        element = value.popleft() if head else value.pop()
        reply: Any = element
        popped = 1
    elif count == 0:
        return EMPTY_ARRAY
    else:
        reply = _pop_range(value, head, count)
        popped = len(reply)
    _removed(c, key, value, popped)
    # Propagated as given, like Redis: `LPOP k 10` on three elements pops the same three.
    c.server.propagate(c.db.id, argv)
    return reply


@command("lpop", -2, "write fast", 1, 1, 1, categories="write list fast")
def lpop(c: Client, argv: list[bytes]) -> Any:
    return _pop(c, argv, True)


@command("rpop", -2, "write fast", 1, 1, 1, categories="write list fast")
def rpop(c: Client, argv: list[bytes]) -> Any:
    return _pop(c, argv, False)


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """[B]LMPOP's numkeys key... LEFT|RIGHT [COUNT n] -> (keys, head, count)."""
    numkeys = get_range(argv[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise errors.syntax()
    head = list_position(argv[where_idx])
    count = -1
    j = where_idx + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            count = get_range(argv[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise errors.syntax()
    return argv[numkeys_idx + 1 : where_idx], head, 1 if count == -1 else count


def _mpop_from(c: Client, key: bytes, value: deque[bytes], head: bool, count: int) -> list[Any]:
    """Pop a range from a non-empty list; replicated as [LR]POP key <served count>."""
    elements = _pop_range(value, head, count)
    _removed(c, key, value, len(elements))
    c.server.propagate(c.db.id, [b"LPOP" if head else b"RPOP", key, str(len(elements)).encode()])
    return [key, elements]


def _first_nonempty(c: Client, keys: list[bytes]) -> tuple[bytes, deque[bytes]] | None:
    for key in keys:
        value = _lookup_list(c, key, write=True)
        if value:
            return key, value
    return None


@command("lmpop", -4, "write movablekeys", 0, 0, 0, categories="write list slow")
def lmpop(c: Client, argv: list[bytes]) -> Any:
    keys, head, count = _parse_mpop(argv, 1)
    found = _first_nonempty(c, keys)
    if found is None:
        return NULL_ARRAY
    return _mpop_from(c, found[0], found[1], head, count)


# -- reads ------------------------------------------------------------------------------


@command("llen", 2, "readonly fast", 1, 1, 1, categories="read list fast")
def llen(c: Client, argv: list[bytes]) -> int:
    value = _lookup_list(c, argv[1], write=False)
    return 0 if value is None else len(value)


def _range(value: deque[bytes], start: int, end: int) -> list[bytes]:
    """Elements start..end (inclusive, negative from the tail) as LRANGE clamps them."""
    llen = len(value)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return []
    if end >= llen:
        end = llen - 1
    if start > llen - 1 - end:
        # Nearer the tail: walk from there instead of skipping `start` elements.
        out = list(islice(reversed(value), llen - 1 - end, llen - start))
        out.reverse()
        return out
    return list(islice(value, start, end + 1))


@command("lrange", 4, "readonly", 1, 1, 1, categories="read list slow")
def lrange(c: Client, argv: list[bytes]) -> Any:
    start = get_ll(argv[2])
    end = get_ll(argv[3])
    value = _lookup_list(c, argv[1], write=False)
    if value is None:
        return EMPTY_ARRAY
    return _range(value, start, end)


@command("lindex", 3, "readonly", 1, 1, 1, categories="read list slow")
def lindex(c: Client, argv: list[bytes]) -> Any:
    value = _lookup_list(c, argv[1], write=False)
    if value is None:
        return None
    index = get_ll(argv[2])
    if index < 0:
        index += len(value)
    if 0 <= index < len(value):
        return value[index]
    return None


@command("lpos", -3, "readonly", 1, 1, 1, categories="read list slow")
def lpos(c: Client, argv: list[bytes]) -> Any:
    rank, count, maxlen = 1, -1, 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if j + 1 >= n:
            raise errors.syntax()
        if opt == b"rank":
            rank = get_ll(argv[j + 1])
            if rank == 0:
                raise errors.CommandError(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                    "second ... or use negative to start from the end of the list"
                )
        elif opt == b"count":
            count = get_positive(argv[j + 1], "ERR COUNT can't be negative")
        elif opt == b"maxlen":
            maxlen = get_positive(argv[j + 1], "ERR MAXLEN can't be negative")
        else:
            raise errors.syntax()
        j += 2
    from_tail = rank < 0
    if rank == LLONG_MIN:
        # Redis negates LONG_MIN into itself: every match qualifies and, with COUNT, the
        # overflowing `matches - rank + 1` never reaches it, so all matches are returned.
        rank = 1
        if count > 0:
            count = 0
    elif from_tail:
        rank = -rank
    value = _lookup_list(c, argv[1], write=False)
    if value is None:
        return EMPTY_ARRAY if count != -1 else None
    element = argv[2]
    llen = len(value)
    scan = reversed(value) if from_tail else iter(value)
    if maxlen:
        scan = islice(scan, maxlen)
    found: list[int] = []
    matches = 0
    for index, item in enumerate(scan):
        if item == element:
            matches += 1
            if matches >= rank:
                found.append(llen - index - 1 if from_tail else index)
                if count == -1 or (count and matches - rank + 1 >= count):
                    break
    if count != -1:
        return found
    return found[0] if found else None


# -- in-place writes --------------------------------------------------------------------


@command("lset", 4, "write denyoom", 1, 1, 1, categories="write list slow")
def lset(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    value = _lookup_list(c, key, write=True)
    if value is None:
        raise errors.CommandError(errors.NO_SUCH_KEY)
    index = get_ll(argv[2])
    if index < 0:
        index += len(value)
    if not 0 <= index < len(value):
        raise errors.CommandError(errors.OUT_OF_RANGE)
    value[index] = argv[3]
    c.db.modified(key)
    c.server.propagate(c.db.id, argv)
    return OK


@command("lrem", 4, "write", 1, 1, 1, categories="write list slow")
def lrem(c: Client, argv: list[bytes]) -> int:
    to_remove = get_ll(argv[2])
    key = argv[1]
    value = _lookup_list(c, key, write=True)
    if value is None:
        return 0
    element = argv[3]
    limit = abs(to_remove)
    if to_remove == 0 or value.count(element) <= limit:
        kept = [item for item in value if item != element]
    else:
        kept = []
        removed = 0
        scan = reversed(value) if to_remove < 0 else iter(value)
        for item in scan:
            if removed < limit and item == element:
                removed += 1
            else:
                kept.append(item)
        if to_remove < 0:
            kept.reverse()
    removed = len(value) - len(kept)
    if not removed:
        return 0
    value.clear()
    value.extend(kept)
    _removed(c, key, value, removed)
    c.server.propagate(c.db.id, argv)
    return removed


@command("ltrim", 4, "write", 1, 1, 1, categories="write list slow")
def ltrim(c: Client, argv: list[bytes]) -> Any:
    start = get_ll(argv[2])
    end = get_ll(argv[3])
    key = argv[1]
    value = _lookup_list(c, key, write=True)
    if value is None:
        return OK
    llen = len(value)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        left, right = llen, 0
    else:
        if end >= llen:
            end = llen - 1
        left, right = start, llen - end - 1
    if left == llen:
        value.clear()
    else:
        for _ in range(left):
            value.popleft()
        for _ in range(right):
            value.pop()
    # Redis signals the key even when nothing was trimmed, but only a real change is
    # counted (and so propagated).
    _removed(c, key, value, left + right)
    if left + right:
        c.server.propagate(c.db.id, argv)
    return OK


# -- moves ------------------------------------------------------------------------------


def _lmove(c: Client, argv: list[bytes], from_head: bool, to_head: bool) -> Any:
    src = argv[1]
    source = _lookup_list(c, src, write=True)
    if source is None:
        return None
    element = _move(c, src, argv[2], source, from_head, to_head)
    c.server.propagate(c.db.id, argv)
    return element


@command("lmove", 5, "write denyoom", 1, 2, 1, categories="write list slow")
def lmove(c: Client, argv: list[bytes]) -> Any:
    from_head = list_position(argv[3])
    to_head = list_position(argv[4])
    return _lmove(c, argv, from_head, to_head)


@command("rpoplpush", 3, "write denyoom", 1, 2, 1, categories="write list slow")
def rpoplpush(c: Client, argv: list[bytes]) -> Any:
    return _lmove(c, argv, False, True)


# -- blocking ---------------------------------------------------------------------------


def _blocking_pop(c: Client, argv: list[bytes], head: bool) -> Any:
    timeout = parse_timeout(argv[-1])
    keys = argv[1:-1]
    for key in keys:
        value = _lookup_list(c, key, write=True)
        if value:
            element = value.popleft() if head else value.pop()
            _removed(c, key, value, 1)
            c.server.propagate(c.db.id, [b"LPOP" if head else b"RPOP", key])
            return [key, element]
    if not _may_block(c):
        return NULL_ARRAY

    def serve(c: Client, key: bytes, value: Any) -> Any:
        if type(value) is not deque:
            return KEEP_WAITING
        c.server.propagate(c.db.id, [b"LPOP" if head else b"RPOP", key])
        element = value.popleft() if head else value.pop()
        _removed(c, key, value, 1)
        return [key, element]

    return Block(list(dict.fromkeys(keys)), timeout, NULL_ARRAY, serve)


@command("blpop", -3, "write noscript blocking", 1, -2, 1, categories="write list slow blocking")
def blpop(c: Client, argv: list[bytes]) -> Any:
    return _blocking_pop(c, argv, True)


@command("brpop", -3, "write noscript blocking", 1, -2, 1, categories="write list slow blocking")
def brpop(c: Client, argv: list[bytes]) -> Any:
    return _blocking_pop(c, argv, False)


@command("blmpop", -5, "write blocking movablekeys", 0, 0, 0, categories="write list slow blocking")
def blmpop(c: Client, argv: list[bytes]) -> Any:
    keys, head, count = _parse_mpop(argv, 2)
    timeout = parse_timeout(argv[1])
    found = _first_nonempty(c, keys)
    if found is not None:
        return _mpop_from(c, found[0], found[1], head, count)
    if not _may_block(c):
        return NULL_ARRAY

    def serve(c: Client, key: bytes, value: Any) -> Any:
        if type(value) is not deque:
            return KEEP_WAITING
        return _mpop_from(c, key, value, head, count)

    return Block(list(dict.fromkeys(keys)), timeout, NULL_ARRAY, serve)


def _blocking_move(
    c: Client, argv: list[bytes], from_head: bool, to_head: bool, timeout: float, brpoplpush: bool
) -> Any:
    src, dst = argv[1], argv[2]
    source = _lookup_list(c, src, write=True)
    if source is not None:
        element = _move(c, src, dst, source, from_head, to_head)
        if brpoplpush:
            c.server.propagate(c.db.id, [b"RPOPLPUSH", src, dst])
        else:
            c.server.propagate(c.db.id, [b"LMOVE", src, dst, argv[3], argv[4]])
        return element
    if not _may_block(c):
        # Unlike BLPOP, a BLMOVE that may not block answers a null bulk, not a null array.
        return None

    def serve(c: Client, key: bytes, value: Any) -> Any:
        if type(value) is not deque:
            return KEEP_WAITING
        # A destination of the wrong type fails this client (WRONGTYPE ends its wait).
        element = _move(c, key, dst, value, from_head, to_head)
        if brpoplpush:
            c.server.propagate(c.db.id, [b"RPOPLPUSH", key, dst])
        else:
            c.server.propagate(
                c.db.id,
                [
                    b"LMOVE",
                    key,
                    dst,
                    b"left" if from_head else b"right",
                    b"left" if to_head else b"right",
                ],
            )
        return element

    return Block([src], timeout, NULL_ARRAY, serve)


@command(
    "blmove",
    6,
    "write denyoom noscript blocking",
    1,
    2,
    1,
    categories="write list slow blocking",
)
def blmove(c: Client, argv: list[bytes]) -> Any:
    from_head = list_position(argv[3])
    to_head = list_position(argv[4])
    timeout = parse_timeout(argv[5])
    return _blocking_move(c, argv, from_head, to_head, timeout, False)


@command(
    "brpoplpush",
    4,
    "write denyoom noscript blocking",
    1,
    2,
    1,
    categories="write list slow blocking",
)
def brpoplpush(c: Client, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[3])
    return _blocking_move(c, argv, False, True, timeout, True)
