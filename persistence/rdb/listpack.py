"""Listpack blobs (spec §8): building them as Redis 7.0's lpAppend does, and walking them.

A writer appends entries to a ListpackBuilder; every element that is a canonical int64
string gets the smallest integer encoding, like lpStringToInt64 + lpEncodeIntegerGetType.
The reader validates what lpValidateIntegrity checks (sizes, end byte, each entry's
encoding and back-length, the element count) and returns the elements as bytes.
"""

from __future__ import annotations

import struct
from typing import Final

from persistence.rdb.primitives import parse_int64

LP_HDR_SIZE: Final = 6
LP_EOF: Final = 0xFF
LP_COUNT_UNKNOWN: Final = 65535

_PACK_HDR = struct.Struct("<IH").pack_into
_UNPACK_HDR = struct.Struct("<IH").unpack_from
_PACK_U16 = struct.Struct("<H").pack
_PACK_U32 = struct.Struct("<I").pack
_PACK_I16 = struct.Struct("<h").pack
_PACK_I32 = struct.Struct("<i").pack
_PACK_I64 = struct.Struct("<q").pack
_UNPACK_U32 = struct.Struct("<I").unpack_from
_UNPACK_I16 = struct.Struct("<h").unpack_from
_UNPACK_I32 = struct.Struct("<i").unpack_from
_UNPACK_I64 = struct.Struct("<q").unpack_from


class ListpackError(Exception):
    """A listpack blob that lpValidateIntegrity would refuse."""


def encode_backlen(n: int) -> bytes:
    """lpEncodeBacklen: `n` in 1-5 bytes readable right to left (note Redis's strict cutoffs)."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (
            n >> 28,
            ((n >> 21) & 127) | 128,
            ((n >> 14) & 127) | 128,
            ((n >> 7) & 127) | 128,
            (n & 127) | 128,
        )
    )


# Whole entries (encoding + data + backlen) for the commonest small cases.
_UINT7_ENTRY: Final[list[bytes]] = [bytes((v, 1)) for v in range(128)]
_STR6_HEAD: Final[list[bytes]] = [bytes((0x80 | n,)) for n in range(64)]
_STR6_TAIL: Final[list[bytes]] = [bytes((n + 1,)) for n in range(64)]
_UINT7_TEXT: Final[list[bytes]] = [b"%d" % v for v in range(128)]


def int_entry(v: int) -> bytes:
    """A whole listpack entry holding integer `v` in its smallest encoding."""
    if 0 <= v <= 127:
        return _UINT7_ENTRY[v]
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _PACK_I16(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _PACK_I32(v) + b"\x05"
    return b"\xf4" + _PACK_I64(v) + b"\x09"


def entry(s: bytes) -> bytes:
    """A whole listpack entry for element `s` (integer encoded when canonical)."""
    n = len(s)
    if n <= 20 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = parse_int64(s)
            if v is not None:
                return int_entry(v)
    if n < 64:
        return _STR6_HEAD[n] + s + _STR6_TAIL[n]
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + encode_backlen(n + 2)
    return b"\xf0" + _PACK_U32(n) + s + encode_backlen(n + 5)


def finish_listpack(buf: bytearray, count: int) -> bytes:
    """Complete a listpack whose entries follow a 6-byte placeholder header in `buf`."""
    buf.append(LP_EOF)
    _PACK_HDR(buf, 0, len(buf), count if count < LP_COUNT_UNKNOWN else LP_COUNT_UNKNOWN)
    return bytes(buf)


class ListpackBuilder:
    """Accumulates entries; `finish` writes the header and end byte."""

    __slots__ = ("buf", "count")

    def __init__(self) -> None:
        self.buf = bytearray(LP_HDR_SIZE)
        self.count = 0

    def append(self, s: bytes) -> None:
        self.buf += entry(s)
        self.count += 1

    def append_int(self, v: int) -> None:
        self.buf += int_entry(v)
        self.count += 1

    def append_entry(self, e: bytes) -> None:
        """Append an entry already built by `entry` / `int_entry`."""
        self.buf += e
        self.count += 1

    @property
    def nbytes(self) -> int:
        """lpBytes of the listpack as it would be finished now."""
        return len(self.buf) + 1

    def finish(self) -> bytes:
        return finish_listpack(self.buf, self.count)


def encode_listpack(elements: list[bytes]) -> bytes:
    """A complete listpack holding `elements` in order."""
    b = ListpackBuilder()
    for s in elements:
        b.append(s)
    return b.finish()


def decode_listpack(blob: bytes) -> list[bytes]:
    """The elements of a listpack blob (integers as their decimal text); validates it."""
    size = len(blob)
    if size < LP_HDR_SIZE + 1:
        raise ListpackError("listpack shorter than its header")
    total, count = _UNPACK_HDR(blob, 0)
    if total != size:
        raise ListpackError("listpack total_bytes does not match its length")
    if blob[size - 1] != LP_EOF:
        raise ListpackError("listpack does not end with 0xff")
    end = size - 1
    out: list[bytes] = []
    append = out.append
    p = LP_HDR_SIZE
    try:
        while p < end:
            b = blob[p]
            if b < 0x80:  # 7-bit uint
                if blob[p + 1] != 1:
                    raise ListpackError("bad listpack back-length")
                append(_UINT7_TEXT[b])
                p += 2
                continue
            if b < 0xC0:  # 6-bit string length
                n = b & 0x3F
                q = p + 1 + n
                if q >= end or blob[q] != n + 1:
                    raise ListpackError("bad listpack string entry")
                append(blob[p + 1 : q])
                p = q + 1
                continue
            if b < 0xE0:  # 13-bit int
                u = ((b & 0x1F) << 8) | blob[p + 1]
                append(b"%d" % (u - 8192 if u >= 4096 else u))
                elen = 2
            elif b < 0xF0:  # 12-bit string length
                n = ((b & 0x0F) << 8) | blob[p + 1]
                elen = 2 + n
                if p + elen > end:
                    raise ListpackError("listpack entry past the end")
                append(blob[p + 2 : p + elen])
            elif b == 0xF0:
                if p + 5 > end:
                    raise ListpackError("listpack entry past the end")
                n = _UNPACK_U32(blob, p + 1)[0]
                elen = 5 + n
                if p + elen > end:
                    raise ListpackError("listpack entry past the end")
                append(blob[p + 5 : p + elen])
            elif b == 0xF1:
                append(b"%d" % _UNPACK_I16(blob, p + 1)[0])
                elen = 3
            elif b == 0xF2:
                v = blob[p + 1] | (blob[p + 2] << 8) | (blob[p + 3] << 16)
                append(b"%d" % (v - 0x1000000 if v & 0x800000 else v))
                elen = 4
            elif b == 0xF3:
                append(b"%d" % _UNPACK_I32(blob, p + 1)[0])
                elen = 5
            elif b == 0xF4:
                append(b"%d" % _UNPACK_I64(blob, p + 1)[0])
                elen = 9
            else:
                raise ListpackError(f"invalid listpack entry encoding 0x{b:02x}")
            back = encode_backlen(elen)
            q = p + elen
            r = q + len(back)
            if r > end or blob[q:r] != back:
                raise ListpackError("bad listpack back-length")
            p = r
    except (IndexError, struct.error) as exc:
        raise ListpackError("listpack entry past the end") from exc
    if count != LP_COUNT_UNKNOWN and count != len(out):
        raise ListpackError("listpack element count does not match its header")
    return out
