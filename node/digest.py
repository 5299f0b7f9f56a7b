"""DEBUG DIGEST and DIGEST-VALUE: Redis's dataset digest (debug.c), byte for byte.

The digest of a dataset is the same on every node holding the same data, whatever the
order keys were written in, so tests compare a master, its replicas and an AOF replay
with one call. Redis's scheme, followed exactly so the value matches a real redis-server:

- xor(d, data) = d ^ SHA1(data): order-free; mix(d, data) = SHA1(xor(d, data)): order-dependent.
- A key's digest starts at 20 zero bytes: mix in the key, then its value (below), then
  xor "!!expire!!" if it has a TTL (the time itself is not part of the digest).
- A value: mix the big-endian type number (string 0, list 1, set 2, zset 3, hash 4),
  then strings: mix the bytes; lists: mix each element in order; sets: xor each member;
  hashes: xor, per field, the 20 bytes of mix(mix(0, field), value); zsets: xor, per
  member, the 20 bytes of mix(mix(0, member), score as "%.17g").
- The dataset: for each non-empty database, mix its big-endian 32-bit index into the
  result, then xor the 20 bytes of every key's digest. An empty dataset is 20 zero bytes.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from node.zset import ZSet

if TYPE_CHECKING:
    from node.keyspace import Database
    from node.server import Server

ZERO = bytes(20)
EXPIRE_MARK = b"!!expire!!"
OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH = 0, 1, 2, 3, 4
_TYPE_WORDS = {
    t: struct.pack(">I", n)
    for t, n in (
        (bytes, OBJ_STRING),
        (deque, OBJ_LIST),
        (set, OBJ_SET),
        (ZSet, OBJ_ZSET),
        (dict, OBJ_HASH),
    )
}


def _sha1_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha1(data).digest(), "big")


def xor(digest: bytes, data: bytes) -> bytes:
    """xorDigest: digest ^= SHA1(data)."""
    return (int.from_bytes(digest, "big") ^ _sha1_int(data)).to_bytes(20, "big")


def mix(digest: bytes, data: bytes) -> bytes:
    """mixDigest: xorDigest, then digest = SHA1(digest)."""
    return hashlib.sha1(xor(digest, data)).digest()


def _xor_acc(digest: bytes, acc: int) -> bytes:
    return (int.from_bytes(digest, "big") ^ acc).to_bytes(20, "big")


def score_text(score: float) -> bytes:
    """Redis 7.0 digests scores with snprintf("%.17g")."""
    if score != score:
        return b"nan"
    if score == float("inf"):
        return b"inf"
    if score == float("-inf"):
        return b"-inf"
    return b"%.17g" % score


def value_digest(digest: bytes, value: Any, has_expire: bool) -> bytes:
    """xorObjectDigest: fold one value (and its TTL flag) into `digest`."""
    t = type(value)
    digest = mix(digest, _TYPE_WORDS[t])
    if t is bytes:
        digest = mix(digest, value)
    elif t is deque:
        for element in value:
            digest = mix(digest, element)
    elif t is set:
        acc = 0
        for member in value:
            acc ^= _sha1_int(member)
        digest = _xor_acc(digest, acc)
    elif t is dict:
        acc = 0
        for field, v in value.items():
            acc ^= _sha1_int(mix(mix(ZERO, field), v))
        digest = _xor_acc(digest, acc)
    elif t is ZSet:
        acc = 0
        for member, score in value.scores.items():
            acc ^= _sha1_int(mix(mix(ZERO, member), score_text(score)))
        digest = _xor_acc(digest, acc)
    else:
        raise TypeError(f"no digest for values of type {t.__name__}")
    if has_expire:
        digest = xor(digest, EXPIRE_MARK)
    return digest


def key_digest(db: Database, key: bytes, value: Any) -> bytes:
    return value_digest(mix(ZERO, key), value, key in db.expires)


def dataset_digest(server: Server) -> bytes:
    """computeDatasetDigest over every database; keys logically expired still count,
    as in Redis, which walks the dict without expiring."""
    final = ZERO
    for db in server.dbs:
        if not db.data:
            continue
        final = mix(final, struct.pack(">I", db.id))
        acc = 0
        expires = db.expires
        for key, value in db.data.items():
            acc ^= _sha1_int(value_digest(mix(ZERO, key), value, key in expires))
        final = _xor_acc(final, acc)
    return final


def digest_value(db: Database, key: bytes) -> bytes:
    """DEBUG DIGEST-VALUE: the value's digest without the key, zeros for a missing key."""
    value = db.data.get(key)
    if value is None:
        return ZERO
    return value_digest(ZERO, value, key in db.expires)
