"""A RESP base file (aof-use-rdb-preamble no): commands that rebuild the dataset (§6)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from node.resp import encode_command, format_double
from node.zset import ZSet

if TYPE_CHECKING:
    from node.server import Server

# Redis's AOF_REWRITE_ITEMS_PER_CMD.
ITEMS_PER_CMD = 64
CHUNK_BYTES = 1 << 20


def _batched(head: list[bytes], items: list[bytes], per: int) -> Iterator[bytes]:
    for start in range(0, len(items), per):
        yield encode_command(head + items[start : start + per])


def key_commands(key: bytes, value: object) -> Iterator[bytes]:
    t = type(value)
    if t is bytes:
        yield encode_command([b"SET", key, value])  # type: ignore[list-item]
    elif t is deque:
        yield from _batched([b"RPUSH", key], list(value), ITEMS_PER_CMD)  # type: ignore[call-overload]
    elif t is set:
        yield from _batched([b"SADD", key], list(value), ITEMS_PER_CMD)  # type: ignore[call-overload]
    elif t is dict:
        flat = [x for pair in value.items() for x in pair]  # type: ignore[attr-defined]
        yield from _batched([b"HMSET", key], flat, 2 * ITEMS_PER_CMD)
    elif t is ZSet:
        flat = [x for score, member in value for x in (format_double(score), member)]  # type: ignore[attr-defined]
        yield from _batched([b"ZADD", key], flat, 2 * ITEMS_PER_CMD)


def resp_base_chunks(
    server: Server, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    buf = bytearray()
    if server.config.aof_timestamp_enabled:
        buf += b"#TS:%d\r\n" % int(time.time())
    done = 0
    for db in server.dbs:
        if not db.data:
            continue
        buf += encode_command([b"SELECT", str(db.id).encode()])
        expires = db.expires
        for key, value in db.data.items():
            for command in key_commands(key, value):
                buf += command
            when = expires.get(key)
            if when is not None:
                buf += encode_command([b"PEXPIREAT", key, str(when).encode()])
            done += 1
            if len(buf) >= CHUNK_BYTES:
                yield bytes(buf)
                buf.clear()
            if progress is not None and done % 1024 == 0:
                progress(done)
    yield bytes(buf)
