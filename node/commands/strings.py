"""String commands: GET/SET and friends, counters, ranges.

Values are bytes. Every write propagates the form Redis 7.0 writes to its AOF: relative
expiry becomes `SET k v PXAT <ms>` / `PEXPIREAT`, INCRBYFLOAT becomes `SET k v KEEPTTL`,
GETSET becomes SET, GETDEL becomes DEL, and SET..GET drops its GET flags.

INCRBYFLOAT computes in Redis's `long double` (x87 80-bit on x86-64), emulated exactly by
node/longdouble.py, so that results such as `10.5 + 0.1 -> 10.6` match real Redis digit for
digit.
"""

from __future__ import annotations

from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.args import (
    LLONG_MAX,
    LLONG_MIN,
    SMALL_INT,
    get_ll,
    get_long_double,
    parse_ll,
)
from node.commands.table import command
from node.keyspace import Database
from node.longdouble import LD_ZERO, ld_add, ld_format_human
from node.resp import OK

# SET / GETEX option flags, named as in Redis's t_string.c.
OBJ_SET_NX: Final = 1 << 0
OBJ_SET_XX: Final = 1 << 1
OBJ_EX: Final = 1 << 2
OBJ_PX: Final = 1 << 3
OBJ_KEEPTTL: Final = 1 << 4
OBJ_SET_GET: Final = 1 << 5
OBJ_EXAT: Final = 1 << 6
OBJ_PXAT: Final = 1 << 7
OBJ_PERSIST: Final = 1 << 8
_ANY_EXPIRE: Final = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT
_EXPIRE_OPTIONS: Final = {b"ex": OBJ_EX, b"px": OBJ_PX, b"exat": OBJ_EXAT, b"pxat": OBJ_PXAT}

STRING_TOO_LONG: Final = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def _string_value(value: Any) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    raise errors.wrongtype()


def _obeys_client(c: Client) -> bool:
    """Redis's mustObeyClient: the master's stream is applied whatever the limits."""
    return c.kind == "master"


def _expire_stale(db: Database, key: bytes) -> None:
    """Delete `key` first if it is logically expired, as lookupKeyWrite does before a set
    (the deletion is propagated as DEL ahead of the write, like Redis)."""
    if key in db.expires:
        db.lookup_write(key)


# ---------------------------------------------------------------------------
# GET / SET family


def _parse_extended(argv: list[bytes], start: int, is_set: bool) -> tuple[int, bytes | None]:
    """parseExtendedStringArgumentsOrReply: (flags, raw expire argument).

    Mirrors Redis's checks exactly, including what it lets through: a repeated EX is
    accepted (last one wins) and NX GET is legal since 7.0.
    """
    flags = 0
    expire: bytes | None = None
    n = len(argv)
    j = start
    while j < n:
        opt = argv[j].lower()
        has_next = j + 1 < n
        if opt == b"nx" and is_set and not flags & OBJ_SET_XX:
            flags |= OBJ_SET_NX
        elif opt == b"xx" and is_set and not flags & OBJ_SET_NX:
            flags |= OBJ_SET_XX
        elif opt == b"get" and is_set:
            flags |= OBJ_SET_GET
        elif opt == b"keepttl" and is_set and not flags & (OBJ_PERSIST | _ANY_EXPIRE):
            flags |= OBJ_KEEPTTL
        elif opt == b"persist" and not is_set and not flags & (OBJ_KEEPTTL | _ANY_EXPIRE):
            flags |= OBJ_PERSIST
        elif (
            (unit := _EXPIRE_OPTIONS.get(opt, 0))
            and has_next
            and not flags & (OBJ_KEEPTTL | OBJ_PERSIST | (_ANY_EXPIRE & ~unit))
        ):
            # EX, PX, EXAT, PXAT: one of them at most, never with KEEPTTL or PERSIST.
            flags |= unit
            j += 1
            expire = argv[j]
        else:
            raise errors.syntax()
        j += 1
    return flags, expire


def _expire_ms(c: Client, raw: bytes, flags: int, name: str) -> int:
    """getExpireMillisecondsOrReply: the absolute expiry in ms for EX/PX/EXAT/PXAT."""
    ms = get_ll(raw)
    seconds = flags & (OBJ_EX | OBJ_EXAT)
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        raise errors.CommandError(errors.INVALID_EXPIRE.format(name))
    if seconds:
        ms *= 1000
    if flags & (OBJ_EX | OBJ_PX):
        ms += c.server.mstime
        if ms > LLONG_MAX:  # Redis's signed addition wraps negative and is refused
            raise errors.CommandError(errors.INVALID_EXPIRE.format(name))
    return ms


def _set_generic(
    c: Client,
    argv: list[bytes],
    flags: int,
    key: bytes,
    value: bytes,
    expire: bytes | None,
    name: str,
    ok_reply: Any = OK,
    abort_reply: Any = None,
) -> Any:
    """setGenericCommand; propagates the rewritten vector itself."""
    when = _expire_ms(c, expire, flags, name) if expire is not None else 0
    db = c.db
    old = None
    if flags & OBJ_SET_GET:
        old = _string_value(db.lookup_read(key))
    found = db.lookup_write(key) is not None
    if (flags & OBJ_SET_NX and found) or (flags & OBJ_SET_XX and not found):
        return old if flags & OBJ_SET_GET else abort_reply
    db.set_key(key, value, keepttl=bool(flags & OBJ_KEEPTTL))
    server = c.server
    server.dirty += 1
    if expire is not None:
        db.set_expire(key, when)
        server.propagate(db.id, [b"SET", key, value, b"PXAT", b"%d" % when])
    elif flags & OBJ_SET_GET:
        # Redis drops every GET among the options (it may be repeated).
        server.propagate(db.id, argv[:3] + [a for a in argv[3:] if a.lower() != b"get"])
    else:
        server.propagate(db.id, argv)
    return old if flags & OBJ_SET_GET else ok_reply


@command("get", 2, "readonly fast", 1, 1, 1, categories="read string fast")
def get(c: Client, argv: list[bytes]) -> Any:
    value = c.db.lookup_read(argv[1])
    if value is None or type(value) is bytes:
        return value
    raise errors.wrongtype()


@command("set", -3, "write denyoom", 1, 1, 1, categories="write string slow")
def set_(c: Client, argv: list[bytes]) -> Any:
    """SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]."""
    if len(argv) == 3:  # the hot path: no options
        db = c.db
        key = argv[1]
        if key in db.expires:  # a stale key is deleted (and DEL propagated) first
            db.lookup_write(key)
        db.set_key(key, argv[2])
        c.server.dirty += 1
        c.server.propagate(db.id, argv)
        return OK
    flags, expire = _parse_extended(argv, 3, True)
    return _set_generic(c, argv, flags, argv[1], argv[2], expire, "set")


@command("setnx", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def setnx(c: Client, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, OBJ_SET_NX, argv[1], argv[2], None, "setnx", 1, 0)


@command("setex", 4, "write denyoom", 1, 1, 1, categories="write string slow")
def setex(c: Client, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, OBJ_EX, argv[1], argv[3], argv[2], "setex")


@command("psetex", 4, "write denyoom", 1, 1, 1, categories="write string slow")
def psetex(c: Client, argv: list[bytes]) -> Any:
    return _set_generic(c, argv, OBJ_PX, argv[1], argv[3], argv[2], "psetex")


@command("getset", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def getset(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = _string_value(db.lookup_read(key))
    db.set_key(key, argv[2])
    c.server.dirty += 1
    c.server.propagate(db.id, [b"SET", key, argv[2]])
    return old


@command("getdel", 2, "write fast", 1, 1, 1, categories="write string fast")
def getdel(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = _string_value(db.lookup_read(key))
    if old is not None:
        db.delete(key)
        server = c.server
        server.dirty += 1
        server.propagate(
            db.id, [b"UNLINK" if server.config.lazyfree_lazy_user_del else b"DEL", key]
        )
    return old


@command("getex", -2, "write fast", 1, 1, 1, categories="write string fast")
def getex(c: Client, argv: list[bytes]) -> Any:
    """GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]: propagated as PEXPIREAT, DEL or PERSIST."""
    flags, expire = _parse_extended(argv, 2, False)
    db = c.db
    key = argv[1]
    value = _string_value(db.lookup_read(key))
    if value is None:
        return None
    server = c.server
    if expire is not None:
        when = _expire_ms(c, expire, flags, "getex")
        if flags & (OBJ_EXAT | OBJ_PXAT) and _already_expired(c, when):
            lazy = server.config.lazyfree_lazy_expire
            db.delete(key)
            server.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])
        else:
            db.set_expire(key, when)
            db.signal_modified(key)
            server.propagate(db.id, [b"PEXPIREAT", key, b"%d" % when])
        server.dirty += 1
    elif flags & OBJ_PERSIST and db.persist(key):
        db.signal_modified(key)
        server.dirty += 1
        server.propagate(db.id, [b"PERSIST", key])
    return value


def _already_expired(c: Client, when: int) -> bool:
    """checkAlreadyExpired: a past time deletes the key, except while loading or on a replica
    (which waits for its master's DEL)."""
    server = c.server
    return when <= server.mstime and not server.loading and server.masterhost is None


@command("mget", -2, "readonly fast", 1, -1, 1, categories="read string fast")
def mget(c: Client, argv: list[bytes]) -> Any:
    lookup = c.db.lookup_read
    out = []
    for key in argv[1:]:
        value = lookup(key)
        out.append(value if type(value) is bytes else None)
    return out


@command("mset", -3, "write denyoom", 1, -1, 2, categories="write string slow")
def mset(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("mset")
    _mset(c, argv)
    return OK


@command("msetnx", -3, "write denyoom", 1, -1, 2, categories="write string slow")
def msetnx(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("msetnx")
    lookup = c.db.lookup_write
    for j in range(1, len(argv), 2):
        if lookup(argv[j]) is not None:
            return 0
    _mset(c, argv)
    return 1


def _mset(c: Client, argv: list[bytes]) -> None:
    db = c.db
    for j in range(1, len(argv), 2):
        _expire_stale(db, argv[j])
        db.set_key(argv[j], argv[j + 1])
    c.server.dirty += (len(argv) - 1) // 2
    c.server.propagate(db.id, argv)


# ---------------------------------------------------------------------------
# Counters


def _incr_by(c: Client, argv: list[bytes], incr: int) -> int:
    db = c.db
    key = argv[1]
    old = db.lookup_write(key)
    if old is None:
        current = 0
    elif old is db.counter_text:
        current = db.counter_value
    elif type(old) is bytes:
        parsed = parse_ll(old)
        if parsed is None:
            raise errors.CommandError(errors.NOT_INTEGER)
        current = parsed
    else:
        raise errors.wrongtype()
    value = current + incr
    # Compared with small bounds first: 64-bit limits are boxed integers in compiled code.
    if not -SMALL_INT < value < SMALL_INT and not LLONG_MIN <= value <= LLONG_MAX:
        raise errors.CommandError(errors.OVERFLOW)
    text = b"%d" % value
    if old is None:
        db.add(key, text)
    else:
        db.overwrite(key, text)
    db.counter_text = text
    db.counter_value = value
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return value


@command("incr", 2, "write denyoom fast", 1, 1, 1, categories="write string fast")
def incr(c: Client, argv: list[bytes]) -> Any:
    return _incr_by(c, argv, 1)


@command("decr", 2, "write denyoom fast", 1, 1, 1, categories="write string fast")
def decr(c: Client, argv: list[bytes]) -> Any:
    return _incr_by(c, argv, -1)


@command("incrby", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def incrby(c: Client, argv: list[bytes]) -> Any:
    return _incr_by(c, argv, get_ll(argv[2]))


@command("decrby", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def decrby(c: Client, argv: list[bytes]) -> Any:
    incr = get_ll(argv[2])
    if incr == LLONG_MIN:  # its negation does not fit
        raise errors.CommandError("ERR decrement would overflow")
    return _incr_by(c, argv, -incr)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def incrbyfloat(c: Client, argv: list[bytes]) -> Any:
    """Computed in long double and propagated as `SET key <result> KEEPTTL`, so replicas and
    AOF replays never redo the float arithmetic."""
    db = c.db
    key = argv[1]
    old = _string_value(db.lookup_write(key))
    value = LD_ZERO if old is None else get_long_double(old)
    total = ld_add(value, get_long_double(argv[2]))
    if total is None:
        raise errors.CommandError("ERR increment would produce NaN or Infinity")
    text = ld_format_human(total)
    db.set_key(key, text, keepttl=True)
    c.server.dirty += 1
    c.server.propagate(db.id, [b"SET", key, text, b"KEEPTTL"])
    return text


# ---------------------------------------------------------------------------
# Byte strings


def _check_length(c: Client, size: int) -> None:
    """checkStringLength: a string may not grow past proto-max-bulk-len (512mb default)."""
    if size > c.server.config.proto_max_bulk_len and not _obeys_client(c):
        raise errors.CommandError(STRING_TOO_LONG)


@command("append", 3, "write denyoom fast", 1, 1, 1, categories="write string fast")
def append(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = _string_value(db.lookup_write(key))
    if old is None:
        value = argv[2]
        db.add(key, value)
    else:
        _check_length(c, len(old) + len(argv[2]))
        value = old + argv[2]
        db.set_key(key, value, keepttl=True)
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return len(value)


@command("strlen", 2, "readonly fast", 1, 1, 1, categories="read string fast")
def strlen(c: Client, argv: list[bytes]) -> Any:
    value = _string_value(c.db.lookup_read(argv[1]))
    return 0 if value is None else len(value)


@command("getrange", 4, "readonly", 1, 1, 1, categories="read string slow")
def getrange(c: Client, argv: list[bytes]) -> Any:
    start = get_ll(argv[2])
    end = get_ll(argv[3])
    value = _string_value(c.db.lookup_read(argv[1]))
    if value is None:
        return b""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        return b""
    return value[start : end + 1]


@command("substr", 4, "readonly", 1, 1, 1, categories="read string slow")
def substr(c: Client, argv: list[bytes]) -> Any:
    return getrange(c, argv)


@command("setrange", 4, "write denyoom", 1, 1, 1, categories="write string slow")
def setrange(c: Client, argv: list[bytes]) -> Any:
    offset = get_ll(argv[2])
    if offset < 0:
        raise errors.CommandError("ERR offset is out of range")
    patch = argv[3]
    db = c.db
    key = argv[1]
    old = _string_value(db.lookup_write(key))
    if not patch:
        return 0 if old is None else len(old)
    end = offset + len(patch)
    _check_length(c, end)
    if old is None:
        value = bytes(offset) + patch
        db.add(key, value)
    else:
        if len(old) < offset:
            old += bytes(offset - len(old))
        value = old[:offset] + patch + old[end:]
        db.set_key(key, value, keepttl=True)
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return len(value)
