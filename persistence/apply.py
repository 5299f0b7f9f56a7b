"""Applying a decoded RDB stream to the keyspace (compiled with mypyc: loading is per key).

`DatasetLoader` is fed bytes and applies the decoder's events; it does no I/O, so the same
code loads a file read in chunks (persistence/loader.py) and a payload arriving on a socket.
The rules are Redis 7.0's (spec/rdb.md §13): a master drops keys that are already expired,
a replica and an AOF base keep them; a duplicate key is an error; an empty collection is
skipped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from node.evict import LFU_INIT_VAL, lfu_time_in_minutes
from node.keyspace import Database
from persistence.rdb import Aux, End, KeyRecord, RdbDecoder, RdbError, SelectDb
from persistence.rdb.limits import EncodingLimits

if TYPE_CHECKING:
    from node.server import Server


class DatasetLoader:
    """Applies one RDB stream to the server's databases."""

    def __init__(self, server: Server, *, keep_expired: bool, replace: bool = False) -> None:
        self.server = server
        self.keep_expired = keep_expired
        self.replace = replace  # DEBUG RELOAD MERGE: a key in the file replaces the live one
        limits = EncodingLimits.from_config(server.config)
        self.decoder = RdbDecoder(limits, check_crc=bool(server.config.rdbchecksum))
        self.db: Database = server.dbs[0]
        self.keys_loaded = 0
        self.keys_expired = 0
        self.aux: dict[bytes, bytes] = {}
        self.ended = False
        self.now_ms = int(time.time() * 1000)
        policy: str = server.config.maxmemory_policy
        self.lfu = policy.endswith("lfu")
        self.lfu_now = lfu_time_in_minutes(self.now_ms)

    @property
    def offset(self) -> int:
        return self.decoder.offset

    def feed(self, data: bytes) -> None:
        """Decode and apply what `data` completes; raises RdbError on corrupt input."""
        decoder = self.decoder
        decoder.feed(data)
        while True:
            event = decoder.next_event()
            if event is None:
                return
            if type(event) is KeyRecord:
                self._apply_key(event)
            elif type(event) is SelectDb:
                self._select(event.db)
            elif type(event) is Aux:
                self.aux[event.key] = event.value
            elif type(event) is End:
                self.ended = True
            # ResizeDb is a sizing hint only; FunctionLib: keelkv has no functions.

    def finish(self) -> None:
        """The input is over: it must have ended with EOF and a good checksum."""
        self.decoder.close()
        if not self.ended:
            raise RdbError("Unexpected EOF reading RDB file", self.offset, "read-type")

    def _select(self, db_id: int) -> None:
        if not 0 <= db_id < len(self.server.dbs):
            raise RdbError(
                f"FATAL: Data file was created with a Redis server configured to handle more "
                f"than {len(self.server.dbs)} databases. Exiting",
                self.offset,
                "read-type",
            )
        self.db = self.server.dbs[db_id]

    def _apply_key(self, record: KeyRecord) -> None:
        value = record.value
        if value is None:
            return  # an empty collection: Redis skips it too
        key = record.key
        expire = record.expire_ms
        if expire is not None and not self.keep_expired and expire < self.now_ms:
            self.keys_expired += 1
            return
        db = self.db
        data = db.data
        if key in data and not self.replace:
            raise RdbError(
                f"Duplicate key '{key.decode('utf-8', 'backslashreplace')}' in DB {db.id}",
                self.offset,
                "read-object-value",
                key,
                record.type_id,
            )
        data[key] = value
        if expire is not None:
            db.expires[key] = expire
        else:
            db.expires.pop(key, None)
        if self.lfu:
            freq = record.freq if record.freq is not None else LFU_INIT_VAL
            db.access[key] = (self.lfu_now << 8) | freq
        elif record.idle is not None:
            db.access[key] = self.now_ms - record.idle * 1000
        else:
            db.access[key] = self.now_ms
        self.keys_loaded += 1
