"""DUMP and RESTORE (Redis 7.0.15's dumpCommand / restoreCommand in cluster.c).

DUMP serializes a value the way Redis does (type byte, RDB object, RDB version 10, CRC-64;
persistence/rdb does the bytes, honouring `rdbcompression` like Redis) so a payload moves
between keelkv and Redis in either direction.

RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
checks in Redis's order, which decides which error a bad command gets: the options (syntax,
IDLETIME / FREQ values, IDLETIME and FREQ are exclusive: the second is a syntax error), then
BUSYKEY, then the TTL, then the payload's version and CRC, then its contents.

Propagation. Redis 7.0 already writes RESTORE in a deterministic form, and keelkv sends
exactly what Redis writes to its AOF (checked against one in the interop tests):

- a relative TTL becomes absolute: `RESTORE key <unix-ms> payload [opts...] ABSTTL`,
  ABSTTL appended last; ttl 0 or an explicit ABSTTL propagate the command unchanged;
- a TTL already past (with ABSTTL, or a relative one that wraps past LLONG_MAX as Redis's
  C addition does) creates nothing and answers OK; when REPLACE removed an old value the
  command propagates as `DEL key`, otherwise nothing is propagated;
- IDLETIME / FREQ propagate as given (they are access hints, not data).

A time is only "already past" on a master that is not loading, as for EXPIRE: a replica
keeps the key until its master's DEL.

IDLETIME and FREQ follow objectSetLRUOrLFU: FREQ only under an LFU maxmemory-policy,
IDLETIME only under the others, including Redis's wrap-around arithmetic on its 24-bit LRU
clock, so OBJECT IDLETIME reports what Redis would for any value.

Payload checking is stricter than Redis's with sanitize-dump-payload no: keelkv decodes the
whole value into Python objects, so an inner structure Redis would only shallow-check
(and accept) is refused here with "Bad data format". Like Redis, a value that runs past its
end into the version and CRC bytes is read from them.

RESTORE-ASKING (what a cluster slot migration sends) is RESTORE outside a cluster.
"""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.args import get_ll
from node.commands.table import command
from node.evict import is_lfu_policy, lfu_time_in_minutes
from node.info import LRU_CLOCK_MAX
from node.resp import OK
from persistence.rdb import EncodingLimits, RdbError, dump_payload, load_dump_payload

BUSYKEY = "BUSYKEY Target key name already exists."
INVALID_TTL = "ERR Invalid TTL value, must be >= 0"
INVALID_IDLETIME = "ERR Invalid IDLETIME value, must be >= 0"
INVALID_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"
BAD_CHECKSUM = "DUMP payload version or checksum are wrong"
BAD_FORMAT = "Bad data format"

_LRU_FIELD_MASK = (1 << 24) - 1  # robj.lru is a 24-bit bitfield


def wrap64(value: int) -> int:
    """A signed 64-bit C result: Redis's overflowing additions and products wrap."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def restored_idle_seconds(lru_idle: int, now_ms: int) -> int:
    """The OBJECT IDLETIME Redis reports right after `RESTORE ... IDLETIME lru_idle`.

    objectSetLRUOrLFU: scale by 1000/1000 in 64-bit arithmetic (a huge value wraps),
    subtract from the 24-bit LRU clock, add LRU_CLOCK_MAX once when that underflows and
    store the result in the 24-bit field; estimateObjectIdleTime then unwraps it.
    """
    product = wrap64(lru_idle * 1000)
    scaled = product // 1000 if product >= 0 else -(-product // 1000)  # C truncation
    clock = (now_ms // 1000) & LRU_CLOCK_MAX
    lru_abs = clock - scaled
    if lru_abs < 0:
        lru_abs += LRU_CLOCK_MAX
    lru = lru_abs & _LRU_FIELD_MASK
    return clock - lru if clock >= lru else clock + LRU_CLOCK_MAX - lru


@command("dump", 2, "readonly", 1, 1, 1, categories="keyspace read slow")
def dump(c: Client, argv: list[bytes]) -> Any:
    """DUMP key: the payload, or nil; a read access like Redis's lookupKeyRead."""
    value = c.db.lookup_read(argv[1])
    if value is None:
        return None
    config = c.server.config
    return dump_payload(value, EncodingLimits.from_config(config), config.rdbcompression)


def _parse_options(argv: list[bytes]) -> tuple[bool, bool, int, int]:
    """(replace, absttl, lru_idle, lfu_freq), -1 meaning not given."""
    replace = absttl = False
    lru_idle = lfu_freq = -1
    n = len(argv)
    j = 4
    while j < n:
        opt = argv[j].lower()
        more = j + 1 < n
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more and lfu_freq == -1:
            lru_idle = get_ll(argv[j + 1])
            if lru_idle < 0:
                raise errors.CommandError(INVALID_IDLETIME)
            j += 1
        elif opt == b"freq" and more and lru_idle == -1:
            lfu_freq = get_ll(argv[j + 1])
            if not 0 <= lfu_freq <= 255:
                raise errors.CommandError(INVALID_FREQ)
            j += 1
        else:
            raise errors.syntax()
        j += 1
    return replace, absttl, lru_idle, lfu_freq


def _restore(c: Client, argv: list[bytes]) -> Any:
    replace, absttl, lru_idle, lfu_freq = _parse_options(argv)
    db = c.db
    server = c.server
    key = argv[1]
    if not replace and db.lookup_write(key) is not None:
        raise errors.CommandError(BUSYKEY)
    ttl = get_ll(argv[2])
    if ttl < 0:
        raise errors.CommandError(INVALID_TTL)
    try:
        value = load_dump_payload(argv[3], EncodingLimits.from_config(server.config))
    except RdbError as exc:
        reason = BAD_CHECKSUM if exc.reason == BAD_CHECKSUM else BAD_FORMAT
        raise errors.CommandError("ERR " + reason) from None

    # With REPLACE the old value goes whether or not it was logically expired (dbDelete).
    # Without it, only a key a replica hides as expired can still be here: dropped quietly.
    deleted = db.delete(key) and replace
    now = server.mstime
    if ttl and not absttl:
        ttl = wrap64(ttl + now)
    if ttl and ttl <= now and not server.loading and server.masterhost is None:
        if deleted:
            server.dirty += 1
            server.propagate(db.id, [b"DEL", key])
        return OK

    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            argv = [*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"]
    if is_lfu_policy(server.config.maxmemory_policy):
        if lfu_freq >= 0:
            db.access[key] = (lfu_time_in_minutes(now) << 8) | lfu_freq
    elif lru_idle >= 0:
        db.access[key] = now - restored_idle_seconds(lru_idle, now) * 1000
    server.dirty += 1
    server.propagate(db.id, argv)
    return OK


@command("restore", -4, "write denyoom", 1, 1, 1, categories="keyspace write slow dangerous")
def restore(c: Client, argv: list[bytes]) -> Any:
    """RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]."""
    return _restore(c, argv)


@command(
    "restore-asking",
    -4,
    "write denyoom asking",
    1,
    1,
    1,
    categories="keyspace write slow dangerous",
)
def restore_asking(c: Client, argv: list[bytes]) -> Any:
    """RESTORE as a cluster slot migration sends it; outside a cluster it is RESTORE."""
    return _restore(c, argv)
