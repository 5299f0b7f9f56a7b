"""Serializing keelkv values into RDB version 10 exactly as Redis 7.0 writes them.

`encode_value` picks the type id Redis would use (spec §7, §12): strings 0; hashes 16
(listpack) or 4; sets 11 (intset) or 2; zsets 17 (listpack) or 5 by the zset's own
encoding flag; lists always 18 with nodes split as quicklistPushTail splits them.
`RdbEncoder` frames a whole file (header, AUX, SELECTDB/RESIZEDB, keys, EOF + CRC-64),
returning bytes for the caller to write; it keeps the running CRC and byte count.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from node.zset import ZSet, listpack_score_text
from persistence.rdb.constants import (
    MAGIC,
    OPCODE_AUX,
    OPCODE_EOF,
    OPCODE_EXPIRETIME_MS,
    OPCODE_FREQ,
    OPCODE_FUNCTION2,
    OPCODE_IDLE,
    OPCODE_RESIZEDB,
    OPCODE_SELECTDB,
    QUICKLIST_NODE_PACKED,
    QUICKLIST_NODE_PLAIN,
    RDB_VERSION,
    TYPE_HASH,
    TYPE_HASH_LISTPACK,
    TYPE_LIST_QUICKLIST_2,
    TYPE_SET,
    TYPE_SET_INTSET,
    TYPE_STRING,
    TYPE_ZSET_2,
    TYPE_ZSET_LISTPACK,
)
from persistence.rdb.intset import encode_intset
from persistence.rdb.limits import LISTPACK_MAX_SAFETY_SIZE, EncodingLimits
from persistence.rdb.listpack import entry, finish_listpack, int_entry
from persistence.rdb.primitives import LEN_PREFIX, crc64, encode_len, encode_string, parse_int64

_PACK_DOUBLE = struct.Struct("<d").pack
_PACK_I64 = struct.Struct("<q").pack
_PACK_U64 = struct.Struct("<Q").pack
_TYPE_BYTE: Final[list[bytes]] = [bytes((t,)) for t in range(256)]

# quicklist.c: list-max-listpack-size -1..-5 = node byte limits; positive sizes are entry
# counts capped by SIZE_SAFETY_LIMIT; elements of packed_threshold bytes get a PLAIN node.
_OPTIMIZATION_LEVEL: Final = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT: Final = 8192
_SIZE_ESTIMATE_OVERHEAD: Final = 8
_FILL_MAX: Final = 32767
PACKED_THRESHOLD: Final = 1 << 30
_LLONG_HALF: Final = float(2**62)
_CRC_BATCH: Final = 1 << 18


def _score_entry(score: float) -> bytes:
    """The listpack entry for a zset score (Redis 7.0 zzlInsertAt via d2string)."""
    if -_LLONG_HALF <= score <= _LLONG_HALF and score == int(score):
        return int_entry(int(score))
    return entry(listpack_score_text(score))


def encode_hash(
    value: dict[bytes, bytes], limits: EncodingLimits, compression: bool
) -> tuple[int, bytes]:
    n = len(value)
    if n == 0:
        raise ValueError("an empty hash has no RDB form")
    if n <= limits.hash_max_listpack_entries:
        # Same rule as limits.hash_is_listpack, checked while the listpack is built.
        limit = limits.hash_max_listpack_value
        buf = bytearray(6)
        total = 0
        for field, val in value.items():
            lf = len(field)
            lv = len(val)
            if lf > limit or lv > limit:
                break
            total += lf + lv
            buf += entry(field)
            buf += entry(val)
        else:
            if total <= LISTPACK_MAX_SAFETY_SIZE:
                blob = finish_listpack(buf, 2 * n)
                return TYPE_HASH_LISTPACK, encode_string(blob, compression)
    parts = [encode_len(n)]
    append = parts.append
    for field, val in value.items():
        append(encode_string(field, compression))
        append(encode_string(val, compression))
    return TYPE_HASH, b"".join(parts)


def encode_set(value: set[bytes], limits: EncodingLimits, compression: bool) -> tuple[int, bytes]:
    n = len(value)
    if n == 0:
        raise ValueError("an empty set has no RDB form")
    if n <= limits.set_max_intset_entries:
        ints: list[int] = []
        for member in value:
            v = parse_int64(member)
            if v is None:
                break
            ints.append(v)
        else:
            return TYPE_SET_INTSET, encode_string(encode_intset(ints), compression)
    parts = [encode_len(n)]
    append = parts.append
    for member in value:
        append(encode_string(member, compression))
    return TYPE_SET, b"".join(parts)


def encode_zset(value: ZSet, compression: bool) -> tuple[int, bytes]:
    n = len(value)
    if n == 0:
        raise ValueError("an empty zset has no RDB form")
    if value.listpack:
        buf = bytearray(6)
        for score, member in value:
            buf += entry(member)
            buf += _score_entry(score)
        return TYPE_ZSET_LISTPACK, encode_string(finish_listpack(buf, 2 * n), compression)
    # rdbSaveObject walks the skiplist from the tail: highest (score, member) first.
    items = list(value)
    items.reverse()
    parts = [encode_len(n)]
    append = parts.append
    for score, member in items:
        append(encode_string(member, compression))
        append(_PACK_DOUBLE(score))
    return TYPE_ZSET_2, b"".join(parts)


def quicklist_nodes(elements: Iterable[bytes], fill: int) -> list[tuple[int, bytes]]:
    """(container, blob) per quicklist node, split as RPUSH of `elements` splits them.

    Mirrors _quicklistNodeAllowInsert of 7.0: an element joins the tail node while
    `lpBytes + len(element) + 8` stays within the size class (negative fill) or, for a
    positive fill, the count is below it and the estimate within 8 KiB.
    """
    if fill > _FILL_MAX:
        fill = _FILL_MAX
    elif fill < -5:
        fill = -5
    level = _OPTIMIZATION_LEVEL[-fill - 1] if fill < 0 else 0
    nodes: list[tuple[int, bytes]] = []
    buf: bytearray | None = None
    count = 0
    for e in elements:
        n = len(e)
        if n >= PACKED_THRESHOLD:
            if buf is not None:
                nodes.append((QUICKLIST_NODE_PACKED, finish_listpack(buf, count)))
                buf = None
            nodes.append((QUICKLIST_NODE_PLAIN, e))
            continue
        if buf is not None:
            new_sz = len(buf) + 1 + n + _SIZE_ESTIMATE_OVERHEAD
            if fill < 0:
                allow = new_sz <= level
            else:
                allow = new_sz <= _SIZE_SAFETY_LIMIT and count < fill
            if not allow:
                nodes.append((QUICKLIST_NODE_PACKED, finish_listpack(buf, count)))
                buf = None
        if buf is None:
            buf = bytearray(6)
            count = 0
        buf += entry(e)
        count += 1
    if buf is not None:
        nodes.append((QUICKLIST_NODE_PACKED, finish_listpack(buf, count)))
    return nodes


def encode_list(
    value: Iterable[bytes], limits: EncodingLimits, compression: bool
) -> tuple[int, bytes]:
    nodes = quicklist_nodes(value, limits.list_max_listpack_size)
    if not nodes:
        raise ValueError("an empty list has no RDB form")
    parts = [encode_len(len(nodes))]
    append = parts.append
    for container, blob in nodes:
        append(_TYPE_BYTE[container])
        append(encode_string(blob, compression))
    return TYPE_LIST_QUICKLIST_2, b"".join(parts)


def encode_value(value: Any, limits: EncodingLimits, compression: bool = True) -> tuple[int, bytes]:
    """(type id, serialized value) as Redis 7.0's rdbSaveObjectType + rdbSaveObject."""
    t = type(value)
    if t is bytes:
        return TYPE_STRING, encode_string(value, compression)
    if t is dict:
        return encode_hash(value, limits, compression)
    if t is set:
        return encode_set(value, limits, compression)
    if t is deque or t is list:
        return encode_list(value, limits, compression)
    if isinstance(value, ZSet):
        return encode_zset(value, compression)
    if isinstance(value, (bytearray, memoryview)):
        return TYPE_STRING, encode_string(bytes(value), compression)
    raise TypeError(f"no RDB encoding for {t.__name__}")


class RdbEncoder:
    """Produces the bytes of one RDB file, piece by piece; keeps CRC-64 and byte count."""

    def __init__(
        self, limits: EncodingLimits, *, compression: bool = True, checksum: bool = True
    ) -> None:
        self.limits = limits
        self.compression = compression
        self.checksum = checksum
        self.bytes_written = 0
        self._crc = 0
        # Pieces returned but not yet in _crc: one crc64 call per key would cost more
        # than joining ~256 KiB of them now and then.
        self._unsummed: list[bytes] = []
        self._unsummed_len = 0

    def _emit(self, data: bytes) -> bytes:
        if self.checksum:
            self._unsummed.append(data)
            self._unsummed_len += len(data)
            if self._unsummed_len >= _CRC_BATCH:
                self._sum()
        self.bytes_written += len(data)
        return data

    def _sum(self) -> None:
        """Fold the returned-but-unsummed pieces into the CRC (one C call per batch)."""
        if self._unsummed:
            self._crc = crc64(b"".join(self._unsummed), self._crc)
            self._unsummed = []
            self._unsummed_len = 0

    def header(self, aux: list[tuple[bytes, bytes]]) -> bytes:
        """ "REDIS0010" followed by the AUX fields in the given order."""
        parts = [MAGIC + b"%04d" % RDB_VERSION]
        c = self.compression
        for k, v in aux:
            parts.append(_TYPE_BYTE[OPCODE_AUX] + encode_string(k, c) + encode_string(v, c))
        return self._emit(b"".join(parts))

    def aux(self, key: bytes, value: bytes) -> bytes:
        """One more AUX field (rdbSaveAuxField)."""
        c = self.compression
        return self._emit(_TYPE_BYTE[OPCODE_AUX] + encode_string(key, c) + encode_string(value, c))

    def function_lib(self, code: bytes) -> bytes:
        """FUNCTION2 opcode with one library's source (written before the databases)."""
        return self._emit(_TYPE_BYTE[OPCODE_FUNCTION2] + encode_string(code, self.compression))

    def select_db(self, db_id: int, keys: int, expires: int) -> bytes:
        """SELECTDB then RESIZEDB (hash table size hints)."""
        return self._emit(
            b"".join(
                (
                    _TYPE_BYTE[OPCODE_SELECTDB],
                    encode_len(db_id),
                    _TYPE_BYTE[OPCODE_RESIZEDB],
                    encode_len(keys),
                    encode_len(expires),
                )
            )
        )

    def key(
        self,
        key: bytes,
        value: object,
        expire_ms: int | None = None,
        idle: int | None = None,
        freq: int | None = None,
    ) -> bytes:
        """[FC expire][F8 idle][F9 freq] type str(key) value, as rdbSaveKeyValuePair."""
        c = self.compression
        if type(value) is bytes:
            # Inline str() for short keys and values that cannot be int-encoded or LZF'd.
            kn = len(key)
            vn = len(value)  # type: ignore[arg-type]
            if 0 < kn <= 20 and (key[0] < 48 or key[0] > 57) and key[0] != 45:
                kenc = LEN_PREFIX[kn] + key
            else:
                kenc = encode_string(key, c)
            if 0 < vn <= 20 and (value[0] < 48 or value[0] > 57) and value[0] != 45:  # type: ignore[index]
                out = b"\x00" + kenc + LEN_PREFIX[vn] + value  # type: ignore[operator]
            else:
                out = b"\x00" + kenc + encode_string(value, c)  # type: ignore[arg-type]
        else:
            type_id, payload = encode_value(value, self.limits, c)
            out = _TYPE_BYTE[type_id] + encode_string(key, c) + payload
        if expire_ms is not None or idle is not None or freq is not None:
            prefix = b""
            if expire_ms is not None:
                prefix = _TYPE_BYTE[OPCODE_EXPIRETIME_MS] + _PACK_I64(expire_ms)
            if idle is not None:
                prefix += _TYPE_BYTE[OPCODE_IDLE] + encode_len(idle)
            if freq is not None:
                prefix += _TYPE_BYTE[OPCODE_FREQ] + _TYPE_BYTE[freq & 0xFF]
            out = prefix + out
        if self.checksum:
            self._unsummed.append(out)
            self._unsummed_len += len(out)
            if self._unsummed_len >= _CRC_BATCH:
                self._sum()
        self.bytes_written += len(out)
        return out

    def end(self) -> bytes:
        """EOF then the CRC-64 of everything returned so far (8 zero bytes without checksum)."""
        eof = self._emit(_TYPE_BYTE[OPCODE_EOF])
        self._sum()
        trailer = _PACK_U64(self._crc if self.checksum else 0)
        self.bytes_written += len(trailer)
        return eof + trailer
