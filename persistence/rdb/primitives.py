"""RDB lengths (spec §3), strings (§4: int encodings, LZF, raw) and the CRC-64 (§9).

Readers work on an immutable `bytes` buffer and a position and return (value, new
position). A read that runs past the buffer raises NeedMore(start, end): where the failed
read began and the position it needs, so an incremental caller knows how many bytes to
wait for; malformed bytes raise Corrupt(reason, pos) with pos just after them (where
Redis's reader stands when it notices).
"""

from __future__ import annotations

import struct
from typing import Final

import crcmod
import lzf

from persistence.rdb.errors import Corrupt, NeedMore

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1

# CRC-64/Jones as Redis uses it (spec §9): reflected, init 0, xorout 0; incremental.
crc64: Final = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)

# String encodings carried in a "length" byte 11xxxxxx (RDB_ENC_*).
ENC_INT8: Final = 0xC0
ENC_INT16: Final = 0xC1
ENC_INT32: Final = 0xC2
ENC_LZF: Final = 0xC3

_PACK_BE32 = struct.Struct(">I").pack
_PACK_BE64 = struct.Struct(">Q").pack
_PACK_I16 = struct.Struct("<h").pack
_PACK_I32 = struct.Struct("<i").pack
_UNPACK_BE32 = struct.Struct(">I").unpack_from
_UNPACK_BE64 = struct.Struct(">Q").unpack_from
_UNPACK_I16 = struct.Struct("<h").unpack_from
_UNPACK_I32 = struct.Struct("<i").unpack_from


def _len_bytes(n: int) -> bytes:
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _PACK_BE32(n)
    return b"\x81" + _PACK_BE64(n)


# Every 1- and 2-byte length prefix, precomputed: most strings in a dataset are short.
LEN_PREFIX: Final[list[bytes]] = [_len_bytes(n) for n in range(16384)]
# int8-encoded strings and the decimal text of small integers, both ways.
_INT8_ENC: Final[list[bytes]] = [bytes((ENC_INT8, v & 0xFF)) for v in range(-128, 128)]
_INT8_TEXT: Final[list[bytes]] = [b"%d" % (b - 256 if b > 127 else b) for b in range(256)]


def encode_len(n: int) -> bytes:
    """The smallest RDB length form of `n` (what Redis's rdbSaveLen writes)."""
    if n < 16384:
        return LEN_PREFIX[n]
    return _len_bytes(n)


def parse_int64(s: bytes) -> int | None:
    """Redis's string2ll: the value of a canonical signed 64-bit decimal, else None.

    Canonical = no '+', spaces or leading zeros, not "-0": printing the value back gives
    the same bytes. This decides int encodings, intsets and listpack integers.
    """
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if 49 <= c <= 57:
        if n > 19 or not s.isdigit():
            return None
        v = int(s)
        return v if v <= INT64_MAX else None
    if c == 48:
        return 0 if n == 1 else None
    if c == 45 and n > 1:
        c = s[1]
        if c < 49 or c > 57 or not s[1:].isdigit():
            return None
        v = int(s)
        return v if v >= INT64_MIN else None
    return None


def encode_int(v: int) -> bytes:
    """An int32-range integer as the c0/c1/c2 string form (smallest that fits)."""
    if -128 <= v <= 127:
        return _INT8_ENC[v + 128]
    if -32768 <= v <= 32767:
        return b"\xc1" + _PACK_I16(v)
    return b"\xc2" + _PACK_I32(v)


def encode_string(s: bytes, compression: bool = True) -> bytes:
    """str(s) exactly as Redis 7.0's rdbSaveRawString writes it (spec §4).

    Canonical integers of at most 11 bytes that fit int32 are int-encoded; with
    `compression`, strings over 20 bytes are LZF'd when that saves at least 4 bytes.
    """
    n = len(s)
    if n <= 11:
        if n:
            c = s[0]
            if 48 <= c <= 57 or c == 45:
                v = parse_int64(s)
                if v is not None and INT32_MIN <= v <= INT32_MAX:
                    return encode_int(v)
        return LEN_PREFIX[n] + s
    if compression and n > 20:
        packed = lzf.compress(s, n - 4)
        if packed is not None and len(packed) <= n - 4:
            return b"\xc3" + encode_len(len(packed)) + encode_len(n) + packed
    if n < 16384:
        return LEN_PREFIX[n] + s
    return _len_bytes(n) + s


# -- reading -------------------------------------------------------------------


def read_len(data: bytes, pos: int) -> tuple[int, int]:
    """A length (not a string encoding) at `pos`; returns (length, next position).

    Error positions follow rdbLoadLenByRef's reads: the first byte, then the rest.
    """
    if pos >= len(data):
        raise NeedMore(pos, pos + 1)
    b = data[pos]
    if b < 0x40:
        return b, pos + 1
    if b < 0x80:
        if pos + 2 > len(data):
            raise NeedMore(pos + 1, pos + 2)
        return ((b & 0x3F) << 8) | data[pos + 1], pos + 2
    if b == 0x80:
        if pos + 5 > len(data):
            raise NeedMore(pos + 1, pos + 5)
        return _UNPACK_BE32(data, pos + 1)[0], pos + 5
    if b == 0x81:
        if pos + 9 > len(data):
            raise NeedMore(pos + 1, pos + 9)
        return _UNPACK_BE64(data, pos + 1)[0], pos + 9
    if b >= 0xC0:
        raise Corrupt(f"Unexpected string encoding {b & 0x3F} where a length was expected", pos + 1)
    raise Corrupt(f"Unknown length encoding {b >> 6} in rdbLoadLen()", pos + 1)


def read_len_lenient(data: bytes, pos: int) -> tuple[int, int]:
    """rdbLoadLen(rdb, NULL) where Redis reads module data: a string-encoding byte
    11xxxxxx is not refused but read as the 6-bit length xxxxxx."""
    if pos < len(data) and data[pos] >= 0xC0:
        return data[pos] & 0x3F, pos + 1
    return read_len(data, pos)


def read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    """str() at `pos` (raw, int-encoded or LZF); returns (bytes, next position).

    Error positions follow rdbGenericLoadStringObject: the length is one read, the
    bytes it announces another.
    """
    size = len(data)
    if pos >= size:
        raise NeedMore(pos, pos + 1)
    b = data[pos]
    if b < 0x40:
        end = pos + 1 + b
        if end > size:
            raise NeedMore(pos + 1, end)
        return data[pos + 1 : end], end
    if b < 0x80:
        if pos + 2 > size:
            raise NeedMore(pos + 1, pos + 2)
        end = pos + 2 + (((b & 0x3F) << 8) | data[pos + 1])
        if end > size:
            raise NeedMore(pos + 2, end)
        return data[pos + 2 : end], end
    if b == ENC_INT8:
        if pos + 2 > size:
            raise NeedMore(pos + 1, pos + 2)
        return _INT8_TEXT[data[pos + 1]], pos + 2
    if b == ENC_INT16:
        if pos + 3 > size:
            raise NeedMore(pos + 1, pos + 3)
        return b"%d" % _UNPACK_I16(data, pos + 1)[0], pos + 3
    if b == ENC_INT32:
        if pos + 5 > size:
            raise NeedMore(pos + 1, pos + 5)
        return b"%d" % _UNPACK_I32(data, pos + 1)[0], pos + 5
    if b == ENC_LZF:
        return _read_lzf(data, pos)
    if b == 0x80 or b == 0x81:
        n, start = read_len(data, pos)
        end = start + n
        if end > size:
            raise NeedMore(start, end)
        return data[start:end], end
    if b >= 0xC0:
        raise Corrupt(f"Unknown RDB string encoding type {b & 0x3F}", pos + 1)
    raise Corrupt(f"Unknown length encoding {b >> 6} in rdbLoadLen()", pos + 1)


def _read_lzf(data: bytes, pos: int) -> tuple[bytes, int]:
    clen, p = read_len(data, pos + 1)
    ulen, p = read_len(data, p)
    end = p + clen
    if end > len(data):
        raise NeedMore(p, end)
    # One LZF item yields at most 264 bytes from 3; a bigger claim is corrupt, and
    # refusing it keeps a forged length from allocating gigabytes.
    if ulen == 0 or clen == 0 or ulen > clen * 88 + 32:
        raise Corrupt("Invalid LZF compressed string", end)
    try:
        out = lzf.decompress(data[p:end], ulen)
    except ValueError:
        out = None
    if out is None or len(out) != ulen:
        raise Corrupt("Invalid LZF compressed string", end)
    return out, end
