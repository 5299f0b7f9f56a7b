"""Run commands against a Server without sockets: the command layer as a pure function."""

from __future__ import annotations

from typing import Any

import hiredis

from node.boot import build_server
from node.client import Client
from node.config import load_config
from node.config_table import TABLE
from node.dispatch import execute
from node.keyspace import mstime
from node.log import Logger
from node.propagate import RecordingConsumer
from node.server import Server


def make_server(*overrides: str) -> Server:
    config = load_config(TABLE, None, ["--save", "", *overrides])
    server = build_server(config, Logger(level="warning"))
    return server


class Session:
    """One client of an in-memory server; `run` returns the decoded reply."""

    def __init__(self, server: Server | None = None, resp3: bool = False) -> None:
        self.server = server or make_server()
        self.client: Client = self.server.new_client(None)
        self.client.resp3 = resp3
        self.recorder = RecordingConsumer()
        if self.recorder not in self.server.propagator.consumers:
            self.server.propagator.consumers.append(self.recorder)

    def raw(self, *argv: bytes | str | int) -> bytes:
        c = self.client
        self.server.mstime = mstime()
        execute(c, [a if isinstance(a, bytes) else str(a).encode() for a in argv])
        out = b"".join(c.out)
        c.out.clear()
        return out

    def run(self, *argv: bytes | str | int) -> Any:
        data = self.raw(*argv)
        reader = hiredis.Reader()
        reader.feed(data)
        reply = reader.gets()
        if isinstance(reply, hiredis.ReplyError):
            return reply
        return reply

    def propagated(self) -> list[list[bytes]]:
        """Propagated vectors since the last call, without SELECT bookkeeping (db, argv)."""
        ops = [argv for _, argv in self.recorder.ops]
        self.recorder.ops.clear()
        return ops
