"""The node's dataset as an RDB byte stream: AUX fields, then each database's keys.

One generator serves every writer of RDB data (SAVE, the BGSAVE child, DEBUG RELOAD,
FLUSHALL's empty dump; later AOF base files and full syncs), so they all write the same
file for the same state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from node.evict import idle_seconds, is_lfu_policy, lfu_frequency
from persistence.rdb import EncodingLimits, RdbEncoder

if TYPE_CHECKING:
    from node.server import Server

REDIS_VER = b"7.0.15"
# Chunks handed to the writer; large enough that per-chunk costs vanish.
CHUNK_BYTES = 1 << 20


def limits_of(server: Server) -> EncodingLimits:
    return EncodingLimits.from_config(server.config)


def aux_fields(
    server: Server, *, aof_base: bool = False, repl: tuple[int, str, int] | None = None
) -> list[tuple[bytes, bytes]]:
    """Redis 7.0's AUX fields in its order; `repl` = (stream db, replid, offset).

    Without `repl`, a snapshot (not an AOF base) records the node's replication history
    when it has one, so a replica restarted from it can resync partially (Redis's
    rdbPopulateSaveInfo)."""
    from node.info import used_memory

    if repl is None and not aof_base and server.replication is not None:
        repl = server.replication.save_info()

    fields = [
        (b"redis-ver", REDIS_VER),
        (b"redis-bits", b"64"),
        (b"ctime", str(int(time.time())).encode()),
        (b"used-mem", str(used_memory(server)).encode()),
    ]
    if repl is not None:
        stream_db, replid, offset = repl
        fields += [
            (b"repl-stream-db", str(stream_db).encode()),
            (b"repl-id", replid.encode()),
            (b"repl-offset", str(offset).encode()),
        ]
    fields.append((b"aof-base", b"1" if aof_base else b"0"))
    return fields


def count_keys(server: Server) -> int:
    return sum(len(db.data) for db in server.dbs)


def rdb_chunks(
    server: Server,
    *,
    aof_base: bool = False,
    repl: tuple[int, str, int] | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1024,
) -> Iterator[bytes]:
    """The whole RDB file for the current dataset, in chunks of about CHUNK_BYTES.

    `progress(keys_done)` is called every `progress_every` keys and at the end.
    """
    config = server.config
    encoder = RdbEncoder(
        limits_of(server), compression=config.rdbcompression, checksum=config.rdbchecksum
    )
    policy = config.maxmemory_policy
    want_idle = policy.endswith("lru")
    want_freq = is_lfu_policy(policy)
    buf = bytearray(encoder.header(aux_fields(server, aof_base=aof_base, repl=repl)))
    done = 0
    for db in server.dbs:
        data = db.data
        if not data:
            continue
        expires = db.expires
        buf += encoder.select_db(db.id, len(data), len(expires))
        key_bytes = encoder.key
        for key, value in data.items():
            if want_idle:
                buf += key_bytes(key, value, expires.get(key), idle_seconds(db, key), None)
            elif want_freq:
                buf += key_bytes(key, value, expires.get(key), None, lfu_frequency(db, key))
            else:
                buf += key_bytes(key, value, expires.get(key))
            done += 1
            if len(buf) >= CHUNK_BYTES:
                yield bytes(buf)
                buf.clear()
            if progress is not None and done % progress_every == 0:
                progress(done)
    buf += encoder.end()
    yield bytes(buf)
    if progress is not None:
        progress(done)
