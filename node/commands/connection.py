"""Connection commands: PING ECHO QUIT SELECT AUTH HELLO RESET MONITOR.

Authentication knows one user, `default`, whose password is `requirepass` (no password:
the user is `nopass` and any password is accepted for it, as in Redis 7.0). AUTH and HELLO
redact their secrets in `argv` itself, so MONITOR and SLOWLOG show `(redacted)` as Redis does.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from node import REDIS_COMPAT_VERSION, errors
from node.client import Client
from node.commands.args import get_int, parse_ll
from node.commands.pubsub_state import drop_subscriptions
from node.commands.table import command
from node.commands.tx_state import discard_transaction
from node.dispatch import NO_REPLY
from node.resp import OK, PONG, Map, ReplyError, Status

REDACTED: Final = b"(redacted)"
RESET: Final = Status("RESET")
NOPASS_AUTH: Final = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
HELLO_NOAUTH: Final = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)


@command("ping", -1, "fast", categories="fast connection")
def ping(c: Client, argv: list[bytes]) -> Any:
    """PING [message]; in RESP2 subscribed mode it answers a ["pong", msg] array."""
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    if c.in_pubsub_mode and not c.resp3:
        return [b"pong", argv[1] if len(argv) > 1 else b""]
    return argv[1] if len(argv) > 1 else PONG


@command("echo", 2, "fast stale loading", categories="fast connection")
def echo(c: Client, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, "noscript fast stale loading no_auth allow_busy", categories="fast connection")
def quit_(c: Client, argv: list[bytes]) -> Any:
    c.close_after_reply = True
    c.reply(OK)
    return NO_REPLY


@command("select", 2, "fast stale loading", categories="fast connection")
def select(c: Client, argv: list[bytes]) -> Any:
    index = get_int(argv[1])
    if not 0 <= index < len(c.server.dbs):
        raise errors.CommandError(errors.DB_INDEX)
    c.db = c.server.dbs[index]
    return OK


# -- authentication -------------------------------------------------------------


def check_password(c: Client, username: bytes, password: bytes) -> bool:
    """ACLAuthenticateUser for the one `default` user; authenticates `c` on success."""
    if username != b"default":
        return False
    required = c.server.config.requirepass
    if required and not hmac.compare_digest(password, required.encode()):
        return False
    set_authenticated(c, True)
    return True


def set_authenticated(c: Client, authenticated: bool) -> None:
    c.authenticated = authenticated
    c.parser.authenticated = authenticated
    c.user = "default"


@command("auth", -2, "noscript fast stale loading no_auth allow_busy", categories="fast connection")
def auth(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.syntax()
    if len(argv) == 2:
        if not c.server.config.requirepass:
            argv[1] = REDACTED
            raise errors.CommandError(NOPASS_AUTH)
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    for i in range(1, len(argv)):
        argv[i] = REDACTED
    if not check_password(c, username, password):
        raise errors.CommandError(errors.WRONGPASS)
    return OK


def validate_client_name(name: bytes) -> None:
    """Client names are printable ASCII without spaces (they are shown in CLIENT LIST)."""
    for ch in name:
        if ch < 0x21 or ch > 0x7E:
            raise errors.CommandError(
                "ERR Client names cannot contain spaces, newlines or special characters."
            )


@command(
    "hello", -1, "noscript fast stale loading no_auth allow_busy", categories="fast connection"
)
def hello(c: Client, argv: list[bytes]) -> Any:
    version = 0
    n = len(argv)
    j = 1
    if n >= 2:
        parsed = parse_ll(argv[1])
        if parsed is None:
            raise errors.CommandError("ERR Protocol version is not an integer or out of range")
        if parsed < 2 or parsed > 3:
            raise ReplyError("NOPROTO unsupported protocol version")
        version = parsed
        j = 2
    # Options apply as they are read, as in Redis 7.0: a later bad option leaves an
    # earlier AUTH or SETNAME in effect.
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            username, password = argv[j + 1], argv[j + 2]
            argv[j + 1] = argv[j + 2] = REDACTED
            if not check_password(c, username, password):
                raise errors.CommandError(errors.WRONGPASS)
            j += 3
        elif opt == b"setname" and more >= 1:
            validate_client_name(argv[j + 1])
            c.name = argv[j + 1]
            j += 2
        else:
            raise errors.CommandError(
                f"ERR Syntax error in HELLO option '{argv[j].decode('utf-8', 'replace')}'"
            )
    if not c.authenticated:
        raise ReplyError(HELLO_NOAUTH)
    if version:
        c.resp3 = version == 3
    server = c.server
    return Map(
        [
            (b"server", b"redis"),
            (b"version", REDIS_COMPAT_VERSION.encode()),
            (b"proto", 3 if c.resp3 else 2),
            (b"id", c.id),
            (b"mode", b"standalone"),
            (b"role", b"replica" if server.masterhost is not None else b"master"),
            (b"modules", []),
        ]
    )


# -- RESET and MONITOR ----------------------------------------------------------


def stop_monitor(c: Client) -> None:
    if c.monitor:
        c.monitor = False
        if c in c.server.monitors:
            c.server.monitors.remove(c)


@command("reset", 1, "noscript fast stale loading no_auth allow_busy", categories="fast connection")
def reset(c: Client, argv: list[bytes]) -> Any:
    """Back to a fresh connection's state (Redis's clearClientConnectionState)."""
    if c.kind in ("replica", "master"):
        raise errors.CommandError("ERR can only reset normal client connections")
    stop_monitor(c)
    server = c.server
    c.db = server.dbs[0]
    c.resp3 = False
    set_authenticated(c, not server.config.requirepass)
    discard_transaction(c)
    drop_subscriptions(c)
    c.name = b""
    c.no_evict = False
    c.reply_mode = "on"
    return RESET


@command("monitor", 1, "admin noscript loading stale", categories="admin slow dangerous")
def monitor(c: Client, argv: list[bytes]) -> Any:
    if c.in_exec:
        raise errors.CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor or c.kind == "replica":
        # Redis answers nothing to a replica or a client already monitoring.
        return NO_REPLY
    c.monitor = True
    c.server.monitors.append(c)
    return OK
