"""DUMP / RESTORE payloads: type byte + value + RDB version (2 bytes LE) + CRC-64 (8 bytes LE)."""

from __future__ import annotations

import struct
from typing import Final

from persistence.rdb.constants import RDB_VERSION
from persistence.rdb.encoder import encode_value
from persistence.rdb.errors import Corrupt, NeedMore, RdbError
from persistence.rdb.limits import EncodingLimits
from persistence.rdb.primitives import crc64
from persistence.rdb.values import BLOB_TYPES, COLLECTION_TYPES, read_value

# Redis's RESTORE error texts.
BAD_PAYLOAD: Final = "DUMP payload version or checksum are wrong"
BAD_FORMAT: Final = "Bad data format"

_PACK_VERSION = struct.Struct("<H").pack
_UNPACK_U16 = struct.Struct("<H").unpack_from
_UNPACK_U64 = struct.Struct("<Q").unpack_from
_PACK_U64 = struct.Struct("<Q").pack


def dump_payload(value: object, limits: EncodingLimits, compression: bool = True) -> bytes:
    """createDumpPayload: what DUMP returns for `value`."""
    type_id, body = encode_value(value, limits, compression)
    head = bytes((type_id,)) + body + _PACK_VERSION(RDB_VERSION)
    return head + _PACK_U64(crc64(head))


def load_dump_payload(payload: bytes, limits: EncodingLimits) -> object:
    """RESTORE's reading of a payload: verifyDumpPayload, then the value.

    Like Redis (rioInitWithBuffer over the whole argument), the value is read from the
    payload footer included: bytes after the value are ignored, and a value that runs
    into the version and CRC bytes is read from them. An empty collection is refused as
    bad data (RESTORE cannot create an empty key).
    """
    n = len(payload)
    if n < 10:
        raise RdbError(BAD_PAYLOAD, 0)
    version = _UNPACK_U16(payload, n - 10)[0]
    if version > RDB_VERSION:
        raise RdbError(BAD_PAYLOAD, n - 10)
    if _UNPACK_U64(payload, n - 8)[0] != crc64(memoryview(payload)[: n - 8]):
        raise RdbError(BAD_PAYLOAD, n - 8)
    data = bytes(payload)
    type_id = data[0]
    if type_id not in BLOB_TYPES and type_id not in COLLECTION_TYPES:
        raise RdbError(BAD_FORMAT, 0, "read-type", None, type_id)
    try:
        value, _ = read_value(type_id, data, 1, limits)
    except NeedMore as more:
        raise RdbError(BAD_FORMAT, more.start, "read-object-value", None, type_id) from None
    except Corrupt as c:
        raise RdbError(BAD_FORMAT, c.pos, "read-object-value", None, type_id) from c
    if value is None:
        raise RdbError(BAD_FORMAT, 1, "read-object-value", None, type_id)
    return value
