"""used_memory: an estimate, in bytes, of what the dataset occupies in this process.

Redis reads its allocator's counter; CPython has no cheap per-key equivalent, so keelkv
estimates with `sys.getsizeof`:

- a key costs getsizeof(key) + getsizeof-based size of its value + KEY_OVERHEAD (its entries
  in `db.data` and `db.access`), plus EXPIRE_OVERHEAD when it has a TTL. While maxmemory is
  set the accounting itself keeps a size per key (about 75 bytes); that is left out so that
  the figure does not jump when maxmemory is switched on;
- strings (bytes) are measured exactly; a collection of at most EXACT_ELEMENTS elements is
  walked exactly; a bigger one is its container's exact size plus len x the mean size of
  SAMPLE_ELEMENTS sampled elements (the first and last ones of a list, the first ones of a
  hash, set or zset). So the error is zero for strings and small collections, and for a big
  collection it is len x (sampled mean - true mean): nil for uniform elements, bounded by the
  spread of element sizes otherwise. Interpreter-wide memory (code, clients, buffers) is not
  counted: used_memory is the dataset, as maxmemory means it.

Measured against tracemalloc's count of what 50,000 writes allocate (strings of 10 and 100
bytes, one list, hashes of 10 fields, sets of 100 members, one zset), the estimate lands
within 10% of the allocations for every one of them.

Two ways of adding it up, chosen by whether anyone needs precision:

- maxmemory set: `MemoryTracker` keeps each key's last measured size and the running total.
  Every write reaches `Database.signal_modified`, which appends (db, key) to one pending
  list; the eviction check before each denyoom command (and the cron) re-measures just those
  keys, so the total follows growth and shrinkage exactly up to the estimate above, at
  O(changes). The cron also re-measures WALK_KEYS_PER_TICK keys per tick in a rolling pass,
  which corrects a value changed in place without a `db.modified` signal within one pass.
  A database whose dict was replaced (FLUSHALL, SWAPDB, a load) is recounted in full, at the
  next cron tick or the next check that finds the total over the limit; the TTL entries'
  share is refreshed at the same moments.
- maxmemory 0: nothing is tracked on the write path (benchmarks pay nothing). INFO then gets
  `SampledSize`: each database's key count times the mean measured size of up to SAMPLE_KEYS
  keys (all of them when there are that few), the mean refreshed at most once a second per
  database. It follows the key count at once and value sizes statistically; skewed datasets
  (one huge key among small ones) are where it errs.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import islice
from random import randrange
from sys import getsizeof
from typing import TYPE_CHECKING, Any, Final

from node.zset import ZSet

if TYPE_CHECKING:
    from node.keyspace import Database

# A CPython dict entry (hash, key and value pointers) plus its index slot, with the table at
# most 2/3 full: getsizeof(dict) / len averages 43 bytes over sizes 1e3..2e5. Every key has
# one in db.data and one in db.access.
DICT_ENTRY: Final = 43
KEY_OVERHEAD: Final = 2 * DICT_ENTRY
# An expires entry and its int (absolute ms times do not fit the small-int cache).
EXPIRE_OVERHEAD: Final = DICT_ENTRY + 32
# Per zset member beside the member itself: its float score (24), its (score, member) tuple
# in the SortedList (56) and that list's pointer slots (about 16).
ZSET_MEMBER_OVERHEAD: Final = 24 + 56 + 16

# db.data, db.expires and db.access while empty.
EMPTY_DICTS: Final = 3 * getsizeof({})

EXACT_ELEMENTS: Final = 32
SAMPLE_ELEMENTS: Final = 16
SAMPLE_KEYS: Final = 128
SAMPLED_REFRESH_SECONDS: Final = 1.0
WALK_KEYS_PER_TICK: Final = 500


def value_size(value: Any) -> int:
    """Estimated bytes held by one value (see the module docstring for the error bound)."""
    t = type(value)
    if t is bytes:
        return getsizeof(value)
    n = len(value)
    if t is deque:
        if n <= EXACT_ELEMENTS:
            return getsizeof(value) + sum(map(getsizeof, value))
        half = SAMPLE_ELEMENTS // 2
        sample = sum(map(getsizeof, islice(value, half)))
        sample += sum(map(getsizeof, islice(reversed(value), half)))
        return getsizeof(value) + n * sample // SAMPLE_ELEMENTS
    if t is dict:
        if n <= EXACT_ELEMENTS:
            return getsizeof(value) + sum(getsizeof(f) + getsizeof(v) for f, v in value.items())
        sample = sum(getsizeof(f) + getsizeof(v) for f, v in islice(value.items(), SAMPLE_ELEMENTS))
        return getsizeof(value) + n * sample // SAMPLE_ELEMENTS
    if t is set:
        if n <= EXACT_ELEMENTS:
            return getsizeof(value) + sum(map(getsizeof, value))
        return getsizeof(value) + n * sum(map(getsizeof, islice(value, SAMPLE_ELEMENTS))) // (
            SAMPLE_ELEMENTS
        )
    if t is ZSet:
        scores = value.scores
        base = getsizeof(value) + getsizeof(scores) + n * ZSET_MEMBER_OVERHEAD
        if n <= EXACT_ELEMENTS:
            return base + sum(map(getsizeof, scores))
        return base + n * sum(map(getsizeof, islice(scores, SAMPLE_ELEMENTS))) // SAMPLE_ELEMENTS
    return getsizeof(value)


def key_size(key: bytes, value: Any) -> int:
    return getsizeof(key) + value_size(value) + KEY_OVERHEAD


def tables_size(db: Database) -> int:
    """What a database holds outside its keys' own sizes (whose KEY_OVERHEAD already counts
    their dict slots): the empty dicts and the TTL entries."""
    return EMPTY_DICTS + len(db.expires) * EXPIRE_OVERHEAD


class MemoryTracker:
    """Exact-maintenance accounting for one database while maxmemory is set."""

    __slots__ = ("sizes", "total", "data_ref", "walk_keys", "walk_pos")

    def __init__(self, db: Database) -> None:
        self.sizes: dict[bytes, int] = {}
        self.total = 0
        self.data_ref: dict[bytes, Any] | None = None
        self.walk_keys: list[bytes] = []
        self.walk_pos = 0
        self.recount(db)

    def recount(self, db: Database) -> None:
        """Measure every key (activation, or after the database's dict was replaced)."""
        sizes = {key: key_size(key, value) for key, value in db.data.items()}
        self.sizes = sizes
        self.total = sum(sizes.values())
        self.data_ref = db.data
        self.walk_keys = []
        self.walk_pos = 0

    def remeasure(self, db: Database, key: bytes) -> int:
        """Account for a write to `key` (or its deletion); returns the change of `total`."""
        data = db.data
        if data is not self.data_ref:
            before = self.total
            self.recount(db)
            return self.total - before
        value = data.get(key)
        old = self.sizes.pop(key, 0)
        if value is None:
            self.total -= old
            return -old
        if type(value) is bytes:
            new = getsizeof(key) + getsizeof(value) + KEY_OVERHEAD
        else:
            new = key_size(key, value)
        self.sizes[key] = new
        self.total += new - old
        return new - old

    def walk(self, db: Database, count: int) -> None:
        """Re-measure the next `count` keys of a rolling pass over the database: a handler
        that changed a value in place without `db.modified` would otherwise leave its size
        stale for good (the "periodic recomputation" half of the accounting). Runs with no
        write pending, so every key's recorded size is due to be current."""
        data = db.data
        if data is not self.data_ref:
            self.recount(db)
            return
        if self.walk_pos >= len(self.walk_keys):
            self.walk_keys = list(self.sizes)
            self.walk_pos = 0
        pos = self.walk_pos
        batch = self.walk_keys[pos : pos + count]
        self.walk_pos = pos + len(batch)
        sizes = self.sizes
        total = self.total
        for key in batch:
            old = sizes.get(key)
            if old is None:
                continue
            value = data.get(key)
            if value is None:
                del sizes[key]
                total -= old
            else:
                new = key_size(key, value)
                if new != old:
                    sizes[key] = new
                    total += new - old
        self.total = total

    def used(self, db: Database) -> int:
        return self.total + tables_size(db)


class SampledSize:
    """The cheap estimate used while maxmemory is 0: key count x sampled mean key size."""

    __slots__ = ("mean", "stamp", "data_ref")

    def __init__(self) -> None:
        self.mean = 0
        self.stamp = -1.0
        self.data_ref: dict[bytes, Any] | None = None

    def used(self, db: Database) -> int:
        data = db.data
        n = len(data)
        if n == 0:
            return tables_size(db)
        if n <= SAMPLE_KEYS:
            return sum(key_size(k, v) for k, v in data.items()) + tables_size(db)
        now = time.monotonic()
        if data is not self.data_ref or now - self.stamp >= SAMPLED_REFRESH_SECONDS:
            self.mean = sample_mean_key_size(data)
            self.stamp = now
            self.data_ref = data
        return n * self.mean + tables_size(db)


def sample_mean_key_size(data: dict[bytes, Any]) -> int:
    """Mean key size over SAMPLE_KEYS keys taken in runs of 8 from random offsets."""
    n = len(data)
    run = 8
    total = count = 0
    for _ in range(SAMPLE_KEYS // run):
        start = randrange(max(n - run, 1))
        for key in islice(data, start, start + run):
            total += key_size(key, data[key])
            count += 1
    return total // count if count else 0
