"""Ziplist blobs (spec §11), read only: the compact encoding of RDB files from Redis <= 6.2.

Validates what ziplistValidateIntegrity checks: header sizes, prevlen chain, tail
offset, entry encodings, element count (unless 65535) and the end byte.
"""

from __future__ import annotations

import struct
from typing import Final

ZIPLIST_HEADER_SIZE: Final = 10
_UNPACK_HDR = struct.Struct("<IIH").unpack_from
_UNPACK_U32 = struct.Struct("<I").unpack_from
_UNPACK_BE32 = struct.Struct(">I").unpack_from
_UNPACK_I16 = struct.Struct("<h").unpack_from
_UNPACK_I32 = struct.Struct("<i").unpack_from
_UNPACK_I64 = struct.Struct("<q").unpack_from


class ZiplistError(Exception):
    """A ziplist blob that ziplistValidateIntegrity would refuse."""


def decode_ziplist(blob: bytes) -> list[bytes]:
    """The elements of a ziplist (integers as decimal text)."""
    size = len(blob)
    if size < ZIPLIST_HEADER_SIZE + 1:
        raise ZiplistError("ziplist shorter than its header")
    zlbytes, zltail, zllen = _UNPACK_HDR(blob, 0)
    if zlbytes != size or blob[size - 1] != 0xFF:
        raise ZiplistError("ziplist size or end byte wrong")
    end = size - 1
    out: list[bytes] = []
    p = ZIPLIST_HEADER_SIZE
    prev_raw = 0
    last = ZIPLIST_HEADER_SIZE
    try:
        while p < end:
            start = p
            b = blob[p]
            if b < 254:
                prevlen = b
                p += 1
            elif b == 254:
                prevlen = _UNPACK_U32(blob, p + 1)[0]
                p += 5
            else:
                raise ZiplistError("ziplist end byte inside the entries")
            if prevlen != prev_raw:
                raise ZiplistError("ziplist prevlen does not match the previous entry")
            e = blob[p]
            if e < 0x40:
                n = e
                p += 1
            elif e < 0x80:
                n = ((e & 0x3F) << 8) | blob[p + 1]
                p += 2
            elif e < 0xC0:
                n = _UNPACK_BE32(blob, p + 1)[0]
                p += 5
            else:
                n = -1
            if n >= 0:
                if p + n > end:
                    raise ZiplistError("ziplist entry past the end")
                out.append(blob[p : p + n])
                p += n
            elif e == 0xC0:
                out.append(b"%d" % _UNPACK_I16(blob, p + 1)[0])
                p += 3
            elif e == 0xD0:
                out.append(b"%d" % _UNPACK_I32(blob, p + 1)[0])
                p += 5
            elif e == 0xE0:
                out.append(b"%d" % _UNPACK_I64(blob, p + 1)[0])
                p += 9
            elif e == 0xF0:
                v = blob[p + 1] | (blob[p + 2] << 8) | (blob[p + 3] << 16)
                out.append(b"%d" % (v - 0x1000000 if v & 0x800000 else v))
                p += 4
            elif e == 0xFE:
                v = blob[p + 1]
                out.append(b"%d" % (v - 256 if v > 127 else v))
                p += 2
            elif 0xF1 <= e <= 0xFD:
                out.append(b"%d" % ((e & 0x0F) - 1))
                p += 1
            else:
                raise ZiplistError(f"invalid ziplist entry encoding 0x{e:02x}")
            if p > end:
                raise ZiplistError("ziplist entry past the end")
            prev_raw = p - start
            last = start
    except (IndexError, struct.error) as exc:
        raise ZiplistError("ziplist entry past the end") from exc
    if zltail != last:
        raise ZiplistError("ziplist tail offset wrong")
    if zllen != 65535 and zllen != len(out):
        raise ZiplistError("ziplist element count does not match its header")
    return out
