"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...).

A blocking handler that finds nothing to serve returns `Block(keys, timeout, reply)`. The
client is parked here, per key in arrival order. Writes that create a list or sorted set
signal the key as ready; at the end of the top-level call (after EXEC as a whole, so pushes
inside a transaction wake clients too) every ready key is served, its blocked clients oldest
first, until the key is gone again.

A Block may carry a `serve(c, key, value)` function: Redis 7.0 serves a blocked client from
the key that became ready (serveClientBlockedOnList), not by running its command again, so
`BLMPOP 0 2 a b LEFT` answers from b when b is the key that was pushed. `serve` pops,
propagates the non-blocking form and returns the reply (or raises ReplyError, which also ends
the wait), or returns KEEP_WAITING when the value is not of the kind the client waits for.
Without `serve`, the client's command is run again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import trio

from node.resp import ReplyError

if TYPE_CHECKING:
    from node.client import Client
    from node.commands.table import Command
    from node.keyspace import Database
    from node.server import Server


class KeepWaiting:
    """Returned by a serve function that cannot use the ready key (another value type)."""

    __slots__ = ()


KEEP_WAITING: Final = KeepWaiting()

ServeFunction = Callable[["Client", bytes, Any], Any]


@dataclass(slots=True)
class Block:
    """Returned by a blocking handler: wait on `keys` for `timeout` seconds (0: forever)."""

    keys: list[bytes]
    timeout: float
    timeout_reply: Any
    serve: ServeFunction | None = None


class BlockedState:
    """A parked client: where it waits, what it will re-run, and until when (trio clock)."""

    __slots__ = ("db", "keys", "cmd", "argv", "timeout_reply", "deadline", "event", "serve")

    def __init__(
        self,
        db: Database,
        keys: list[bytes],
        cmd: Command,
        argv: list[bytes],
        timeout_reply: Any,
        deadline: float,
        serve: ServeFunction | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.cmd = cmd
        self.argv = argv
        self.timeout_reply = timeout_reply
        self.deadline = deadline  # inf = forever
        self.event = trio.Event()
        self.serve = serve


def _clock() -> float:
    try:
        return trio.current_time()
    except RuntimeError:  # sans-IO tests run commands outside trio.run
        return time.monotonic()


class BlockingRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[tuple[int, bytes], deque[Client]] = {}
        self.ready: list[tuple[Database, bytes]] = []
        self._ready_set: set[tuple[int, bytes]] = set()
        self.blocked_clients = 0

    def block(self, c: Client, cmd: Command, argv: list[bytes], block: Block) -> None:
        deadline = _clock() + block.timeout if block.timeout > 0 else float("inf")
        c.blocked = BlockedState(
            c.db, block.keys, cmd, argv, block.timeout_reply, deadline, serve=block.serve
        )
        for key in block.keys:
            self.waiting.setdefault((c.db.id, key), deque()).append(c)
        self.blocked_clients += 1

    def signal_key_ready(self, db: Database, key: bytes) -> None:
        ident = (db.id, key)
        if ident in self.waiting and ident not in self._ready_set:
            self._ready_set.add(ident)
            self.ready.append((db, key))

    def serve_ready(self) -> None:
        """Serve the clients blocked on ready keys (Redis's handleClientsBlockedOnKeys).

        Keys signalled while serving (a BLMOVE pushing into a key others wait on) are served
        in a following round.
        """
        while self.ready:
            ready, self.ready = self.ready, []
            self._ready_set.clear()
            for db, key in ready:
                queue = self.waiting.get((db.id, key))
                if queue:
                    self._serve_key(db, key, [(c, c.blocked) for c in queue])
        # A ready key found expired was deleted here: its DEL goes out now.
        self.server.propagator.flush()

    def _serve_key(self, db: Database, key: bytes, waiters: list[tuple[Client, Any]]) -> None:
        for c, state in waiters:
            if c.blocked is not state or state is None:
                continue  # already served through another of its keys
            if not db.exists(key):
                return
            saved_db = c.db
            c.db = state.db
            try:
                if state.serve is not None:
                    value = db.data[key]
                    guard = self.server.cow_guard
                    if guard is not None:
                        guard(value)
                    self._serve_client(c, state, key, value)
                else:
                    self._run_again(c, state)
            finally:
                c.db = saved_db

    def _serve_client(self, c: Client, state: BlockedState, key: bytes, value: Any) -> None:
        assert state.serve is not None
        server = self.server
        server.call_depth += 1
        try:
            reply = state.serve(c, key, value)
        except ReplyError as err:
            reply = err
        finally:
            server.call_depth -= 1
        if reply is KEEP_WAITING:
            return
        self._remove(c, state)
        c.blocked = None
        self.blocked_clients -= 1
        c.reply(reply)
        # Each served client's effects form their own unit in the stream, as in Redis.
        server.propagator.flush()
        state.event.set()
        c.wake()

    def _run_again(self, c: Client, state: BlockedState) -> None:
        from node.dispatch import BLOCKED as BLOCKED_AGAIN
        from node.dispatch import call

        c.blocked = None
        before = len(c.out)
        status = call(c, state.cmd, state.argv)
        if status == BLOCKED_AGAIN:
            # Nothing for it after all: drop the new wait, keep its old place.
            assert c.blocked is not None
            self._remove(c, c.blocked, newest=True)
            self.blocked_clients -= 1
            c.blocked = state
            del c.out[before:]
            return
        self._remove(c, state)
        self.blocked_clients -= 1
        state.event.set()
        c.wake()

    def unblock(self, c: Client, reply: Any) -> None:
        """End a client's wait with `reply` (timeout, CLIENT UNBLOCK, disconnection)."""
        state = c.blocked
        if state is None:
            return
        self._remove(c, state)
        c.blocked = None
        self.blocked_clients -= 1
        if reply is not None:
            c.reply(reply)
        state.event.set()

    def _remove(self, c: Client, state: BlockedState, newest: bool = False) -> None:
        for key in state.keys:
            ident = (state.db.id, key)
            queue = self.waiting.get(ident)
            if queue is None:
                continue
            positions = range(len(queue) - 1, -1, -1) if newest else range(len(queue))
            for i in positions:
                if queue[i] is c:
                    del queue[i]
                    break
            if not queue:
                del self.waiting[ident]

    def on_db_swap(self, db_a: Database, db_b: Database) -> None:
        """After SWAPDB, keys that now hold a list or zset wake their waiters."""
        for db_id, key in list(self.waiting):
            for db in (db_a, db_b):
                if db.id == db_id and key in db.data:
                    self.signal_key_ready(db, key)
