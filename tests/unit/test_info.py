"""INFO, DEBUG, COMMAND and the other server commands, sans-IO: sections and field names
as Redis 7.0.15 prints them, the dataset digest against vectors real Redis computed, and
the admin commands' replies and errors."""

from __future__ import annotations

import re

import pytest

from node.commands.table import COMMANDS
from node.digest import ZERO
from node.info import bytes_to_human, info_dict, select_sections
from tests.unit.sansio import Session, make_server

# Field names of `INFO everything` on redis-server 7.0.15, per section (keyspace,
# commandstats, errorstats and latencystats have per-item fields).
REDIS_FIELDS = {
    "server": [
        "redis_version",
        "redis_git_sha1",
        "redis_git_dirty",
        "redis_build_id",
        "redis_mode",
        "os",
        "arch_bits",
        "monotonic_clock",
        "multiplexing_api",
        "atomicvar_api",
        "gcc_version",
        "process_id",
        "process_supervised",
        "run_id",
        "tcp_port",
        "server_time_usec",
        "uptime_in_seconds",
        "uptime_in_days",
        "hz",
        "configured_hz",
        "lru_clock",
        "executable",
        "config_file",
        "io_threads_active",
    ],
    "clients": [
        "connected_clients",
        "cluster_connections",
        "maxclients",
        "client_recent_max_input_buffer",
        "client_recent_max_output_buffer",
        "blocked_clients",
        "tracking_clients",
        "clients_in_timeout_table",
    ],
    "memory": [
        "used_memory",
        "used_memory_human",
        "used_memory_rss",
        "used_memory_rss_human",
        "used_memory_peak",
        "used_memory_peak_human",
        "used_memory_peak_perc",
        "used_memory_overhead",
        "used_memory_startup",
        "used_memory_dataset",
        "used_memory_dataset_perc",
        "allocator_allocated",
        "allocator_active",
        "allocator_resident",
        "total_system_memory",
        "total_system_memory_human",
        "used_memory_lua",
        "used_memory_vm_eval",
        "used_memory_lua_human",
        "used_memory_scripts_eval",
        "number_of_cached_scripts",
        "number_of_functions",
        "number_of_libraries",
        "used_memory_vm_functions",
        "used_memory_vm_total",
        "used_memory_vm_total_human",
        "used_memory_functions",
        "used_memory_scripts",
        "used_memory_scripts_human",
        "maxmemory",
        "maxmemory_human",
        "maxmemory_policy",
        "allocator_frag_ratio",
        "allocator_frag_bytes",
        "allocator_rss_ratio",
        "allocator_rss_bytes",
        "rss_overhead_ratio",
        "rss_overhead_bytes",
        "mem_fragmentation_ratio",
        "mem_fragmentation_bytes",
        "mem_not_counted_for_evict",
        "mem_replication_backlog",
        "mem_total_replication_buffers",
        "mem_clients_slaves",
        "mem_clients_normal",
        "mem_cluster_links",
        "mem_aof_buffer",
        "mem_allocator",
        "active_defrag_running",
        "lazyfree_pending_objects",
        "lazyfreed_objects",
    ],
    "persistence": [
        "loading",
        "async_loading",
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
        "current_fork_perc",
        "current_save_keys_processed",
        "current_save_keys_total",
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec",
        "rdb_saves",
        "rdb_last_cow_size",
        "rdb_last_load_keys_expired",
        "rdb_last_load_keys_loaded",
        "aof_enabled",
        "aof_rewrite_in_progress",
        "aof_rewrite_scheduled",
        "aof_last_rewrite_time_sec",
        "aof_current_rewrite_time_sec",
        "aof_last_bgrewrite_status",
        "aof_rewrites",
        "aof_rewrites_consecutive_failures",
        "aof_last_write_status",
        "aof_last_cow_size",
        "module_fork_in_progress",
        "module_fork_last_cow_size",
    ],
    "stats": [
        "total_connections_received",
        "total_commands_processed",
        "instantaneous_ops_per_sec",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "total_net_repl_input_bytes",
        "total_net_repl_output_bytes",
        "instantaneous_input_kbps",
        "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps",
        "instantaneous_output_repl_kbps",
        "rejected_connections",
        "sync_full",
        "sync_partial_ok",
        "sync_partial_err",
        "expired_keys",
        "expired_stale_perc",
        "expired_time_cap_reached_count",
        "expire_cycle_cpu_milliseconds",
        "evicted_keys",
        "evicted_clients",
        "total_eviction_exceeded_time",
        "current_eviction_exceeded_time",
        "keyspace_hits",
        "keyspace_misses",
        "pubsub_channels",
        "pubsub_patterns",
        "pubsubshard_channels",
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
        "unexpected_error_replies",
        "total_error_replies",
        "dump_payload_sanitizations",
        "total_reads_processed",
        "total_writes_processed",
        "io_threaded_reads_processed",
        "io_threaded_writes_processed",
        "reply_buffer_shrinks",
        "reply_buffer_expands",
    ],
    "replication": [
        "role",
        "connected_slaves",
        "master_failover_state",
        "master_replid",
        "master_replid2",
        "master_repl_offset",
        "second_repl_offset",
        "repl_backlog_active",
        "repl_backlog_size",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ],
    "cpu": [
        "used_cpu_sys",
        "used_cpu_user",
        "used_cpu_sys_children",
        "used_cpu_user_children",
        "used_cpu_sys_main_thread",
        "used_cpu_user_main_thread",
    ],
    "modules": [],
    "commandstats": [],
    "errorstats": [],
    "latencystats": [],
    "cluster": ["cluster_enabled"],
    "keyspace": [],
}


def parse_info(text: bytes) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            current = line[2:].lower()
            sections[current] = []
        elif line:
            assert current is not None
            sections[current].append(line.split(":", 1)[0])
    return sections


@pytest.fixture
def s() -> Session:
    return Session(make_server("--enable-debug-command", "yes"))


def test_info_sections_and_field_names_are_redis_7_0s(s: Session) -> None:
    sections = parse_info(s.run("INFO", "everything"))
    assert list(sections) == [
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
    ]
    for name, fields in REDIS_FIELDS.items():
        if name in ("commandstats", "errorstats", "latencystats"):
            continue  # one field per command or error code
        ours = [f for f in sections[name] if f != "keelkv_version"]
        assert ours == fields, name
    assert sections["server"][1] == "keelkv_version"


def test_info_section_selection(s: Session) -> None:
    default = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "errorstats",
        "cluster",
        "keyspace",
    ]
    assert list(parse_info(s.run("INFO"))) == default
    assert list(parse_info(s.run("INFO", "default"))) == default
    assert list(parse_info(s.run("INFO", "all"))) == list(parse_info(s.run("INFO", "everything")))
    assert list(parse_info(s.run("INFO", "CLIENTS", "server"))) == ["server", "clients"]
    assert list(parse_info(s.run("INFO", "module_list"))) == ["modules"]
    assert s.run("INFO", "bogus") == b""
    assert (
        s.run("INFO", "cluster", "keyspace")
        == b"# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n"
    )
    assert select_sections(["all", "commandstats"]) == select_sections(["everything"])


def test_info_is_verbatim_in_resp3() -> None:
    s = Session(resp3=True)
    assert s.raw("INFO", "cluster") == b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"


def test_info_server_identifies_the_node(s: Session) -> None:
    server = info_dict(s.server, "server")
    assert server["redis_version"] == "7.0.15" and server["redis_mode"] == "standalone"
    assert re.fullmatch("[0-9a-f]{40}", server["run_id"])
    assert server["arch_bits"] == 64 and server["process_id"] > 0
    assert info_dict(s.server, "cluster") == {"cluster_enabled": 0}
    repl = info_dict(s.server, "replication")
    assert repl["role"] == "master" and re.fullmatch("[0-9a-f]{40}", repl["master_replid"])
    assert repl["master_replid2"] == "0" * 40


def test_rdb_changes_since_last_save_follows_the_dirty_counter(s: Session) -> None:
    s.run("SET", "a", "1")
    s.run("SET", "b", "2")
    assert info_dict(s.server, "persistence")["rdb_changes_since_last_save"] == 2
    s.server.dirty_at_last_save = s.server.dirty
    assert info_dict(s.server, "persistence")["rdb_changes_since_last_save"] == 0


def test_keyspace_and_memory_fields(s: Session) -> None:
    s.run("SET", "a", "1")
    s.run("SET", "b", "2")
    s.run("PEXPIRE", "a", "100000")
    s.run("SELECT", "2")
    s.run("SET", "c", "x" * 1000)
    keyspace = info_dict(s.server, "keyspace")
    assert keyspace["db0"] == "keys=2,expires=1,avg_ttl=0"
    assert keyspace["db2"] == "keys=1,expires=0,avg_ttl=0"
    memory = info_dict(s.server, "memory")
    assert memory["used_memory"] > 1000 and memory["used_memory_rss"] > memory["used_memory"]
    assert memory["used_memory_peak"] >= memory["used_memory"]
    assert memory["maxmemory_policy"] == "noeviction"


def test_human_sizes_follow_redis() -> None:
    assert bytes_to_human(0) == "0B" and bytes_to_human(1023) == "1023B"
    assert bytes_to_human(1311368) == "1.25M" and bytes_to_human(1024**3) == "1.00G"


def test_commandstats_errorstats_and_hooks(s: Session) -> None:
    s.run("CONFIG", "RESETSTAT")  # command counters live in the process-wide table
    s.run("SET", "a", "1")
    s.run("CONFIG", "GET", "maxmemory")
    s.run("CONFIG", "SET", "maxmemory", "bad")
    s.run("NOSUCHCOMMAND")
    stats = info_dict(s.server, "commandstats")
    assert stats["cmdstat_set"].startswith("calls=1,usec=")
    assert stats["cmdstat_config|get"].endswith("rejected_calls=0,failed_calls=0")
    assert stats["cmdstat_config|set"].endswith("rejected_calls=0,failed_calls=1")
    assert "cmdstat_config" not in stats
    assert info_dict(s.server, "errorstats") == {"errorstat_ERR": "count=2"}
    assert info_dict(s.server, "stats")["total_error_replies"] == 2
    assert stats["cmdstat_config|resetstat"].startswith("calls=1,")
    s.server.info_hooks.setdefault("persistence", []).append(
        lambda srv: [("rdb_saves", 7), ("extra_field", "x")]
    )
    persistence = info_dict(s.server, "persistence")
    assert persistence["rdb_saves"] == 7 and list(persistence)[-1] == "extra_field"


# -- DEBUG DIGEST ------------------------------------------------------------------------

# Computed by redis-server 7.0.15 for the dataset of `fill`.
REDIS_DIGEST = "b5c1eb887ff7772da98ef3d97286ecc8dc0488a4"
REDIS_DIGEST_VALUES = [
    "d037c4eb8a8b36b602fbced4000daeab0714c1e3",  # s (with a TTL)
    "9443f284d4a284c92758d2fa27a9506de047e121",  # z
    "d127864ed50239662bf61bafc9bda63c17da5b37",  # h
    "0" * 40,  # missing
]


def fill(s: Session, reverse: bool = False) -> None:
    commands = [
        ("SET", "s", "hello"),
        ("SET", "n", "12345"),
        ("RPUSH", "l", "a", "b", "c"),
        ("SADD", "st", "x", "y", "1"),
        ("HSET", "h", "f", "v", "g", "w"),
        ("ZADD", "z", "1.5", "m", "2", "n", "-0.1", "o"),
    ]
    for argv in reversed(commands) if reverse else commands:
        s.run(*argv)
    s.run("PEXPIRE", "s", "100000")
    s.run("SELECT", "3")
    s.run("SET", "k3", "v3")
    s.run("SELECT", "0")


def test_digest_matches_real_redis(s: Session) -> None:
    assert s.run("DEBUG", "DIGEST") == ZERO.hex().encode() == b"0" * 40
    fill(s)
    assert s.run("DEBUG", "DIGEST") == REDIS_DIGEST.encode()
    values = s.run("DEBUG", "DIGEST-VALUE", "s", "z", "h", "missing")
    assert values == [v.encode() for v in REDIS_DIGEST_VALUES]
    assert s.run("DEBUG", "DIGEST-VALUE") == []


def test_digest_is_independent_of_write_order_and_sees_ttls_and_dbs() -> None:
    a = Session(make_server("--enable-debug-command", "yes"))
    b = Session(make_server("--enable-debug-command", "yes"))
    fill(a)
    fill(b, reverse=True)
    assert a.run("DEBUG", "DIGEST") == b.run("DEBUG", "DIGEST")
    b.run("PERSIST", "s")
    assert a.run("DEBUG", "DIGEST") != b.run("DEBUG", "DIGEST")
    b.run("PEXPIRE", "s", "5000")
    assert a.run("DEBUG", "DIGEST") == b.run("DEBUG", "DIGEST")
    b.run("MOVE", "n", "5")
    assert a.run("DEBUG", "DIGEST") != b.run("DEBUG", "DIGEST")


def test_debug_is_refused_unless_enabled() -> None:
    s = Session()
    assert str(s.run("DEBUG", "DIGEST")).startswith(
        'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
        "you can run it from a local connection, otherwise you need to set this option in "
        "the configuration file, and then restart the server."
    )
    local = Session(make_server("--enable-debug-command", "local"))
    assert local.run("DEBUG", "DIGEST") == b"0" * 40  # sans-IO clients count as local


def test_debug_populate_object_and_errors(s: Session) -> None:
    assert s.run("DEBUG", "POPULATE", "3") == b"OK"
    assert s.run("GET", "key:2") == b"value:2"
    assert s.run("DEBUG", "POPULATE", "2", "p", "10") == b"OK"
    assert s.run("GET", "p:1") == b"value:1\x00\x00\x00"
    s.run("SET", "key:0", "mine")
    assert s.run("DEBUG", "POPULATE", "3") == b"OK"
    assert s.run("GET", "key:0") == b"mine"
    assert s.propagated() == [[b"SET", b"key:0", b"mine"]]  # POPULATE propagates nothing
    assert str(s.run("DEBUG", "POPULATE", "-1")) == "ERR value is out of range, must be positive"
    assert s.run("DEBUG", "OBJECT", "key:1").startswith(b"Value at:0x")
    assert b"encoding:embstr" in s.run("DEBUG", "OBJECT", "key:1")
    assert str(s.run("DEBUG", "OBJECT", "nokey")) == "ERR no such key"
    assert str(s.run("DEBUG", "JMAP")) == (
        "ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP."
    )
    assert s.run("DEBUG", "SLEEP", "0") == b"OK"
    assert s.run("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    assert s.server.active_expire_enabled is False
    assert s.run("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
    assert s.server.active_expire_enabled is True


# -- COMMAND ------------------------------------------------------------------------------


def test_command_count_info_and_list(s: Session) -> None:
    assert s.run("COMMAND", "COUNT") == len(COMMANDS)
    assert len(s.run("COMMAND")) == len(COMMANDS)
    get = s.run("COMMAND", "INFO", "get", "nosuch")
    assert get[1] is None
    name, arity, flags, first, last, step, cats, tips, specs, subs = get[0]
    assert (name, arity, flags, first, last, step) == (b"get", 2, [b"readonly", b"fast"], 1, 1, 1)
    assert cats == [b"@read", b"@string", b"@fast"] and tips == [] and subs == []
    assert specs[0][:2] == [b"flags", [b"RO", b"access"]]
    config = s.run("COMMAND", "INFO", "config")[0]
    assert b"config|get" in [sub[0] for sub in config[9]]
    assert s.run("COMMAND", "INFO", "config|get")[0][0] == b"config|get"
    assert sorted(s.run("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*")) == [
        b"config",
        b"config|get",
        b"config|help",
        b"config|resetstat",
        b"config|rewrite",
        b"config|set",
    ]
    assert str(s.run("COMMAND", "LIST", "FILTERBY", "bad", "x")) == "ERR syntax error"
    assert str(s.run("COMMAND", "FOO")) == "ERR unknown subcommand 'FOO'. Try COMMAND HELP."
    docs = s.run("COMMAND", "DOCS", "get", "nosuch")
    assert docs[0] == b"get" and docs[1][:2] == [b"summary", b"Get the value of a key"]


def test_command_getkeys(s: Session) -> None:
    assert s.run("COMMAND", "GETKEYS", "set", "a", "1") == [b"a"]
    assert s.run("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2") == [b"a", b"b"]
    assert s.run("COMMAND", "GETKEYSANDFLAGS", "set", "a", "1") == [[b"a", [b"OW", b"update"]]]
    assert str(s.run("COMMAND", "GETKEYS", "nosuch", "a")) == "ERR Invalid command specified"
    assert str(s.run("COMMAND", "GETKEYS", "config", "get", "x")) == (
        "ERR The command has no key arguments"
    )
    assert str(s.run("COMMAND", "GETKEYS", "get", "a", "b")) == (
        "ERR Invalid number of arguments specified for command"
    )
    assert str(s.run("COMMAND", "GETKEYS", "get")) == (
        "ERR wrong number of arguments for 'command|getkeys' command"
    )


# -- the other admin commands -----------------------------------------------------------


def test_time_lastsave_and_role(s: Session) -> None:
    seconds, micros = s.run("TIME")
    assert seconds.isdigit() and micros.isdigit() and int(micros) < 1_000_000
    assert s.run("LASTSAVE") == s.server.lastsave
    assert s.run("ROLE") == [b"master", 0, []]


def test_slowlog(s: Session) -> None:
    assert s.run("SLOWLOG", "LEN") == 0
    s.run("CONFIG", "SET", "slowlog-log-slower-than", "0")
    s.run("SET", "k", "v")
    entries = s.run("SLOWLOG", "GET")
    assert [e[3] for e in entries[:2]] == [
        [b"SET", b"k", b"v"],
        [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"],
    ]
    assert entries[0][0] > entries[1][0] and entries[0][4] == b"?:0"
    assert len(s.run("SLOWLOG", "GET", "1")) == 1
    assert s.run("SLOWLOG", "LEN") >= 2
    assert s.run("SLOWLOG", "RESET") == b"OK"
    assert str(s.run("SLOWLOG", "GET", "-2")) == "ERR count should be greater than or equal to -1"
    assert str(s.run("SLOWLOG", "GET", "x")) == "ERR count should be greater than or equal to -1"
    assert str(s.run("SLOWLOG", "FOO")) == "ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."


def test_shutdown_arguments(s: Session) -> None:
    assert str(s.run("SHUTDOWN", "ABORT")) == "ERR No shutdown in progress."
    assert str(s.run("SHUTDOWN", "NOSAVE", "SAVE")) == "ERR syntax error"
    assert str(s.run("SHUTDOWN", "ABORT", "NOW")) == "ERR syntax error"
    assert str(s.run("SHUTDOWN", "bad")) == "ERR syntax error"
    assert not s.server.shutdown_event.is_set()
    assert s.raw("SHUTDOWN", "NOSAVE", "NOW") == b""
    assert s.server.shutdown_event.is_set() and s.server.shutdown_nosave


def test_scripting_answers_as_redis_with_nothing_loaded(s: Session) -> None:
    assert str(s.run("EVAL", "return 1", "0")).startswith("ERR keelkv does not support Lua")
    assert str(s.run("EVALSHA", "a" * 40, "0")) == "NOSCRIPT No matching script. Please use EVAL."
    assert str(s.run("FCALL", "f", "0")) == "ERR Function not found"
    assert s.run("SCRIPT", "FLUSH") == b"OK" and s.run("SCRIPT", "FLUSH", "ASYNC") == b"OK"
    assert s.run("SCRIPT", "EXISTS", "a", "b") == [0, 0]
    assert str(s.run("SCRIPT", "KILL")) == "NOTBUSY No scripts in execution right now."
    assert s.run("FUNCTION", "FLUSH") == b"OK" and s.run("FUNCTION", "LIST") == []
    assert str(s.run("FUNCTION", "KILL")) == "NOTBUSY No scripts in execution right now."
    assert str(s.run("FUNCTION", "DELETE", "x")) == "ERR Library not found"
    assert s.run("FUNCTION", "STATS") == [
        b"running_script",
        None,
        b"engines",
        [b"LUA", [b"libraries_count", 0, b"functions_count", 0]],
    ]


def test_memory_and_latency(s: Session) -> None:
    assert s.run("MEMORY", "USAGE", "nokey") is None
    s.run("SET", "k", "v" * 100)
    assert s.run("MEMORY", "USAGE", "k") > 100
    assert str(s.run("MEMORY", "USAGE", "k", "SAMPLES")) == "ERR syntax error"
    assert s.run("MEMORY", "DOCTOR").startswith(b"Hi Sam, this instance is empty")
    assert s.run("LATENCY", "LATEST") == [] and s.run("LATENCY", "RESET") == 0
    assert s.run("LATENCY", "DOCTOR").startswith(b"I'm sorry, Dave, I can't do that.")
    assert (
        str(s.run("LATENCY", "GRAPH", "command")) == "ERR No samples available for event 'command'"
    )


def test_server_commands_match_redis_arity_and_subcommands() -> None:
    """The commands of node/commands/server_cmd.py register Redis 7.0.15's arities."""
    from node.commands import server_cmd

    ref = server_cmd.reference()["info"]
    for cmd in COMMANDS.values():
        if cmd.handler.__module__ != server_cmd.__name__ or cmd.name not in ref:
            continue
        assert cmd.arity == ref[cmd.name][1], cmd.name
        for sub in cmd.subcommands.values():
            assert sub.arity == ref[sub.name][1], sub.name
        expected = {s[0] for s in server_cmd._items(ref[cmd.name][9])}
        assert {s.name for s in cmd.subcommands.values()} == expected, cmd.name
