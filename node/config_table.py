"""Every directive Redis 7.0 accepts, with its default and how keelkv treats it."""

from __future__ import annotations

from typing import Any

from node.config import ConfigError, Directive, parse_memory


def _save_parse(args: list[str]) -> list[tuple[int, int]]:
    if len(args) == 1 and args[0] == "":
        return []
    if len(args) % 2:
        raise ConfigError("Invalid save parameters")
    points = []
    for i in range(0, len(args), 2):
        try:
            points.append((int(args[i]), int(args[i + 1])))
        except ValueError as exc:
            raise ConfigError("Invalid save parameters") from exc
    return points


def _save_render(points: list[tuple[int, int]]) -> str:
    return " ".join(f"{s} {c}" for s, c in points)


def _bind_parse(args: list[str]) -> list[str]:
    if not args:
        raise ConfigError("wrong number of arguments")
    return list(args)


def _words_parse(args: list[str]) -> list[str]:
    return list(args)


def _words_render(value: list[str]) -> str:
    return " ".join(value)


def _replicaof_parse(args: list[str]) -> tuple[str, int] | None:
    if len(args) != 2:
        raise ConfigError("wrong number of arguments")
    if args[0].lower() == "no" and args[1].lower() == "one":
        return None
    try:
        return (args[0], int(args[1]))
    except ValueError as exc:
        raise ConfigError("Invalid master port") from exc


def _replicaof_render(value: tuple[str, int] | None) -> str:
    return "" if value is None else f"{value[0]} {value[1]}"


COBL_CLASSES = ("normal", "replica", "pubsub")


def _cobl_parse(args: list[str]) -> dict[str, tuple[int, int, int]]:
    if len(args) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(args), 4):
        cls = args[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in COBL_CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft, secs = (
                parse_memory(args[i + 1]),
                parse_memory(args[i + 2]),
                int(args[i + 3]),
            )
        except (ConfigError, ValueError) as exc:
            raise ConfigError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            ) from exc
        out[cls] = (hard, soft, secs)
    return out


def _cobl_render(value: dict[str, tuple[int, int, int]]) -> str:
    parts = []
    for cls in COBL_CLASSES:
        hard, soft, secs = value[cls]
        parts.append(f"{'slave' if cls == 'replica' else cls} {hard} {soft} {secs}")
    return " ".join(parts)


def _d(name: str, kind: str, default: Any, **kw: Any) -> Directive:
    return Directive(name, kind, default, **kw)


def _ignored(name: str, kind: str, default: Any, **kw: Any) -> Directive:
    return Directive(name, kind, default, meaningful=False, **kw)


DIRECTIVES: list[Directive] = [
    # network and clients
    _d("port", "int", 6379, minimum=0, maximum=65535),
    _d("bind", "special", ["127.0.0.1", "-::1"], parse=_bind_parse, render=_words_render),
    _d("protected-mode", "bool", True),
    _d("tcp-backlog", "int", 511, mutable=False, meaningful=False),
    _d("unixsocket", "string", "", mutable=False),
    _d("unixsocketperm", "int", 0, mutable=False),
    _d("timeout", "int", 0, minimum=0),
    _d("tcp-keepalive", "int", 300, minimum=0),
    _d("maxclients", "int", 10000, minimum=1),
    _d("requirepass", "string", ""),
    _d("masteruser", "string", ""),
    _d("masterauth", "string", ""),
    _d("proto-max-bulk-len", "memory", 512 * 1024 * 1024, minimum=1024 * 1024),
    _d("client-query-buffer-limit", "memory", 1024**3, minimum=1024 * 1024),
    _d(
        "client-output-buffer-limit",
        "special",
        {
            "normal": (0, 0, 0),
            "replica": (256 * 1024**2, 64 * 1024**2, 60),
            "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
        },
        parse=_cobl_parse,
        render=_cobl_render,
        accumulate=True,
    ),
    # general
    _d("daemonize", "bool", False, mutable=False),
    _d("pidfile", "string", "", mutable=False),
    _d("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
    _d("logfile", "string", "", mutable=False),
    _d("syslog-enabled", "bool", False, mutable=False, meaningful=False),
    _d("syslog-ident", "string", "redis", mutable=False, meaningful=False),
    _d("syslog-facility", "string", "local0", mutable=False, meaningful=False),
    _d("databases", "int", 16, mutable=False, minimum=1, maximum=2**31 - 1),
    _d("always-show-logo", "bool", False, mutable=False, meaningful=False),
    _d("set-proc-title", "bool", True, mutable=False, meaningful=False),
    _d("proc-title-template", "string", "{title} {listen-addr} {server-mode}", meaningful=False),
    _d("hz", "int", 10, minimum=1, maximum=500),
    _d("dynamic-hz", "bool", True, meaningful=False),
    _d("enable-debug-command", "enum", "no", mutable=False, choices=("no", "yes", "local")),
    _d("enable-protected-configs", "enum", "no", mutable=False, choices=("no", "yes", "local")),
    _d(
        "enable-module-command",
        "enum",
        "no",
        mutable=False,
        choices=("no", "yes", "local"),
        meaningful=False,
    ),
    # snapshotting
    _d(
        "save",
        "special",
        [(3600, 1), (300, 100), (60, 10000)],
        parse=_save_parse,
        render=_save_render,
        accumulate=True,
    ),
    _d("stop-writes-on-bgsave-error", "bool", True),
    _d("rdbcompression", "bool", True),
    _d("rdbchecksum", "bool", True),
    _d("dbfilename", "string", "dump.rdb", protected=True),
    _d("rdb-del-sync-files", "bool", False),
    _d("dir", "string", "", protected=True),
    # replication
    _d("replicaof", "special", None, parse=_replicaof_parse, render=_replicaof_render),
    _d("slaveof", "special", None, alias="replicaof"),
    _d("replica-serve-stale-data", "bool", True),
    _d("replica-read-only", "bool", True),
    _d("repl-diskless-sync", "bool", True),
    _d("repl-diskless-sync-delay", "int", 5, minimum=0),
    _d("repl-diskless-sync-max-replicas", "int", 0, minimum=0),
    _d("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb")),
    _d("repl-ping-replica-period", "int", 10, minimum=1),
    _d("repl-timeout", "int", 60, minimum=1),
    _d("repl-disable-tcp-nodelay", "bool", False),
    _d("repl-backlog-size", "memory", 1024 * 1024, minimum=1),
    _d("repl-backlog-ttl", "int", 3600, minimum=0),
    _d("replica-priority", "int", 100, minimum=0),
    _d("replica-announced", "bool", True),
    _d("min-replicas-to-write", "int", 0, minimum=0),
    _d("min-replicas-max-lag", "int", 10, minimum=0),
    _d("replica-announce-ip", "string", ""),
    _d("replica-announce-port", "int", 0, minimum=0, maximum=65535),
    _d("replica-ignore-maxmemory", "bool", True),
    _d("replica-lazy-flush", "bool", False),
    # memory
    _d("maxmemory", "memory", 0, minimum=0),
    _d(
        "maxmemory-policy",
        "enum",
        "noeviction",
        choices=(
            "volatile-lru",
            "allkeys-lru",
            "volatile-lfu",
            "allkeys-lfu",
            "volatile-random",
            "allkeys-random",
            "volatile-ttl",
            "noeviction",
        ),
    ),
    _d("maxmemory-samples", "int", 5, minimum=1, maximum=64),
    _d("maxmemory-eviction-tenacity", "int", 10, minimum=0, maximum=100),
    _d("lfu-log-factor", "int", 10, minimum=0),
    _d("lfu-decay-time", "int", 1, minimum=0),
    _d("lazyfree-lazy-eviction", "bool", False),
    _d("lazyfree-lazy-expire", "bool", False),
    _d("lazyfree-lazy-server-del", "bool", False),
    _d("lazyfree-lazy-user-del", "bool", False),
    _d("lazyfree-lazy-user-flush", "bool", False),
    # append only
    _d("appendonly", "bool", False),
    _d("appendfilename", "string", "appendonly.aof", mutable=False),
    _d("appenddirname", "string", "appendonlydir", mutable=False),
    _d("appendfsync", "enum", "everysec", choices=("always", "everysec", "no")),
    _d("no-appendfsync-on-rewrite", "bool", False),
    _d("auto-aof-rewrite-percentage", "int", 100, minimum=0),
    _d("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, minimum=0),
    _d("aof-load-truncated", "bool", True),
    _d("aof-use-rdb-preamble", "bool", True),
    _d("aof-timestamp-enabled", "bool", False),
    _d("aof-rewrite-incremental-fsync", "bool", True),
    _d("rdb-save-incremental-fsync", "bool", True),
    # encodings (used by the RDB writer and OBJECT ENCODING)
    _d("hash-max-listpack-entries", "int", 128, minimum=0),
    _d("hash-max-ziplist-entries", "int", 128, alias="hash-max-listpack-entries"),
    _d("hash-max-listpack-value", "int", 64, minimum=0),
    _d("hash-max-ziplist-value", "int", 64, alias="hash-max-listpack-value"),
    _d("list-max-listpack-size", "int", -2),
    _d("list-max-ziplist-size", "int", -2, alias="list-max-listpack-size"),
    _d("list-compress-depth", "int", 0, minimum=0),
    _d("set-max-intset-entries", "int", 512, minimum=0),
    _d("zset-max-listpack-entries", "int", 128, minimum=0),
    _d("zset-max-ziplist-entries", "int", 128, alias="zset-max-listpack-entries"),
    _d("zset-max-listpack-value", "int", 64, minimum=0),
    _d("zset-max-ziplist-value", "int", 64, alias="zset-max-listpack-value"),
    _d("hll-sparse-max-bytes", "memory", 3000, minimum=0, meaningful=False),
    _d("stream-node-max-bytes", "memory", 4096, minimum=0, meaningful=False),
    _d("stream-node-max-entries", "int", 100, minimum=0, meaningful=False),
    _d("activerehashing", "bool", True, meaningful=False),
    # diagnostics
    _d("slowlog-log-slower-than", "int", 10000),
    _d("slowlog-max-len", "int", 128, minimum=0),
    _d("latency-monitor-threshold", "int", 0, minimum=0),
    _d("latency-tracking", "bool", True, meaningful=False),
    _d(
        "latency-tracking-info-percentiles",
        "special",
        ["50", "99", "99.9"],
        parse=_words_parse,
        render=_words_render,
        meaningful=False,
    ),
    _d("notify-keyspace-events", "string", ""),
    _d("busy-reply-threshold", "int", 5000, minimum=0, meaningful=False),
    _d("lua-time-limit", "int", 5000, alias="busy-reply-threshold"),
    _d("shutdown-timeout", "int", 10, minimum=0),
    _d("shutdown-on-sigint", "special", ["default"], parse=_words_parse, render=_words_render),
    _d("shutdown-on-sigterm", "special", ["default"], parse=_words_parse, render=_words_render),
    # threads, allocator, kernel: nothing to tune in keelkv
    _ignored("io-threads", "int", 1, mutable=False),
    _ignored("io-threads-do-reads", "bool", False, mutable=False),
    _ignored("jemalloc-bg-thread", "bool", True),
    _ignored("activedefrag", "bool", False),
    _ignored("active-defrag-ignore-bytes", "memory", 100 * 1024 * 1024),
    _ignored("active-defrag-threshold-lower", "int", 10),
    _ignored("active-defrag-threshold-upper", "int", 100),
    _ignored("active-defrag-cycle-min", "int", 1),
    _ignored("active-defrag-cycle-max", "int", 25),
    _ignored("active-defrag-max-scan-fields", "int", 1000),
    _ignored("oom-score-adj", "enum", "no", choices=("no", "yes", "relative", "absolute")),
    _ignored(
        "oom-score-adj-values",
        "special",
        ["0", "200", "800"],
        parse=_words_parse,
        render=_words_render,
    ),
    _ignored("disable-thp", "bool", True, mutable=False),
    _ignored(
        "supervised", "enum", "no", mutable=False, choices=("upstart", "systemd", "auto", "no")
    ),
    _ignored("crash-log-enabled", "bool", True),
    _ignored("crash-memcheck-enabled", "bool", True),
    _ignored("use-exit-on-panic", "bool", False, mutable=False),
    _ignored("tracking-table-max-keys", "int", 1000000),
    _ignored("acllog-max-len", "int", 128),
    _ignored("aclfile", "string", "", mutable=False),
    _ignored("lua-replicate-commands", "bool", True),
    _ignored("cluster-enabled", "bool", False, mutable=False),
    _ignored("cluster-config-file", "string", "nodes.conf", mutable=False),
    _ignored("cluster-node-timeout", "int", 15000),
    _ignored("active-expire-effort", "int", 1),
    _ignored("rdb-key-save-delay", "int", 0),
    _ignored("key-load-delay", "int", 0),
    _ignored("tls-port", "int", 0, mutable=False),
    _ignored("ignore-warnings", "string", ""),
    _ignored("sanitize-dump-payload", "enum", "no", choices=("no", "yes", "clients")),
    _ignored("locale-collate", "string", ""),
]


TABLE: dict[str, Directive] = {d.name: d for d in DIRECTIVES}
