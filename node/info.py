"""INFO: Redis 7.0.15's sections, field names and order, filled from keelkv's state.

Tools parse these fields by name (redis-cli --stat, Sentinel, exporters, redis-py), so
every field Redis 7.0 prints is present; those about machinery keelkv lacks (jemalloc,
Lua, io-threads, modules' forks) hold the value an idle Redis shows. Other subsystems add
or override fields with `server.info_hooks[section].append(fn)`, fn(server) -> [(field, value), ...]
(persistence fills `rdb_*`/`aof_*`, replication its section).

used_memory is the dataset's estimated size: `node.evict.used_memory(server)` when that
module provides it, else `dataset_memory` below (the sum of sys.getsizeof over keys and
values, sampled for big databases). used_memory_rss is the process's RSS (psutil).
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections import deque
from itertools import islice
from sys import getsizeof
from typing import TYPE_CHECKING, Any

from node import KEELKV_VERSION, REDIS_COMPAT_VERSION
from node.commands.table import COMMANDS, Command

if TYPE_CHECKING:
    from node.server import Server

# Section order of Redis 7.0's genRedisInfoString.
SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
)
DEFAULT_SECTIONS = frozenset(SECTIONS) - {"commandstats", "latencystats"}
TITLES = {name: name.capitalize() for name in SECTIONS}
TITLES["cpu"] = "CPU"
SECTION_ALIASES = {"module_list": "modules"}

# instantaneous_* metrics: Redis samples every 100 ms and averages the last 16 samples.
STATS_METRIC_SAMPLES = 16
SAMPLE_PERIOD = 0.1
LRU_CLOCK_MAX = (1 << 24) - 1
ZERO_REPLID = "0" * 40


class InfoState:
    """Per-server figures INFO keeps between calls: samples and the memory peak."""

    __slots__ = ("samples", "last_sample", "peak_memory", "startup_memory")

    def __init__(self) -> None:
        # Per metric: ring of per-second rates, and the (time, counter) of the last sample.
        self.samples: dict[str, deque[float]] = {
            m: deque(maxlen=STATS_METRIC_SAMPLES) for m in ("ops", "net_in", "net_out")
        }
        self.last_sample: dict[str, tuple[float, int]] = {}
        self.peak_memory = 0
        self.startup_memory = 0


_STATES: dict[int, tuple[Any, InfoState]] = {}


def state(server: Server) -> InfoState:
    entry = _STATES.get(id(server))
    if entry is None or entry[0] is not server:
        entry = (server, InfoState())
        _STATES[id(server)] = entry
    return entry[1]


def install(server: Server) -> None:
    """Hook INFO's sampling into a new server's cron (called by node.boot)."""
    state(server)
    server.cron_hooks.append(sample_metrics)


def sample_metrics(server: Server) -> None:
    """trackInstantaneousMetric for ops/sec and network kbps, at most every 100 ms."""
    st = state(server)
    now = time.monotonic()
    stats = server.stats
    for metric, counter in (
        ("ops", stats.commands_processed),
        ("net_in", stats.net_input_bytes),
        ("net_out", stats.net_output_bytes),
    ):
        last = st.last_sample.get(metric)
        if last is not None:
            elapsed = now - last[0]
            if elapsed < SAMPLE_PERIOD:
                continue
            st.samples[metric].append((counter - last[1]) / elapsed)
        st.last_sample[metric] = (now, counter)


def _instantaneous(st: InfoState, metric: str) -> float:
    samples = st.samples[metric]
    return sum(samples) / len(samples) if samples else 0.0


# -- memory ----------------------------------------------------------------------------

SAMPLE_KEYS = 256
EXACT_ELEMENTS = 64


def value_memory(value: Any) -> int:
    """Estimated bytes of one value: getsizeof of the container and its elements,
    extrapolated from the first EXACT_ELEMENTS elements for bigger collections."""
    if type(value) is bytes:
        return getsizeof(value)
    scores = getattr(value, "scores", None)
    items: Any = scores if scores is not None else value
    n = len(items)
    base = getsizeof(items)
    if n == 0:
        return base
    if isinstance(items, dict):
        head = sum(getsizeof(k) + getsizeof(v) for k, v in islice(items.items(), EXACT_ELEMENTS))
    else:
        head = sum(getsizeof(e) for e in islice(items, EXACT_ELEMENTS))
    taken = min(n, EXACT_ELEMENTS)
    extra = 96 * n if scores is not None else 0  # a zset's index entries beside its dict
    return base + head * n // taken + extra


def key_memory(key: bytes, value: Any) -> int:
    """MEMORY USAGE: the key, its value and its dict entry (about 40 bytes)."""
    return getsizeof(key) + value_memory(value) + 40


def dataset_memory(server: Server) -> int:
    """The dataset's estimated size: every key for databases of up to SAMPLE_KEYS keys,
    else the mean of the first SAMPLE_KEYS keys times the key count."""
    total = 0
    for db in server.dbs:
        n = len(db.data)
        if not n:
            continue
        sample = islice(db.data.items(), SAMPLE_KEYS)
        measured = sum(key_memory(k, v) for k, v in sample)
        total += measured * n // min(n, SAMPLE_KEYS) + getsizeof(db.data)
        total += getsizeof(db.expires) if db.expires else 0
    return total


def used_memory(server: Server) -> int:
    try:
        from node import evict
    except ImportError:  # pragma: no cover - evict is part of the node
        evict = None  # type: ignore[assignment]
    estimator = getattr(evict, "used_memory", None)
    if estimator is not None:
        try:
            return int(estimator(server))
        except Exception as exc:  # noqa: BLE001 - INFO must answer; say why it fell back
            server.log.debug(f"used_memory estimator failed ({exc!r}); using INFO's own")
    return dataset_memory(server)


def rss_memory() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - INFO must answer even without psutil
        return 0


def total_system_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001
        return 0


def bytes_to_human(n: int) -> str:
    """Redis's bytesToHuman: B below 1K, else two decimals and K/M/G/T/P."""
    if n < 1024:
        return f"{n}B"
    for i, unit in enumerate("KMGTP", 1):
        if n < 1024 ** (i + 1) or unit == "P":
            if unit == "P" and n >= 1024**6:
                return f"{n}B"
            return f"{n / 1024**i:.2f}{unit}"
    return f"{n}B"  # pragma: no cover


# -- sections --------------------------------------------------------------------------

Fields = list[tuple[str, Any]]


def section_server(server: Server) -> Fields:
    config = server.config
    uname = os.uname()
    now = time.time()
    uptime = server.uptime()
    compiler = platform.python_compiler().split()
    return [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("keelkv_version", KEELKV_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone"),
        ("os", f"{uname.sysname} {uname.release} {uname.machine}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if sys.platform == "linux" else "kqueue"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", compiler[-1] if compiler else "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", server.run_id),
        ("tcp_port", server.bound_port or config.port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", config.hz),
        ("configured_hz", config.hz),
        ("lru_clock", int(now) & LRU_CLOCK_MAX),
        ("executable", server.executable),
        ("config_file", config.config_file or ""),
        ("io_threads_active", 0),
    ]


def section_clients(server: Server) -> Fields:
    clients = server.clients.values()
    replicas = sum(1 for c in clients if c.kind == "replica")
    blocked = sum(1 for c in clients if c.blocked is not None)
    return [
        ("connected_clients", len(server.clients) - replicas),
        ("cluster_connections", 0),
        ("maxclients", server.config.maxclients),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", blocked),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", blocked),
    ]


def section_memory(server: Server) -> Fields:
    config = server.config
    st = state(server)
    used = used_memory(server)
    st.peak_memory = max(st.peak_memory, used)
    peak = st.peak_memory
    rss = rss_memory()
    overhead = st.startup_memory
    dataset = max(used - overhead, 0)
    system = total_system_memory()
    frag = rss / used if used else 0.0
    return [
        ("used_memory", used),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_peak_perc", f"{used * 100 / peak if peak else 0:.2f}%"),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", st.startup_memory),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", f"{dataset * 100 / used if used else 0:.2f}%"),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", rss),
        ("total_system_memory", system),
        ("total_system_memory_human", bytes_to_human(system)),
        ("used_memory_lua", 0),
        ("used_memory_vm_eval", 0),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", 0),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", 0),
        ("used_memory_vm_total", 0),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", 0),
        ("used_memory_scripts", 0),
        ("used_memory_scripts_human", "0B"),
        ("maxmemory", config.maxmemory),
        ("maxmemory_human", bytes_to_human(config.maxmemory)),
        ("maxmemory_policy", config.maxmemory_policy),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", f"{frag:.2f}"),
        ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", f"{frag:.2f}"),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def section_persistence(server: Server) -> Fields:
    return [
        ("loading", int(server.loading)),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", server.dirty - server.dirty_at_last_save),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", server.lastsave),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", int(server.config.appendonly)),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def section_stats(server: Server) -> Fields:
    s = server.stats
    st = state(server)
    pubsub_patterns = len(server.pubsub_patterns)
    shard = getattr(server, "pubsub_shard_channels", {})
    return [
        ("total_connections_received", s.total_connections_received),
        ("total_commands_processed", s.commands_processed),
        ("instantaneous_ops_per_sec", int(_instantaneous(st, "ops"))),
        ("total_net_input_bytes", s.net_input_bytes),
        ("total_net_output_bytes", s.net_output_bytes),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", f"{_instantaneous(st, 'net_in') / 1024:.2f}"),
        ("instantaneous_output_kbps", f"{_instantaneous(st, 'net_out') / 1024:.2f}"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", s.rejected_conn),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", s.expired_keys),
        ("expired_stale_perc", f"{s.expired_stale_perc:.2f}"),
        ("expired_time_cap_reached_count", s.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", s.evicted_keys),
        ("evicted_clients", s.evicted_clients),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", s.keyspace_hits),
        ("keyspace_misses", s.keyspace_misses),
        ("pubsub_channels", len(server.pubsub_channels)),
        ("pubsub_patterns", pubsub_patterns),
        ("pubsubshard_channels", len(shard)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", s.unexpected_error_replies),
        ("total_error_replies", s.total_error_replies),
        ("dump_payload_sanitizations", s.dump_payload_sanitizations),
        ("total_reads_processed", s.io_reads_processed),
        ("total_writes_processed", s.io_writes_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def section_replication(server: Server) -> Fields:
    """The replication subsystem (replication/master.py) owns this section."""
    return list(server.replication.info_section(server))


def section_cpu(server: Server) -> Fields:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    thread_usage = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    main = resource.getrusage(thread_usage)
    return [
        ("used_cpu_sys", f"{own.ru_stime:.6f}"),
        ("used_cpu_user", f"{own.ru_utime:.6f}"),
        ("used_cpu_sys_children", f"{children.ru_stime:.6f}"),
        ("used_cpu_user_children", f"{children.ru_utime:.6f}"),
        ("used_cpu_sys_main_thread", f"{main.ru_stime:.6f}"),
        ("used_cpu_user_main_thread", f"{main.ru_utime:.6f}"),
    ]


def all_commands() -> list[Command]:
    """Every command and subcommand, containers replaced by their subcommands."""
    out: list[Command] = []
    for cmd in COMMANDS.values():
        if cmd.subcommands:
            out.extend(cmd.subcommands.values())
        else:
            out.append(cmd)
    return out


def section_commandstats(server: Server) -> Fields:
    out: Fields = []
    for cmd in all_commands():
        if not (cmd.calls or cmd.rejected_calls or cmd.failed_calls):
            continue
        per_call = cmd.usec / cmd.calls if cmd.calls else 0.0
        out.append(
            (
                f"cmdstat_{cmd.name}",
                f"calls={cmd.calls},usec={cmd.usec},usec_per_call={per_call:.2f},"
                f"rejected_calls={cmd.rejected_calls},failed_calls={cmd.failed_calls}",
            )
        )
    return out


def section_errorstats(server: Server) -> Fields:
    return [(f"errorstat_{code}", f"count={n}") for code, n in server.error_stats.items()]


def section_cluster(server: Server) -> Fields:
    return [("cluster_enabled", 0)]


def section_keyspace(server: Server) -> Fields:
    return [
        (f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={db.avg_ttl}")
        for db in server.dbs
        if db.data
    ]


def _empty(server: Server) -> Fields:
    return []


BUILDERS = {
    "server": section_server,
    "clients": section_clients,
    "memory": section_memory,
    "persistence": section_persistence,
    "stats": section_stats,
    "replication": section_replication,
    "cpu": section_cpu,
    "modules": _empty,
    "commandstats": section_commandstats,
    "errorstats": section_errorstats,
    "latencystats": _empty,
    "cluster": section_cluster,
    "keyspace": section_keyspace,
}


def select_sections(args: list[str]) -> set[str]:
    """INFO's arguments to the set of sections (genInfoSectionDict)."""
    if not args:
        return set(DEFAULT_SECTIONS)
    chosen: set[str] = set()
    for arg in args:
        name = arg.lower()
        if name in ("all", "everything"):
            chosen.update(SECTIONS)
        elif name == "default":
            chosen.update(DEFAULT_SECTIONS)
        else:
            chosen.add(SECTION_ALIASES.get(name, name))
    return chosen


def section_fields(server: Server, name: str) -> Fields:
    fields = BUILDERS[name](server)
    for hook in server.info_hooks.get(name, ()):
        fields = merge_fields(fields, hook(server))
    return fields


def merge_fields(fields: Fields, extra: Fields) -> Fields:
    """Override fields already present (in place), append the others."""
    index = {name: i for i, (name, _) in enumerate(fields)}
    out = list(fields)
    for name, value in extra:
        i = index.get(name)
        if i is None:
            index[name] = len(out)
            out.append((name, value))
        else:
            out[i] = (name, value)
    return out


def generate_info(server: Server, args: list[str]) -> bytes:
    """The INFO text: "# Title" then "field:value" lines per section, sections separated
    by an empty line, every line ending in CRLF."""
    chosen = select_sections(args)
    parts = []
    for name in SECTIONS:
        if name not in chosen:
            continue
        lines = [f"# {TITLES[name]}\r\n"]
        lines.extend(f"{field}:{value}\r\n" for field, value in section_fields(server, name))
        parts.append("".join(lines))
    return "\r\n".join(parts).encode("utf-8", "surrogateescape")


def info_dict(server: Server, section: str) -> dict[str, Any]:
    """One section's fields as a dict (tests, ROLE)."""
    return dict(section_fields(server, section))
