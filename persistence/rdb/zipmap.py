"""Zipmap blobs (spec §11), read only: the hash encoding of RDB files from Redis <= 2.4."""

from __future__ import annotations

import struct

ZIPMAP_BIGLEN = 254
ZIPMAP_END = 255
_UNPACK_U32 = struct.Struct("<I").unpack_from


class ZipmapError(Exception):
    """A zipmap blob that zipmapValidateIntegrity would refuse."""


def _length(blob: bytes, p: int) -> tuple[int, int]:
    b = blob[p]
    if b < ZIPMAP_BIGLEN:
        return b, p + 1
    if b == ZIPMAP_BIGLEN:
        return _UNPACK_U32(blob, p + 1)[0], p + 5
    raise ZipmapError("zipmap end byte where a length was expected")


def decode_zipmap(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The (field, value) pairs of a zipmap, in order."""
    size = len(blob)
    if size < 2:
        raise ZipmapError("zipmap too short")
    zmlen = blob[0]
    out: list[tuple[bytes, bytes]] = []
    p = 1
    try:
        while blob[p] != ZIPMAP_END:
            klen, p = _length(blob, p)
            if p + klen > size:
                raise ZipmapError("zipmap key past the end")
            key = blob[p : p + klen]
            p += klen
            vlen, p = _length(blob, p)
            free = blob[p]
            p += 1
            if p + vlen + free > size:
                raise ZipmapError("zipmap value past the end")
            out.append((key, blob[p : p + vlen]))
            p += vlen + free
    except (IndexError, struct.error) as exc:
        raise ZipmapError("zipmap entry past the end") from exc
    if p != size - 1:
        raise ZipmapError("zipmap has bytes after its end byte")
    if zmlen < ZIPMAP_BIGLEN and zmlen != len(out):
        raise ZipmapError("zipmap count does not match its header")
    return out
