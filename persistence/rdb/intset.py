"""Intset blobs (spec §10): sorted signed integers of one width (2, 4 or 8 bytes)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

_UNPACK_HDR = struct.Struct("<II").unpack_from
_CODE = {2: "h", 4: "i", 8: "q"}


class IntsetError(Exception):
    """An intset blob that intsetValidateIntegrity would refuse."""


def encode_intset(values: Iterable[int]) -> bytes:
    """An intset of `values` (distinct), sorted, in the smallest width that holds all."""
    ordered = sorted(values)
    n = len(ordered)
    width = 2
    if n:
        lo = ordered[0]
        hi = ordered[-1]
        if lo < -2147483648 or hi > 2147483647:
            width = 8
        elif lo < -32768 or hi > 32767:
            width = 4
    return struct.pack(f"<II{n}{_CODE[width]}", width, n, *ordered)


def decode_intset(blob: bytes) -> list[int]:
    """The integers of an intset blob, validated: size formula, non-empty, strictly ascending."""
    if len(blob) < 8:
        raise IntsetError("intset shorter than its header")
    width, n = _UNPACK_HDR(blob, 0)
    code = _CODE.get(width)
    if code is None:
        raise IntsetError(f"invalid intset encoding {width}")
    if 8 + n * width != len(blob):
        raise IntsetError("intset size does not match its length")
    if n == 0:
        raise IntsetError("empty intset")
    values = list(struct.unpack_from(f"<{n}{code}", blob, 8))
    prev = values[0]
    for v in values[1:]:
        if v <= prev:
            raise IntsetError("intset not strictly ascending")
        prev = v
    return values
