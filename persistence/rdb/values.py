"""Reading one serialized value (spec §7.1) into keelkv's in-memory types.

Compact encodings (string, listpack, intset, ziplist, zipmap) are one str() blob and are
read whole. Plain collections (types 1-5, 14, 18) are a count followed by elements; they
are read by `ValueReader`, which keeps what it has so far when the input runs out, so an
incremental decoder resumes at the last complete element instead of starting over.

Empty collections give None (Redis skips such keys with a warning); an empty intset is
corrupt, as in Redis.
"""

from __future__ import annotations

import struct
from collections import deque
from math import isnan
from typing import Any, Final

from node.zset import ZSet
from persistence.rdb.constants import (
    QUICKLIST_NODE_PACKED,
    QUICKLIST_NODE_PLAIN,
    TYPE_HASH,
    TYPE_HASH_LISTPACK,
    TYPE_HASH_ZIPLIST,
    TYPE_HASH_ZIPMAP,
    TYPE_LIST,
    TYPE_LIST_QUICKLIST,
    TYPE_LIST_QUICKLIST_2,
    TYPE_LIST_ZIPLIST,
    TYPE_SET,
    TYPE_SET_INTSET,
    TYPE_STRING,
    TYPE_ZSET,
    TYPE_ZSET_2,
    TYPE_ZSET_LISTPACK,
    TYPE_ZSET_ZIPLIST,
)
from persistence.rdb.errors import Corrupt, NeedMore
from persistence.rdb.intset import IntsetError, decode_intset
from persistence.rdb.limits import EncodingLimits
from persistence.rdb.listpack import ListpackError, decode_listpack
from persistence.rdb.primitives import read_len, read_string
from persistence.rdb.ziplist import ZiplistError, decode_ziplist
from persistence.rdb.zipmap import ZipmapError, decode_zipmap

_UNPACK_DOUBLE = struct.Struct("<d").unpack_from

BLOB_TYPES: Final = frozenset(
    (
        TYPE_STRING,
        TYPE_HASH_ZIPMAP,
        TYPE_LIST_ZIPLIST,
        TYPE_SET_INTSET,
        TYPE_ZSET_ZIPLIST,
        TYPE_HASH_ZIPLIST,
        TYPE_HASH_LISTPACK,
        TYPE_ZSET_LISTPACK,
    )
)
COLLECTION_TYPES: Final = frozenset(
    (
        TYPE_LIST,
        TYPE_SET,
        TYPE_ZSET,
        TYPE_HASH,
        TYPE_ZSET_2,
        TYPE_LIST_QUICKLIST,
        TYPE_LIST_QUICKLIST_2,
    )
)


def _pairs_to_hash(items: list[bytes], pos: int, what: str) -> dict[bytes, bytes] | None:
    n = len(items)
    if n & 1:
        raise Corrupt(f"{what} integrity check failed. (odd number of entries)", pos)
    if n == 0:
        return None
    h = dict(zip(items[0::2], items[1::2], strict=True))
    if 2 * len(h) != n:
        raise Corrupt("Duplicate hash fields detected", pos)
    return h


def _score_from_text(text: bytes, pos: int) -> float:
    try:
        score = float(text)
    except ValueError:
        raise Corrupt("Zset with an unreadable score detected", pos) from None
    if isnan(score):
        raise Corrupt("Zset with NAN score detected", pos)
    return score


def _pairs_to_zset(items: list[bytes], pos: int, what: str, limits: EncodingLimits) -> ZSet | None:
    n = len(items)
    if n & 1:
        raise Corrupt(f"{what} integrity check failed. (odd number of entries)", pos)
    if n == 0:
        return None
    scores: dict[bytes, float] = {}
    for i in range(0, n, 2):
        scores[items[i]] = _score_from_text(items[i + 1], pos)
    if 2 * len(scores) != n:
        raise Corrupt("Duplicate zset fields detected", pos)
    # rdbLoadObject keeps a listpack zset as listpack unless it has too many entries.
    return ZSet.from_scores(scores, listpack=len(scores) <= limits.zset_max_listpack_entries)


def blob_to_value(type_id: int, blob: bytes, pos: int, limits: EncodingLimits) -> object:
    """The value held by the single str() blob of a compact type.

    `pos` is where errors are reported: the blob's end, as Redis validates a blob only
    once it has read all of it.
    """
    if type_id == TYPE_STRING:
        return blob
    try:
        if type_id == TYPE_HASH_LISTPACK:
            return _pairs_to_hash(decode_listpack(blob), pos, "Hash listpack")
        if type_id == TYPE_ZSET_LISTPACK:
            return _pairs_to_zset(decode_listpack(blob), pos, "Zset listpack", limits)
        if type_id == TYPE_SET_INTSET:
            return {b"%d" % v for v in decode_intset(blob)}
        if type_id == TYPE_HASH_ZIPLIST:
            return _pairs_to_hash(decode_ziplist(blob), pos, "Hash ziplist")
        if type_id == TYPE_ZSET_ZIPLIST:
            return _pairs_to_zset(decode_ziplist(blob), pos, "Zset ziplist", limits)
        if type_id == TYPE_LIST_ZIPLIST:
            items = decode_ziplist(blob)
            return deque(items) if items else None
        if type_id == TYPE_HASH_ZIPMAP:
            pairs = decode_zipmap(blob)
            if not pairs:
                return None
            h = dict(pairs)
            if len(h) != len(pairs):
                raise Corrupt("Duplicate hash fields detected", pos)
            return h
    # Distinct names per clause: mypyc types an `as` name by its first clause.
    except ListpackError as lp_exc:
        raise Corrupt(f"Listpack integrity check failed. ({lp_exc})", pos) from None
    except IntsetError as is_exc:
        raise Corrupt(f"Intset integrity check failed. ({is_exc})", pos) from None
    except ZiplistError as zl_exc:
        raise Corrupt(f"Ziplist integrity check failed. ({zl_exc})", pos) from None
    except ZipmapError as zm_exc:
        raise Corrupt(f"Zipmap integrity check failed. ({zm_exc})", pos) from None
    raise Corrupt(f"Unknown RDB encoding type {type_id}", pos)


class ValueReader:
    """A plain collection being read: the element count, then elements one at a time.

    `step` reads as many elements as the buffer holds. When it runs out, `pos` is the
    end of the last complete element (where reading resumes) and NeedMore propagates.
    """

    __slots__ = ("type_id", "limits", "remaining", "items", "pos", "maxlen")

    def __init__(self, type_id: int, limits: EncodingLimits, start: int) -> None:
        self.type_id = type_id
        self.limits = limits
        self.remaining = -1  # count not read yet
        self.items: Any = None
        self.pos = start
        self.maxlen = 0

    def rebase(self, delta: int) -> None:
        """The buffer lost its first `delta` bytes."""
        self.pos -= delta

    def step(self, data: bytes) -> object:
        """Continue at self.pos; returns the finished value (None if empty)."""
        t = self.type_id
        if self.remaining < 0:
            n, self.pos = read_len(data, self.pos)
            self.remaining = n
            if t == TYPE_HASH:
                self.items = {}
            elif t == TYPE_SET:
                self.items = set()
            elif t in (TYPE_ZSET, TYPE_ZSET_2):
                self.items = {}
            else:
                self.items = deque()
        if t == TYPE_HASH:
            self._hash(data)
        elif t == TYPE_SET:
            self._set(data)
        elif t == TYPE_ZSET_2:
            self._zset2(data)
        elif t == TYPE_LIST_QUICKLIST_2:
            self._quicklist2(data)
        elif t == TYPE_LIST:
            self._list(data)
        elif t == TYPE_LIST_QUICKLIST:
            self._quicklist(data)
        else:
            self._zset1(data)
        return self._finish()

    def _finish(self) -> object:
        items = self.items
        if not items:
            return None
        t = self.type_id
        if t in (TYPE_ZSET, TYPE_ZSET_2):
            limits = self.limits
            fits = (
                len(items) <= limits.zset_max_listpack_entries
                and self.maxlen <= limits.zset_max_listpack_value
            )
            return ZSet.from_scores(items, listpack=fits)
        return items

    def _hash(self, data: bytes) -> None:
        items: dict[bytes, bytes] = self.items
        remaining = self.remaining
        pos = self.pos
        try:
            while remaining:
                field, p = read_string(data, pos)
                value, p = read_string(data, p)
                if field in items:
                    raise Corrupt("Duplicate hash fields detected", p)
                items[field] = value
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos

    def _set(self, data: bytes) -> None:
        items: set[bytes] = self.items
        remaining = self.remaining
        pos = self.pos
        try:
            while remaining:
                member, p = read_string(data, pos)
                if member in items:
                    raise Corrupt("Duplicate set members detected", p)
                items.add(member)
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos

    def _list(self, data: bytes) -> None:
        items: deque[bytes] = self.items
        remaining = self.remaining
        pos = self.pos
        try:
            while remaining:
                element, pos = read_string(data, pos)
                items.append(element)
                remaining -= 1
        finally:
            self.remaining = remaining
            self.pos = pos

    def _zset2(self, data: bytes) -> None:
        items: dict[bytes, float] = self.items
        remaining = self.remaining
        pos = self.pos
        maxlen = self.maxlen
        try:
            while remaining:
                member, p = read_string(data, pos)
                if p + 8 > len(data):
                    raise NeedMore(p, p + 8)
                score = _UNPACK_DOUBLE(data, p)[0]
                p += 8
                if score != score:
                    raise Corrupt("Zset with NAN score detected", p)
                if member in items:
                    raise Corrupt("Duplicate zset fields detected", p)
                items[member] = score
                if len(member) > maxlen:
                    maxlen = len(member)
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos
            self.maxlen = maxlen

    def _zset1(self, data: bytes) -> None:
        """Type 3: scores as a 1-byte length + text; 253/254/255 = nan/+inf/-inf."""
        items: dict[bytes, float] = self.items
        remaining = self.remaining
        pos = self.pos
        maxlen = self.maxlen
        try:
            while remaining:
                member, p = read_string(data, pos)
                if p >= len(data):
                    raise NeedMore(p, p + 1)
                n = data[p]
                p += 1
                if n == 253:
                    raise Corrupt("Zset with NAN score detected", p)
                if n == 254:
                    score = float("inf")
                elif n == 255:
                    score = float("-inf")
                else:
                    if p + n > len(data):
                        raise NeedMore(p, p + n)
                    score = _score_from_text(data[p : p + n], p + n)
                    p += n
                if member in items:
                    raise Corrupt("Duplicate zset fields detected", p)
                items[member] = score
                if len(member) > maxlen:
                    maxlen = len(member)
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos
            self.maxlen = maxlen

    def _quicklist2(self, data: bytes) -> None:
        items: deque[bytes] = self.items
        remaining = self.remaining
        pos = self.pos
        try:
            while remaining:
                container, p = read_len(data, pos)
                if container != QUICKLIST_NODE_PACKED and container != QUICKLIST_NODE_PLAIN:
                    raise Corrupt(
                        f"Quicklist integrity check failed. (unknown container {container})", p
                    )
                blob, p = read_string(data, p)
                if container == QUICKLIST_NODE_PACKED:
                    try:
                        items.extend(decode_listpack(blob))
                    except ListpackError as exc:
                        raise Corrupt(f"Listpack integrity check failed. ({exc})", p) from None
                else:
                    items.append(blob)
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos

    def _quicklist(self, data: bytes) -> None:
        items: deque[bytes] = self.items
        remaining = self.remaining
        pos = self.pos
        try:
            while remaining:
                blob, p = read_string(data, pos)
                try:
                    items.extend(decode_ziplist(blob))
                except ZiplistError as exc:
                    raise Corrupt(f"Ziplist integrity check failed. ({exc})", p) from None
                remaining -= 1
                pos = p
        finally:
            self.remaining = remaining
            self.pos = pos


def read_value(type_id: int, data: bytes, pos: int, limits: EncodingLimits) -> tuple[object, int]:
    """A whole value of a type 7.0 loads, from a complete buffer; (value, next position)."""
    if type_id in BLOB_TYPES:
        blob, end = read_string(data, pos)
        return blob_to_value(type_id, blob, end, limits), end
    if type_id in COLLECTION_TYPES:
        reader = ValueReader(type_id, limits, pos)
        value = reader.step(data)
        return value, reader.pos
    raise Corrupt(f"Unknown RDB encoding type {type_id}", pos)
