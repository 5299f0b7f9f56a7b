"""Assemble a Server from a Config: register commands and the subsystems' hooks."""

from __future__ import annotations

from node.commands import load_all
from node.config import Config
from node.log import Logger
from node.server import Server


def build_server(config: Config, log: Logger, executable: str = "") -> Server:
    load_all()
    server = Server(config, log, executable)
    from node import info

    info.install(server)
    from node import evict

    evict.install(server)
    import persistence

    persistence.install(server)
    from replication import master

    master.install(server)
    return server
