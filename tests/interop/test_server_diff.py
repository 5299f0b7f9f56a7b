"""Server commands against real Redis 7.0: CONFIG GET/SET (values and every error path),
COMMAND INFO/DOCS/GETKEYS, DEBUG DIGEST on identical datasets, INFO shapes, CONFIG REWRITE
of the same file, and the admin commands' fixed replies, compared byte for byte.

`python -m tests.interop.test_server_diff --regenerate` rewrites node/command_ref.json from
a real redis-server's COMMAND and COMMAND DOCS (RESP3, so sets and maps keep their types).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from node.commands.server_cmd import REF_PATH
from node.commands.table import COMMANDS
from node.config_table import TABLE
from tests.conftest import Differ
from tests.harness import (
    RawClient,
    ServerProcess,
    decode,
    free_port,
    start_keelkv,
    start_redis,
)

pytestmark = pytest.mark.interop

COMMON_DIRECTIVES = [
    "maxmemory", "maxmemory-policy", "maxmemory-samples", "timeout", "tcp-keepalive",
    "databases", "save", "appendonly", "appendfsync", "appendfilename", "appenddirname",
    "dbfilename", "hz", "loglevel", "logfile", "maxclients", "protected-mode",
    "repl-backlog-size", "repl-backlog-ttl", "replica-read-only", "slave-read-only",
    "replica-serve-stale-data", "min-replicas-to-write", "client-output-buffer-limit",
    "proto-max-bulk-len", "client-query-buffer-limit", "notify-keyspace-events",
    "hash-max-listpack-entries", "hash-max-ziplist-entries", "zset-max-listpack-value",
    "list-max-listpack-size", "set-max-intset-entries", "slowlog-log-slower-than",
    "slowlog-max-len", "latency-monitor-threshold", "enable-debug-command",
    "enable-protected-configs", "io-threads", "jemalloc-bg-thread", "lazyfree-lazy-expire",
    "oom-score-adj-values", "latency-tracking-info-percentiles", "unixsocketperm",
    "replicaof", "requirepass", "masterauth", "key-load-delay", "stop-writes-on-bgsave-error",
    "rdbcompression", "rdbchecksum", "shutdown-on-sigterm", "busy-reply-threshold",
    "lua-time-limit", "maxmemory-clients",
]  # fmt: skip


def pairs(reply: bytes) -> set[tuple[Any, Any]]:
    items = decode(reply)
    return set(zip(items[::2], items[1::2], strict=True))


@pytest.mark.parametrize("name", COMMON_DIRECTIVES)
def test_config_get_common_directives(differ: Differ, name: str) -> None:
    differ.check("CONFIG", "GET", name)


def test_config_get_globs_and_several_patterns(differ: Differ) -> None:
    for argv in (
        ("CONFIG", "GET", "*max*"),
        ("CONFIG", "GET", "repl*", "slave*"),
        ("CONFIG", "GET", "maxmemory", "MAXMEMORY", "max*"),
        ("CONFIG", "GET", "nosuch"),
        ("CONFIG", "GET", "MAXMEMORY"),
        ("CONFIG", "GET", "key-load-delay", "*load-delay*"),
    ):
        ours, theirs = differ.both(*argv)
        assert pairs(ours) == pairs(theirs), argv
    ours, theirs = differ.both("CONFIG", "GET", "*")
    mine, real = dict(pairs(ours)), dict(pairs(theirs))
    for name in (b"dir", b"bind", b"port", b"save", b"enable-debug-command"):
        mine.pop(name), real.pop(name)
    for d in TABLE.values():
        if d.keelkv_only:
            assert mine.pop(d.name.encode()) is not None
    assert mine == real


SET_CASES = [
    ("maxmemory", "1.5gb"), ("maxmemory", "-1"), ("maxmemory", "10mb"), ("maxmemory", "0"),
    ("timeout", "abc"), ("timeout", "-1"), ("timeout", "+1"), ("timeout", "0"),
    ("maxclients", "0"), ("hz", "1000"), ("hz", "10"),
    ("appendfsync", "sometimes"), ("appendfsync", "ALWAYS"), ("appendfsync", "everysec"),
    ("loglevel", "loud"), ("loglevel", "notice"), ("appendonly", "maybe"),
    ("save", "1 2 3"), ("save", "0 1"), ("save", "100 10 200 20"), ("save", ""),
    ("daemonize", "no"), ("databases", "4"), ("unixsocket", "/tmp/x"), ("replicaof", "no one"),
    ("dir", "/tmp"), ("dbfilename", "x.rdb"), ("nosuch", "1"),
    ("client-output-buffer-limit", "normal 1 2"), ("client-output-buffer-limit", "master 1 1 1"),
    ("client-output-buffer-limit", "pubsub 1x 2 3"), ("client-output-buffer-limit", "normal 0 0 0"),
    ("notify-keyspace-events", "Q"), ("notify-keyspace-events", "KEA"), ("notify-keyspace-events", ""),
    ("oom-score-adj-values", "1 2"), ("oom-score-adj-values", "1 2 3000"),
    ("oom-score-adj-values", "0 200 800"), ("oom-score-adj", "relative"), ("oom-score-adj", "no"),
    ("maxmemory-clients", "101%"), ("maxmemory-clients", "5%"), ("maxmemory-clients", "0"),
    ("latency-tracking-info-percentiles", "x"), ("latency-tracking-info-percentiles", "101"),
    ("latency-tracking-info-percentiles", "50 99 99.9"), ("shutdown-on-sigterm", "now save"),
    ("shutdown-on-sigterm", "bad"), ("shutdown-on-sigterm", "default"),
    ("repl-backlog-size", "0"), ("list-max-listpack-size", "010"),
    ("slowlog-log-slower-than", "-2"), ("proc-title-template", "{nope}"),
]  # fmt: skip


@pytest.mark.parametrize("name,value", SET_CASES)
def test_config_set_replies_and_values(differ: Differ, name: str, value: str) -> None:
    differ.check("CONFIG", "SET", name, value)
    if name not in ("nosuch", "dir"):  # dir: each server runs in its own directory
        differ.check("CONFIG", "GET", name)


def test_config_set_argument_errors_and_atomicity(differ: Differ) -> None:
    differ.check_all(
        ("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"),
        ("CONFIG", "SET", "maxmemory", "1", "foo"),
        ("CONFIG", "SET", "maxmemory"),
        ("CONFIG", "SET", "foo", "1", "daemonize", "no"),
        ("CONFIG", "SET", "daemonize", "no", "foo", "1"),
        ("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "bad"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "SET", "maxmemory", "10mb", "timeout", "5"),
        ("CONFIG", "GET", "maxmemory"),
        ("CONFIG", "GET", "timeout"),
        ("CONFIG", "SET", "maxmemory", "0", "timeout", "0"),
        ("CONFIG", "GET"),
        ("CONFIG",),
        ("CONFIG", "FOO"),
        ("CONFIG", "HELP"),
        ("CONFIG", "RESETSTAT", "x"),
        ("CONFIG", "REWRITE"),
    )


def normalize_info(entries: Any) -> Any:
    """COMMAND INFO with subcommands sorted: Redis lists them in its (seeded) hash order."""
    out = []
    for entry in entries:
        if isinstance(entry, list):
            entry = [*entry[:9], sorted(normalize_info(entry[9]))]
        out.append(entry)
    return out


def normalize_docs(flat: Any) -> Any:
    """COMMAND DOCS (RESP2 flat pairs) as nested dicts, subcommand order aside."""
    docs = dict(zip(flat[::2], flat[1::2], strict=True))
    for name, doc in docs.items():
        fields = dict(zip(doc[::2], doc[1::2], strict=True))
        if b"subcommands" in fields:
            fields[b"subcommands"] = sorted(normalize_docs(fields[b"subcommands"]).items())
        docs[name] = repr(sorted(fields.items()))
    return docs


def test_command_info_and_docs_of_commands_we_implement(differ: Differ) -> None:
    for name in (
        "get",
        "set",
        "ping",
        "config",
        "config|get",
        "info",
        "debug",
        "command|getkeys",
        "del",
        "nosuch",
    ):
        if name.split("|")[0].encode() in COMMANDS or name == "nosuch":
            ours, theirs = differ.both("COMMAND", "INFO", name)
            assert normalize_info(decode(ours)) == normalize_info(decode(theirs)), name
            ours, theirs = differ.both("COMMAND", "DOCS", name)
            assert normalize_docs(decode(ours)) == normalize_docs(decode(theirs)), name
    differ.check("COMMAND", "HELP")
    differ.check("COMMAND", "FOO")


def test_command_getkeys(differ: Differ) -> None:
    differ.check_all(
        ("COMMAND", "GETKEYS", "get", "a"),
        ("COMMAND", "GETKEYS", "set", "a", "1", "get"),
        ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "1"),
        ("COMMAND", "GETKEYSANDFLAGS", "set", "a", "1", "GET"),
        ("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"),
        ("COMMAND", "GETKEYS", "nosuch", "a"),
        ("COMMAND", "GETKEYS", "get"),
        ("COMMAND", "GETKEYS", "get", "a", "b"),
        ("COMMAND", "GETKEYS", "config", "get", "x"),
        ("COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"),
        ("COMMAND", "GETKEYS", "zunionstore", "d", "5", "a", "b"),
        ("COMMAND", "GETKEYS", "lmpop", "2", "a", "b", "LEFT"),
        ("COMMAND", "GETKEYS", "blmove", "a", "b", "LEFT", "RIGHT", "0"),
        ("COMMAND", "LIST", "FILTERBY", "bad", "x"),
        ("COMMAND", "LIST", "x"),
        ("COMMAND", "LIST", "FILTERBY", "MODULE", "x"),
    )


def fill(d: Differ) -> None:
    for argv in (
        ("SET", "s", "hello"),
        ("SET", "n", "12345"),
        ("RPUSH", "l", "a", "b", "c"),
        ("SADD", "st", "x", "y", "1", "22"),
        ("HSET", "h", "f", "v", "g", "w"),
        ("ZADD", "z", "1.5", "m", "2", "n", "-0.1", "o"),
        ("PEXPIRE", "s", "100000"),
        ("SELECT", "3"),
        ("SET", "k3", "v3"),
        ("SELECT", "0"),
        ("DEBUG", "POPULATE", "100", "pop", "20"),
    ):
        d.check(*argv)


def test_debug_digest_on_identical_datasets(differ: Differ) -> None:
    differ.check("DEBUG", "DIGEST")
    fill(differ)
    differ.check("DEBUG", "DIGEST")
    differ.check("DEBUG", "DIGEST-VALUE", "s", "n", "l", "st", "h", "z", "missing")
    differ.check("PERSIST", "s")
    differ.check("DEBUG", "DIGEST")
    differ.check("DBSIZE")
    differ.check("GET", "pop:7")


def test_debug_replies_and_errors(differ: Differ) -> None:
    differ.check_all(
        ("DEBUG", "SLEEP", "0"),
        ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
        ("DEBUG", "OBJECT", "nokey"),
        ("DEBUG", "POPULATE", "-1"),
        ("DEBUG", "POPULATE", "x"),
        ("DEBUG", "POPULATE", "3"),
        ("EXISTS", "key:0", "key:1", "key:2", "key:3"),
        ("DEBUG", "JMAP"),
        ("DEBUG", "DIGEST", "x"),
        ("DEBUG",),
        ("DEBUG", "LOG", "hello from a test"),
    )


def test_fixed_replies_of_admin_commands(differ: Differ) -> None:
    differ.check_all(
        ("LASTSAVE", "x"),
        ("TIME", "x"),
        ("ROLE",),
        ("SLOWLOG", "GET", "-2"),
        ("SLOWLOG", "GET", "x"),
        ("SLOWLOG", "RESET"),
        ("SLOWLOG", "FOO"),
        ("SLOWLOG", "HELP"),
        ("LATENCY", "HELP"),
        ("LATENCY", "DOCTOR"),
        ("LATENCY", "LATEST"),
        ("LATENCY", "HISTORY", "command"),
        ("LATENCY", "RESET"),
        ("LATENCY", "GRAPH", "command"),
        ("SHUTDOWN", "ABORT"),
        ("SHUTDOWN", "NOSAVE", "SAVE"),
        ("SHUTDOWN", "bad"),
        ("EVALSHA", "a" * 40, "0"),
        ("FCALL", "f", "0"),
        ("FCALL_RO", "f", "0"),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "FLUSH", "bad"),
        ("SCRIPT", "EXISTS", "a", "b"),
        ("SCRIPT", "KILL"),
        ("SCRIPT", "HELP"),
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "FLUSH", "bad"),
        ("FUNCTION", "LIST"),
        ("FUNCTION", "LIST", "bad"),
        ("FUNCTION", "STATS"),
        ("FUNCTION", "DELETE", "x"),
        ("FUNCTION", "KILL"),
        ("FUNCTION", "DUMP"),
        ("FUNCTION", "HELP"),
        ("MEMORY", "USAGE", "nokey"),
        ("MEMORY", "USAGE", "a", "SAMPLES"),
        ("MEMORY", "DOCTOR"),
        ("MEMORY", "PURGE"),
        ("MEMORY", "HELP"),
        ("INFO", "bogus"),
        ("INFO", "cluster"),
        ("INFO", "modules", "cluster"),
    )


def test_time_shape(differ: Differ) -> None:
    ours, theirs = differ.both("TIME")
    assert ours[:4] == theirs[:4] == b"*2\r\n"
    (s1, u1), (s2, _) = decode(ours), decode(theirs)
    assert s1.isdigit() and u1.isdigit() and abs(int(s1) - int(s2)) <= 2


def test_info_keyspace_and_field_names_match(differ: Differ) -> None:
    differ.check("SET", "a", "1")
    differ.check("SET", "b", "2")
    differ.check("INFO", "keyspace")
    ours, theirs = differ.both("INFO", "everything")

    def names(reply: bytes) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        section = ""
        for line in reply.split(b"\r\n")[1:]:
            text = line.decode()
            if text.startswith("# "):
                section = text[2:]
                out[section] = []
            elif ":" in text and section not in ("Commandstats", "Errorstats", "Latencystats"):
                out[section].append(text.split(":", 1)[0])
        return out

    mine, real = names(ours), names(theirs)
    mine["Server"].remove("keelkv_version")
    assert mine == real


def test_resp3_config_get_is_a_map(differ: Differ) -> None:
    differ.both("HELLO", "3")
    differ.check("CONFIG", "GET", "maxmemory")
    differ.check("INFO", "cluster")
    differ.check("FUNCTION", "STATS")
    differ.check("COMMAND", "INFO", "get")
    differ.both("HELLO", "2")


REWRITE_BASE = """# a comment at the top
port 6379
bind 127.0.0.1 -::1

# memory
maxmemory 100mb
maxmemory-policy allkeys-lru
save 900 1
save 300 10
slave-read-only yes
hash-max-ziplist-entries 100
rename-command FLUSHDB ""
notify-keyspace-events Ex
client-output-buffer-limit pubsub 32mb 8mb 60
   timeout   30
dbfilename "dump.rdb"
"""


def test_config_rewrite_matches_redis(tmp_path: Path) -> None:
    """The same file and CONFIG SETs on both servers give the same rewritten file, up to
    the order of appended lines (Redis's follows its hash table) and Redis's ACL `user`
    line (keelkv has only the default user and keeps `requirepass`)."""
    results = {}
    for kind in ("redis", "keelkv"):
        workdir = tmp_path / kind
        workdir.mkdir()
        conf = workdir / "r.conf"
        conf.write_text(REWRITE_BASE)
        port = free_port()
        if kind == "redis":
            argv = [
                shutil.which("redis-server") or "redis-server",
                str(conf),
                "--port",
                str(port),
                "--dir",
                str(workdir),
            ]
            node = ServerProcess(argv, port, workdir, workdir / "log").start()
        else:
            node = start_keelkv(
                "--dir", str(workdir), config_file=str(conf), workdir=workdir, port=port
            )
        try:
            with RawClient(port) as c:
                assert c.call(
                    "CONFIG", "SET", "maxmemory", "200mb", "timeout", "0", "loglevel", "warning",
                    "hz", "20", "notify-keyspace-events", "", "save", "60 5", "appendfsync", "always",
                    "client-output-buffer-limit", "normal 1mb 2mb 10", "maxmemory-clients", "5%",
                ) == b"+OK\r\n"  # fmt: skip
                assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
        finally:
            node.stop()
        text = (
            conf.read_text().replace(str(workdir), "<dir>").replace(f"port {port}", "port <port>")
        )
        results[kind] = text
    head = {k: v.split("# Generated by CONFIG REWRITE\n")[0] for k, v in results.items()}
    tail = {
        k: set(v.split("# Generated by CONFIG REWRITE\n")[1].splitlines())
        for k, v in results.items()
    }
    assert head["keelkv"] == head["redis"]
    tail["redis"] = {line for line in tail["redis"] if not line.startswith("user ")}
    assert tail["keelkv"] == tail["redis"]


# -- node/command_ref.json -------------------------------------------------------------


def parse_resp3_tagged(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """A RESP3 reply as command_ref.json's tagged JSON (see server_cmd._decode_ref)."""
    kind = buf[pos : pos + 1]
    nl = buf.index(b"\r\n", pos)
    head = buf[pos + 1 : nl]
    p = nl + 2
    if kind == b"+":
        return {"+": head.decode()}, p
    if kind == b":":
        return int(head), p
    if kind == b"$":
        n = int(head)
        return buf[p : p + n].decode(), p + n + 2
    if kind == b"_":
        return None, p
    if kind in (b"*", b"~"):
        out = []
        for _ in range(int(head)):
            value, p = parse_resp3_tagged(buf, p)
            out.append(value)
        return (out if kind == b"*" else {"~": out}), p
    if kind == b"%":
        items = []
        for _ in range(int(head)):
            key, p = parse_resp3_tagged(buf, p)
            value, p = parse_resp3_tagged(buf, p)
            items.append([key, value])
        return {"%": items}, p
    raise ValueError(f"unexpected RESP3 type {kind!r}")


def reference_from(port: int) -> dict[str, Any]:
    with RawClient(port) as c:
        c.call("HELLO", "3")
        info, _ = parse_resp3_tagged(c.call("COMMAND"))
        docs, _ = parse_resp3_tagged(c.call("COMMAND", "DOCS"))
    info.sort(key=lambda entry: entry[0])
    docs["%"].sort(key=lambda kv: kv[0])
    return {"redis_version": "7.0.15", "info": info, "docs": docs}


def write_reference(ref: dict[str, Any], path: Path = REF_PATH) -> None:
    with open(path, "w") as f:
        f.write('{"redis_version":"7.0.15",\n"info":[\n')
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in ref["info"]))
        f.write('\n],\n"docs":{"%":[\n')
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in ref["docs"]["%"]))
        f.write("\n]}}\n")


def canonical(node: Any) -> Any:
    """Tagged JSON with every set and map in a fixed order (Redis's hash order is seeded
    per process, so subcommands come out in a different order on every run)."""
    if isinstance(node, list):
        items = [canonical(x) for x in node]
        if items and all(isinstance(x, list) and x and "|" in str(x[0]) for x in items):
            items.sort(key=lambda x: x[0])  # subcommands
        return items
    if isinstance(node, dict):
        ((tag, body),) = node.items()
        if tag == "~":
            return {"~": sorted((canonical(x) for x in body), key=json.dumps)}
        if tag == "%":
            return {"%": sorted(([canonical(k), canonical(v)] for k, v in body), key=json.dumps)}
    return node


def test_command_reference_file_is_real_redis_output(redis_node: ServerProcess) -> None:
    stored = json.loads(REF_PATH.read_text())
    live = reference_from(redis_node.port)
    assert canonical(stored["info"]) == canonical(live["info"])
    assert canonical(stored["docs"]) == canonical(live["docs"])


if __name__ == "__main__":
    if "--regenerate" in sys.argv:
        node = start_redis()
        try:
            write_reference(reference_from(node.port))
        finally:
            node.stop()
        print(f"wrote {REF_PATH}")
