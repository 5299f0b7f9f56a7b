"""The synchronous hot path: command vector -> checks -> handler -> reply bytes.

`execute` applies Redis 7.0's processCommand checks in its order, queues inside MULTI, and
calls `call`, which runs the handler, records statistics, flushes the propagation stream
and serves clients blocked on keys that became ready.
"""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any, Final

from node import errors
from node.blocking import Block
from node.commands.table import (
    ADMIN,
    COMMANDS,
    LOADING,
    MAY_REPLICATE,
    NO_AUTH,
    NO_MULTI,
    SKIP_MONITOR,
    SKIP_SLOWLOG,
    STALE,
    Command,
)
from node.commands.tx_state import exec_abort, exec_flags
from node.resp import QUEUED, ReplyError

if TYPE_CHECKING:
    from node.client import Client

# Final: compiled code keeps it in a C static instead of looking it up by name per command.
perf_counter_ns: Final = time.perf_counter_ns

# What `execute` tells the connection loop.
DONE: Final = 0
BLOCKED: Final = 1
PAUSED: Final = 2


class NoReply:
    """A handler returns NO_REPLY when it queued its reply itself (EXEC, SUBSCRIBE...)."""

    __slots__ = ()


NO_REPLY: Final = NoReply()

# Commands a RESP2 client may send while subscribed.
PUBSUB_ALLOWED: Final = frozenset(
    [
        b"subscribe",
        b"psubscribe",
        b"unsubscribe",
        b"punsubscribe",
        b"ssubscribe",
        b"sunsubscribe",
        b"ping",
        b"quit",
        b"reset",
    ]
)
# Commands a client in MULTI may still send when over maxmemory (processCommand).
MULTI_OOM_EXEMPT: Final = frozenset(["exec", "discard", "quit", "reset"])
# Commands that run immediately even inside MULTI.
MULTI_IMMEDIATE: Final = frozenset([b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"])


def unknown_command_error(argv: list[bytes]) -> ReplyError:
    name = argv[0].decode("utf-8", "replace")
    args = "".join(f"'{a.decode('utf-8', 'replace')[:128]}' " for a in argv[1:])[:128]
    return ReplyError(f"ERR unknown command '{name[:128]}', with args beginning with: {args}")


# Command names as clients spell them ("SET", "set", "Set") -> the table's entry, so the
# common spellings cost one dict lookup instead of a lower() and two. Only names that are
# commands get in, and at most SPELLINGS_MAX of them.
SPELLINGS: Final[dict[bytes, Command]] = {}
SPELLINGS_MAX: Final = 4096


def lookup_command(name: bytes) -> Command | None:
    cmd = SPELLINGS.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
        if cmd is not None and len(SPELLINGS) < SPELLINGS_MAX:
            SPELLINGS[name] = cmd
    return cmd


def execute(c: Client, argv: list[bytes]) -> int:
    """Run one command from a client; its reply is queued on `c.out`."""
    server = c.server
    name = argv[0]
    if name == c.last_name:  # pipelines repeat a command: a compare instead of a hash
        cmd: Command | None = c.last_top
    else:
        cmd = lookup_command(name)
        if cmd is None:
            c.last_cmd = None
            return _reject(c, None, unknown_command_error(argv))
        c.last_name = name
        c.last_top = cmd
    assert cmd is not None
    n = len(argv)
    if cmd.subcommands and n > 1:
        sub = cmd.subcommands.get(argv[1].decode("latin-1").lower())
        if sub is None:
            c.last_cmd = None
            return _reject(c, cmd, unknown_subcommand_error(argv))
        cmd = sub
    c.last_cmd = cmd
    if (cmd.arity > 0 and n != cmd.arity) or n < -cmd.arity:
        return _reject(c, cmd, errors.wrong_arity(cmd.name))
    if not c.authenticated and NO_AUTH not in cmd.flags:
        return _reject(c, cmd, ReplyError(errors.NOAUTH))
    if server.gate_checks:
        err = server.check_gates(c, cmd, argv)
        if err is not None:
            if isinstance(err, int):
                return err
            return _reject(c, cmd, err)
    if c.multi is not None and cmd.name.encode() not in MULTI_IMMEDIATE:
        if NO_MULTI in cmd.flags:
            return _reject(c, cmd, ReplyError("ERR Command not allowed inside a transaction"))
        c.multi.append((cmd, argv))
        c.reply(QUEUED)
        return DONE
    status = call(c, cmd, argv)
    # processCommand: the client's write offset, what its next WAIT waits for
    # (replication/wait.py). Only a node with a backlog has replicas to wait for.
    repl = server.replication
    if repl is not None and repl.backlog is not None:
        c.woff = repl.backlog.offset
    return status


def check_gates(c: Client, cmd: Command, argv: list[bytes]) -> ReplyError | int | None:
    """The slower checks, run only while one of them can apply (see Server.gate_checks)."""
    server = c.server
    flags = cmd.flags
    is_write = cmd.is_write or MAY_REPLICATE in flags
    if c.multi is not None and cmd.name == "exec":
        # EXEC carries the flags of the commands it queued (Redis's mstate.cmd_flags).
        queued_write, queued_denyoom = exec_flags(c)
        is_write = is_write or queued_write
        if queued_denyoom:
            flags = flags | {"denyoom"}
    if c.in_pubsub_mode and not c.resp3 and cmd.name.encode() not in PUBSUB_ALLOWED:
        return ReplyError(
            f"ERR Can't execute '{cmd.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    if server.loading and LOADING not in flags:
        return ReplyError("LOADING Redis is loading the dataset in memory")
    if is_write:
        if c.kind != "master":
            err = server.write_denied_error(c, cmd)
            if err is not None:
                return err
        if server.pause_blocks(c, cmd):
            return PAUSED
    elif cmd.name == "ping" and c.kind != "master" and server.disk_error_checks:
        # Redis refuses PING too while disk errors stop writes, so health checks notice.
        err = server.disk_error()
        if err is not None:
            return err
    elif server.pause_all and server.pause_blocks(c, cmd):
        return PAUSED
    if server.masterhost is not None and server.master_link_down_stale() and STALE not in flags:
        return ReplyError(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        )
    if (
        server.config.maxmemory
        and c.kind != "master"
        # Inside MULTI every queued command may grow memory, so Redis refuses all but these.
        and ("denyoom" in flags or (c.multi is not None and cmd.name not in MULTI_OOM_EXEMPT))
    ):
        err = server.evict_for_command(c)
        if err is not None:
            return err
    return None


def unknown_subcommand_error(argv: list[bytes]) -> ReplyError:
    sub = argv[1].decode("utf-8", "replace")[:128]
    return errors.unknown_subcommand(sub, argv[0].decode("utf-8", "replace"))


def count_error(server: Any, err: ReplyError) -> None:
    """afterErrorReply: INFO errorstats counts error replies by their code (first word)."""
    msg = err.message
    space = msg.find(" ", 0, 31)
    code = msg[:space] if space > 0 else "ERR"
    server.stats.total_error_replies += 1
    stats = server.error_stats
    if code in stats:
        stats[code] += 1
    elif len(stats) < 128:  # Redis's ERROR_STATS_LIMIT
        stats[code] = 1


def _reject(c: Client, cmd: Command | None, err: ReplyError) -> int:
    if cmd is not None:
        cmd.rejected_calls += 1
    c.server.stats.rejected_calls += 1
    count_error(c.server, err)
    if cmd is not None and cmd.name == "exec":
        # Redis's execCommandAbort: a refused EXEC discards the transaction, in or out of MULTI.
        c.reply(exec_abort(c, err))
        return DONE
    if c.multi is not None:
        c.multi_error = True
    c.reply(err)
    return DONE


def internal_error(c: Client, cmd: Command, exc: Exception) -> ReplyError:
    server = c.server
    server.log.warning(
        f"Internal error running '{cmd.name}': "
        + "".join(traceback.format_exception(exc)).rstrip().replace("\n", "\n    ")
    )
    err = ReplyError(f"ERR internal error running '{cmd.name}': {type(exc).__name__}")
    cmd.failed_calls += 1
    server.stats.failed_calls += 1
    count_error(server, err)
    return err


def call(c: Client, cmd: Command, argv: list[bytes]) -> int:
    """Run the handler and everything that follows a command in Redis's call()."""
    server = c.server
    server.call_depth += 1
    c.tot_cmds += 1
    # Inside a hub batch the previous command's end is this one's start (one clock read
    # per command instead of two); elsewhere the command reads the clock itself.
    start = server.cmd_clock_ns if server.cmd_clock_chained else perf_counter_ns()
    try:
        result: Any = cmd.handler(c, argv)
    except ReplyError as err:
        result = err
        cmd.failed_calls += 1
        server.stats.failed_calls += 1
        count_error(server, err)
    except Exception as exc:
        # A bug must cost one command, never the node: log it and answer an error.
        result = internal_error(c, cmd, exc)
    end = perf_counter_ns()
    server.cmd_clock_ns = end
    duration_us = (end - start) // 1000
    server.call_depth -= 1
    cmd.calls += 1
    cmd.usec += duration_us
    server.stats.commands_processed += 1
    status = DONE
    if type(result) is Block:
        if c.in_exec or c.kind == "master" or server.call_depth > 0:
            c.reply(result.timeout_reply)
        else:
            server.blocking.block(c, cmd, argv, result)
            status = BLOCKED
    elif result is not NO_REPLY:
        c.reply(result)
    if server.monitors and ADMIN not in cmd.flags and SKIP_MONITOR not in cmd.flags:
        server.feed_monitors(c, argv)
    if duration_us >= server.slowlog_slower_than >= 0 and SKIP_SLOWLOG not in cmd.flags:
        server.slowlog.add(c, argv, duration_us)
    if server.call_depth == 0:
        server.propagator.flush()
        if server.blocking.ready:
            server.blocking.serve_ready()
    return status
