"""The *-max-* settings that decide which compact encoding Redis 7.0 gives a value.

`hash_is_listpack` and `set_is_intset` are the one rule shared by the RDB writer and
OBJECT ENCODING, so a value is reported and saved in the same encoding. Zsets remember
their encoding (`ZSet.listpack`) and lists are always quicklists in 7.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from persistence.rdb.primitives import parse_int64

# Redis refuses to grow a listpack past 1 GiB (LISTPACK_MAX_SAFETY_SIZE).
LISTPACK_MAX_SAFETY_SIZE = 1 << 30


@dataclass(frozen=True, slots=True)
class EncodingLimits:
    """Redis 7.0 defaults; `from_config` reads a node's current values."""

    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64
    list_max_listpack_size: int = -2

    @classmethod
    def from_config(cls, config: Any) -> EncodingLimits:
        """The limits held by a node.config.Config (or anything with those attributes)."""
        return cls(
            hash_max_listpack_entries=int(config.hash_max_listpack_entries),
            hash_max_listpack_value=int(config.hash_max_listpack_value),
            set_max_intset_entries=int(config.set_max_intset_entries),
            zset_max_listpack_entries=int(config.zset_max_listpack_entries),
            zset_max_listpack_value=int(config.zset_max_listpack_value),
            list_max_listpack_size=int(config.list_max_listpack_size),
        )


DEFAULT_LIMITS = EncodingLimits()


def hash_is_listpack(value: dict[bytes, bytes], limits: EncodingLimits) -> bool:
    """True when Redis 7.0 keeps this hash as a listpack (else hashtable)."""
    n = len(value)
    if n > limits.hash_max_listpack_entries:
        return False
    limit = limits.hash_max_listpack_value
    total = 0
    for field, val in value.items():
        lf = len(field)
        lv = len(val)
        if lf > limit or lv > limit:
            return False
        total += lf + lv
    # hashTypeTryConversion also converts when the listpack would pass the 1 GiB limit.
    return total <= LISTPACK_MAX_SAFETY_SIZE


def set_is_intset(value: set[bytes], limits: EncodingLimits) -> bool:
    """True when Redis 7.0 keeps this set as an intset (else hashtable)."""
    if len(value) > limits.set_max_intset_entries:
        return False
    return all(parse_int64(member) is not None for member in value)
