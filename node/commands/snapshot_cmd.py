"""SAVE and BGSAVE [SCHEDULE]: writing the dataset to the RDB file (persistence/snapshot.py)."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.table import command
from node.resp import OK, ReplyError, Status


@command("save", 1, "admin noscript no_multi", categories="admin slow dangerous")
def save(c: Client, argv: list[bytes]) -> Any:
    rdb = c.server.persistence.rdb
    if rdb.rdb_child() is not None:
        return ReplyError("ERR Background save already in progress")
    if rdb.save() is not None:
        return ReplyError("ERR")
    return OK


@command("bgsave", -1, "admin noscript", categories="admin slow dangerous")
def bgsave(c: Client, argv: list[bytes]) -> Any:
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise errors.syntax()
    rdb = c.server.persistence.rdb
    if c.in_exec and rdb.rdb_child() is None:
        # Redis never forks inside EXEC: the save runs from the cron right after.
        rdb.bgsave_scheduled = True
        return Status("Background saving scheduled")
    reply = rdb.bgsave_command(schedule)
    return Status(reply) if isinstance(reply, str) else reply


@command("bgrewriteaof", 1, "admin noscript", categories="admin slow dangerous")
def bgrewriteaof(c: Client, argv: list[bytes]) -> Any:
    return c.server.persistence.aof.bgrewriteaof_command(c.in_exec)
