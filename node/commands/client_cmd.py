"""CLIENT and its subcommands (Redis 7.0): ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE
REPLY UNBLOCK NO-EVICT TRACKING GETREDIR TRACKINGINFO CACHING HELP.

Each subcommand is registered on its own (`client|list`), so the dispatcher checks its arity
and names it in errors exactly as Redis does. Server-assisted client-side caching is not
implemented: TRACKING ON is refused, TRACKING OFF and the read-only tracking queries answer
as an untracked Redis client would. CLIENT SETINFO is a 7.2 command; 7.0's unknown-subcommand
error is what clients expect from a 7.0 server, and they carry on.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from node import errors
from node.client import Client
from node.commands.args import get_ll, parse_ll, parse_timeout_ms
from node.commands.connection import validate_client_name
from node.commands.pubsub_state import drop_subscriptions
from node.commands.table import command, subcommand
from node.dispatch import NO_REPLY
from node.resp import NULL_ARRAY, OK, Map, ReplyError, SetReply, Status, Verbatim

# Redis's PROTO_REPLY_CHUNK_BYTES: replies beyond it spill from the static buffer (obl) to
# the reply list (oll/omem); CLIENT LIST reports them that way.
REPLY_CHUNK_BYTES = 16 * 1024
READ_BUFFER_BYTES = 16 * 1024
CLIENT_STRUCT_BYTES = 1024


# -- helpers shared with other containers (PUBSUB) ------------------------------


def help_reply(container: bytes, lines: list[str]) -> list[Status]:
    """Redis's addReplyHelp: a header naming the command as typed, the lines, then HELP."""
    name = container.decode("utf-8", "replace").upper()
    text = [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", *lines]
    text += ["HELP", "    Prints this help."]
    return [Status(line) for line in text]


def subcommand_syntax_error(argv: list[bytes]) -> errors.CommandError:
    """Redis's addReplySubcommandSyntaxError (a known subcommand with bad arguments)."""
    sub = argv[1].decode("utf-8", "replace")[:128]
    name = argv[0].decode("utf-8", "replace").upper()
    return errors.CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {name} HELP."
    )


# -- client descriptions ----------------------------------------------------------

# Client types as CLIENT KILL TYPE / CLIENT LIST TYPE name them.
TYPE_NAMES = {
    b"normal": "normal",
    b"slave": "slave",
    b"replica": "slave",
    b"pubsub": "pubsub",
    b"master": "master",
}


def client_type(cl: Client) -> str:
    """Redis's getClientType: MONITOR clients count as normal ones."""
    if cl.kind == "master":
        return "master"
    if cl.kind == "replica" and not cl.monitor:
        return "slave"
    if cl.in_pubsub_mode:
        return "pubsub"
    return "normal"


def parse_client_type(raw: bytes) -> str:
    kind = TYPE_NAMES.get(raw.lower())
    if kind is None:
        raise errors.CommandError(f"ERR Unknown client type '{raw.decode('utf-8', 'replace')}'")
    return kind


def client_flags(cl: Client) -> str:
    """The `flags=` letters, in the order Redis's getClientInfoString writes them."""
    flags = ""
    if cl.monitor:
        flags += "O"
    elif cl.kind == "replica":
        flags += "S"
    if cl.kind == "master":
        flags += "M"
    if cl.in_pubsub_mode:
        flags += "P"
    if cl.multi is not None:
        flags += "x"
    if cl.blocked is not None:
        flags += "b"
    if cl.dirty_cas:
        flags += "d"
    if cl.close_after_reply:
        flags += "c"
    if cl.closing:
        flags += "A"
    if cl.sock is not None and cl.sock.family == socket.AF_UNIX:
        flags += "U"
    if cl.no_evict:
        flags += "e"
    return flags or "N"


def client_info(cl: Client, caller: Client, argv: list[bytes]) -> str:
    """One CLIENT LIST line (without the newline), Redis 7.0's field layout.

    Memory figures are estimates from what keelkv holds: the query buffer, the arguments
    of the command being run (only the caller's), the queued MULTI commands and the
    pending output.
    """
    now = time.monotonic()
    qbuf = cl.parser.buffered
    argv_mem = 0
    if cl is caller:
        argv_mem = sum(len(a) for a in argv)
        qbuf += argv_mem + 3 + len(str(len(argv))) + sum(5 + len(str(len(a))) for a in argv)
    multi_mem = 0
    if cl.multi is not None:
        multi_mem = sum(sum(len(a) for a in args) + 16 for _, args in cl.multi)
    pending = sum(len(chunk) for chunk in cl.out)
    obl = min(pending, REPLY_CHUNK_BYTES)
    omem = pending - obl
    oll = -(-omem // REPLY_CHUNK_BYTES)
    tot_mem = CLIENT_STRUCT_BYTES + READ_BUFFER_BYTES + qbuf + argv_mem + multi_mem + pending
    events = "rw" if pending and cl is not caller else "r"
    last = cl.last_cmd.name if cl.last_cmd is not None else "NULL"
    name = cl.name.decode("latin-1")
    return (
        f"id={cl.id} addr={cl.addr} laddr={cl.laddr} fd={cl.fd} name={name}"
        f" age={int(now - cl.ctime)} idle={int(now - cl.last_interaction)}"
        f" flags={client_flags(cl)} db={cl.db.id} sub={len(cl.channels)}"
        f" psub={len(cl.patterns)} ssub={len(cl.shard_channels)}"
        f" multi={len(cl.multi) if cl.multi is not None else -1}"
        f" qbuf={qbuf} qbuf-free={max(0, READ_BUFFER_BYTES - qbuf) if qbuf else 0}"
        f" argv-mem={argv_mem} multi-mem={multi_mem} rbs={READ_BUFFER_BYTES}"
        f" rbp={READ_BUFFER_BYTES} obl={obl} oll={oll} omem={omem} tot-mem={tot_mem}"
        f" events={events} cmd={last} user={cl.user} redir=-1 resp={3 if cl.resp3 else 2}"
    )


# -- CLIENT ---------------------------------------------------------------------


@command("client", -2, "", categories="slow")
def client(c: Client, argv: list[bytes]) -> Any:  # pragma: no cover - subcommands answer
    raise errors.unknown_subcommand(argv[1].decode("utf-8", "replace"), "client")


CONN_FLAGS = "noscript loading stale"
ADMIN_FLAGS = "admin noscript loading stale"
CONN_CATS = "slow connection"
ADMIN_CATS = "admin slow dangerous connection"

CLIENT_HELP = [
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
]


@subcommand("client", "help", 2, "loading stale", categories=CONN_CATS)
def client_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv[0], CLIENT_HELP)


@subcommand("client", "id", 2, CONN_FLAGS, categories=CONN_CATS)
def client_id(c: Client, argv: list[bytes]) -> Any:
    return c.id


@subcommand("client", "setname", 3, CONN_FLAGS, categories=CONN_CATS)
def client_setname(c: Client, argv: list[bytes]) -> Any:
    validate_client_name(argv[2])
    c.name = argv[2]
    return OK


@subcommand("client", "getname", 2, CONN_FLAGS, categories=CONN_CATS)
def client_getname(c: Client, argv: list[bytes]) -> Any:
    return c.name or None


@subcommand("client", "info", 2, CONN_FLAGS, categories=CONN_CATS)
def client_info_(c: Client, argv: list[bytes]) -> Any:
    return Verbatim((client_info(c, c, argv) + "\n").encode("latin-1"))


@subcommand("client", "list", -2, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_list(c: Client, argv: list[bytes]) -> Any:
    clients = c.server.clients
    n = len(argv)
    if n == 4 and argv[2].lower() == b"type":
        kind = parse_client_type(argv[3])
        selected = [cl for cl in clients.values() if client_type(cl) == kind]
    elif n > 3 and argv[2].lower() == b"id":
        selected = []
        for raw in argv[3:]:
            cid = parse_ll(raw)
            if cid is None:
                raise errors.CommandError("ERR Invalid client ID")
            found = clients.get(cid)
            if found is not None:
                selected.append(found)
    elif n != 2:
        raise errors.syntax()
    else:
        selected = list(clients.values())
    text = "".join(client_info(cl, c, argv) + "\n" for cl in selected)
    return Verbatim(text.encode("latin-1"))


def _kill_filters(c: Client, argv: list[bytes]) -> dict[str, Any]:
    filters: dict[str, Any] = {"skipme": True}
    i = 2
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if i + 1 >= n:
            raise errors.syntax()
        value = argv[i + 1]
        if opt == b"id":
            cid = parse_ll(value)
            if cid is None or cid < 1:
                raise errors.CommandError("ERR client-id should be greater than 0")
            filters["id"] = cid
        elif opt == b"type":
            filters["type"] = parse_client_type(value)
        elif opt == b"addr":
            filters["addr"] = value.decode("latin-1")
        elif opt == b"laddr":
            filters["laddr"] = value.decode("latin-1")
        elif opt == b"user":
            if value != b"default":
                raise errors.CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            filters["user"] = "default"
        elif opt == b"skipme":
            if value.lower() == b"yes":
                filters["skipme"] = True
            elif value.lower() == b"no":
                filters["skipme"] = False
            else:
                raise errors.syntax()
        else:
            raise errors.syntax()
        i += 2
    return filters


def disconnect(cl: Client) -> None:
    """Close another client the way Redis's freeClient does: at once, as far as other
    clients can tell. Its subscriptions and MONITOR feed end before the next command runs,
    so a PUBLISH right after `CLIENT KILL TYPE pubsub` (Sentinel's failover transaction is
    followed by its hello) reaches nobody; its task unlinks the rest when it wakes."""
    cl.kill()
    drop_subscriptions(cl)
    monitors = cl.server.monitors
    if cl.monitor and cl in monitors:
        monitors.remove(cl)


@subcommand("client", "kill", -3, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_kill(c: Client, argv: list[bytes]) -> Any:
    old_form = len(argv) == 3
    if old_form:
        # CLIENT KILL addr:port, which may kill the caller too.
        filters: dict[str, Any] = {"addr": argv[2].decode("latin-1"), "skipme": False}
    else:
        filters = _kill_filters(c, argv)
    killed = 0
    close_self = False
    for cl in list(c.server.clients.values()):
        if cl.closing and cl is not c:
            continue  # already killed: gone, as far as Redis's freeClient is concerned
        if "addr" in filters and cl.addr != filters["addr"]:
            continue
        if "laddr" in filters and cl.laddr != filters["laddr"]:
            continue
        if "type" in filters and client_type(cl) != filters["type"]:
            continue
        if "id" in filters and cl.id != filters["id"]:
            continue
        if "user" in filters and cl.user != filters["user"]:
            continue
        if cl is c:
            if filters["skipme"]:
                continue
            close_self = True
        else:
            disconnect(cl)
        killed += 1
    if close_self:
        # Flagged only now, so the reply still goes out before the connection closes.
        c.close_after_reply = True
    if old_form:
        if not killed:
            raise errors.CommandError("ERR No such client")
        return OK
    return killed


@subcommand("client", "pause", -3, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_pause(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    pause_all = True
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            pause_all = False
        elif mode != b"all":
            raise errors.CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    timeout = parse_timeout_ms(argv[2], int(time.time() * 1000))
    if timeout:
        c.server.pause(timeout / 1000, pause_all)
    return OK


@subcommand("client", "unpause", 2, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_unpause(c: Client, argv: list[bytes]) -> Any:
    c.server.unpause()
    return OK


@subcommand("client", "reply", 3, CONN_FLAGS, categories=CONN_CATS)
def client_reply(c: Client, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = "on"
        return OK
    if mode == b"off":
        c.reply_mode = "off"
        return NO_REPLY
    if mode == b"skip":
        if c.reply_mode != "off":
            c.reply_mode = "skip"
        return NO_REPLY
    raise errors.syntax()


UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


@subcommand("client", "unblock", -3, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_unblock(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    as_error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            as_error = True
        elif reason != b"timeout":
            raise errors.CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    cid = get_ll(argv[2])
    server = c.server
    target = server.clients.get(cid)
    if target is None or target.blocked is None:
        return 0
    if as_error:
        reply: Any = ReplyError(UNBLOCKED)
    else:
        timeout_reply = target.blocked.timeout_reply
        reply = timeout_reply if timeout_reply is not None else NULL_ARRAY
    server.blocking.unblock(target, reply)
    target.wake()
    return 1


@subcommand("client", "no-evict", 3, ADMIN_FLAGS, categories=ADMIN_CATS)
def client_no_evict(c: Client, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"on":
        c.no_evict = True
    elif mode == b"off":
        c.no_evict = False
    else:
        raise errors.syntax()
    return OK


@subcommand("client", "tracking", -3, CONN_FLAGS, categories=CONN_CATS)
def client_tracking(c: Client, argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"off":
        return OK
    if mode == b"on":
        raise errors.CommandError("ERR client-side caching (CLIENT TRACKING) is not supported")
    raise errors.syntax()


@subcommand("client", "getredir", 2, CONN_FLAGS, categories=CONN_CATS)
def client_getredir(c: Client, argv: list[bytes]) -> Any:
    return -1


@subcommand("client", "trackinginfo", 2, CONN_FLAGS, categories=CONN_CATS)
def client_trackinginfo(c: Client, argv: list[bytes]) -> Any:
    return Map([(b"flags", SetReply([b"off"])), (b"redirect", -1), (b"prefixes", [])])


@subcommand("client", "caching", 3, CONN_FLAGS, categories=CONN_CATS)
def client_caching(c: Client, argv: list[bytes]) -> Any:
    raise errors.CommandError(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
        "OPTIN or OPTOUT mode enabled"
    )
