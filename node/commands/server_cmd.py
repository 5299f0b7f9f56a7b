"""Server and admin commands: INFO CONFIG COMMAND TIME LASTSAVE ROLE DEBUG SLOWLOG LATENCY
SHUTDOWN MEMORY, and the scripting family answered as a Redis with nothing loaded.

Replies and error texts are Redis 7.0.15's. COMMAND answers from `node/command_ref.json`,
Redis 7.0.15's own COMMAND and COMMAND DOCS output (flags, ACL categories, tips, key
specs, subcommands, docs), so redis-cli's hints and cluster-aware clients see what they
expect; a command missing from it is described from keelkv's table.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node import errors
from node.client import Client
from node.commands.args import (
    INT_MAX,
    LLONG_MAX,
    LLONG_MIN,
    get_ll,
    get_positive,
    get_range,
    parse_ll,
)
from node.commands.object_cmd import encoding, refcount
from node.commands.table import COMMANDS, Command, command, subcommand
from node.config import (
    ConfigSetError,
    Directive,
    config_set,
    rewrite_config_file,
)
from node.digest import dataset_digest, digest_value
from node.dispatch import NO_REPLY
from node.evict import LFU_PACKED_LIMIT, lru_stamp, sync_databases
from node.info import LRU_CLOCK_MAX, all_commands, generate_info, key_memory, used_memory
from node.resp import OK, Map, ReplyError, SetReply, Status, Verbatim
from node.scan import glob_match

if TYPE_CHECKING:
    from node.server import Server


def help_reply(name: str, lines: list[str]) -> list[Status]:
    """addReplyHelp: a header, the command's lines, then HELP."""
    head = f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(t) for t in [head, *lines, "HELP", "    Prints this help."]]


def is_local_client(c: Client) -> bool:
    """islocalClient: a unix socket or a loopback peer."""
    sock = c.sock
    if sock is None:
        return True
    if sock.family == socket.AF_UNIX:
        return True
    host = c.addr.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")


def allow_protected_action(setting: str, c: Client) -> bool:
    return setting == "yes" or (setting == "local" and is_local_client(c))


def _text(arg: bytes) -> str:
    return arg.decode("utf-8", "surrogateescape")


# -- INFO, TIME, LASTSAVE, ROLE ------------------------------------------------------


@command("info", -1, "loading stale", categories="slow dangerous")
def info(c: Client, argv: list[bytes]) -> Any:
    """INFO [section ...]: a verbatim string in RESP3, a bulk string in RESP2."""
    return Verbatim(generate_info(c.server, [_text(a) for a in argv[1:]]))


@command("time", 1, "loading stale fast", categories="fast")
def time_(c: Client, argv: list[bytes]) -> Any:
    now = time.time_ns() // 1000
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("lastsave", 1, "loading stale fast", categories="fast dangerous")
def lastsave(c: Client, argv: list[bytes]) -> Any:
    return c.server.lastsave


@command("role", 1, "noscript loading stale fast", categories="admin fast dangerous")
def role(c: Client, argv: list[bytes]) -> Any:
    return c.server.replication.role_reply(c.server)


# -- CONFIG ------------------------------------------------------------------------------

CONFIG_HELP = [
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
]
CONFIG_FLAGS = "admin noscript loading stale"


@command("config", -2, CONFIG_FLAGS, categories="slow")
def config_(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "config")


@subcommand("config", "help", 2, "loading stale", categories="slow")
def config_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("CONFIG", CONFIG_HELP)


@subcommand("config", "get", -3, CONFIG_FLAGS, categories="admin slow dangerous")
def config_get(c: Client, argv: list[bytes]) -> Any:
    """CONFIG GET pattern [pattern ...]: a map of name -> value (a flat array in RESP2)."""
    pairs = c.server.config.matching([_text(a) for a in argv[2:]])
    return Map(
        (name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape"))
        for name, value in pairs
    )


@subcommand("config", "set", -4, CONFIG_FLAGS, categories="admin slow dangerous")
def config_set_(c: Client, argv: list[bytes]) -> Any:
    """CONFIG SET name value [name value ...]: all or nothing, then side effects."""
    if len(argv) % 2:
        raise errors.syntax()
    server = c.server
    config = server.config
    pairs = [(_text(argv[i]), _text(argv[i + 1])) for i in range(2, len(argv), 2)]
    try:
        changed = config_set(
            config,
            pairs,
            allow_protected=allow_protected_action(config.enable_protected_configs, c),
            loading=server.loading,
            apply=lambda ds: apply_config_changes(server, ds),
        )
    except ConfigSetError as exc:
        raise ReplyError(exc.reply) from exc
    for d in changed:
        if config.note_ignored(d):
            server.log.notice(f"Directive '{d.name}' has no effect in keelkv: accepted and ignored")
    return OK


def apply_config_changes(server: Server, changed: list[Directive]) -> tuple[Directive, str] | None:
    """Side effects of CONFIG SET, in the order given; the first failure is returned."""
    for d in changed:
        reason = _apply_builtin(server, d)
        if reason is None:
            hook = server.config_set_hooks.get(d.name)
            if hook is not None:
                reason = hook(server)
        if reason is not None:
            server.log.warning(
                f"Failed applying new configuration. Possibly related to new {d.name} setting. "
                "Restoring previous settings."
            )
            return d, reason
    return None


def _apply_builtin(server: Server, d: Directive) -> str | None:
    config = server.config
    name = d.name
    if name == "loglevel":
        server.log.set_level(config.loglevel)
    elif name in ("maxmemory", "min-replicas-to-write"):
        if name == "maxmemory" and config.maxmemory:
            used = used_memory(server)
            if config.maxmemory < used:
                server.log.warning(
                    f"WARNING: the new maxmemory value set via CONFIG SET ({config.maxmemory}) is "
                    f"smaller than the current memory usage ({used}). This will result in key "
                    "eviction and/or the inability to accept new write commands depending on "
                    "the maxmemory-policy."
                )
        server.update_gates()
    elif name == "slowlog-log-slower-than":
        server.slowlog_slower_than = config.slowlog_log_slower_than
    elif name == "dir":
        try:
            os.chdir(config.dir)
        except OSError as exc:
            return exc.strerror or str(exc)
        config.dir = os.getcwd()
    elif name in ("port", "bind"):
        return rebind_listeners(server, name)
    return None


def rebind_listeners(server: Server, name: str) -> str | None:
    """CONFIG SET port/bind on a running node: close the TCP listeners, bind anew."""
    nursery = server._nursery
    if nursery is None:
        return None
    import trio

    old_tcp = [s for s in server.listen_sockets if s.family != socket.AF_UNIX]
    unix = [s for s in server.listen_sockets if s.family == socket.AF_UNIX]
    for sock in old_tcp:
        trio.lowlevel.notify_closing(sock)
        sock.close()
    server.listen_sockets = []
    saved_unixsocket = server.config.unixsocket
    server.config.unixsocket = ""
    try:
        server.bind_listeners()
    except OSError as exc:
        server.log.warning(f"Warning: {exc.strerror or exc}")
        for sock in server.listen_sockets:
            sock.close()
        server.listen_sockets = unix
        return (
            "Unable to listen on this port. Check server logs."
            if name == "port"
            else "Failed to bind to specified addresses."
        )
    finally:
        server.config.unixsocket = saved_unixsocket
    new_tcp = server.listen_sockets
    server.listen_sockets = new_tcp + unix
    server.bound_port = new_tcp[0].getsockname()[1] if new_tcp else 0
    for sock in new_tcp:
        nursery.start_soon(server.accept_loop, sock)
    return None


@subcommand("config", "resetstat", 2, CONFIG_FLAGS, categories="admin slow dangerous")
def config_resetstat(c: Client, argv: list[bytes]) -> Any:
    reset_stats(c.server)
    return OK


def reset_stats(server: Server) -> None:
    """resetServerStats + resetCommandTableStats + resetErrorTableStats."""
    server.stats.reset()
    for cmd in COMMANDS.values():
        for each in (cmd, *cmd.subcommands.values()):
            each.calls = each.usec = each.rejected_calls = each.failed_calls = 0
    server.error_stats.clear()


@subcommand("config", "rewrite", 2, CONFIG_FLAGS, categories="admin slow dangerous")
def config_rewrite(c: Client, argv: list[bytes]) -> Any:
    server = c.server
    if server.config.config_file is None:
        raise ReplyError("ERR The server is running without a config file")
    try:
        rewrite_config_file(server.config)
    except OSError as exc:
        server.log.warning(f"CONFIG REWRITE failed: {exc.strerror}")
        raise ReplyError(f"ERR Rewriting config file: {exc.strerror}") from exc
    server.log.warning("CONFIG REWRITE executed with success.")
    return OK


# -- COMMAND -----------------------------------------------------------------------------

REF_PATH = Path(__file__).resolve().parent.parent / "command_ref.json"
_REF: dict[str, Any] = {}


def _decode_ref(node: Any) -> Any:
    """command_ref.json's tagged JSON -> reply values: {"+": s} status, {"%": [...]} map,
    {"~": [...]} set, str bulk, int, list array, null."""
    if type(node) is str:
        return node.encode()
    if type(node) is list:
        return [_decode_ref(x) for x in node]
    if type(node) is dict:
        ((tag, body),) = node.items()
        if tag == "+":
            return Status(body)
        if tag == "%":
            return Map((_decode_ref(k), _decode_ref(v)) for k, v in body)
        if tag == "~":
            return SetReply(_decode_ref(x) for x in body)
    return node


def reference() -> dict[str, Any]:
    """Redis 7.0.15's COMMAND entries and docs by name, loaded on first use."""
    if not _REF:
        try:
            data = json.loads(REF_PATH.read_text())
        except OSError:
            data = {"info": [], "docs": {"%": []}}
        _REF["info"] = {entry[0]: entry for entry in data["info"]}
        _REF["docs"] = dict(data["docs"]["%"])
        for entry in data["info"]:
            for sub in _items(entry[9]):
                _REF["info"][sub[0]] = sub
        for doc in list(_REF["docs"].values()):
            for key, value in doc["%"]:
                if key == "subcommands":
                    _REF["docs"].update(dict(value["%"]))
    return _REF


def _items(node: Any) -> list[Any]:
    """The elements of a tagged array or set."""
    return node["~"] if type(node) is dict else node


def find_command(name: str) -> Command | None:
    """A command or a `container|sub` subcommand of keelkv's table."""
    parent, _, sub = name.lower().partition("|")
    cmd = COMMANDS.get(parent.encode("utf-8", "surrogateescape"))
    if cmd is None or not sub:
        return cmd
    return cmd.subcommands.get(sub)


def command_entry(cmd: Command) -> Any:
    """One COMMAND INFO entry: name, arity, flags, first, last, step, ACL categories,
    tips, key specs, subcommands."""
    ref = reference()["info"].get(cmd.name)
    if ref is not None:
        return _decode_ref(ref)
    return [
        cmd.name.encode(),
        cmd.arity,
        SetReply(Status(f) for f in sorted(cmd.flags)),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        SetReply(Status("@" + cat) for cat in cmd.categories),
        SetReply([]),
        SetReply(_synth_key_specs(cmd)),
        SetReply(command_entry(s) for s in cmd.subcommands.values()),
    ]


def _synth_key_specs(cmd: Command) -> list[Any]:
    if cmd.first_key <= 0:
        return []
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [
        Map(
            [
                (b"flags", SetReply([])),
                (
                    b"begin_search",
                    Map([(b"type", b"index"), (b"spec", Map([(b"index", cmd.first_key)]))]),
                ),
                (
                    b"find_keys",
                    Map(
                        [
                            (b"type", b"range"),
                            (
                                b"spec",
                                Map([(b"lastkey", last), (b"keystep", cmd.step), (b"limit", 0)]),
                            ),
                        ]
                    ),
                ),
            ]
        )
    ]


def command_docs(cmd: Command) -> Any:
    ref = reference()["docs"].get(cmd.name)
    if ref is not None:
        return _decode_ref(ref)
    group = b"server"
    items: list[tuple[Any, Any]] = [(b"summary", b""), (b"since", b"0.1.0"), (b"group", group)]
    if cmd.subcommands:
        items.append(
            (
                b"subcommands",
                Map((s.name.encode(), command_docs(s)) for s in cmd.subcommands.values()),
            )
        )
    return Map(items)


COMMAND_HELP = [
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
]


@command("command", -1, "loading stale", categories="slow connection")
def command_(c: Client, argv: list[bytes]) -> Any:
    return [command_entry(cmd) for cmd in COMMANDS.values()]


@subcommand("command", "help", 2, "loading stale", categories="slow connection")
def command_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("COMMAND", COMMAND_HELP)


@subcommand("command", "count", 2, "loading stale", categories="slow connection")
def command_count(c: Client, argv: list[bytes]) -> Any:
    return len(COMMANDS)


@subcommand("command", "info", -2, "loading stale", categories="slow connection")
def command_info(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [command_entry(cmd) for cmd in COMMANDS.values()]
    out = []
    for name in argv[2:]:
        cmd = find_command(_text(name))
        out.append(None if cmd is None else command_entry(cmd))
    return out


@subcommand("command", "docs", -2, "loading stale", categories="slow connection")
def command_docs_(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return Map((cmd.name.encode(), command_docs(cmd)) for cmd in COMMANDS.values())
    pairs = []
    for name in argv[2:]:
        cmd = find_command(_text(name))
        if cmd is not None:
            pairs.append((cmd.name.encode(), command_docs(cmd)))
    return Map(pairs)


@subcommand("command", "list", -2, "loading stale", categories="slow connection")
def command_list(c: Client, argv: list[bytes]) -> Any:
    """COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]."""
    names = []
    for cmd in COMMANDS.values():
        names.append(cmd.name)
        names.extend(s.name for s in cmd.subcommands.values())
    if len(argv) == 2:
        return [n.encode() for n in names]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise errors.syntax()
    kind, arg = argv[3].lower(), argv[4]
    if kind == b"module":
        return []
    if kind == b"pattern":
        return [n.encode() for n in names if glob_match(arg, n.encode(), nocase=True)]
    if kind == b"aclcat":
        wanted = _text(arg).lower()
        out = []
        for n in names:
            cmd = find_command(n)
            assert cmd is not None
            if wanted in _categories(cmd):
                out.append(n.encode())
        return out
    raise errors.syntax()


def _categories(cmd: Command) -> set[str]:
    ref = reference()["info"].get(cmd.name)
    if ref is not None:
        return {cat["+"].lstrip("@") for cat in _items(ref[6])}
    return set(cmd.categories)


@subcommand("command", "getkeys", -4, "loading stale", categories="slow connection")
def command_getkeys(c: Client, argv: list[bytes]) -> Any:
    return [argv[2 + pos] for pos, _ in get_keys(argv[2:])]


@subcommand("command", "getkeysandflags", -4, "loading stale", categories="slow connection")
def command_getkeysandflags(c: Client, argv: list[bytes]) -> Any:
    return [[argv[2 + pos], [Status(f) for f in flags]] for pos, flags in get_keys(argv[2:])]


def get_keys(args: list[bytes]) -> list[tuple[int, list[str]]]:
    """COMMAND GETKEYS: (position, key-spec flags) of each key in a full command."""
    cmd = COMMANDS.get(args[0].lower())
    if cmd is None:
        raise ReplyError("ERR Invalid command specified")
    if cmd.subcommands and len(args) > 1:
        cmd = cmd.subcommands.get(_text(args[1]).lower(), cmd)
    ref = reference()["info"].get(cmd.name)
    specs = [_spec(s) for s in _items(ref[8])] if ref is not None else _table_specs(cmd)
    real_specs = [s for s in specs if "not_key" not in s["flags"]]
    if not real_specs and cmd.name not in NATIVE_GETKEYS:
        raise ReplyError("ERR The command has no key arguments")
    n = len(args)
    if (cmd.arity > 0 and cmd.arity != n) or n < -cmd.arity:
        raise ReplyError("ERR Invalid number of arguments specified for command")
    varflags = any("variable_flags" in spec["flags"] for spec in real_specs)
    keys = None if varflags else keys_from_specs(real_specs, args, cmd.arity)
    if keys is None:
        native = NATIVE_GETKEYS.get(cmd.name)
        keys = native(args) if native is not None else []
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise ReplyError("ERR Invalid arguments specified for command")
    return keys


def _spec(ref_spec: Any) -> dict[str, Any]:
    fields = dict(ref_spec["%"])
    bs = dict(fields["begin_search"]["%"])
    fk = dict(fields["find_keys"]["%"])
    return {
        "flags": [f["+"] for f in _items(fields["flags"])],
        "bs_type": bs["type"],
        "bs": dict(bs["spec"]["%"]),
        "fk_type": fk["type"],
        "fk": dict(fk["spec"]["%"]),
    }


def _table_specs(cmd: Command) -> list[dict[str, Any]]:
    if cmd.first_key <= 0:
        return []
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [
        {
            "flags": [],
            "bs_type": "index",
            "bs": {"index": cmd.first_key},
            "fk_type": "range",
            "fk": {"lastkey": last, "keystep": cmd.step, "limit": 0},
        }
    ]


def keys_from_specs(
    specs: list[dict[str, Any]], argv: list[bytes], arity: int
) -> list[tuple[int, list[str]]] | None:
    """getKeysUsingKeySpecs; None when a spec cannot be resolved (incomplete or invalid)."""
    argc = len(argv)
    out: list[tuple[int, list[str]]] = []
    for spec in specs:
        if spec["bs_type"] == "index":
            first = spec["bs"]["index"]
        elif spec["bs_type"] == "keyword":
            keyword = spec["bs"]["keyword"].encode().lower()
            start = spec["bs"]["startfrom"]
            first = 0
            positions = range(start, argc) if start > 0 else range(argc + start, 0, -1)
            for i in positions:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == keyword:
                    first = i + 1
                    break
            if not first:
                continue
        else:
            return None
        if spec["fk_type"] == "range":
            step = spec["fk"]["keystep"]
            lastkey = spec["fk"]["lastkey"]
            limit = spec["fk"]["limit"]
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif spec["fk_type"] == "keynum":
            step = spec["fk"]["keystep"]
            idx = first + spec["fk"]["keynumidx"]
            if idx >= argc:
                return None
            numkeys = parse_ll(argv[idx])
            if numkeys is None or numkeys < 0:
                return None
            first += spec["fk"]["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        for i in range(first, last + 1, step):
            out.append((i, spec["flags"]))
        if "incomplete" in spec["flags"]:
            return None
    return out


def _sort_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    keys = [(1, ["RO", "access"])]
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word == b"limit":
            i += 3
            continue
        if word in (b"get", b"by"):
            i += 2
            continue
        if word == b"store" and i + 1 < len(argv):
            keys.append((i + 1, ["OW", "update"]))
            i += 2
            continue
        i += 1
    return keys


def _migrate_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    for i in range(6, len(argv)):
        if argv[i].lower() == b"keys":
            return [(j, ["RW", "access", "delete"]) for j in range(i + 1, len(argv))]
    if len(argv) > 3 and argv[3]:
        return [(3, ["RW", "access", "delete"])]
    return []


def _xread_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    for i, arg in enumerate(argv):
        if arg.lower() == b"streams":
            rest = len(argv) - i - 1
            if rest % 2:
                return []
            return [(j, ["RO", "access"]) for j in range(i + 1, i + 1 + rest // 2)]
    return []


def _set_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """setGetKeys: SET with GET reads the old value."""
    if any(arg.lower() == b"get" for arg in argv[3:]):
        return [(1, ["RW", "access", "update"])]
    return [(1, ["OW", "update"])]


def _generic_keys(
    store: int, numkeys_at: int, first: int
) -> Callable[[list[bytes]], list[tuple[int, list[str]]]]:
    """genericGetKeys (step 1): the fallback when the numkeys key-spec cannot be read, as for
    `ZUNIONSTORE d " 2" a b`; numkeys is read with atoi, and the keys carry no flags."""

    def keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
        num = _atoi(argv[numkeys_at])
        if num < 1 or num > len(argv) - first:
            return []
        out: list[tuple[int, list[str]]] = [(first + i, []) for i in range(num)]
        if store:
            out.append((store, []))
        return out

    return keys


_NUMKEYS_AT_1 = _generic_keys(0, 1, 2)  # ZUNION, SINTERCARD, LMPOP, ZMPOP ...
_NUMKEYS_AT_2 = _generic_keys(0, 2, 3)  # EVAL, FCALL, BLMPOP, BZMPOP ...
_STORE_NUMKEYS_AT_2 = _generic_keys(1, 2, 3)  # ZUNIONSTORE ...

NATIVE_GETKEYS = {
    "set": _set_keys,
    "sort": _sort_keys,
    "sort_ro": _sort_keys,
    "migrate": _migrate_keys,
    "xread": _xread_keys,
    "xreadgroup": _xread_keys,
    **dict.fromkeys(
        ("zunion", "zinter", "zdiff", "zintercard", "sintercard", "lmpop", "zmpop"),
        _NUMKEYS_AT_1,
    ),
    **dict.fromkeys(
        ("eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro", "blmpop", "bzmpop"),
        _NUMKEYS_AT_2,
    ),
    **dict.fromkeys(("zunionstore", "zinterstore", "zdiffstore"), _STORE_NUMKEYS_AT_2),
}


# -- DEBUG -------------------------------------------------------------------------------

DEBUG_HELP = [
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about the key and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
]


def debug_denied() -> ReplyError:
    return ReplyError(
        'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
        "you can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server."
    )


@command("debug", -2, "admin noscript loading stale", categories="admin slow dangerous")
def debug(c: Client, argv: list[bytes]) -> Any:
    server = c.server
    if not allow_protected_action(server.config.enable_debug_command, c):
        raise debug_denied()
    sub = argv[1].lower()
    n = len(argv)
    if sub == b"help" and n == 2:
        return help_reply("DEBUG", DEBUG_HELP)
    if sub == b"sleep" and n == 3:
        # Whole microseconds, as Redis's (long long)(dtime * 1000000): a product that does
        # not fit (or NaN) is negative there, so nanosleep() returns at once.
        usec = _strtod(argv[2]) * 1_000_000
        if 0 < usec < 2**63:
            time.sleep(int(usec) / 1_000_000)  # like Redis, the whole server stops
        return OK
    if sub == b"set-active-expire" and n == 3:
        server.active_expire_enabled = _atoi(argv[2]) != 0
        return OK
    if sub == b"digest" and n == 2:
        return Status(dataset_digest(server).hex())
    if sub == b"digest-value" and n >= 2:
        return [Status(digest_value(c.db, key).hex()) for key in argv[2:]]
    if sub == b"object" and n == 3:
        return debug_object(c, argv[2])
    if sub == b"populate" and 3 <= n <= 5:
        return debug_populate(c, argv)
    if sub == b"reload":
        return debug_reload_command(c, argv)
    if sub == b"loadaof" and n == 2:
        err = server.persistence.aof.debug_loadaof()
        return ReplyError(err) if err is not None else OK
    if sub == b"log" and n == 3:
        server.log.warning(f"DEBUG LOG: {_text(argv[2])}")
        return OK
    if sub == b"error" and n == 3:
        return ReplyError(_text(argv[2]))
    raise ReplyError(
        f"ERR unknown subcommand or wrong number of arguments for '{_text(argv[1])}'. "
        "Try DEBUG HELP."
    )


# C's isspace(), and the prefixes that strtod() and atoi() read (the rest is ignored).
_C_SPACE = b" \t\n\v\f\r"
_STRTOD_DEC = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_STRTOD_HEX = re.compile(
    rb"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
)
_STRTOD_WORD = re.compile(rb"[+-]?(?:inf(?:inity)?|nan)", re.IGNORECASE)
_ATOI = re.compile(rb"[+-]?\d+")


def _strtod(raw: bytes) -> float:
    """C strtod() without an end check: the longest numeric prefix, else 0 (no '_' digit
    separators, unlike Python's float())."""
    text = raw.lstrip(_C_SPACE)
    m = _STRTOD_HEX.match(text)
    if m:
        try:
            value = float.fromhex(m.group(2).decode())
        except OverflowError:
            value = float("inf")
        return -value if m.group(1) == b"-" else value
    m = _STRTOD_DEC.match(text)
    if m:
        return float(m.group())
    m = _STRTOD_WORD.match(text)
    if m:
        return float(m.group().decode())
    return 0.0


def _atoi(raw: bytes) -> int:
    """C atoi(): strtol()'s prefix (saturated to a long), cast to a 32-bit int."""
    m = _ATOI.match(raw.lstrip(_C_SPACE))
    if not m:
        return 0
    digits = m.group()
    value = int(digits) if len(digits) <= 21 else (LLONG_MIN if digits[0] == 0x2D else LLONG_MAX)
    value = min(max(value, LLONG_MIN), LLONG_MAX) & 0xFFFFFFFF
    return value - (1 << 32) if value > INT_MAX else value


def debug_reload_command(c: Client, argv: list[bytes]) -> Any:
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, flush and load the RDB file."""
    from persistence.loader import debug_reload

    options = {arg.lower() for arg in argv[2:]}
    if not options <= {b"merge", b"noflush", b"nosave"}:
        raise ReplyError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    err = debug_reload(
        c.server,
        merge=b"merge" in options,
        flush=b"noflush" not in options,
        save=b"nosave" not in options,
    )
    return ReplyError(err) if err is not None else OK


def debug_object(c: Client, key: bytes) -> Any:
    """DEBUG OBJECT key: found without expiring it and not counted as a hit or miss (Redis
    reads the dict directly). Encoding and refcount are OBJECT's (node/commands/object_cmd.py);
    `lru` is the object's lru field (LRU clock seconds, or the packed LFU data)."""
    db = c.db
    value = db.data.get(key)
    if value is None:
        raise ReplyError("ERR no such key")
    server = c.server
    config = server.config
    sync_databases(server)
    stamp = db.access.get(key)
    if stamp is not None and stamp < LFU_PACKED_LIMIT:
        lru = stamp
    else:
        lru = (lru_stamp(db, key) // 1000) & LRU_CLOCK_MAX
    clock = (server.mstime // 1000) & LRU_CLOCK_MAX
    idle = clock - lru if clock >= lru else clock + LRU_CLOCK_MAX - lru  # estimateObjectIdleTime
    size = len(value) if type(value) is bytes else key_memory(key, value)
    return Status(
        f"Value at:0x{id(value):x} refcount:{refcount(value, config)} "
        f"encoding:{encoding(value, config).decode()} serializedlength:{size} "
        f"lru:{lru} lru_seconds_idle:{idle}"
    )


def debug_populate(c: Client, argv: list[bytes]) -> Any:
    """DEBUG POPULATE count [prefix] [size]: keys prefix:N holding value:N (padded with
    zero bytes or cut to `size`); existing keys are skipped. Like Redis, nothing is
    propagated and the dirty counter does not move."""
    count = get_positive(argv[2])
    prefix = argv[3] if len(argv) > 3 else b"key"
    size = get_positive(argv[4]) if len(argv) > 4 else 0
    db = c.db
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if db.lookup_write(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\x00")
        db.add(key, value)
    return OK


# -- SLOWLOG -------------------------------------------------------------------------------

SLOWLOG_HELP = [
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
]
SLOWLOG_FLAGS = "admin loading stale"


@command("slowlog", -2, SLOWLOG_FLAGS, categories="slow")
def slowlog(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "slowlog")


@subcommand("slowlog", "help", 2, "loading stale", categories="slow")
def slowlog_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("SLOWLOG", SLOWLOG_HELP)


@subcommand("slowlog", "get", -2, SLOWLOG_FLAGS, categories="admin slow dangerous")
def slowlog_get(c: Client, argv: list[bytes]) -> Any:
    count = 10
    if len(argv) > 3:
        raise errors.wrong_arity("slowlog|get")
    if len(argv) == 3:
        count = get_range(argv[2], -1, LLONG_MAX, "ERR count should be greater than or equal to -1")
    entries = list(c.server.slowlog.entries)
    if count != -1:
        entries = entries[:count]
    return [
        [entry_id, ts, duration, list(args), addr.encode(), name]
        for entry_id, ts, duration, args, addr, name in entries
    ]


@subcommand("slowlog", "len", 2, SLOWLOG_FLAGS, categories="admin slow dangerous")
def slowlog_len(c: Client, argv: list[bytes]) -> Any:
    return len(c.server.slowlog.entries)


@subcommand("slowlog", "reset", 2, SLOWLOG_FLAGS, categories="admin slow dangerous")
def slowlog_reset(c: Client, argv: list[bytes]) -> Any:
    c.server.slowlog.entries.clear()
    return OK


# -- LATENCY ---------------------------------------------------------------------------------

LATENCY_HELP = [
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
]
LATENCY_FLAGS = "admin noscript loading stale"
LATENCY_DISABLED = (
    "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
    'You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. '
    "If we weren't in a deep space mission I'd suggest to take a look at "
    "https://redis.io/topics/latency-monitor.\n"
)
LATENCY_NO_SPIKES = (
    "Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
    "the slightest bit. I honestly think you ought to sleep tonight.\n"
)


@command("latency", -2, LATENCY_FLAGS, categories="slow")
def latency(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "latency")


@subcommand("latency", "help", 2, "loading stale", categories="slow")
def latency_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("LATENCY", LATENCY_HELP)


@subcommand("latency", "doctor", 2, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_doctor(c: Client, argv: list[bytes]) -> Any:
    """keelkv records no latency events, so the report is Redis's for an idle instance."""
    if not c.server.config.latency_monitor_threshold:
        return Verbatim(LATENCY_DISABLED.encode())
    return Verbatim(LATENCY_NO_SPIKES.encode())


@subcommand("latency", "latest", 2, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_latest(c: Client, argv: list[bytes]) -> Any:
    return []


@subcommand("latency", "history", 3, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_history(c: Client, argv: list[bytes]) -> Any:
    return []


@subcommand("latency", "graph", 3, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_graph(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"ERR No samples available for event '{_text(argv[2])}'")


@subcommand("latency", "reset", -2, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_reset(c: Client, argv: list[bytes]) -> Any:
    return 0


@subcommand("latency", "histogram", -2, LATENCY_FLAGS, categories="admin slow dangerous")
def latency_histogram(c: Client, argv: list[bytes]) -> Any:
    """Per command: its calls and one bucket (the power of two above its mean latency)."""
    if len(argv) == 2:
        cmds = [cmd for cmd in all_commands() if cmd.calls]
    else:
        cmds = []
        for name in argv[2:]:
            cmd = find_command(_text(name))
            if cmd is not None and cmd.calls:
                cmds.append(cmd)
    out = []
    for cmd in cmds:
        mean = max(cmd.usec // cmd.calls, 1)
        bucket = 1 << (mean - 1).bit_length()
        out.append(
            (
                cmd.name.encode(),
                Map([(b"calls", cmd.calls), (b"histogram_usec", Map([(bucket, cmd.calls)]))]),
            )
        )
    return Map(out)


# -- SHUTDOWN --------------------------------------------------------------------------------


@command(
    "shutdown",
    -1,
    "admin noscript loading stale no_multi allow_busy",
    categories="admin slow dangerous",
)
def shutdown(c: Client, argv: list[bytes]) -> Any:
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the server stops; no reply is sent."""
    nosave = save = now = force = abort = False
    for arg in argv[1:]:
        word = arg.lower()
        if word == b"nosave":
            nosave = True
        elif word == b"save":
            save = True
        elif word == b"now":
            now = True
        elif word == b"force":
            force = True
        elif word == b"abort":
            abort = True
        else:
            raise errors.syntax()
    if (abort and (nosave or save or now or force)) or (nosave and save):
        raise errors.syntax()
    if abort:
        # keelkv's shutdown never waits for replicas, so there is nothing to abort.
        raise ReplyError("ERR No shutdown in progress.")
    if not c.server.request_shutdown(nosave=nosave, save=save):
        raise ReplyError("ERR Errors trying to SHUTDOWN. Check logs.")
    return NO_REPLY


# -- scripting: keelkv has no Lua; answered as a Redis with nothing loaded --------------

NO_LUA = "ERR keelkv does not support Lua scripting"


@command(
    "eval", -3, "noscript skip_monitor may_replicate no_mandatory_keys", categories="slow scripting"
)
def eval_(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"{NO_LUA} (EVAL)")


@command(
    "eval_ro", -3, "noscript skip_monitor no_mandatory_keys readonly", categories="slow scripting"
)
def eval_ro(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"{NO_LUA} (EVAL_RO)")


NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."


@command(
    "evalsha",
    -3,
    "noscript skip_monitor may_replicate no_mandatory_keys",
    categories="slow scripting",
)
def evalsha(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(NOSCRIPT)


@command(
    "evalsha_ro",
    -3,
    "noscript skip_monitor no_mandatory_keys readonly",
    categories="slow scripting",
)
def evalsha_ro(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(NOSCRIPT)


@command(
    "fcall",
    -3,
    "noscript skip_monitor may_replicate no_mandatory_keys",
    categories="slow scripting",
)
def fcall(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError("ERR Function not found")


@command(
    "fcall_ro", -3, "noscript skip_monitor no_mandatory_keys readonly", categories="slow scripting"
)
def fcall_ro(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError("ERR Function not found")


SCRIPT_HELP = [
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
]
NOTBUSY = "NOTBUSY No scripts in execution right now."


@command("script", -2, "noscript", categories="slow")
def script(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "script")


@subcommand("script", "help", 2, "loading stale", categories="slow")
def script_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("SCRIPT", SCRIPT_HELP)


@subcommand("script", "flush", -2, "noscript may_replicate", categories="slow scripting")
def script_flush(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    return OK


@subcommand("script", "exists", -3, "noscript", categories="slow scripting")
def script_exists(c: Client, argv: list[bytes]) -> Any:
    return [0] * (len(argv) - 2)


@subcommand("script", "kill", 2, "noscript allow_busy", categories="slow scripting")
def script_kill(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(NOTBUSY)


@subcommand("script", "load", 3, "noscript stale", categories="slow scripting")
def script_load(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"{NO_LUA} (SCRIPT LOAD)")


@subcommand("script", "debug", 3, "noscript", categories="slow scripting")
def script_debug(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"{NO_LUA} (SCRIPT DEBUG)")


FUNCTION_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
]
# FUNCTION DUMP with no libraries: Redis 7.0's payload (RDB version 10, CRC64) with no entries.
EMPTY_FUNCTION_DUMP = b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda"


@command("function", -2, "noscript", categories="slow")
def function(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "function")


@subcommand("function", "help", 2, "loading stale", categories="slow scripting")
def function_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("FUNCTION", FUNCTION_HELP)


@subcommand("function", "flush", -2, "write noscript", categories="write slow scripting")
def function_flush(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    return OK


@subcommand("function", "list", -2, "noscript", categories="slow scripting")
def function_list(c: Client, argv: list[bytes]) -> Any:
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word == b"withcode":
            i += 1
        elif word == b"libraryname" and i + 1 < len(argv):
            i += 2
        else:
            raise ReplyError(f"ERR Unknown argument {_text(argv[i])}")
    return []


@subcommand("function", "stats", 2, "noscript allow_busy", categories="slow scripting")
def function_stats(c: Client, argv: list[bytes]) -> Any:
    engine = Map([(b"libraries_count", 0), (b"functions_count", 0)])
    return Map([(b"running_script", None), (b"engines", Map([(b"LUA", engine)]))])


@subcommand("function", "kill", 2, "noscript allow_busy", categories="slow scripting")
def function_kill(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(NOTBUSY)


@subcommand("function", "delete", 3, "write noscript", categories="write slow scripting")
def function_delete(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError("ERR Library not found")


@subcommand("function", "dump", 2, "noscript", categories="slow scripting")
def function_dump(c: Client, argv: list[bytes]) -> Any:
    return EMPTY_FUNCTION_DUMP


@subcommand("function", "load", -3, "write denyoom noscript", categories="write slow scripting")
def function_load(c: Client, argv: list[bytes]) -> Any:
    raise ReplyError(f"{NO_LUA} (FUNCTION LOAD)")


@subcommand("function", "restore", -3, "write denyoom noscript", categories="write slow scripting")
def function_restore(c: Client, argv: list[bytes]) -> Any:
    if argv[2] == EMPTY_FUNCTION_DUMP:
        return OK
    raise ReplyError(f"{NO_LUA} (FUNCTION RESTORE)")


# -- MEMORY ----------------------------------------------------------------------------------

MEMORY_HELP = [
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
]
MEMORY_EMPTY = (
    "Hi Sam, this instance is empty or is using very little memory, my issues detector can't "
    "be used in these conditions. Please, leave for your mission on Earth and fill it with some "
    "data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
)
MEMORY_FINE = (
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what "
    "occurs on this base.\n"
)


@command("memory", -2, "", categories="slow")
def memory(c: Client, argv: list[bytes]) -> Any:
    raise errors.unknown_subcommand(_text(argv[1]), "memory")


@subcommand("memory", "help", 2, "loading stale", categories="slow")
def memory_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply("MEMORY", MEMORY_HELP)


@subcommand("memory", "usage", -3, "readonly", 2, 2, 1, categories="read slow")
def memory_usage(c: Client, argv: list[bytes]) -> Any:
    """MEMORY USAGE key [SAMPLES count]: the key's estimated bytes (node/info.py)."""
    j = 3
    n = len(argv)
    while j < n:  # [SAMPLES count] may repeat, as in Redis (the last one counts)
        if argv[j].lower() != b"samples" or j + 1 >= n:
            raise errors.syntax()
        if get_ll(argv[j + 1]) < 0:
            raise errors.syntax()
        j += 2
    # Redis finds the key in the dict: no expiry check, no keyspace hit or miss.
    value = c.db.data.get(argv[2])
    if value is None:
        return None
    try:
        from node.memory import key_size
    except ImportError:  # pragma: no cover
        return key_memory(argv[2], value)
    return key_size(argv[2], value)


@subcommand("memory", "doctor", 2, "", categories="slow")
def memory_doctor(c: Client, argv: list[bytes]) -> Any:
    empty = used_memory(c.server) < 5 * 1024 * 1024
    return Verbatim((MEMORY_EMPTY if empty else MEMORY_FINE).encode())


@subcommand("memory", "malloc-stats", 2, "", categories="slow")
def memory_malloc_stats(c: Client, argv: list[bytes]) -> Any:
    return Verbatim(b"Stats not supported for the current allocator")


@subcommand("memory", "purge", 2, "", categories="slow")
def memory_purge(c: Client, argv: list[bytes]) -> Any:
    return OK


@subcommand("memory", "stats", 2, "", categories="slow")
def memory_stats(c: Client, argv: list[bytes]) -> Any:
    server = c.server
    used = used_memory(server)
    keys = sum(len(db.data) for db in server.dbs)
    items: list[tuple[Any, Any]] = [
        (b"peak.allocated", used),
        (b"total.allocated", used),
        (b"startup.allocated", 0),
        (b"replication.backlog", 0),
        (b"clients.slaves", 0),
        (b"clients.normal", 0),
        (b"cluster.links", 0),
        (b"aof.buffer", 0),
        (b"lua.caches", 0),
        (b"functions.caches", 0),
        (b"overhead.total", 0),
        (b"keys.count", keys),
        (b"keys.bytes-per-key", used // keys if keys else 0),
        (b"dataset.bytes", used),
        (b"dataset.percentage", 100.0 if used else 0.0),
        (b"peak.percentage", 100.0),
        (b"fragmentation", 1.0),
    ]
    for db in server.dbs:
        if db.data:
            items.append(
                (
                    b"db.%d" % db.id,
                    Map([(b"overhead.hashtable.main", 0), (b"overhead.hashtable.expires", 0)]),
                )
            )
    return Map(items)
