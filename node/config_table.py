"""Every directive Redis 7.0.15 accepts, with its default and how keelkv treats it.

Names, defaults, bounds, mutability and the CONFIG GET renderings are Redis 7.0.15's
(checked against `CONFIG GET *` of a real redis-server; tests/unit/test_config.py keeps a
copy of that list). `meaningful=False` marks a directive keelkv accepts for compatibility
but has no use for: it is logged once as ignored and still answers CONFIG GET.

keelkv's one deliberate default difference: `bind` is `127.0.0.1 -::1` (the value of the
stock redis.conf), not the compiled-in `* -::*`, so a node started without a config file
does not listen on every interface.
"""

from __future__ import annotations

import os
from typing import Any

from node.config import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    UINT_MAX,
    ULLONG_MAX,
    ConfigError,
    Directive,
    format_memory,
    memtoull,
    repr_string,
)

# -- special directives ---------------------------------------------------------

# A directive's CONFIG REWRITE lines with their "force" flags, or None to drop its lines.
Rewrite = list[tuple[str, bool]] | None


def _save_parse(args: list[str]) -> list[tuple[int, int]]:
    if len(args) == 1 and args[0] == "":
        return []
    if len(args) % 2:
        raise ConfigError("Invalid save parameters")
    points = []
    for i in range(0, len(args), 2):
        seconds, changes = _strtoll(args[i]), _strtoll(args[i + 1])
        if seconds is None or changes is None or seconds < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        points.append((seconds, changes))
    return points


def _strtoll(text: str) -> int | None:
    """strtoll with an end-pointer check: leading spaces and a sign are allowed."""
    t = text.lstrip(" \t\n\r\v\f")
    body = t[1:] if t[:1] in ("+", "-") else t
    if not body:
        return 0 if not t else None
    if not body.isascii() or not body.isdigit():
        return None
    return int(t)


def _save_merge(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # `save ""` clears the points; later `save` lines of a file add to the first.
    return old + new if new else []


def _save_render(points: list[tuple[int, int]]) -> str:
    return " ".join(f"{s} {c}" for s, c in points)


def _save_rewrite(points: list[tuple[int, int]], default: Any) -> Rewrite:
    if not points:
        return [('save ""', True)]
    return [(f"save {s} {c}", True) for s, c in points]


BINDADDR_MAX = 16


def _bind_parse(args: list[str]) -> list[str]:
    if len(args) > BINDADDR_MAX:
        raise ConfigError("Too many bind addresses specified.")
    if len(args) == 1 and args[0] == "":
        return []
    return list(args)


def _words_render(value: list[str]) -> str:
    return " ".join(value)


# Redis's compiled-in default; CONFIG REWRITE keeps any other bind in the file, so the
# file means the same to keelkv (whose default differs) and to redis-server.
REDIS_DEFAULT_BIND = ["*", "-::*"]


def _bind_rewrite(value: list[str], default: Any) -> Rewrite:
    if value == REDIS_DEFAULT_BIND:
        return None
    return [("bind " + (" ".join(value) if value else '""'), True)]


def _replicaof_parse(args: list[str]) -> tuple[str, int] | None:
    if len(args) != 2:
        raise ConfigError("wrong number of arguments")
    if args[0].lower() == "no" and args[1].lower() == "one":
        return None
    port = _strtoll(args[1])
    if port is None or not 0 <= port <= 65535:
        raise ConfigError("Invalid master port")
    return (args[0], port)


def _replicaof_render(value: tuple[str, int] | None) -> str:
    return "" if value is None else f"{value[0]} {value[1]}"


def _replicaof_rewrite(value: tuple[str, int] | None, default: Any) -> Rewrite:
    return None if value is None else [(f"replicaof {value[0]} {value[1]}", True)]


COBL_CLASSES = ("normal", "replica", "pubsub")
_COBL_NAMES = {"normal": "normal", "slave": "replica", "replica": "replica", "pubsub": "pubsub"}


def _cobl_parse(args: list[str]) -> dict[str, tuple[int, int, int]]:
    if len(args) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(args), 4):
        cls = _COBL_NAMES.get(args[i].lower())
        if cls is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft, secs = memtoull(args[i + 1]), memtoull(args[i + 2]), _strtoll(args[i + 3])
        if hard is None or soft is None or secs is None or secs < 0:
            raise ConfigError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            )
        out[cls] = (hard, soft, secs)
    return out


def _cobl_render(value: dict[str, tuple[int, int, int]]) -> str:
    parts = []
    for cls in COBL_CLASSES:
        hard, soft, secs = value[cls]
        parts.append(f"{'slave' if cls == 'replica' else cls} {hard} {soft} {secs}")
    return " ".join(parts)


def _cobl_rewrite(value: dict[str, tuple[int, int, int]], default: Any) -> Rewrite:
    lines = []
    for cls in COBL_CLASSES:
        hard, soft, secs = value[cls]
        text = (
            f"client-output-buffer-limit {cls} {format_memory(hard)} {format_memory(soft)} {secs}"
        )
        lines.append((text, value[cls] != default[cls]))
    return lines


COBL_DEFAULT = {
    "normal": (0, 0, 0),
    "replica": (256 * 1024**2, 64 * 1024**2, 60),
    "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
}


def _oom_values_parse(args: list[str]) -> list[int]:
    if len(args) != 3:
        raise ConfigError("wrong number of arguments")
    values = []
    for arg in args:
        v = _strtoll(arg)
        if v is None or not -2000 <= v <= 2000:
            raise ConfigError(
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
            )
        values.append(v)
    return values


def _ints_render(value: list[int]) -> str:
    return " ".join(str(v) for v in value)


def _oom_values_rewrite(value: list[int], default: Any) -> Rewrite:
    return [("oom-score-adj-values " + _ints_render(value), value != default)]


# notify-keyspace-events: Redis's class characters, in keyspaceEventsFlagsToString order.
NOTIFY_CLASSES = "g$lshzxetdn"
NOTIFY_ALL = "g$lshzxetd"


def keyspace_events_flags(text: str) -> str | None:
    """The set of event classes named by `text` (A expands), or None if invalid."""
    chosen: set[str] = set()
    for ch in text:
        if ch == "A":
            chosen.update(NOTIFY_ALL)
        elif ch in NOTIFY_CLASSES or ch in "KEm":
            chosen.add(ch)
        else:
            return None
    return "".join(sorted(chosen, key="g$lshzxetdnKEm".index))


def _notify_parse(args: list[str]) -> str:
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    flags = keyspace_events_flags(args[0])
    if flags is None:
        raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return flags


def _notify_render(flags: str) -> str:
    """keyspaceEventsFlagsToString: the canonical spelling (A for every class)."""
    if all(ch in flags for ch in NOTIFY_ALL):
        out = "A" + ("n" if "n" in flags else "")
    else:
        out = "".join(ch for ch in NOTIFY_CLASSES if ch in flags)
    return out + "".join(ch for ch in "KEm" if ch in flags)


def _notify_rewrite(flags: str, default: Any) -> Rewrite:
    return [(f"notify-keyspace-events {repr_string(_notify_render(flags))}", bool(flags))]


def _percentiles_parse(args: list[str]) -> list[float]:
    if len(args) == 1 and args[0] == "":
        return []
    out = []
    for arg in args:
        try:
            value = float(arg)
        except ValueError as exc:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters") from exc
        if value != value or arg.strip() != arg:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= value <= 100.0:
            raise ConfigError(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
            )
        out.append(value)
    return out


def format_percentile(value: float) -> str:
    """`%f` with trailing zeros (and a bare point) trimmed, as Redis's trimDoubleString."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _percentiles_render(value: list[float]) -> str:
    return " ".join(format_percentile(v) for v in value)


def _percentiles_rewrite(value: list[float], default: Any) -> Rewrite:
    if not value:
        return [('latency-tracking-info-percentiles ""', True)]
    return [("latency-tracking-info-percentiles " + _percentiles_render(value), True)]


def _dir_parse(args: list[str]) -> str:
    if len(args) != 1:
        raise ConfigError("wrong number of arguments")
    return args[0]


def _dir_render(value: str) -> str:
    # Like Redis, the answer is the process's working directory (set by `dir`).
    try:
        return os.getcwd()
    except OSError:
        return ""


def _dir_rewrite(value: str, default: Any) -> Rewrite:
    cwd = _dir_render(value)
    return [(f"dir {repr_string(cwd)}", True)] if cwd else None


# -- checks ---------------------------------------------------------------------

CONFIG_MIN_HZ = 1
CONFIG_MAX_HZ = 500


def _cap_hz(value: int) -> int:
    """Redis accepts any hz and caps it to 1..500."""
    return min(max(value, CONFIG_MIN_HZ), CONFIG_MAX_HZ)


def _basename_check(what: str, kind: str, allow_empty: bool) -> Any:
    def check(value: str) -> str:
        if not value and not allow_empty:
            raise ConfigError(f"{what} can't be empty")
        if "/" in value:
            raise ConfigError(f"{what} can't be a path, just a {kind}")
        return value

    return check


def _no_cluster(value: bool) -> bool:
    if value:
        raise ConfigError("keelkv does not support cluster mode (cluster-enabled yes)")
    return value


def _no_tls(value: int) -> int:
    if value:
        raise ConfigError("keelkv does not support TLS (tls-port)")
    return value


_PROC_TITLE_VARS = (
    "{title}",
    "{listen-addr}",
    "{server-mode}",
    "{port}",
    "{tls-port}",
    "{unixsocket}",
    "{config-file}",
)


def _proc_title_check(value: str) -> str:
    rest = value
    for var in _PROC_TITLE_VARS:
        rest = rest.replace(var, "")
    if "{" in rest or "}" in rest or not value.strip():
        raise ConfigError("template format is invalid or contains unknown variables")
    return value


def _hostname_check(value: str) -> str:
    if len(value) >= 256:
        raise ConfigError("Hostnames must be less than 256 characters")
    if any(not (ch.isascii() and (ch.isalnum() or ch in "-.")) for ch in value):
        raise ConfigError("Hostnames may only contain alphanumeric characters, hyphens or dots")
    return value


# -- table helpers ----------------------------------------------------------------


def _bool(name: str, default: bool, **kw: Any) -> Directive:
    return Directive(name, "bool", default, **kw)


def _int(name: str, default: int, lo: int, hi: int, **kw: Any) -> Directive:
    return Directive(name, "int", default, minimum=lo, maximum=hi, **kw)


def _mem(name: str, default: int, lo: int, hi: int, **kw: Any) -> Directive:
    return Directive(name, "memory", default, minimum=lo, maximum=hi, **kw)


def _str(name: str, default: str = "", **kw: Any) -> Directive:
    return Directive(name, "string", default, **kw)


def _null_str(name: str, **kw: Any) -> Directive:
    return Directive(name, "string", "", empty_is_null=True, **kw)


def _enum(name: str, default: str, choices: tuple[str, ...], **kw: Any) -> Directive:
    return Directive(name, "enum", default, choices=choices, **kw)


def _special(name: str, default: Any, **kw: Any) -> Directive:
    return Directive(name, "special", default, **kw)


IGN = {"meaningful": False}
IMM = {"mutable": False}
HIDDEN = {"hidden": True}
PROTECTED_ACTION = ("no", "yes", "local")
SHUTDOWN_FLAGS = ("default", "save", "nosave", "now", "force")
MAXMEMORY_POLICIES = (
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
)

DIRECTIVES: list[Directive] = [
    # -- network ------------------------------------------------------------------
    _special(
        "bind",
        ["127.0.0.1", "-::1"],
        parse=_bind_parse,
        render=_words_render,
        rewrite=_bind_rewrite,
        multi_arg=True,
    ),
    _null_str("bind-source-addr", **IGN),
    _int("port", 6379, 0, 65535),
    _bool("protected-mode", True),
    _int("tcp-backlog", 511, 0, INT_MAX, **IMM),
    _null_str("unixsocket", **IMM),
    Directive("unixsocketperm", "octal", 0, minimum=0, maximum=0o777, mutable=False),
    _int("timeout", 0, 0, INT_MAX),
    _int("tcp-keepalive", 300, 0, INT_MAX),
    _int("socket-mark-id", 0, 0, UINT_MAX, mutable=False, meaningful=False),
    _int("maxclients", 10000, 1, UINT_MAX),
    _null_str("requirepass"),
    _null_str("masteruser"),
    _null_str("masterauth"),
    _mem("proto-max-bulk-len", 512 * 1024**2, 1024**2, LONG_MAX),
    _mem("client-query-buffer-limit", 1024**3, 1024**2, LONG_MAX),
    _special(
        "client-output-buffer-limit",
        COBL_DEFAULT,
        parse=_cobl_parse,
        render=_cobl_render,
        rewrite=_cobl_rewrite,
        multi_arg=True,
        merge_mode="always",
    ),
    Directive("maxmemory-clients", "percent", 0, minimum=-100, maximum=LONG_MAX, **IGN),
    # -- TLS: keelkv has none; tls-port other than 0 is refused ---------------------
    _int("tls-port", 0, 0, 65535, check=_no_tls, **IGN),
    _null_str("tls-cert-file", **IGN),
    _null_str("tls-key-file", **IGN),
    _null_str("tls-key-file-pass", **IGN),
    _null_str("tls-client-cert-file", **IGN),
    _null_str("tls-client-key-file", **IGN),
    _null_str("tls-client-key-file-pass", **IGN),
    _null_str("tls-dh-params-file", **IGN),
    _null_str("tls-ca-cert-file", **IGN),
    _null_str("tls-ca-cert-dir", **IGN),
    _enum("tls-auth-clients", "yes", ("no", "yes", "optional"), **IGN),
    _bool("tls-replication", False, **IGN),
    _bool("tls-cluster", False, **IGN),
    _null_str("tls-protocols", **IGN),
    _null_str("tls-ciphers", **IGN),
    _null_str("tls-ciphersuites", **IGN),
    _bool("tls-prefer-server-ciphers", False, **IGN),
    _bool("tls-session-caching", True, **IGN),
    _int("tls-session-cache-size", 20480, 0, INT_MAX, **IGN),
    _int("tls-session-cache-timeout", 300, 0, INT_MAX, **IGN),
    # -- general ------------------------------------------------------------------
    _bool("daemonize", False, **IMM),
    _enum(
        "supervised", "no", ("upstart", "systemd", "auto", "no"), mutable=False, meaningful=False
    ),
    _null_str("pidfile", **IMM),
    _enum("loglevel", "notice", ("debug", "verbose", "notice", "warning")),
    _str("logfile", "", **IMM),
    _bool("syslog-enabled", False, mutable=False, meaningful=False),
    _str("syslog-ident", "redis", mutable=False, meaningful=False),
    _enum(
        "syslog-facility",
        "local0",
        ("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"),
        mutable=False,
        meaningful=False,
    ),
    _bool("crash-log-enabled", True, **IGN),
    _bool("crash-memcheck-enabled", True, **IGN),
    _int("databases", 16, 1, INT_MAX, **IMM),
    _bool("always-show-logo", False, mutable=False, meaningful=False),
    _bool("set-proc-title", True, mutable=False, meaningful=False),
    _str(
        "proc-title-template", "{title} {listen-addr} {server-mode}", check=_proc_title_check, **IGN
    ),
    _enum("enable-protected-configs", "no", PROTECTED_ACTION, **IMM),
    _enum("enable-debug-command", "no", PROTECTED_ACTION, **IMM),
    _enum("enable-module-command", "no", PROTECTED_ACTION, mutable=False, meaningful=False),
    _str("ignore-warnings", "", **IGN),
    # -- snapshotting ---------------------------------------------------------------
    _special(
        "save",
        [(3600, 1), (300, 100), (60, 10000)],
        parse=_save_parse,
        render=_save_render,
        rewrite=_save_rewrite,
        merge=_save_merge,
        multi_arg=True,
        merge_mode="file",
    ),
    _bool("stop-writes-on-bgsave-error", True),
    # keelkv: how BGSAVE takes its point-in-time snapshot: `fork` a child like Redis, or
    # `live` (no fork: serialized between requests, old values copied only when written
    # first). `live` is the default: with 1M keys and half of them rewritten during the
    # save it grew memory by 82 MB against fork's 307 MB (Redis: 131 MB), for ~18% fewer
    # client writes meanwhile. The README gives the measurements.
    _enum("snapshot-mode", "live", ("fork", "live"), keelkv_only=True),
    _bool("rdbcompression", True),
    _bool("rdbchecksum", True, **IMM),
    _enum("sanitize-dump-payload", "no", ("no", "yes", "clients"), **IGN),
    _str(
        "dbfilename",
        "dump.rdb",
        protected=True,
        check=_basename_check("dbfilename", "filename", True),
    ),
    _bool("rdb-del-sync-files", False),
    _special(
        "dir",
        "",
        parse=_dir_parse,
        render=_dir_render,
        rewrite=_dir_rewrite,
        protected=True,
        deny_loading=True,
    ),
    _int("rdb-key-save-delay", 0, INT_MIN, INT_MAX, **HIDDEN),
    _int("key-load-delay", 0, INT_MIN, INT_MAX, **HIDDEN),
    _int(
        "loading-process-events-interval-bytes",
        2 * 1024**2,
        1024,
        INT_MAX,
        hidden=True,
        meaningful=False,
    ),
    # -- replication ----------------------------------------------------------------
    _special(
        "replicaof",
        None,
        parse=_replicaof_parse,
        render=_replicaof_render,
        rewrite=_replicaof_rewrite,
        multi_arg=True,
        mutable=False,
    ),
    _bool("replica-serve-stale-data", True),
    _bool("replica-read-only", True),
    _bool("repl-diskless-sync", True),
    _int("repl-diskless-sync-delay", 5, 0, INT_MAX),
    _int("repl-diskless-sync-max-replicas", 0, 0, INT_MAX),
    _enum(
        "repl-diskless-load", "disabled", ("disabled", "on-empty-db", "swapdb"), deny_loading=True
    ),
    _int("repl-ping-replica-period", 10, 1, INT_MAX),
    _int("repl-timeout", 60, 1, INT_MAX),
    _bool("repl-disable-tcp-nodelay", False),
    _mem("repl-backlog-size", 1024**2, 1, LONG_MAX),
    _int("repl-backlog-ttl", 3600, 0, LONG_MAX),
    _int("replica-priority", 100, 0, INT_MAX),
    _bool("replica-announced", True),
    _int("min-replicas-to-write", 0, 0, INT_MAX),
    _int("min-replicas-max-lag", 10, 0, INT_MAX),
    _null_str("replica-announce-ip"),
    _int("replica-announce-port", 0, 0, 65535),
    _bool("replica-ignore-maxmemory", True),
    _bool("replica-lazy-flush", False),
    _bool("replica-ignore-disk-write-errors", False),
    _enum("propagation-error-behavior", "ignore", ("ignore", "panic", "panic-on-replicas"), **IGN),
    # -- security -------------------------------------------------------------------
    _int("acllog-max-len", 128, 0, LONG_MAX, **IGN),
    _str("aclfile", "", mutable=False, meaningful=False),
    _enum("acl-pubsub-default", "resetchannels", ("allchannels", "resetchannels"), **IGN),
    # -- memory -----------------------------------------------------------------------
    Directive("maxmemory", "memory", 0, minimum=0, maximum=ULLONG_MAX),
    _enum("maxmemory-policy", "noeviction", MAXMEMORY_POLICIES),
    _int("maxmemory-samples", 5, 1, INT_MAX),
    _int("maxmemory-eviction-tenacity", 10, 0, 100),
    _int("lfu-log-factor", 10, 0, INT_MAX),
    _int("lfu-decay-time", 1, 0, INT_MAX),
    _bool("lazyfree-lazy-eviction", False),
    _bool("lazyfree-lazy-expire", False),
    _bool("lazyfree-lazy-server-del", False),
    _bool("lazyfree-lazy-user-del", False),
    _bool("lazyfree-lazy-user-flush", False),
    _enum(
        "oom-score-adj",
        "no",
        ("no", "yes", "relative", "absolute"),
        enum_aliases={"relative": "yes"},
        **IGN,
    ),
    _special(
        "oom-score-adj-values",
        [0, 200, 800],
        parse=_oom_values_parse,
        render=_ints_render,
        rewrite=_oom_values_rewrite,
        multi_arg=True,
        **IGN,
    ),
    _bool("disable-thp", True, mutable=False, meaningful=False),
    # -- threads, kernel, allocator -----------------------------------------------------
    _int("io-threads", 1, 1, 128, mutable=False, meaningful=False),
    _bool("io-threads-do-reads", False, mutable=False, meaningful=False),
    _null_str("server_cpulist", mutable=False, meaningful=False),
    _null_str("bio_cpulist", mutable=False, meaningful=False),
    _null_str("aof_rewrite_cpulist", mutable=False, meaningful=False),
    _null_str("bgsave_cpulist", mutable=False, meaningful=False),
    _bool("jemalloc-bg-thread", True, **IGN),
    _bool("activedefrag", False, **IGN),
    _mem("active-defrag-ignore-bytes", 100 * 1024**2, 1, LONG_MAX, **IGN),
    _int("active-defrag-threshold-lower", 10, 0, 1000, **IGN),
    _int("active-defrag-threshold-upper", 100, 0, 1000, **IGN),
    _int("active-defrag-cycle-min", 1, 1, 99, **IGN),
    _int("active-defrag-cycle-max", 25, 1, 99, **IGN),
    _int("active-defrag-max-scan-fields", 1000, 1, LONG_MAX, **IGN),
    _bool("use-exit-on-panic", False, hidden=True, meaningful=False),
    _int("watchdog-period", 0, 0, INT_MAX, hidden=True, meaningful=False),
    # -- append only -----------------------------------------------------------------
    _bool("appendonly", False, deny_loading=True),
    _str(
        "appendfilename",
        "appendonly.aof",
        mutable=False,
        check=_basename_check("appendfilename", "filename", False),
    ),
    _str(
        "appenddirname",
        "appendonlydir",
        mutable=False,
        check=_basename_check("appenddirname", "dirname", False),
    ),
    _enum("appendfsync", "everysec", ("everysec", "always", "no")),
    _bool("no-appendfsync-on-rewrite", False),
    _int("auto-aof-rewrite-percentage", 100, 0, INT_MAX),
    _mem("auto-aof-rewrite-min-size", 64 * 1024**2, 0, LONG_MAX),
    _bool("aof-load-truncated", True),
    _bool("aof-use-rdb-preamble", True),
    _bool("aof-timestamp-enabled", False),
    _bool("aof-disable-auto-gc", False),
    _bool("aof-rewrite-incremental-fsync", True),
    _bool("rdb-save-incremental-fsync", True),
    # -- scripting, busy replies ----------------------------------------------------
    _int("busy-reply-threshold", 5000, 0, LONG_MAX, **IGN),
    _bool("lua-enable-deprecated-api", False, mutable=False, hidden=True, meaningful=False),
    # -- cluster: keelkv is not a cluster node; cluster-enabled yes is refused -------
    _bool("cluster-enabled", False, mutable=False, meaningful=False, check=_no_cluster),
    _str("cluster-config-file", "nodes.conf", mutable=False, meaningful=False),
    _int("cluster-node-timeout", 15000, 0, LONG_MAX, **IGN),
    _int("cluster-port", 0, 0, 65535, mutable=False, meaningful=False),
    _int("cluster-replica-validity-factor", 10, 0, INT_MAX, **IGN),
    _int("cluster-migration-barrier", 1, 0, INT_MAX, **IGN),
    _bool("cluster-allow-replica-migration", True, **IGN),
    _bool("cluster-require-full-coverage", True, **IGN),
    _bool("cluster-replica-no-failover", False, **IGN),
    _bool("cluster-allow-reads-when-down", False, **IGN),
    _bool("cluster-allow-pubsubshard-when-down", True, **IGN),
    _mem("cluster-link-sendbuf-limit", 0, 0, ULLONG_MAX, **IGN),
    _null_str("cluster-announce-ip", **IGN),
    _null_str("cluster-announce-hostname", check=_hostname_check, **IGN),
    _enum("cluster-preferred-endpoint-type", "ip", ("ip", "hostname", "unknown-endpoint"), **IGN),
    _int("cluster-announce-port", 0, 0, 65535, **IGN),
    _int("cluster-announce-bus-port", 0, 0, 65535, **IGN),
    _int("cluster-announce-tls-port", 0, 0, 65535, **IGN),
    # -- diagnostics ----------------------------------------------------------------
    _int("slowlog-log-slower-than", 10000, -1, LONG_MAX),
    _int("slowlog-max-len", 128, 0, LONG_MAX),
    _int("latency-monitor-threshold", 0, 0, LONG_MAX),
    _bool("latency-tracking", True, **IGN),
    _special(
        "latency-tracking-info-percentiles",
        [50.0, 99.0, 99.9],
        parse=_percentiles_parse,
        render=_percentiles_render,
        rewrite=_percentiles_rewrite,
        multi_arg=True,
        **IGN,
    ),
    _special(
        "notify-keyspace-events",
        "",
        parse=_notify_parse,
        render=_notify_render,
        rewrite=_notify_rewrite,
    ),
    # -- encodings (the RDB writer and OBJECT ENCODING follow them) -------------------
    _int("hash-max-listpack-entries", 512, 0, LONG_MAX),
    _mem("hash-max-listpack-value", 64, 0, LONG_MAX),
    _int("list-max-listpack-size", -2, INT_MIN, INT_MAX),
    _int("list-compress-depth", 0, 0, INT_MAX),
    _int("set-max-intset-entries", 512, 0, LONG_MAX),
    _int("zset-max-listpack-entries", 128, 0, LONG_MAX),
    _mem("zset-max-listpack-value", 64, 0, LONG_MAX),
    _mem("hll-sparse-max-bytes", 3000, 0, LONG_MAX, **IGN),
    _mem("stream-node-max-bytes", 4096, 0, LONG_MAX, **IGN),
    _int("stream-node-max-entries", 100, 0, LONG_MAX, **IGN),
    _bool("activerehashing", True, **IGN),
    _int("tracking-table-max-keys", 1000000, 0, LONG_MAX, **IGN),
    # -- server cron, shutdown --------------------------------------------------------
    _int("hz", 10, 0, INT_MAX, check=_cap_hz),
    _bool("dynamic-hz", True, **IGN),
    _int("active-expire-effort", 1, 1, 10, **IGN),
    _int("shutdown-timeout", 10, 0, INT_MAX),
    _enum("shutdown-on-sigint", (), SHUTDOWN_FLAGS, flag_enum=True),
    _enum("shutdown-on-sigterm", (), SHUTDOWN_FLAGS, flag_enum=True),
]

# Old names Redis 7.0 still accepts for the same directive.
ALIASES = {
    "slaveof": "replicaof",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-read-only": "replica-read-only",
    "slave-priority": "replica-priority",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-lazy-flush": "replica-lazy-flush",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "lua-time-limit": "busy-reply-threshold",
}


def _build_table() -> dict[str, Directive]:
    table: dict[str, Directive] = {}
    for d in DIRECTIVES:
        assert d.name not in table, d.name
        table[d.name] = d
    for alias, target in ALIASES.items():
        primary = table[target]
        table[alias] = Directive(alias, primary.kind, primary.default, alias=target)
    return dict(sorted(table.items()))


TABLE: dict[str, Directive] = _build_table()
