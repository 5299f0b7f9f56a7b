"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...).

A blocking handler that finds nothing to serve returns `Block(keys, timeout, reply)`. The
client is parked here, per key in arrival order. Writes that create a list or sorted set
signal the key as ready; at the end of the top-level call (after EXEC as a whole, so pushes
inside a transaction wake clients too) every ready key is served: its blocked clients re-run
their command, oldest first, until one finds the key empty again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from node.client import Client
    from node.commands.table import Command
    from node.keyspace import Database
    from node.server import Server


@dataclass(slots=True)
class Block:
    """Returned by a blocking handler: wait on `keys` for `timeout` seconds (0: forever)."""

    keys: list[bytes]
    timeout: float
    timeout_reply: Any


class BlockedState:
    """A parked client: where it waits, what it will re-run, and until when (trio clock)."""

    __slots__ = ("db", "keys", "cmd", "argv", "timeout_reply", "deadline", "event")

    def __init__(
        self,
        db: Database,
        keys: list[bytes],
        cmd: Command,
        argv: list[bytes],
        timeout_reply: Any,
        deadline: float,
    ) -> None:
        self.db = db
        self.keys = keys
        self.cmd = cmd
        self.argv = argv
        self.timeout_reply = timeout_reply
        self.deadline = deadline  # inf = forever
        self.event = trio.Event()


class BlockingRegistry:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[tuple[int, bytes], deque[Client]] = {}
        self.ready: list[tuple[Database, bytes]] = []
        self._ready_set: set[tuple[int, bytes]] = set()
        self.blocked_clients = 0

    def block(self, c: Client, cmd: Command, argv: list[bytes], block: Block) -> None:
        deadline = trio.current_time() + block.timeout if block.timeout > 0 else float("inf")
        c.blocked = BlockedState(c.db, block.keys, cmd, argv, block.timeout_reply, deadline)
        for key in block.keys:
            self.waiting.setdefault((c.db.id, key), deque()).append(c)
        self.blocked_clients += 1

    def signal_key_ready(self, db: Database, key: bytes) -> None:
        ident = (db.id, key)
        if ident in self.waiting and ident not in self._ready_set:
            self._ready_set.add(ident)
            self.ready.append((db, key))

    def serve_ready(self) -> None:
        from node.dispatch import BLOCKED as BLOCKED_AGAIN
        from node.dispatch import call

        while self.ready:
            ready, self.ready = self.ready, []
            self._ready_set.clear()
            for db, key in ready:
                queue = self.waiting.get((db.id, key))
                while queue:
                    c = queue[0]
                    state = c.blocked
                    if state is None:  # pragma: no cover - removed clients leave no entries
                        queue.popleft()
                        continue
                    c.blocked = None
                    saved_db = c.db
                    c.db = state.db
                    before = len(c.out)
                    status = call(c, state.cmd, state.argv)
                    c.db = saved_db
                    if status == BLOCKED_AGAIN:
                        # Nothing for it after all: drop the new wait, keep its old place.
                        assert c.blocked is not None
                        self._remove(c, c.blocked, newest=True)
                        self.blocked_clients -= 1
                        c.blocked = state
                        del c.out[before:]
                        break
                    self._remove(c, state)
                    self.blocked_clients -= 1
                    state.event.set()
                    c.wake()
                    queue = self.waiting.get((db.id, key))

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
