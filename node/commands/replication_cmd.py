"""Replication commands a replica sends its master: REPLCONF, PSYNC, SYNC
(replication/master.py does the work)."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.args import get_ll
from node.commands.table import command
from node.dispatch import NO_REPLY
from node.resp import OK, ReplyError


@command(
    "replconf", -1, "admin noscript loading stale allow_busy", categories="admin slow dangerous"
)
def replconf(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.syntax()
    master = c.server.replication
    info = master.info_for(c)
    for i in range(1, len(argv), 2):
        option = argv[i].lower()
        value = argv[i + 1]
        if option == b"listening-port":
            info.listening_port = get_ll(value)
        elif option == b"ip-address":
            info.ip = value.decode("utf-8", "replace")
        elif option == b"capa":
            info.capa.add(value.decode("utf-8", "replace").lower())
        elif option == b"ack":
            # The replica's acknowledgement: never answered.
            master.ack(c, get_ll(value))
            return NO_REPLY
        elif option == b"getack":
            return NO_REPLY  # only a replica answers GETACK, and only to its master
        elif option == b"rdb-only":
            # redis-cli --rdb: the payload only, then the connection closes.
            info.rdb_only = value == b"1"
        elif option == b"rdb-filter-only":
            pass
        else:
            return ReplyError(
                f"ERR Unrecognized REPLCONF option: {argv[i].decode('utf-8', 'replace')}"
            )
    return OK


def _sync_allowed(c: Client) -> None:
    if c.out:
        raise ReplyError("ERR SYNC and PSYNC are invalid with pending output")


@command("psync", -3, "admin noscript no_multi", categories="admin slow dangerous")
def psync(c: Client, argv: list[bytes]) -> Any:
    _sync_allowed(c)
    offset = get_ll(argv[2])
    c.server.replication.psync(c, argv[1].decode("utf-8", "replace"), offset)
    return NO_REPLY


@command("sync", 1, "admin noscript no_multi", categories="admin slow dangerous")
def sync(c: Client, argv: list[bytes]) -> Any:
    _sync_allowed(c)
    c.server.replication.psync(c, "?", -1, sync_command=True)
    return NO_REPLY
