"""maxmemory: the used-memory estimate, access tracking for LRU/LFU, and eviction (evict.c).

Access tracking. Redis keeps a 24-bit `lru` field in every object and refreshes it on each
lookup. keelkv keeps the same information per key in `Database.access`, written by the
keyspace's lookups and writes:

- LRU (every policy but the LFU ones): the LRU clock at the last access, in ms. Like
  Redis's server.lruclock it is refreshed by the cron (every 1000/hz ms; Redis: 1 s) and
  before an eviction, and kept boxed on each Database so a compiled lookup stores it
  without allocating. OBJECT IDLETIME shows whole seconds.
  Cost, measured on Database.lookup_read: about +25 ns per hit compiled with mypyc (45 ->
  70 ns) and +40 ns as plain Python (110 -> 150 ns), and one dict entry (~43 bytes) per
  key. Redis tracks it under every policy, so OBJECT IDLETIME works with the default
  noeviction; keelkv does too.
- LFU: `(minutes << 8) | counter`, Redis's layout: a 16-bit "last decrement time" in
  minutes and an 8-bit logarithmic counter (LFULogIncr / LFUDecrAndReturn, lfu-log-factor,
  lfu-decay-time), new keys starting at LFU_INIT_VAL.

Both kinds share the dict; a value of 2**24 or more is an LRU stamp, so after a policy
switch each key's data is reinterpreted the way Redis warns about ("LRU and LFU data will
take some time to adjust"): an LRU stamp read as LFU counts as a new key.

Eviction follows performEvictions: before a denyoom command (or any command but EXEC,
DISCARD, QUIT and RESET inside MULTI) and at each cron tick (Redis: before every command),
while the estimate is over maxmemory, pick a victim by the policy and delete it,
propagating DEL (UNLINK with lazyfree-lazy-eviction) as its own unit and counting
`evicted_keys`. LRU, LFU and volatile-ttl sample `maxmemory-samples` keys of every database
into a 16-entry eviction pool kept across calls and evict its best entry; the random
policies take one random key per database in turn. The loop stops after maxmemory-eviction-tenacity's time budget and the
cron goes on from there (evictionTimeProc). When nothing can be evicted the command gets
`-OOM`. Replicas with replica-ignore-maxmemory, a loading node and a paused node do not evict.

Keys are sampled from a per-database snapshot of the dict's keys, rebuilt once as many
samples as it has keys were drawn, or when the dict grew or shrank by half: O(1) amortized
per sample, at the price of new keys entering the sample space only at the next rebuild.
"""

from __future__ import annotations

import time
from bisect import insort
from random import random
from typing import TYPE_CHECKING, Any, Final

from node import errors
from node.memory import WALK_KEYS_PER_TICK, MemoryTracker, SampledSize
from node.resp import ReplyError

if TYPE_CHECKING:
    from node.keyspace import Database
    from node.server import Server

EVPOOL_SIZE: Final = 16
LFU_INIT_VAL: Final = 5
# Access values below this are packed LFU data; at or above it, LRU ms stamps.
LFU_PACKED_LIMIT: Final = 1 << 24

POLICIES: Final = (
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
)
POOL_POLICIES: Final = frozenset(
    ["volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-ttl"]
)
RANDOM_POLICIES: Final = frozenset(["volatile-random", "allkeys-random"])

OOM_ERROR: Final = ReplyError(errors.OOM)


# -- LFU (Redis's LFUGetTimeInMinutes / LFULogIncr / LFUDecrAndReturn) ----------------------


def lfu_time_in_minutes(mstime: int) -> int:
    return (mstime // 60000) & 65535


def lfu_time_elapsed(ldt: int, now: int) -> int:
    """Minutes since `ldt`, the 16-bit clock wrapping around at most once."""
    if now >= ldt:
        return now - ldt
    return 65535 - ldt + now


def lfu_log_incr(counter: int, log_factor: int) -> int:
    """Increment with probability 1/((counter - LFU_INIT_VAL) * lfu-log-factor + 1)."""
    if counter == 255:
        return 255
    baseval = counter - LFU_INIT_VAL
    if baseval < 0:
        baseval = 0
    if random() < 1.0 / (baseval * log_factor + 1):
        counter += 1
    return counter


def lfu_decr_and_return(packed: int | None, now_min: int, decay_time: int) -> int:
    """The counter after decaying it by the lfu-decay-time periods since its last access."""
    if packed is None or packed >= LFU_PACKED_LIMIT:
        return LFU_INIT_VAL
    counter = packed & 255
    if decay_time:
        periods = lfu_time_elapsed(packed >> 8, now_min) // decay_time
        if periods:
            counter = 0 if periods > counter else counter - periods
    return counter


def lfu_touch(db: Database, key: bytes) -> None:
    """updateLFU: decay, then logarithmically increment, the key's access counter."""
    server = db.server
    config = server.config
    now_min = (server.mstime // 60000) & 65535
    access = db.access
    counter = lfu_decr_and_return(access.get(key), now_min, config.lfu_decay_time)
    access[key] = (now_min << 8) | lfu_log_incr(counter, config.lfu_log_factor)


def lfu_new(db: Database, key: bytes) -> None:
    """A created key starts at LFU_INIT_VAL so it can collect hits before it is evicted."""
    db.access[key] = (((db.server.mstime // 60000) & 65535) << 8) | LFU_INIT_VAL


def lfu_frequency(db: Database, key: bytes) -> int:
    """OBJECT FREQ: the decayed counter, without counting this read as an access."""
    server = db.server
    return lfu_decr_and_return(
        db.access.get(key),
        lfu_time_in_minutes(server.mstime),
        server.config.lfu_decay_time,
    )


def lru_stamp(db: Database, key: bytes) -> int:
    """Last access in ms; a key with no LRU stamp counts from the server's start."""
    stamp = db.access.get(key)
    if stamp is None or stamp < LFU_PACKED_LIMIT:
        return int(db.server.start_time * 1000)
    return stamp


def idle_seconds(db: Database, key: bytes) -> int:
    """OBJECT IDLETIME: whole seconds between the last access and now, as Redis's LRU clock."""
    return max(0, db.server.mstime // 1000 - lru_stamp(db, key) // 1000)


def is_lfu_policy(policy: str) -> bool:
    return policy.endswith("lfu")


# -- per-server state ------------------------------------------------------------------------


class KeySampler:
    """Random keys of one dict without copying it per draw (see the module docstring)."""

    __slots__ = ("source", "keys", "drawn")

    def __init__(self) -> None:
        self.source: dict[bytes, Any] | None = None
        self.keys: list[bytes] = []
        self.drawn = 0

    def _rebuild(self, d: dict[bytes, Any]) -> None:
        self.source = d
        self.keys = list(d)
        self.drawn = 0

    def sample(self, d: dict[bytes, Any], count: int) -> list[bytes]:
        """Up to `count` keys present in `d` (at least one when `d` is not empty)."""
        n = len(d)
        if n <= count:
            return list(d)
        keys = self.keys
        size = len(keys)
        if self.source is not d or self.drawn >= size or n > 2 * size or 2 * n < size:
            self._rebuild(d)
            keys = self.keys
            size = len(keys)
        self.drawn += count
        out = [key for key in [keys[int(random() * size)] for _ in range(count)] if key in d]
        if not out:
            self._rebuild(d)
            keys = self.keys
            out = [keys[int(random() * n)] for _ in range(count)]
        return out

    def random_key(self, d: dict[bytes, Any]) -> bytes:
        return self.sample(d, 1)[0]


class EvictionState:
    __slots__ = (
        "server",
        "pool",
        "pool_policy",
        "next_db",
        "samplers",
        "trackers",
        "pending",
        "used_sum",
        "sampled",
        "running",
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        # (idle, db id, key), ascending: the best candidate is last.
        self.pool: list[tuple[int, int, bytes]] = []
        self.pool_policy = ""
        self.next_db = 0
        self.samplers: dict[tuple[int, bool], KeySampler] = {}
        # While maxmemory is set: one tracker per database, the writes they have yet to
        # measure (shared with every Database.mem_dirty) and the databases' summed figure.
        self.trackers: list[MemoryTracker] | None = None
        self.pending: list[tuple[Database, bytes]] = []
        self.used_sum = 0
        self.sampled = [SampledSize() for _ in server.dbs]
        # evictionTimeProc: the last eviction stopped at its time budget, the cron goes on.
        self.running = False

    def sampler(self, db_id: int, allkeys: bool) -> KeySampler:
        sampler = self.samplers.get((db_id, allkeys))
        if sampler is None:
            sampler = self.samplers[(db_id, allkeys)] = KeySampler()
        return sampler


_STATES: Final[dict[int, EvictionState]] = {}
# The last state looked up: one identity test on the per-command path.
_last: EvictionState | None = None


def state(server: Server) -> EvictionState:
    global _last
    st = _last
    if st is not None and st.server is server:
        return st
    st = _STATES.get(id(server))
    if st is None or st.server is not server:
        st = _STATES[id(server)] = EvictionState(server)
    _last = st
    return st


def install(server: Server) -> None:
    """Hook eviction into a new server (called by node.boot): the cron, and CONFIG SET
    maxmemory-policy switching lookups between LRU and LFU tracking at once."""
    state(server)
    server.cron_hooks.append(evict_cron)
    server.config_set_hooks["maxmemory-policy"] = _policy_changed


def _policy_changed(server: Server) -> str | None:
    sync_databases(server)
    return None


def sync_databases(server: Server) -> None:
    """Advance the LRU clock and follow runtime changes made without telling this module:
    the policy's kind (LRU or LFU) and database dicts replaced or swapped (FLUSHALL, SWAPDB,
    loading)."""
    lfu = is_lfu_policy(server.config.maxmemory_policy)
    dbs = server.dbs
    clock = server.mstime
    for db in dbs:
        db.clock = clock
        if db.lfu is not lfu:
            db.lfu = lfu
        if db.access_of is not db.data:
            for other in dbs:
                if other.access_of is db.data:
                    db.access, other.access = other.access, db.access
                    db.access_of, other.access_of = other.access_of, db.access_of
                    break
            else:
                db.access = {}
                db.access_of = db.data
        # Entries left by deletions that bypassed Database.delete.
        if len(db.access) > 2 * len(db.data) + 1024:
            data = db.data
            db.access = {k: v for k, v in db.access.items() if k in data}


# -- used memory -----------------------------------------------------------------------------


def used_memory(server: Server) -> int:
    """INFO's used_memory: the dataset's estimated size in bytes (node/memory.py says how)."""
    st = state(server)
    if server.config.maxmemory:
        used = _tracked_used(server, st, verify=True)
    else:
        if st.trackers is not None:
            _stop_tracking(server, st)
        used = sum(sampled.used(db) for sampled, db in zip(st.sampled, server.dbs, strict=True))
    server.used_memory_estimate = used
    return used


def _start_tracking(server: Server, st: EvictionState) -> None:
    st.trackers = [MemoryTracker(db) for db in server.dbs]
    st.pending = []
    for db in server.dbs:
        db.mem_dirty = st.pending
    _verify(server, st)


def _stop_tracking(server: Server, st: EvictionState) -> None:
    for db in server.dbs:
        db.mem_dirty = None
    st.trackers = None
    st.pending = []
    st.used_sum = 0


def _verify(server: Server, st: EvictionState) -> None:
    """Recount databases whose dict was replaced wholesale (FLUSHALL, SWAPDB, loading: no
    pending entry tells of them) and refresh the TTL entries' share, then re-add the sum."""
    trackers = st.trackers
    assert trackers is not None
    used = 0
    for db in server.dbs:
        tracker = trackers[db.id]
        if tracker.data_ref is not db.data:
            tracker.recount(db)
        used += tracker.used(db)
    st.used_sum = used


def _tracked_used(server: Server, st: EvictionState, verify: bool = False) -> int:
    """The tracked total after measuring pending writes. Between verifications the TTL
    entries' share lags (until the next cron tick, or the next over-the-limit check)."""
    trackers = st.trackers
    if trackers is None:
        _start_tracking(server, st)
        return st.used_sum
    pending = st.pending
    if pending:
        change = 0
        for db, key in pending:
            change += trackers[db.id].remeasure(db, key)
        pending.clear()
        st.used_sum += change
    if verify:
        _verify(server, st)
    return st.used_sum


# -- eviction --------------------------------------------------------------------------------


def eviction_time_limit_ns(tenacity: int) -> int | None:
    """maxmemory-eviction-tenacity -> time budget per call (evictionTimeLimitUs)."""
    if tenacity <= 10:
        return 50_000 * tenacity
    if tenacity < 100:
        return int(500_000 * 1.15 ** (tenacity - 10))
    return None


def safe_to_evict(server: Server) -> bool:
    if server.loading:
        return False
    if server.masterhost is not None and server.config.replica_ignore_maxmemory:
        return False
    # A paused dataset stays static: no expiry and no eviction either.
    return not server.expire_deletions_paused()


def perform_evictions(server: Server) -> ReplyError | None:
    """Free memory down to maxmemory; the OOM error if that is impossible."""
    config = server.config
    maxmemory = config.maxmemory
    if not maxmemory:
        return None
    st = state(server)
    if _tracked_used(server, st) <= maxmemory:
        st.running = False
        return None
    if not safe_to_evict(server):
        return None
    used = _tracked_used(server, st, verify=True)
    if used <= maxmemory:
        st.running = False
        return None
    policy = config.maxmemory_policy
    if policy == "noeviction":
        st.running = False
        return OOM_ERROR
    sync_databases(server)
    if st.pool_policy != policy:
        st.pool = []
        st.pool_policy = policy
    limit = eviction_time_limit_ns(config.maxmemory_eviction_tenacity)
    start = time.monotonic_ns()
    lazy = config.lazyfree_lazy_eviction
    keys_freed = 0
    while used > maxmemory:
        victim = _select_victim(server, st, policy)
        if victim is None:
            st.running = False
            return OOM_ERROR
        db, key = victim
        db.delete(key)
        server.stats.evicted_keys += 1
        server.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])
        if server.call_depth == 0:
            # Each eviction is its own unit in the stream, as propagatePendingCommands does.
            server.propagator.flush()
        used = _tracked_used(server, st)
        keys_freed += 1
        if keys_freed % 16 == 0 and limit is not None and time.monotonic_ns() - start > limit:
            st.running = True
            return None
    st.running = False
    return None


def _select_victim(server: Server, st: EvictionState, policy: str) -> tuple[Database, bytes] | None:
    dbs = server.dbs
    allkeys = policy.startswith("allkeys")
    if policy in RANDOM_POLICIES:
        ndb = len(dbs)
        for _ in range(ndb):
            st.next_db = (st.next_db + 1) % ndb
            db = dbs[st.next_db]
            d = db.data if allkeys else db.expires
            if d:
                return db, st.sampler(db.id, allkeys).random_key(d)
        return None
    pool = st.pool
    while True:
        total = 0
        for db in dbs:
            d = db.data if allkeys else db.expires
            if d:
                _populate_pool(server, st, db, d, policy, allkeys)
                total += len(d)
        if not total:
            return None
        # From best to worst; a pooled key deleted since it was sampled is a ghost.
        while pool:
            _, db_id, key = pool.pop()
            db = dbs[db_id]
            if key in (db.data if allkeys else db.expires):
                return db, key


def _populate_pool(
    server: Server,
    st: EvictionState,
    db: Database,
    d: dict[bytes, Any],
    policy: str,
    allkeys: bool,
) -> None:
    """evictionPoolPopulate: score sampled keys, keep the EVPOOL_SIZE best in `st.pool`."""
    keys = st.sampler(db.id, allkeys).sample(d, server.config.maxmemory_samples)
    pool = st.pool
    db_id = db.id
    if policy == "volatile-ttl":
        expires = db.expires
        scores = [(-expires[key], key) for key in keys]
    elif is_lfu_policy(policy):
        now_min = lfu_time_in_minutes(server.mstime)
        decay = server.config.lfu_decay_time
        access = db.access
        scores = [(255 - lfu_decr_and_return(access.get(key), now_min, decay), key) for key in keys]
    else:
        now = server.mstime
        scores = [(now - lru_stamp(db, key), key) for key in keys]
    for idle, key in scores:
        if len(pool) >= EVPOOL_SIZE and idle <= pool[0][0]:
            continue
        for i, entry in enumerate(pool):
            if entry[2] == key and entry[1] == db_id:
                del pool[i]
                break
        insort(pool, (idle, db_id, key))
        if len(pool) > EVPOOL_SIZE:
            del pool[0]


# -- cron --------------------------------------------------------------------------------------


def evict_cron(server: Server) -> None:
    """Per cron tick: follow config changes, keep the accounting settled and walking, and go
    on evicting while over maxmemory (after a time-budgeted eviction, or CONFIG SET)."""
    sync_databases(server)
    st = state(server)
    if not server.config.maxmemory:
        if st.trackers is not None:
            _stop_tracking(server, st)
        return
    _tracked_used(server, st)
    trackers = st.trackers
    assert trackers is not None
    for db in server.dbs:
        tracker = trackers[db.id]
        if tracker.sizes and tracker.data_ref is db.data:
            tracker.walk(db, WALK_KEYS_PER_TICK)
    _verify(server, st)
    perform_evictions(server)
