"""The keyspace: numbered databases of key -> value, with expiry, WATCH signals and readiness.

Values are plain Python objects, one type per Redis type:

    bytes -> string, deque -> list, dict -> hash, set -> set, ZSet -> zset

Expiry times are absolute Unix milliseconds in `Database.expires`. Keys are deleted lazily
when touched past their time, and by the active cycle (`active_expire_cycle`), which walks
the volatile keys incrementally like Redis 7.0's cursor-based cycle.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from node.evict import lfu_new, lfu_touch
from node.zset import ZSet

if TYPE_CHECKING:
    from node.server import Server

TYPE_NAMES: Final[dict[type, bytes]] = {
    bytes: b"string",
    deque: b"list",
    dict: b"hash",
    set: b"set",
    ZSet: b"zset",
}

# Redis 7.0 active expire cycle constants (expire.c, effort 1).
ACTIVE_EXPIRE_KEYS_PER_LOOP: Final = 20
ACTIVE_EXPIRE_ACCEPTABLE_STALE: Final = 10  # percent
ACTIVE_EXPIRE_SLOW_TIME_PERC: Final = 25  # percent of one cron period


def mstime() -> int:
    return time.time_ns() // 1_000_000


class Database:
    __slots__ = (
        "id",
        "data",
        "expires",
        "server",
        "_expire_scan",
        "_expire_pos",
        "avg_ttl",
        "access",
        "access_of",
        "lfu",
        "mem_dirty",
        "clock",
        "counter_text",
        "counter_value",
    )

    def __init__(self, db_id: int, server: Server) -> None:
        self.id = db_id
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.server = server
        self._expire_scan: list[bytes] = []
        self._expire_pos = 0
        self.avg_ttl = 0
        # Per key, what Redis keeps in each object's lru field (node/evict.py): the LRU
        # clock (ms, refreshed each cron tick like Redis's server.lruclock; kept boxed so a
        # compiled lookup stores it without allocating) at the last access, or with an LFU
        # policy (minutes << 8) | log counter. `access_of` is the dict it describes, so
        # node/evict.py can follow a SWAPDB.
        self.clock: Any = server.mstime
        self.access: dict[bytes, int] = {}
        self.access_of: dict[bytes, Any] = self.data
        self.lfu: bool = server.config.maxmemory_policy.endswith("lfu")
        # Writes node/memory.py has yet to measure, one list shared by every database;
        # None while maxmemory is 0.
        self.mem_dirty: list[tuple[Database, bytes]] | None = None
        # The last value INCR & co. stored, and its integer: the next increment of the same
        # key skips parsing it (Redis keeps such values integer-encoded). Matched by
        # identity, so a value replaced since never matches.
        self.counter_text: bytes | None = None
        self.counter_value = 0

    # -- lookups -----------------------------------------------------------

    def lookup_read(self, key: bytes) -> Any:
        """The value for a read command, or None (counts keyspace hits and misses)."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self.expire_if_needed(key)):
            self.server.stats.keyspace_misses += 1
            return None
        self.server.stats.keyspace_hits += 1
        if self.lfu:
            lfu_touch(self, key)
        else:
            self.access[key] = self.clock
        return value

    def lookup_notouch(self, key: bytes) -> Any:
        """lookup_read without refreshing the key's LRU/LFU data (Redis's LOOKUP_NOTOUCH:
        OBJECT, EXISTS, TYPE, TTL)."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self.expire_if_needed(key)):
            self.server.stats.keyspace_misses += 1
            return None
        self.server.stats.keyspace_hits += 1
        return value

    def lookup_write(self, key: bytes) -> Any:
        """The value for a write command, or None; an expired key is deleted first."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self.expire_if_needed(key)):
            return None
        if self.lfu:
            lfu_touch(self, key)
        else:
            self.access[key] = self.clock
        guard = self.server.cow_guard
        if guard is not None and type(value) is not bytes:
            guard(value)
        return value

    def exists(self, key: bytes) -> bool:
        return key in self.data and not (key in self.expires and self.expire_if_needed(key))

    def is_logically_expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= self.server.mstime

    def expire_if_needed(self, key: bytes) -> bool:
        """True when `key` is past its expiry; deletes it unless this node must keep it.

        A replica never deletes keys itself: it hides them and waits for the master's
        DEL, except while applying the master's own stream, which sees every key.
        """
        when = self.expires.get(key)
        if when is None or when > self.server.mstime:
            return False
        server = self.server
        if server.loading:
            # Replaying the AOF: each command meets the state it was written against.
            return False
        if server.masterhost is not None:
            return not server.executing_master_stream
        if server.expire_deletions_paused():
            return True
        self.delete_expired(key)
        return True

    def delete_expired(self, key: bytes) -> None:
        server = self.server
        del self.data[key]
        del self.expires[key]
        self.access.pop(key, None)
        server.stats.expired_keys += 1
        self.signal_modified(key)
        server.propagate(
            self.id, [b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL", key]
        )
        if not server.call_depth:
            # Outside a command (the active cycle) each expired key is its own unit.
            server.propagator.flush()

    # -- mutation ----------------------------------------------------------

    def set_key(self, key: bytes, value: Any, keepttl: bool = False) -> None:
        """SET semantics: create or overwrite, dropping any TTL unless `keepttl`."""
        is_new = key not in self.data
        self.data[key] = value
        if not keepttl:
            self.expires.pop(key, None)
        if not self.lfu:
            self.access[key] = self.clock
        elif is_new:
            lfu_new(self, key)
        else:
            lfu_touch(self, key)
        self.signal_modified(key)
        if is_new and type(value) in (deque, ZSet):
            self.server.blocking.signal_key_ready(self, key)

    def overwrite(self, key: bytes, value: Any) -> None:
        """Replace the value of a key just returned by `lookup_write`, keeping its TTL
        (its LRU/LFU data was refreshed by that lookup)."""
        self.data[key] = value
        self.signal_modified(key)

    def add(self, key: bytes, value: Any) -> None:
        """Create a key that the caller knows does not exist."""
        self.data[key] = value
        if self.lfu:
            lfu_new(self, key)
        else:
            self.access[key] = self.clock
        self.signal_modified(key)
        if type(value) in (deque, ZSet):
            self.server.blocking.signal_key_ready(self, key)

    def delete(self, key: bytes) -> bool:
        if key not in self.data:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        self.access.pop(key, None)
        self.signal_modified(key)
        return True

    def modified(self, key: bytes, changes: int = 1) -> None:
        """Record an in-place change of `key`'s value: WATCH signal and dirty counter."""
        self.signal_modified(key)
        self.server.dirty += changes

    def signal_modified(self, key: bytes) -> None:
        mem_dirty = self.mem_dirty
        if mem_dirty is not None:
            mem_dirty.append((self, key))
        watched = self.server.watched_keys
        if watched:
            clients = watched.get((self.id, key))
            if clients:
                from node.commands.tx_state import touch_watched_key

                touch_watched_key(self, key, clients)

    # -- expiry ------------------------------------------------------------

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def active_expire_step(self, deadline_ns: int) -> tuple[int, int]:
        """Sample volatile keys and delete the expired ones; returns (sampled, expired).

        Keeps going while more than ACTIVE_EXPIRE_ACCEPTABLE_STALE percent of a sample was
        expired, like Redis, and stops at the deadline.
        """
        sampled = expired = 0
        now = self.server.mstime
        while self.expires:
            if self._expire_pos >= len(self._expire_scan):
                self._expire_scan = list(self.expires)
                self._expire_pos = 0
            batch = self._expire_scan[
                self._expire_pos : self._expire_pos + ACTIVE_EXPIRE_KEYS_PER_LOOP
            ]
            self._expire_pos += len(batch)
            batch_expired = 0
            ttl_sum = ttl_n = 0
            for key in batch:
                when = self.expires.get(key)
                if when is None:
                    continue
                sampled += 1
                if when <= now:
                    self.delete_expired(key)
                    batch_expired += 1
                else:
                    ttl_sum += when - now
                    ttl_n += 1
            if ttl_n:
                avg = ttl_sum // ttl_n
                self.avg_ttl = avg if not self.avg_ttl else (self.avg_ttl // 50) * 49 + avg // 50
            expired += batch_expired
            if batch_expired * 100 <= ACTIVE_EXPIRE_ACCEPTABLE_STALE * max(len(batch), 1):
                break
            if time.monotonic_ns() >= deadline_ns:
                break
        return sampled, expired

    def reset_expire_scan(self) -> None:
        self._expire_scan = []
        self._expire_pos = 0

    def clear(self) -> int:
        removed = len(self.data)
        self.data = {}
        self.expires = {}
        self.access = {}
        self.access_of = self.data
        self._expire_scan = []
        self._expire_pos = 0
        self.avg_ttl = 0
        return removed


def value_type_name(value: Any) -> bytes:
    return TYPE_NAMES.get(type(value), b"none")
