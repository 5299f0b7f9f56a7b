"""Assemble a Server from a Config: register commands and the subsystems' hooks."""

from __future__ import annotations

import node.commands  # noqa: F401  (registers every command family)
from node.config import Config
from node.log import Logger
from node.server import Server


def build_server(config: Config, log: Logger, executable: str = "") -> Server:
    return Server(config, log, executable)
