"""Connection commands: PING, ECHO, QUIT, SELECT."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.table import command
from node.dispatch import NO_REPLY
from node.resp import OK, PONG


@command("ping", -1, "fast stale loading", categories="fast connection")
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


@command("quit", -1, "fast stale loading no_auth allow_busy", categories="fast connection")
def quit_(c: Client, argv: list[bytes]) -> Any:
    c.close_after_reply = True
    c.reply(OK)
    return NO_REPLY


@command("select", 2, "fast stale loading", categories="fast connection keyspace")
def select(c: Client, argv: list[bytes]) -> Any:
    try:
        index = int(argv[1])
    except ValueError as exc:
        raise errors.CommandError("ERR value is not an integer or out of range") from exc
    if not 0 <= index < len(c.server.dbs):
        raise errors.CommandError(errors.DB_INDEX)
    c.db = c.server.dbs[index]
    return OK
