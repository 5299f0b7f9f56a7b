"""Argument parsers shared by the command families, with Redis's rules and error texts.

Named after the object.c / timeout.c helpers they reproduce: an integer argument is read by
string2ll (canonical decimal only: no '+', spaces or leading zeros), floats by strtold, and
each `get_*` raises the error reply its Redis counterpart sends.
"""

from __future__ import annotations

from typing import Final

from node import errors
from node.longdouble import LongDouble, ld_ceil, ld_mul, ld_parse

LLONG_MAX: Final = 2**63 - 1
LLONG_MIN: Final = -(2**63)
# Integers in (-SMALL_INT, SMALL_INT) are unboxed in compiled code: cheap to compare.
SMALL_INT: Final = 2**61
INT_MAX: Final = 2**31 - 1
INT_MIN: Final = -(2**31)
MUST_BE_POSITIVE: Final = "ERR value is out of range, must be positive"
OUT_OF_RANGE: Final = "ERR value is out of range"
# keelkv builds a reply in memory before sending it: a negative (repeating) count of
# SRANDMEMBER/HRANDFIELD/ZRANDMEMBER asking for more elements than this is refused rather
# than exhausting the machine (Redis tries, and 7.0's ZRANDMEMBER crashes on a huge one).
MAX_RANDOM_REPLY: Final = 1 << 22
TIMEOUT_NOT_INTEGER: Final = "ERR timeout is not an integer or out of range"
TIMEOUT_OUT_OF_RANGE: Final = "ERR timeout is out of range"
_THOUSAND: Final[LongDouble] = (1000, 0)


def parse_ll(raw: bytes) -> int | None:
    """Redis's string2ll: the canonical decimal form of a signed 64-bit integer, else None.

    No '+', spaces, leading zeros or "-0"; an integer is accepted iff printing it back
    gives the same bytes.
    """
    n = len(raw)
    if 0 < n < 19:
        # Short non-negative decimals (counters, most arguments): a digit loop compiles
        # to plain C, cheaper than isdigit() plus int().
        value = 0
        for ch in raw:
            if ch < 0x30 or ch > 0x39:
                break
            value = value * 10 + (ch - 0x30)
        else:
            return value if n == 1 or raw[0] != 0x30 else None
    if raw.isdigit():
        if n > 1 and (raw[0] == 0x30 or n > 19):
            return None
        value = int(raw)
        return value if n < 19 or value <= LLONG_MAX else None
    if raw[:1] == b"-" and raw[1:].isdigit() and raw[1] != 0x30 and len(raw) <= 20:
        value = int(raw)
        return value if value >= LLONG_MIN else None
    return None


def get_ll(raw: bytes, message: str = errors.NOT_INTEGER) -> int:
    """getLongLongFromObjectOrReply (and getLongFromObjectOrReply: a long is 64-bit)."""
    value = parse_ll(raw)
    if value is None:
        raise errors.CommandError(message)
    return value


def get_range(raw: bytes, low: int, high: int, message: str | None = None) -> int:
    """getRangeLongFromObjectOrReply: an integer in [low, high].

    With `message`, that one text for both failures; without, Redis's two texts.
    """
    value = parse_ll(raw)
    if value is None:
        raise errors.CommandError(message or errors.NOT_INTEGER)
    if value < low or value > high:
        raise errors.CommandError(
            message or f"ERR value is out of range, value must between {low} and {high}"
        )
    return value


def get_int(raw: bytes, message: str | None = None) -> int:
    """getIntFromObjectOrReply: an integer that fits a C int (DB indexes)."""
    return get_range(raw, INT_MIN, INT_MAX, message)


def get_positive(raw: bytes, message: str = MUST_BE_POSITIVE) -> int:
    """getPositiveLongFromObjectOrReply: an integer >= 0, one text for both failures."""
    value = parse_ll(raw)
    if value is None or value < 0:
        raise errors.CommandError(message)
    return value


def parse_rand_count(raw: bytes) -> int:
    """The count of SRANDMEMBER/HRANDFIELD/ZRANDMEMBER: a long in [-LONG_MAX, LONG_MAX]."""
    return get_range(raw, -LLONG_MAX, LLONG_MAX)


def repeat_count(count: int) -> int:
    """How many elements a negative (repeating) count asks for; 1 for count == 1.

    Past MAX_RANDOM_REPLY: "ERR value is out of range".
    """
    n = -count if count < 0 else 1
    if n > MAX_RANDOM_REPLY:
        raise errors.CommandError(OUT_OF_RANGE)
    return n


def get_long_double(raw: bytes, message: str = errors.NOT_FLOAT) -> LongDouble | float:
    """getLongDoubleFromObjectOrReply: a long double (an infinity is a float)."""
    value = ld_parse(raw)
    if value is None:
        raise errors.CommandError(message)
    return value


def parse_timeout(raw: bytes) -> float:
    """A blocking timeout in seconds (0: forever), as getTimeoutFromObjectOrReply reads it.

    Redis reads the seconds as a long double and blocks for ceill(seconds * 1000) ms; the
    same rounding is reproduced, so that -0.001 (whose long double product is just above
    -1) blocks forever as it does in Redis, while -0.002 is "negative". A product of 2**63
    ms or more, or an infinity, is cast to LLONG_MIN in Redis: "timeout is negative".
    """
    if raw.isdigit() and len(raw) < 16:  # whole seconds: exact, and far from the cast limit
        return int(raw)
    seconds = ld_parse(raw)
    if seconds is None:
        raise errors.CommandError(errors.TIMEOUT_NOT_FLOAT)
    if isinstance(seconds, float):
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    product = ld_mul(seconds, _THOUSAND)
    if product is None:
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    ms = ld_ceil(product)
    if ms < 0 or ms > LLONG_MAX:
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    return ms / 1000


def parse_timeout_ms(raw: bytes, now_ms: int) -> int:
    """getTimeoutFromObjectOrReply in UNIT_MILLISECONDS: a relative timeout in ms (0: none).

    Redis turns it into an absolute time, so one that would overflow from `now_ms` is
    refused.
    """
    value = parse_ll(raw)
    if value is None:
        raise errors.CommandError(TIMEOUT_NOT_INTEGER)
    if value < 0:
        raise errors.CommandError(errors.TIMEOUT_NEGATIVE)
    if value > LLONG_MAX - now_ms:
        raise errors.CommandError(TIMEOUT_OUT_OF_RANGE)
    return value
