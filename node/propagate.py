"""The one propagation stream.

Every dataset change leaves the command layer exactly once, as a command vector in its
deterministic form, through `Propagator.propagate(db, argv)`. Vectors produced by one
top-level call (a command, or a whole EXEC) are collected and handed to the consumers when
the call ends: more than one is wrapped in MULTI/EXEC, as Redis 7.0 does, so that a replica or
an AOF replay applies them atomically. Consumers (the AOF, the replication backlog, tests)
each see the same sequence and track their own selected database.
"""

from __future__ import annotations

from typing import Final, Protocol

from node.resp import encode_command

MULTI: Final = [b"MULTI"]
EXEC: Final = [b"EXEC"]


class StreamConsumer(Protocol):
    def feed(self, db: int, argv: list[bytes]) -> None: ...


class Propagator:
    __slots__ = ("pending", "consumers")

    def __init__(self) -> None:
        self.pending: list[tuple[int, list[bytes]]] = []
        self.consumers: list[StreamConsumer] = []

    @property
    def active(self) -> bool:
        return bool(self.consumers)

    def propagate(self, db: int, argv: list[bytes]) -> None:
        if self.consumers:
            self.pending.append((db, argv))

    def flush(self) -> None:
        """End of a top-level call: hand the collected vectors to every consumer."""
        ops = self.pending
        if not ops:
            return
        if len(ops) == 1:  # one write: no new list per command
            db, argv = ops[0]
            ops.clear()
            for consumer in self.consumers:
                consumer.feed(db, argv)
            return
        self.pending = []
        ops = [(ops[0][0], MULTI), *ops, (ops[-1][0], EXEC)]
        for consumer in self.consumers:
            for db, argv in ops:
                consumer.feed(db, argv)

    def discard(self) -> None:
        self.pending = []


class StreamEncoder:
    """Encodes a consumer's copy of the stream as RESP, emitting SELECT when the db changes."""

    __slots__ = ("selected_db",)

    def __init__(self) -> None:
        # -1: nothing selected yet, so the first command is preceded by SELECT.
        self.selected_db = -1

    def encode(self, db: int, argv: list[bytes]) -> bytes:
        data = encode_command(argv)
        if db != self.selected_db and argv is not EXEC:
            self.selected_db = db
            return encode_command([b"SELECT", str(db).encode()]) + data
        return data


class RecordingConsumer:
    """Keeps every propagated (db, argv); used by tests and by DEBUG tooling."""

    def __init__(self) -> None:
        self.ops: list[tuple[int, list[bytes]]] = []

    def feed(self, db: int, argv: list[bytes]) -> None:
        self.ops.append((db, list(argv)))
