"""Configuration: the directive table against Redis 7.0.15, redis.conf parsing, CONFIG
GET/SET semantics and error texts, and CONFIG REWRITE's text, all sans-IO."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from node.config import (
    REWRITE_SIGNATURE,
    ConfigError,
    ConfigSetError,
    FileConfigError,
    config_set,
    load_config,
    memtoull,
    parse_config_text,
    rewrite_config_text,
    string2ll,
)
from node.config_table import TABLE, keyspace_events_flags
from tests.unit.sansio import Session, make_server

# `CONFIG GET *` of a redis-server 7.0.15 started with no config file (dir omitted: it is
# the working directory). keelkv must know every name, with the same default rendering.
REDIS_7_0_15_CONFIG = {
    "acl-pubsub-default": "resetchannels",
    "aclfile": "",
    "acllog-max-len": "128",
    "active-defrag-cycle-max": "25",
    "active-defrag-cycle-min": "1",
    "active-defrag-ignore-bytes": "104857600",
    "active-defrag-max-scan-fields": "1000",
    "active-defrag-threshold-lower": "10",
    "active-defrag-threshold-upper": "100",
    "active-expire-effort": "1",
    "activedefrag": "no",
    "activerehashing": "yes",
    "always-show-logo": "no",
    "aof-disable-auto-gc": "no",
    "aof-load-truncated": "yes",
    "aof-rewrite-incremental-fsync": "yes",
    "aof-timestamp-enabled": "no",
    "aof-use-rdb-preamble": "yes",
    "aof_rewrite_cpulist": "",
    "appenddirname": "appendonlydir",
    "appendfilename": "appendonly.aof",
    "appendfsync": "everysec",
    "appendonly": "no",
    "auto-aof-rewrite-min-size": "67108864",
    "auto-aof-rewrite-percentage": "100",
    "bgsave_cpulist": "",
    "bind": "* -::*",
    "bind-source-addr": "",
    "bio_cpulist": "",
    "busy-reply-threshold": "5000",
    "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    "client-query-buffer-limit": "1073741824",
    "cluster-allow-pubsubshard-when-down": "yes",
    "cluster-allow-reads-when-down": "no",
    "cluster-allow-replica-migration": "yes",
    "cluster-announce-bus-port": "0",
    "cluster-announce-hostname": "",
    "cluster-announce-ip": "",
    "cluster-announce-port": "0",
    "cluster-announce-tls-port": "0",
    "cluster-config-file": "nodes.conf",
    "cluster-enabled": "no",
    "cluster-link-sendbuf-limit": "0",
    "cluster-migration-barrier": "1",
    "cluster-node-timeout": "15000",
    "cluster-port": "0",
    "cluster-preferred-endpoint-type": "ip",
    "cluster-replica-no-failover": "no",
    "cluster-replica-validity-factor": "10",
    "cluster-require-full-coverage": "yes",
    "cluster-slave-no-failover": "no",
    "cluster-slave-validity-factor": "10",
    "crash-log-enabled": "yes",
    "crash-memcheck-enabled": "yes",
    "daemonize": "no",
    "databases": "16",
    "dbfilename": "dump.rdb",
    "disable-thp": "yes",
    "dynamic-hz": "yes",
    "enable-debug-command": "no",
    "enable-module-command": "no",
    "enable-protected-configs": "no",
    "hash-max-listpack-entries": "512",
    "hash-max-listpack-value": "64",
    "hash-max-ziplist-entries": "512",
    "hash-max-ziplist-value": "64",
    "hll-sparse-max-bytes": "3000",
    "hz": "10",
    "ignore-warnings": "",
    "io-threads": "1",
    "io-threads-do-reads": "no",
    "jemalloc-bg-thread": "yes",
    "latency-monitor-threshold": "0",
    "latency-tracking": "yes",
    "latency-tracking-info-percentiles": "50 99 99.9",
    "lazyfree-lazy-eviction": "no",
    "lazyfree-lazy-expire": "no",
    "lazyfree-lazy-server-del": "no",
    "lazyfree-lazy-user-del": "no",
    "lazyfree-lazy-user-flush": "no",
    "lfu-decay-time": "1",
    "lfu-log-factor": "10",
    "list-compress-depth": "0",
    "list-max-listpack-size": "-2",
    "list-max-ziplist-size": "-2",
    "logfile": "",
    "loglevel": "notice",
    "lua-time-limit": "5000",
    "masterauth": "",
    "masteruser": "",
    "maxclients": "10000",
    "maxmemory": "0",
    "maxmemory-clients": "0",
    "maxmemory-eviction-tenacity": "10",
    "maxmemory-policy": "noeviction",
    "maxmemory-samples": "5",
    "min-replicas-max-lag": "10",
    "min-replicas-to-write": "0",
    "min-slaves-max-lag": "10",
    "min-slaves-to-write": "0",
    "no-appendfsync-on-rewrite": "no",
    "notify-keyspace-events": "",
    "oom-score-adj": "no",
    "oom-score-adj-values": "0 200 800",
    "pidfile": "",
    "port": "6379",
    "proc-title-template": "{title} {listen-addr} {server-mode}",
    "propagation-error-behavior": "ignore",
    "protected-mode": "yes",
    "proto-max-bulk-len": "536870912",
    "rdb-del-sync-files": "no",
    "rdb-save-incremental-fsync": "yes",
    "rdbchecksum": "yes",
    "rdbcompression": "yes",
    "repl-backlog-size": "1048576",
    "repl-backlog-ttl": "3600",
    "repl-disable-tcp-nodelay": "no",
    "repl-diskless-load": "disabled",
    "repl-diskless-sync": "yes",
    "repl-diskless-sync-delay": "5",
    "repl-diskless-sync-max-replicas": "0",
    "repl-ping-replica-period": "10",
    "repl-ping-slave-period": "10",
    "repl-timeout": "60",
    "replica-announce-ip": "",
    "replica-announce-port": "0",
    "replica-announced": "yes",
    "replica-ignore-disk-write-errors": "no",
    "replica-ignore-maxmemory": "yes",
    "replica-lazy-flush": "no",
    "replica-priority": "100",
    "replica-read-only": "yes",
    "replica-serve-stale-data": "yes",
    "replicaof": "",
    "requirepass": "",
    "sanitize-dump-payload": "no",
    "save": "3600 1 300 100 60 10000",
    "server_cpulist": "",
    "set-max-intset-entries": "512",
    "set-proc-title": "yes",
    "shutdown-on-sigint": "default",
    "shutdown-on-sigterm": "default",
    "shutdown-timeout": "10",
    "slave-announce-ip": "",
    "slave-announce-port": "0",
    "slave-ignore-maxmemory": "yes",
    "slave-lazy-flush": "no",
    "slave-priority": "100",
    "slave-read-only": "yes",
    "slave-serve-stale-data": "yes",
    "slaveof": "",
    "slowlog-log-slower-than": "10000",
    "slowlog-max-len": "128",
    "socket-mark-id": "0",
    "stop-writes-on-bgsave-error": "yes",
    "stream-node-max-bytes": "4096",
    "stream-node-max-entries": "100",
    "supervised": "no",
    "syslog-enabled": "no",
    "syslog-facility": "local0",
    "syslog-ident": "redis",
    "tcp-backlog": "511",
    "tcp-keepalive": "300",
    "timeout": "0",
    "tls-auth-clients": "yes",
    "tls-ca-cert-dir": "",
    "tls-ca-cert-file": "",
    "tls-cert-file": "",
    "tls-ciphers": "",
    "tls-ciphersuites": "",
    "tls-client-cert-file": "",
    "tls-client-key-file": "",
    "tls-client-key-file-pass": "",
    "tls-cluster": "no",
    "tls-dh-params-file": "",
    "tls-key-file": "",
    "tls-key-file-pass": "",
    "tls-port": "0",
    "tls-prefer-server-ciphers": "no",
    "tls-protocols": "",
    "tls-replication": "no",
    "tls-session-cache-size": "20480",
    "tls-session-cache-timeout": "300",
    "tls-session-caching": "yes",
    "tracking-table-max-keys": "1000000",
    "unixsocket": "",
    "unixsocketperm": "0",
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64",
    "zset-max-ziplist-entries": "128",
    "zset-max-ziplist-value": "64",
}

# keelkv's one deliberate difference: it listens on loopback unless told otherwise.
KEELKV_DEFAULT_DIFFERENCES = {"bind": "127.0.0.1 -::1"}
# keelkv's own directives, which Redis does not have.
KEELKV_ONLY = {"snapshot-mode": "live"}
# Hidden in Redis: answered by exact name only, never by a glob.
REDIS_HIDDEN = {
    "key-load-delay": "0",
    "loading-process-events-interval-bytes": "2097152",
    "lua-enable-deprecated-api": "no",
    "rdb-key-save-delay": "0",
    "use-exit-on-panic": "no",
    "watchdog-period": "0",
}


def defaults() -> object:
    return load_config(TABLE, None, [])


def test_every_redis_directive_exists_with_its_default_rendering() -> None:
    config = defaults()
    ours = dict(config.matching(["*"]))  # type: ignore[attr-defined]
    ours.pop("dir")
    expected = {**REDIS_7_0_15_CONFIG, **KEELKV_DEFAULT_DIFFERENCES, **KEELKV_ONLY}
    assert ours == expected


def test_hidden_directives_answer_only_by_exact_name() -> None:
    config = defaults()
    globbed = dict(config.matching(["*"]))  # type: ignore[attr-defined]
    for name, value in REDIS_HIDDEN.items():
        assert name not in globbed
        assert config.matching([name]) == [(name, value)]  # type: ignore[attr-defined]


def test_config_get_keeps_the_callers_spelling_for_exact_names() -> None:
    s = Session()
    assert s.run("CONFIG", "GET", "MAXMEMORY") == [b"MAXMEMORY", b"0"]
    assert s.run("CONFIG", "GET", "MAXMEMORY-P*") == [b"maxmemory-policy", b"noeviction"]


def test_config_get_several_patterns_lists_each_name_once() -> None:
    s = Session()
    reply = s.run("CONFIG", "GET", "maxmemory", "maxmemory*", "timeout")
    pairs = dict(zip(reply[::2], reply[1::2], strict=True))
    assert len(reply) == 2 * len(pairs)
    assert pairs[b"maxmemory"] == b"0" and pairs[b"timeout"] == b"0"
    assert b"maxmemory-policy" in pairs


def test_aliases_read_and_write_the_same_value() -> None:
    s = Session()
    assert s.run("CONFIG", "SET", "slave-read-only", "no") == b"OK"
    assert s.run("CONFIG", "GET", "replica-read-only") == [b"replica-read-only", b"no"]
    assert s.run("CONFIG", "GET", "slave-read-only") == [b"slave-read-only", b"no"]
    assert s.server.config.replica_read_only is False


@pytest.mark.parametrize(
    "name,value,reason",
    [
        ("maxmemory", "1.5gb", "argument must be a memory value"),
        ("maxmemory", "-5", "argument must be a memory value"),
        ("timeout", "+5", "argument couldn't be parsed into an integer"),
        ("timeout", "010", "argument couldn't be parsed into an integer"),
        ("timeout", "-5", "argument must be between 0 and 2147483647 inclusive"),
        ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
        ("repl-backlog-size", "0", "argument must be between 1 and 9223372036854775807 inclusive"),
        ("appendonly", "maybe", "argument must be 'yes' or 'no'"),
        (
            "appendfsync",
            "sometimes",
            "argument(s) must be one of the following: everysec, always, no",
        ),
        (
            "loglevel",
            "nothing",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        ("save", "100 10 200", "Invalid save parameters"),
        ("save", "0 10", "Invalid save parameters"),
        ("maxmemory-clients", "101%", "percentage argument must be less or equal to 100"),
        ("maxmemory-clients", "x", "argument must be a memory or percent value"),
        (
            "client-output-buffer-limit",
            "master 1 1 1",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit",
            "normal 1x 1 1",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit",
            "normal 1",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        ("oom-score-adj-values", "1 2", "wrong number of arguments"),
        (
            "oom-score-adj-values",
            "1 2 3000",
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
        ),
        ("notify-keyspace-events", "Q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("bind", " ".join(str(i) for i in range(17)), "Too many bind addresses specified."),
        (
            "latency-tracking-info-percentiles",
            "x",
            "Invalid latency-tracking-info-percentiles parameters",
        ),
        (
            "latency-tracking-info-percentiles",
            "101",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
        ),
        (
            "proc-title-template",
            "{bad}",
            "template format is invalid or contains unknown variables",
        ),
        ("daemonize", "no", "can't set immutable config"),
        ("databases", "1", "can't set immutable config"),
        ("dir", "/tmp", "can't set protected config"),
        ("dbfilename", "x.rdb", "can't set protected config"),
    ],
)
def test_config_set_errors_are_redis_texts(name: str, value: str, reason: str) -> None:
    s = Session()
    before = s.run("CONFIG", "GET", name)
    reply = s.run("CONFIG", "SET", name, value)
    assert str(reply) == f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    assert s.run("CONFIG", "GET", name) == before


def test_config_set_is_all_or_nothing() -> None:
    s = Session()
    reply = s.run("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "bad")
    assert str(reply).startswith(
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')"
    )
    assert s.run("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"0"]
    assert s.run("CONFIG", "SET", "maxmemory", "10mb", "timeout", "5") == b"OK"
    assert s.server.config.maxmemory == 10 * 1024 * 1024 and s.server.config.timeout == 5


def test_config_set_argument_errors() -> None:
    s = Session()
    assert str(s.run("CONFIG", "SET", "nosuch", "1")) == (
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    )
    assert str(s.run("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")) == (
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"
    )
    assert str(s.run("CONFIG", "SET", "maxmemory", "1", "x")) == "ERR syntax error"
    assert str(s.run("CONFIG", "SET", "maxmemory")) == (
        "ERR wrong number of arguments for 'config|set' command"
    )
    assert str(s.run("CONFIG", "GET")) == "ERR wrong number of arguments for 'config|get' command"
    assert str(s.run("CONFIG")) == "ERR wrong number of arguments for 'config' command"
    assert str(s.run("CONFIG", "FOO")) == "ERR unknown subcommand 'FOO'. Try CONFIG HELP."
    # An unknown name is reported even when a later pair is immutable, as Redis does.
    assert "Unknown option" in str(s.run("CONFIG", "SET", "nosuch", "1", "daemonize", "no"))


def test_protected_configs_follow_enable_protected_configs() -> None:
    s = Session(make_server("--enable-protected-configs", "yes"))
    assert s.run("CONFIG", "SET", "dbfilename", "other.rdb") == b"OK"
    assert s.server.config.dbfilename == "other.rdb"
    assert str(s.run("CONFIG", "SET", "dbfilename", "a/b.rdb")) == (
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - "
        "dbfilename can't be a path, just a filename"
    )
    local = Session(make_server("--enable-protected-configs", "local"))
    assert local.run("CONFIG", "SET", "dbfilename", "x.rdb") == b"OK"  # no socket: local


def test_config_set_renders_canonically() -> None:
    s = Session()
    cases = [
        ("maxmemory", "1GB", "1073741824"),
        ("maxmemory", "", "0"),
        ("hz", "1000", "500"),
        ("hz", "0", "1"),
        ("appendfsync", "ALWAYS", "always"),
        ("oom-score-adj", "relative", "yes"),
        ("shutdown-on-sigint", "now nosave force", "nosave now force"),
        ("shutdown-on-sigint", "default save", "save"),
        ("notify-keyspace-events", "g$lshzxetd", "A"),
        ("notify-keyspace-events", "KEA", "AKE"),
        ("notify-keyspace-events", "Exg", "gxE"),
        ("maxmemory-clients", "10%", "10%"),
        ("latency-tracking-info-percentiles", "50.5 99 0", "50.5 99 0"),
        ("latency-tracking-info-percentiles", "", ""),
        ("save", "100 10 200 20", "100 10 200 20"),
        ("save", "", ""),
        (
            "client-output-buffer-limit",
            "normal 1mb 2mb 3",
            "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
    ]
    for name, value, shown in cases:
        assert s.run("CONFIG", "SET", name, value) == b"OK", name
        assert s.run("CONFIG", "GET", name) == [name.encode(), shown.encode()], name


def test_parsers_match_redis() -> None:
    assert memtoull("1gb") == 1024**3 and memtoull("1g") == 1000**3 and memtoull("5KB") == 5120
    assert memtoull("") == 0 and memtoull("-1") is None and memtoull("1.5mb") is None
    assert memtoull("99999999999999999999") == 2**64 - 1
    assert string2ll("-12") == -12 and string2ll("0") == 0
    for bad in ("+1", " 1", "01", "-0", "1e3", "", "99999999999999999999"):
        assert string2ll(bad) is None
    assert keyspace_events_flags("Ex") == "xE" and keyspace_events_flags("z?") is None


# -- redis.conf files --------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "redis.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_unknown_directive_is_a_fatal_error_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "port 7000\n# comment\nnot-a-directive yes\n")
    with pytest.raises(FileConfigError) as info:
        load_config(TABLE, path, [])
    err = info.value
    assert (err.path, err.lineno) == (path, 3)
    report = err.report("7.0.15")
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in report
    assert f"Reading the configuration file '{path}', at line 3" in report
    assert ">>> 'not-a-directive yes'" in report
    assert "Bad directive or wrong number of arguments" in report


@pytest.mark.parametrize(
    "line,reason",
    [
        ("port", "wrong number of arguments"),
        ("port 1 2", "wrong number of arguments"),
        ('requirepass "unbalanced', "Unbalanced quotes in configuration line"),
        ("loadmodule /x.so", "Module /x.so failed to load: keelkv does not load Redis modules"),
        (
            "mymod.opt 1",
            "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting",
        ),
        ("sentinel monitor m 127.0.0.1 6379 2", "sentinel directive while not in sentinel mode"),
        ("rename-command NOSUCHCMD x", "No such command in rename-command"),
        ("cluster-enabled yes", "keelkv does not support cluster mode (cluster-enabled yes)"),
        ("tls-port 6380", "keelkv does not support TLS (tls-port)"),
    ],
)
def test_bad_lines_are_fatal_with_redis_reasons(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path, line + "\n")
    with pytest.raises(FileConfigError) as info:
        load_config(TABLE, path, [], command_exists=lambda name: name.lower() == "get")
    assert info.value.reason == reason


def test_file_syntax_quotes_includes_and_deprecated_lines(tmp_path: Path) -> None:
    write(tmp_path, "timeout 30\n", "inc.conf")
    path = write(
        tmp_path,
        f'requirepass "with space\\x41"\ninclude {tmp_path}/inc.conf\n'
        f"include {tmp_path}/nothing-*.conf\nlist-max-ziplist-entries 512\n"
        "lua-replicate-commands yes\n   MAXMEMORY   100mb  \nslaveof 10.0.0.1 6380\n"
        'rename-command get ""\nuser default on >pw ~* +@all\n',
    )
    config = load_config(TABLE, path, [], command_exists=lambda name: True)
    assert config.requirepass == "with spaceA"
    assert config.timeout == 30 and config.maxmemory == 100 * 1024**2
    assert config.replicaof == ("10.0.0.1", 6380)
    assert config.rename_commands == [("get", "")]
    assert config.users == [["default", "on", ">pw", "~*", "+@all"]]
    assert config.config_file == os.path.abspath(path)


def test_save_lines_replace_the_default_then_accumulate(tmp_path: Path) -> None:
    path = write(tmp_path, "save 900 1\nsave 300 10\n")
    assert load_config(TABLE, path, []).save == [(900, 1), (300, 10)]
    assert load_config(TABLE, path, ["--save", ""]).save == []
    path = write(tmp_path, 'save ""\nsave 60 5\n')
    assert load_config(TABLE, path, []).save == [(60, 5)]
    assert load_config(TABLE, None, []).save == [(3600, 1), (300, 100), (60, 10000)]


def test_client_output_buffer_limit_lines_update_one_class_each(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client-output-buffer-limit pubsub 1mb 2mb 3\nclient-output-buffer-limit slave 4mb 5mb 6\n",
    )
    limits = load_config(TABLE, path, []).client_output_buffer_limit
    assert limits == {
        "normal": (0, 0, 0),
        "replica": (4 * 1024**2, 5 * 1024**2, 6),
        "pubsub": (1024**2, 2 * 1024**2, 3),
    }


def test_command_line_overrides_follow_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "port 7000\nloglevel warning\n")
    config = load_config(TABLE, path, ["--port", "7001", "--bind", "127.0.0.1", "::1"])
    assert config.port == 7001 and config.loglevel == "warning"
    assert config.bind == ["127.0.0.1", "::1"]
    with pytest.raises(FileConfigError) as info:
        load_config(TABLE, path, ["--port", "x"])
    assert info.value.reason == "argument couldn't be parsed into an integer"


def test_stdin_text_is_read_between_file_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "port 7000\n")
    config = load_config(TABLE, path, ["--timeout", "9"], stdin_text="port 7002\ntimeout 3\n")
    assert config.port == 7002 and config.timeout == 9


def test_meaningless_directives_are_recorded_once(tmp_path: Path) -> None:
    path = write(tmp_path, "io-threads 4\njemalloc-bg-thread no\nio-threads 2\nport 7000\n")
    config = load_config(TABLE, path, [])
    assert config.ignored_seen == ["io-threads", "jemalloc-bg-thread"]
    assert config.io_threads == 2


STOCK_CONF = Path("/etc/redis/redis.conf")


def test_debian_stock_redis_conf_parses_unchanged() -> None:
    """Debian's stock redis.conf for 7.0 (installed with redis-server) is accepted."""
    config = load_config(TABLE, str(STOCK_CONF), [])
    assert config.daemonize is True
    assert config.bind == ["127.0.0.1", "-::1"] and config.port == 6379
    assert config.hash_max_listpack_entries == 512
    assert "jemalloc-bg-thread" in config.ignored_seen


# -- CONFIG REWRITE ------------------------------------------------------------------


def rewrite(text: str, *sets: tuple[str, str], tmp_path: Path) -> str:
    path = write(tmp_path, text)
    config = load_config(TABLE, path, [], command_exists=lambda name: True)
    if sets:
        config_set(config, list(sets), allow_protected=True)
    return rewrite_config_text(config, text)


def test_rewrite_keeps_comments_and_replaces_lines_in_place(tmp_path: Path) -> None:
    text = "# top comment\nport 6379\n\n# memory\nmaxmemory 100mb\nslave-read-only yes\nhash-max-ziplist-entries 100\n"
    out = rewrite(text, ("maxmemory", "200mb"), ("replica-read-only", "no"), tmp_path=tmp_path)
    lines = out.split("\n")
    assert lines[:7] == [
        "# top comment",
        "port 6379",
        "",
        "# memory",
        "maxmemory 200mb",
        "replica-read-only no",
        "hash-max-listpack-entries 100",
    ]
    tail = lines[lines.index(REWRITE_SIGNATURE) + 1 :]
    assert f'dir "{os.getcwd()}"' in tail  # dir and save are always written, as in Redis
    assert "save 3600 1" in tail and "bind 127.0.0.1 -::1" in tail


def test_rewrite_appends_changed_directives_after_the_signature(tmp_path: Path) -> None:
    out = rewrite("port 6379\n", ("timeout", "5"), ("loglevel", "warning"), tmp_path=tmp_path)
    lines = out.split("\n")
    assert lines[0] == "port 6379"
    assert lines.count(REWRITE_SIGNATURE) == 1
    assert {"timeout 5", "loglevel warning"} <= set(lines[lines.index(REWRITE_SIGNATURE) :])
    again = rewrite(out, ("timeout", "6"), tmp_path=tmp_path)
    assert again.count(REWRITE_SIGNATURE) == 1 and "timeout 6" in again


def test_rewrite_blanks_surplus_and_unset_lines(tmp_path: Path) -> None:
    text = "save 900 1\nsave 300 10\nrequirepass secret\nmasterauth x\n"
    out = rewrite(
        text, ("save", "60 5"), ("requirepass", ""), ("masterauth", "y z"), tmp_path=tmp_path
    )
    assert out.startswith('save 60 5\n\nmasterauth "y z"\n')
    assert "requirepass" not in out


def test_rewrite_quotes_strings_and_formats_memory(tmp_path: Path) -> None:
    out = rewrite(
        "dbfilename dump.rdb\nmaxmemory 1\nclient-output-buffer-limit normal 0 0 0\n",
        ("dbfilename", 'a "b".rdb'),
        ("maxmemory", "3072"),
        ("client-output-buffer-limit", "normal 1mb 2gb 3"),
        tmp_path=tmp_path,
    )
    assert out.startswith(
        'dbfilename "a \\"b\\".rdb"\nmaxmemory 3kb\nclient-output-buffer-limit normal 1mb 2gb 3\n'
    )


def test_rewrite_comments_out_unknown_lines_and_keeps_file_only_ones(tmp_path: Path) -> None:
    text = "include /dev/null\nrename-command get x\nport 1\n"
    config = load_config(TABLE, None, [])
    out = rewrite_config_text(config, text + "bogus-directive 1\n")
    assert out.startswith(
        "include /dev/null\nrename-command get x\nport 6379\n# ??? bogus-directive 1\n"
    )


def test_config_rewrite_command_writes_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# keep me\nport 6379\n")
    config = load_config(TABLE, path, [])
    server = make_server()
    server.config = config
    s = Session(server)
    assert s.run("CONFIG", "SET", "port", "6390") == b"OK"
    assert s.run("CONFIG", "REWRITE") == b"OK"
    assert Path(path).read_text().startswith("# keep me\nport 6390\n")
    assert (
        str(Session().run("CONFIG", "REWRITE")) == "ERR The server is running without a config file"
    )


# -- side effects ---------------------------------------------------------------------


def test_config_set_applies_side_effects_and_hooks() -> None:
    s = Session()
    server = s.server
    assert s.run("CONFIG", "SET", "loglevel", "debug") == b"OK"
    assert server.log.level == 0
    calls: list[int] = []

    def refuse(srv: object) -> str | None:
        calls.append(1)
        return "not now" if len(calls) == 1 else None

    server.config_set_hooks["repl-backlog-size"] = refuse
    reply = s.run("CONFIG", "SET", "timeout", "7", "repl-backlog-size", "2mb")
    assert (
        str(reply)
        == "ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - not now"
    )
    # Rolled back, and the hook ran again for the restored value.
    assert server.config.timeout == 0 and server.config.repl_backlog_size == 1024**2
    assert len(calls) == 2
    assert s.run("CONFIG", "SET", "repl-backlog-size", "2mb") == b"OK"


def test_config_set_maxmemory_updates_the_dispatch_gates() -> None:
    s = Session()
    assert s.run("CONFIG", "SET", "maxmemory", "100mb") == b"OK"
    assert s.server.gate_checks is True
    assert s.run("CONFIG", "SET", "maxmemory", "0") == b"OK"


def test_config_resetstat_clears_stats_and_command_counters() -> None:
    s = Session()
    s.run("SET", "k", "v")
    s.run("GET", "k")
    s.run("CONFIG", "GET", "nosuchconfig*")
    s.run("CONFIG", "SET", "nosuch", "1")
    assert s.server.stats.commands_processed >= 3 and s.server.error_stats == {"ERR": 1}
    assert s.run("CONFIG", "RESETSTAT") == b"OK"
    info = s.run("INFO", "commandstats", "errorstats").decode()
    assert "cmdstat_set" not in info and "errorstat_ERR" not in info
    # As in Redis, the RESETSTAT call itself is counted after the reset.
    assert "cmdstat_config|resetstat:calls=1," in info


def test_loading_refuses_deny_loading_configs() -> None:
    server = make_server()
    server.config.appendonly = False
    with pytest.raises(ConfigSetError) as info:
        config_set(server.config, [("appendonly", "yes")], allow_protected=False, loading=True)
    assert info.value.reply == "LOADING Redis is loading the dataset in memory"
    with pytest.raises(ConfigError):
        parse_config_text(['port "x'], "f")
