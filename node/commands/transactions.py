"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH.

The dispatcher queues commands while `c.multi` is a list (replying +QUEUED) and flags the
transaction when it refuses one; EXEC then runs the queue through `dispatch.call` with
`c.in_exec` set. Everything the queued commands propagate is collected by the one top-level
call and flushed once at its end, wrapped in MULTI/EXEC when it holds more than one command
(Redis 7.0: a transaction with a single write propagates as that command alone).
"""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.table import command
from node.commands.tx_state import (
    EXECABORT,
    discard_transaction,
    unwatch_all,
    watch_key,
    watched_key_expired,
)
from node.dispatch import NO_REPLY, call
from node.resp import NULL_ARRAY, OK


@command("multi", 1, "noscript loading stale fast allow_busy", categories="fast transaction")
def multi(c: Client, argv: list[bytes]) -> Any:
    if c.multi is not None:
        raise errors.CommandError("ERR MULTI calls can not be nested")
    c.multi = []
    return OK


@command("discard", 1, "noscript loading stale fast allow_busy", categories="fast transaction")
def discard(c: Client, argv: list[bytes]) -> Any:
    if c.multi is None:
        raise errors.CommandError("ERR DISCARD without MULTI")
    discard_transaction(c)
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog", categories="slow transaction")
def exec_(c: Client, argv: list[bytes]) -> Any:
    queued = c.multi
    if queued is None:
        raise errors.CommandError("ERR EXEC without MULTI")
    if watched_key_expired(c):
        c.dirty_cas = True
    if c.multi_error:
        discard_transaction(c)
        raise errors.CommandError(EXECABORT)
    if c.dirty_cas:
        discard_transaction(c)
        return NULL_ARRAY
    # Unwatch first, as Redis does: the transaction's own writes must not flag it.
    unwatch_all(c)
    skip = c.reply_mode == "skip"
    if skip:
        # CLIENT REPLY SKIP drops the whole EXEC reply, not only its header.
        c.reply_mode = "off"
    if c.reply_mode == "on":
        c.out.append(b"*%d\r\n" % len(queued))
    c.in_exec = True
    try:
        for cmd, args in queued:
            call(c, cmd, args)
    finally:
        c.in_exec = False
        if skip:
            c.reply_mode = "on"
        discard_transaction(c)
    return NO_REPLY


@command(
    "watch", -2, "noscript loading stale fast allow_busy", 1, -1, 1, categories="fast transaction"
)
def watch(c: Client, argv: list[bytes]) -> Any:
    if c.multi is not None:
        raise errors.CommandError("ERR WATCH inside MULTI is not allowed")
    for key in argv[1:]:
        watch_key(c, key)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", categories="fast transaction")
def unwatch(c: Client, argv: list[bytes]) -> Any:
    unwatch_all(c)
    return OK
