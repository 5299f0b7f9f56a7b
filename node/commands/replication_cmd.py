"""Replication commands a replica sends its master: REPLCONF, PSYNC, SYNC
(replication/master.py does the work)."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.args import get_ll
from node.commands.table import command
from node.dispatch import NO_REPLY
from node.resp import OK, ReplyError, Status


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
    if len(argv) > 3 and argv[3].lower() == b"failover":
        from replication.failover import psync_failover

        err = psync_failover(c.server, c, argv[1].decode("utf-8", "replace"))
        if err is not None:
            return err
    c.server.replication.psync(c, argv[1].decode("utf-8", "replace"), offset)
    return NO_REPLY


@command("sync", 1, "admin noscript no_multi", categories="admin slow dangerous")
def sync(c: Client, argv: list[bytes]) -> Any:
    _sync_allowed(c)
    c.server.replication.psync(c, "?", -1, sync_command=True)
    return NO_REPLY


def _replicaof(c: Client, argv: list[bytes]) -> Any:
    """REPLICAOF host port | NO ONE (replicaofCommand)."""
    from node.commands.client_cmd import client_info

    server = c.server
    driver = server.replica
    if server.replication.failover.active:
        return ReplyError("ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if server.masterhost is not None:
            driver.detach()
            who = client_info(c, c, argv)
            server.log.notice(f"MASTER MODE enabled (user request from '{who}')")
        return OK
    if c.kind == "replica":
        return ReplyError("ERR Command is not valid when client is a replica.")
    try:
        port = int(argv[2])
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        return ReplyError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    current = server.config.replicaof
    if (
        server.masterhost is not None
        and current is not None
        and current[0].lower() == host.lower()
        and current[1] == port
    ):
        server.log.notice(
            "REPLICAOF would result into synchronization with the master we are already "
            "connected with. No operation performed."
        )
        return Status("OK Already connected to specified master")
    driver.attach(host, port)
    who = client_info(c, c, argv)
    server.log.notice(f"REPLICAOF {host}:{port} enabled (user request from '{who}')")
    return OK


@command("replicaof", 3, "admin noscript stale no_async_loading", categories="admin slow dangerous")
def replicaof(c: Client, argv: list[bytes]) -> Any:
    return _replicaof(c, argv)


@command("failover", -1, "admin noscript stale", categories="admin slow dangerous")
def failover(c: Client, argv: list[bytes]) -> Any:
    """FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (replication/failover.py)."""
    err = c.server.replication.failover.command(c, argv)
    return OK if err is None else err


@command("slaveof", 3, "admin noscript stale no_async_loading", categories="admin slow dangerous")
def slaveof(c: Client, argv: list[bytes]) -> Any:
    return _replicaof(c, argv)


@command("wait", 3, "noscript", categories="slow connection")
def wait(c: Client, argv: list[bytes]) -> Any:
    """WAIT numreplicas timeout (replication/wait.py)."""
    return c.server.replication.waits.wait(c, argv)
