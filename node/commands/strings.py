"""String commands."""

from __future__ import annotations

from typing import Any

from node import errors
from node.client import Client
from node.commands.table import command
from node.resp import OK


@command("get", 2, "readonly fast", 1, 1, 1, categories="read string fast")
def get(c: Client, argv: list[bytes]) -> Any:
    value = c.db.lookup_read(argv[1])
    if value is None or type(value) is bytes:
        return value
    raise errors.wrongtype()


@command("set", -3, "write denyoom", 1, 1, 1, categories="write string slow")
def set_(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    db.set_key(argv[1], argv[2])
    c.server.dirty += 1
    c.server.propagate(db.id, argv)
    return OK
